//! Planning and measuring the echo workload through the run session: the open-loop grid, the
//! capacity search and the closed loop.

use super::loadgen::Mode;
use super::{EchoConfig, EchoParams};
use crate::results;
use crate::workload::session::{RunConfig, Session};
use crate::workload::{Failure, Launch, TrialData, params};
use anyhow::bail;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

/// The echo plan's (expected, worst-case) seconds for `implementations` servers, from the capacity
/// module's cost model (verification, re-runs and extensions at the rates of the last default run).
fn plan_seconds(cfg: &RunConfig, implementations: usize) -> (f64, f64) {
    let s = &cfg.suite.echo;
    super::capacity::plan_seconds(
        &super::capacity::PlanShape {
            implementations,
            open_cells: s.open_rates.len(),
            repeat: cfg.suite.repeat,
            capacity_probes: s.capacity_probes,
            closed_cells: s.closed.len(),
            closed_repeat: s.closed_repeat,
            warmup_s: s.warmup.as_secs_f64(),
            duration_s: s.duration.as_secs_f64(),
            probe_duration_s: s.probe_duration.as_secs_f64(),
            max_extensions: s.max_extensions,
            interference_rerun: s.interference_rerun,
        },
        &super::capacity::PlanCosts::default(),
    )
}

/// Seconds the echo plan should take for `implementations` servers (the expected figure of
/// [`plan_seconds`]).
pub fn estimate_s(cfg: &RunConfig, implementations: usize) -> Option<f64> {
    Some(plan_seconds(cfg, implementations).0)
}

/// Measures the echo workload: the open-loop grid of common rates (the headline, interleaved trials),
/// each implementation's capacity at the latency objective (a short search), then the closed loop
/// (secondary: the maximum under this client engine).
pub fn measure(run: &mut dyn Session) -> anyhow::Result<()> {
    // The configuration outlives the session's borrows below.
    let rc = run.config().clone();
    let s = rc.suite.echo.clone();
    let cfg = EchoConfig {
        warmup: s.warmup,
        duration: s.duration,
        sub_interval: s.sub_interval,
        io_timeout: Duration::from_secs(5),
        ready_timeout: rc.ready_timeout,
        client_threads: rc.client_threads,
        client_cpus: rc.pin.as_ref().map(|p| p.1.clone()),
        server_cpus: rc.pin.as_ref().map(|p| p.0.clone()),
        limits: crate::stats::echo_checks::Limits::default(),
        max_extensions: s.max_extensions,
        interference_rerun: s.interference_rerun,
    };
    let impls: Vec<String> = run.runnable("echo").into_iter().map(|(n, _)| n).collect();
    if impls.is_empty() {
        return Ok(());
    }
    let repeat = rc.suite.repeat;
    let (planned_s, worst_s) = plan_seconds(&rc, impls.len());
    run.ui().line(&format!(
        "echo plan: {} implementation(s) × ({} common rate(s) {:?} msgs/s at {} conns × {} B × {repeat} trials, ≤ {} capacity probe(s) at p99 ≤ {} µs, {} closed-loop point(s) × {}); client {} on {}; ≈ {:.0} s including verification{}",
        impls.len(),
        s.open_rates.len(),
        s.open_rates,
        s.open_at.0,
        s.open_at.1,
        s.capacity_probes,
        rc.latency_objective_us,
        s.closed.len(),
        s.closed_repeat,
        super::loadgen_engine::selected().describe(),
        rc.pin_label,
        planned_s,
        if worst_s > planned_s * 1.01 {
            format!(
                ", with re-runs and extensions at the rates of the last default run (at most {worst_s:.0} s if every trial were re-run and extended)"
            )
        } else {
            String::new()
        }
    ));
    let trial =
        |l: &Launch, p: &EchoParams, r: usize| super::run_trial(l, *p, &cfg, 0xec40 + r as u64);
    let grid = open_grid(run, &rc, &impls, &trial)?;
    capacity_search(run, &rc, &cfg, &impls, &grid)?;
    closed_loop(run, &rc, &impls, &trial)
}

/// The open-loop grid at the rates common to every implementation, lowest first: what each
/// implementation met at each rate, and per implementation whether any cell measured (else its first
/// failure).
struct Grid {
    rates: Vec<f64>,
    verdicts: BTreeMap<String, Vec<super::capacity::Point>>,
    failures: BTreeMap<String, Option<Failure>>,
}

/// Measures the grid rate by rate; an implementation clearly over capacity stops climbing.
fn open_grid(
    run: &mut dyn Session,
    rc: &RunConfig,
    impls: &[String],
    trial: &dyn Fn(&Launch, &EchoParams, usize) -> Result<TrialData, Failure>,
) -> anyhow::Result<Grid> {
    let s = &rc.suite.echo;
    let repeat = rc.suite.repeat;
    let (oc, ob) = s.open_at;
    let objective_ns = rc.latency_objective_us * 1e3;
    // The grid, rate by rate; an implementation clearly over capacity stops climbing.
    let mut active = impls.to_vec();
    let mut grid: BTreeMap<String, Vec<super::capacity::Point>> = BTreeMap::new();
    // Per implementation: whether any grid cell measured, else the first failure.
    let mut grid_failure: BTreeMap<String, Option<Failure>> = BTreeMap::new();
    let mut rates = s.open_rates.clone();
    rates.sort_by(|a, b| a.total_cmp(b));
    for &rate in &rates {
        if active.is_empty() {
            break;
        }
        let points: Vec<_> = active
            .iter()
            .map(|imp| {
                let p = EchoParams {
                    mode: Mode::Open {
                        rate_msgs_per_s: rate,
                    },
                    connections: oc,
                    message_bytes: ob,
                };
                let pr = params(&[
                    ("mode", json!("open")),
                    ("connections", json!(oc)),
                    ("message_bytes", json!(ob)),
                    ("rate_msgs_per_s", json!(rate)),
                ]);
                (imp.clone(), pr, p)
            })
            .collect();
        let label = format!("echo open {rate:.0} msgs/s");
        let cells = run.measure(
            "echo",
            &label,
            points,
            "throughput_msgs_per_s",
            repeat,
            trial,
        )?;
        for i in cells {
            let c = &run.cells()[i];
            let point = super::capacity::Point::of_cell(c, rate, objective_ns);
            let overloaded = c.status != results::CellStatus::Ok
                || c.metrics.get("achieved_ratio").is_some_and(|a| a < 0.9);
            grid.entry(c.implementation.clone())
                .or_default()
                .push(point);
            let failure = (c.status != results::CellStatus::Ok).then(|| Failure {
                status: c.status,
                reason: c.reason.clone().unwrap_or_default(),
            });
            let slot = grid_failure
                .entry(c.implementation.clone())
                .or_insert(failure.clone());
            if failure.is_none() {
                *slot = None;
            }
            if overloaded {
                active.retain(|n| n != &c.implementation);
            }
        }
    }
    Ok(Grid {
        rates,
        verdicts: grid,
        failures: grid_failure,
    })
}

/// Capacity at the objective: bracket from the grid, then bisect with short probes (one cell per
/// implementation).
fn capacity_search(
    run: &mut dyn Session,
    rc: &RunConfig,
    cfg: &EchoConfig,
    impls: &[String],
    grid: &Grid,
) -> anyhow::Result<()> {
    let s = &rc.suite.echo;
    let (oc, ob) = s.open_at;
    let objective_ns = rc.latency_objective_us * 1e3;
    let (rates, grid_failure) = (&grid.rates, &grid.failures);
    let grid = &grid.verdicts;
    // Capacity at the objective: bracket from the grid, then bisect with short probes.
    let probe_cfg = EchoConfig {
        duration: s.probe_duration,
        ..cfg.clone()
    };
    let launches: BTreeMap<String, Launch> = run.runnable("echo").into_iter().collect();
    run.ui().phase("echo capacity search", impls.len() as u64);
    for imp in impls {
        if crate::process::interrupted() {
            bail!("interrupted");
        }
        run.ui().step(&format!(
            "{imp} capacity at p99 ≤ {} µs",
            rc.latency_objective_us
        ));
        let (Some(launch), Some(g)) = (launches.get(imp), grid.get(imp)) else {
            run.ui().done();
            continue;
        };
        let max_grid = rates.last().copied().unwrap_or(10_000.0);
        let mut search =
            super::capacity::Search::from_grid(g, super::capacity::Search::cap_for(max_grid));
        let failed_grid = grid_failure.get(imp).cloned().flatten();
        let mut probes = Vec::new();
        // A server that failed every grid cell is not probed further.
        let n_probes = if failed_grid.is_some() {
            0
        } else {
            s.capacity_probes
        };
        search.run(n_probes, |rate| {
            let p = EchoParams {
                mode: Mode::Open {
                    rate_msgs_per_s: rate,
                },
                connections: oc,
                message_bytes: ob,
            };
            let seed = 0xca9 + probes.len() as u64;
            let outcome = super::run_trial(launch, p, &probe_cfg, seed);
            let point = super::capacity::Point::of_trial(outcome.as_ref(), rate, objective_ns);
            probes.push((point.clone(), outcome));
            point
        });
        let mut cell = super::capacity::cell(
            imp,
            (oc, ob),
            rc.latency_objective_us,
            &search,
            failed_grid,
            probes,
        );
        if let Some(why) = sweep_skipped(rc) {
            cell.findings.push(results::Finding {
                kind: crate::finding::FindingKind::ServerSetSweepSkipped,
                message: why,
            });
        }
        run.add_cells(vec![cell])?;
        run.ui().done();
    }
    run.ui().finish();
    Ok(())
}

/// Why `--full` did not sweep the server set (too few CPUs, unpinned, or — on a machine with the
/// cores — because measuring the planned sweep is not built yet); `None` outside `--full`.
fn sweep_skipped(rc: &RunConfig) -> Option<String> {
    if rc.suite.kind != crate::suite::SuiteKind::Full {
        return None;
    }
    match &rc.pin {
        None => Some("server-set sweep skipped: the run is unpinned".into()),
        Some((server, client)) => Some(match super::placement::server_set_sweep(server, client) {
            Err(why) => why,
            Ok(sweep) => format!(
                "server-set sweep over {} server CPU(s) not measured: this build plans it but does not run it yet",
                sweep
                    .iter()
                    .filter_map(|p| p.cpus().map(|c| c.0.len().to_string()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

/// Secondary: the closed loop, the maximum under this client engine.
fn closed_loop(
    run: &mut dyn Session,
    rc: &RunConfig,
    impls: &[String],
    trial: &dyn Fn(&Launch, &EchoParams, usize) -> Result<TrialData, Failure>,
) -> anyhow::Result<()> {
    let s = &rc.suite.echo;
    let mut closed = Vec::new();
    for &(c, b) in &s.closed {
        for imp in impls {
            let p = EchoParams {
                mode: Mode::Closed,
                connections: c,
                message_bytes: b,
            };
            closed.push((
                imp.clone(),
                params(&[
                    ("mode", json!("closed")),
                    ("connections", json!(c)),
                    ("message_bytes", json!(b)),
                ]),
                p,
            ));
        }
    }
    run.measure(
        "echo",
        "echo closed (max under this client)",
        closed,
        "throughput_msgs_per_s",
        s.closed_repeat,
        trial,
    )?;
    Ok(())
}
