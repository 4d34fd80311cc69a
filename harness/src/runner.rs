//! The run: prepare implementations, verify each workload, measure cells in interleaved order
//! (A B C A B C, so machine drift does not favour one implementation), and write `results.json` after
//! every trial so nothing completed is ever lost.

use crate::aggregate::CellAcc;
use crate::manifest::{self, Paths};
use crate::prepare::{Prepared, prepare};
use crate::results::{self, Finding, ImplStatus, Results, VerifyRecord};
use crate::suite::Suite;
use crate::toolchain::Provision;
use crate::ui::Ui;
use crate::workload::echo::loadgen::Mode;
use crate::workload::echo::{EchoConfig, EchoParams, capacity};
use crate::workload::fanout::{self, FanoutParams};
use crate::workload::stream::{self, StreamParams};
use crate::workload::{Failure, Launch, TrialData};
use anyhow::{Context, bail};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The workloads, in the order a run measures them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    Echo,
    Fanout,
    Stream,
    Cancel,
    Futures,
    Micro,
}

impl Workload {
    pub fn as_str(self) -> &'static str {
        match self {
            Workload::Echo => "echo",
            Workload::Fanout => "fanout",
            Workload::Stream => "stream",
            Workload::Cancel => "cancel",
            Workload::Futures => "futures",
            Workload::Micro => "micro",
        }
    }
}

/// Everything a run needs to know.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub root: PathBuf,
    pub suite: Suite,
    pub workloads: Vec<Workload>,
    /// Only these implementations (all when `None`).
    pub implementations: Option<Vec<String>>,
    pub out_dir: PathBuf,
    /// Unique id of this run (time to the millisecond plus a random suffix).
    pub run_id: String,
    pub provision: Provision,
    /// Disjoint CPUs for echo servers and the load generator (`None`: unpinned).
    pub pin: Option<(Vec<usize>, Vec<usize>)>,
    /// How the echo placement was chosen, for results and reports.
    pub pin_label: String,
    pub client_threads: usize,
    /// Echo capacity objective: p99 at or below this many µs.
    pub latency_objective_us: f64,
    pub verify_only: bool,
    /// How long a program may take to print its ready line.
    pub ready_timeout: Duration,
    /// The configuration as the user gave it, recorded in the results.
    pub config_json: serde_json::Value,
}

/// A run in progress: the results so far and where they go.
pub struct Run<'a> {
    pub cfg: &'a RunConfig,
    pub results: Results,
    pub prepared: Vec<Prepared>,
    pub ui: &'a mut Ui,
    writer: results::ResultsWriter,
}

/// Loads the manifest and keeps the implementations the run asked for.
pub fn select(
    root: &Path,
    wanted: Option<&[String]>,
    workloads: &[Workload],
) -> anyhow::Result<Vec<manifest::Implementation>> {
    let all = manifest::load_dir(&root.join("manifest"))?;
    if let Some(wanted) = wanted {
        let unknown: Vec<&String> = wanted
            .iter()
            .filter(|w| !all.iter().any(|i| &i.name == *w))
            .collect();
        if !unknown.is_empty() {
            let known: Vec<&str> = all.iter().map(|i| i.name.as_str()).collect();
            bail!(
                "unknown implementation(s) {unknown:?}; choose from: {}",
                known.join(", ")
            );
        }
    }
    let micro_runtimes = crate::workload::micro::RUNTIMES;
    Ok(all
        .into_iter()
        .filter(|i| wanted.is_none_or(|w| w.contains(&i.name)))
        .filter(|i| {
            workloads
                .iter()
                .any(|w| i.workloads.iter().any(|iw| iw == w.as_str()))
                || (workloads.contains(&Workload::Micro)
                    && micro_runtimes.contains(&i.name.as_str()))
        })
        .collect())
}

impl<'a> Run<'a> {
    /// Prepares every selected implementation and writes the first results file.
    pub fn start(cfg: &'a RunConfig, ui: &'a mut Ui) -> anyhow::Result<Run<'a>> {
        std::fs::create_dir_all(&cfg.out_dir).with_context(|| {
            format!(
                "cannot create the output directory {}; pass a writable --out",
                cfg.out_dir.display()
            )
        })?;
        let selected = select(&cfg.root, cfg.implementations.as_deref(), &cfg.workloads)?;
        if selected.is_empty() {
            bail!("no implementation runs the requested workloads; see `asyncbench list`");
        }
        let paths = Paths::new(&cfg.root);
        let mut environment = crate::env::capture(&cfg.root);
        environment.config = cfg.config_json.clone();
        environment.cpu_pinning =
            cfg.pin
                .clone()
                .map(|(server_cpus, client_cpus)| results::CpuPinning {
                    server_cpus,
                    client_cpus,
                });
        environment.echo_placement = Some(cfg.pin_label.clone());
        environment.client_engine = Some(crate::workload::echo::loadgen::ENGINE.to_string());
        let writer = results::ResultsWriter::new(cfg.out_dir.join("results.json"));
        let mut run = Run {
            cfg,
            results: Results {
                schema_version: results::SCHEMA_VERSION,
                run_id: cfg.run_id.clone(),
                environment,
                implementations: selected.iter().map(crate::prepare::info).collect(),
                cells: Vec::new(),
            },
            prepared: Vec::new(),
            ui,
            writer,
        };
        run.save()?;
        run.ui.phase("build", selected.len() as u64);
        // Echo servers are pinned per workload (see `runnable`); other workloads run on every CPU.
        for imp in &selected {
            if crate::process::interrupted() {
                bail!("interrupted");
            }
            run.ui.step(&imp.name);
            let p = prepare(imp, &paths, cfg.provision, None, run.ui);
            if let (Some(tc), Some(v)) = (&p.info.toolchain, &p.info.toolchain_version) {
                run.results
                    .environment
                    .toolchains
                    .insert(tc.clone(), v.clone());
            }
            if p.launch.is_none() {
                run.ui.line(&format!(
                    "{}: {:?}: {}",
                    imp.name,
                    p.info.status,
                    crate::toolchain::last_line(p.info.reason.as_deref().unwrap_or(""))
                ));
            }
            run.prepared.push(p);
            run.sync_implementations();
            run.save()?;
            run.ui.done();
        }
        run.ui.finish();
        Ok(run)
    }

    /// Writes `results.json` (atomically). A failed save never ends the run: the writer retries (and
    /// recreates a removed directory), warns once per failure streak, and [`Run::finish_at`] falls
    /// back to a path it names. Always `Ok`; the `Result` keeps callers' `?` working.
    pub fn save(&mut self) -> anyhow::Result<()> {
        match self.writer.save(&self.results) {
            results::Saved::Ok | results::Saved::Failed(None) => {}
            results::Saved::Recreated(dir) => self.ui.line(&format!(
                "warning: the output directory {} disappeared; recreated it and saved the results again",
                dir.display()
            )),
            results::Saved::Recovered => self.ui.line(&format!(
                "saving {} works again",
                self.writer.path().display()
            )),
            results::Saved::Failed(Some(warning)) => self.ui.line(&warning),
        }
        Ok(())
    }

    fn sync_implementations(&mut self) {
        for p in &self.prepared {
            if let Some(slot) = self
                .results
                .implementations
                .iter_mut()
                .find(|i| i.name == p.info.name)
            {
                *slot = p.info.clone();
            }
        }
    }

    /// Implementations that may run `workload` now, in manifest order. Echo servers are pinned to the
    /// server CPU set (and thread-per-core runtimes sized to it); other workloads use every CPU.
    fn runnable(&self, workload: &str) -> Vec<(String, Launch)> {
        let server_cpus = self.cfg.pin.as_ref().map(|p| p.0.as_slice());
        self.prepared
            .iter()
            .filter(|p| p.runs(workload))
            .map(|p| {
                let launch = p.launch.clone().expect("runs() implies a launch");
                let launch = if workload == "echo" {
                    crate::workload::echo::placement::pin_launch(launch, server_cpus)
                } else {
                    launch
                };
                (p.imp.name.clone(), launch)
            })
            .collect()
    }

    /// Verifies `workload` on every implementation that runs it; failures exclude it from measurement.
    pub fn verify(&mut self, workload: Workload) -> anyhow::Result<()> {
        let w = workload.as_str();
        let targets = self.runnable(w);
        if targets.is_empty() || workload == Workload::Micro {
            return Ok(());
        }
        self.ui.phase(&format!("verify {w}"), targets.len() as u64);
        for (name, launch) in targets {
            if crate::process::interrupted() {
                bail!("interrupted");
            }
            self.ui.step(&name);
            let (outcome, ready) =
                crate::verify::workload(workload, &launch, self.cfg.ready_timeout);
            let p = self
                .prepared
                .iter_mut()
                .find(|p| p.imp.name == name)
                .expect("prepared");
            if let Some(r) = ready {
                p.info.runtime_detail = Some(r.runtime.clone());
                p.info.threads = r.threads.or(p.info.threads);
            }
            let (passed, detail) = match outcome {
                Ok(d) => (true, d),
                Err(reason) => {
                    self.ui
                        .line(&format!("{name}: {w} verification FAILED: {reason}"));
                    p.info.status = ImplStatus::VerifyFailed;
                    let prev = p
                        .info
                        .reason
                        .take()
                        .map(|r| format!("{r}; "))
                        .unwrap_or_default();
                    p.info.reason = Some(format!("{prev}{w}: {reason}"));
                    (false, reason)
                }
            };
            p.info.verification.push(VerifyRecord {
                workload: w.into(),
                passed,
                detail,
            });
            self.sync_implementations();
            self.save()?;
            self.ui.done();
        }
        self.ui.finish();
        Ok(())
    }

    /// Runs every (point, implementation) pair `repeat` times in interleaved order. `points` are
    /// (params, headline metric, trial closure) per implementation; returns the finished cell indices.
    pub fn measure<P: Clone>(
        &mut self,
        workload: &str,
        label: &str,
        points: Vec<(String, BTreeMap<String, serde_json::Value>, P)>,
        headline: &'static str,
        repeat: usize,
        trial: &dyn Fn(&Launch, &P, usize) -> Result<TrialData, Failure>,
    ) -> anyhow::Result<Vec<usize>> {
        let launches: BTreeMap<String, Launch> = self.runnable(workload).into_iter().collect();
        let points: Vec<_> = points
            .into_iter()
            .filter(|(imp, _, _)| launches.contains_key(imp))
            .collect();
        if points.is_empty() {
            return Ok(Vec::new());
        }
        let first = self.results.cells.len();
        let mut accs: Vec<CellAcc> = points
            .iter()
            .map(|(imp, params, _)| CellAcc::new(workload, imp, params.clone(), headline))
            .collect();
        self.results.cells.extend(accs.iter().map(|a| a.to_cell()));
        self.ui.phase(label, (points.len() * repeat) as u64);
        for r in 0..repeat {
            for (i, (imp, params, p)) in points.iter().enumerate() {
                if crate::process::interrupted() {
                    bail!("interrupted");
                }
                if accs[i].single_trial.is_some() {
                    self.ui.done();
                    continue;
                }
                let desc: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                self.ui.step(&format!(
                    "{imp} {} (trial {}/{repeat})",
                    desc.join(" "),
                    r + 1
                ));
                let started = std::time::Instant::now();
                let outcome = trial(&launches[imp], p, r);
                let took = started.elapsed().as_secs_f64();
                if r == 0 && repeat > 1 {
                    accs[i].single_trial = match &outcome {
                        Err(f) if f.status == results::CellStatus::Timeout => Some(format!(
                            "not repeated: the first trial timed out ({})",
                            f.reason
                        )),
                        // Repeating an OOM kill only stresses the host again.
                        Err(f) if f.status == results::CellStatus::OutOfMemory => Some(format!(
                            "not repeated: the first trial ran out of memory ({})",
                            f.reason
                        )),
                        _ if took > self.cfg.suite.long_trial_s => Some(format!(
                            "not repeated: the first trial took {took:.0} s (> {:.0} s), so repeats would exceed the suite's time budget; no interval across trials",
                            self.cfg.suite.long_trial_s
                        )),
                        _ => None,
                    };
                }
                if let Err(f) = &outcome {
                    self.ui.line(&format!(
                        "{imp} {workload} {}: {:?}: {}",
                        desc.join(" "),
                        f.status,
                        f.reason
                    ));
                }
                if let Ok(t) = &outcome {
                    self.note_ready(imp, t);
                }
                accs[i].push(outcome);
                self.results.cells[first + i] = accs[i].to_cell();
                self.save()?;
                self.ui.done();
            }
        }
        self.ui.finish();
        Ok((first..first + points.len()).collect())
    }

    fn note_ready(&mut self, imp: &str, t: &TrialData) {
        if let (Some(r), Some(info)) = (
            &t.ready,
            self.results
                .implementations
                .iter_mut()
                .find(|i| i.name == imp),
        ) {
            info.runtime_detail.get_or_insert_with(|| r.runtime.clone());
            if info.threads.is_none() {
                info.threads = r.threads;
            }
        }
    }

    /// Writes the final results (with the end time).
    pub fn finish(self) -> anyhow::Result<Results> {
        self.finish_at().map(|(r, _)| r)
    }

    /// Writes the final results (with the end time) and returns where they went: the output
    /// directory, or a fallback path (named in a warning) when that cannot be written.
    pub fn finish_at(mut self) -> anyhow::Result<(Results, PathBuf)> {
        self.results.environment.finished_at = Some(crate::env::now_rfc3339());
        let at = self.writer.finish(&self.results)?;
        if at != self.writer.path() {
            eprintln!(
                "warning: {} could not be written ({} failed saves); the results are in {}",
                self.writer.path().display(),
                self.writer.failed_saves,
                at.display()
            );
        }
        Ok((self.results, at))
    }
}

/// Params map helper.
pub fn params(pairs: &[(&str, serde_json::Value)]) -> BTreeMap<String, serde_json::Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Measures the echo workload: the open-loop grid of common rates (the headline, interleaved trials),
/// each implementation's capacity at the latency objective (a short search), then the closed loop
/// (secondary: the maximum under this client engine).
pub fn measure_echo(run: &mut Run) -> anyhow::Result<()> {
    let s = run.cfg.suite.echo.clone();
    let cfg = EchoConfig {
        warmup: s.warmup,
        duration: s.duration,
        sub_interval: s.sub_interval,
        io_timeout: Duration::from_secs(5),
        ready_timeout: run.cfg.ready_timeout,
        client_threads: run.cfg.client_threads,
        client_cpus: run.cfg.pin.as_ref().map(|p| p.1.clone()),
        server_cpus: run.cfg.pin.as_ref().map(|p| p.0.clone()),
        limits: crate::stats::echo_checks::Limits::default(),
        max_extensions: s.max_extensions,
        interference_rerun: s.interference_rerun,
    };
    let impls: Vec<String> = run.runnable("echo").into_iter().map(|(n, _)| n).collect();
    if impls.is_empty() {
        return Ok(());
    }
    let repeat = run.cfg.suite.repeat;
    let (planned_s, worst_s) = capacity::plan_seconds(
        &capacity::PlanShape {
            implementations: impls.len(),
            open_cells: s.open_rates.len(),
            repeat,
            capacity_probes: s.capacity_probes,
            closed_cells: s.closed.len(),
            closed_repeat: s.closed_repeat,
            warmup_s: s.warmup.as_secs_f64(),
            duration_s: s.duration.as_secs_f64(),
            probe_duration_s: s.probe_duration.as_secs_f64(),
            max_extensions: s.max_extensions,
            interference_rerun: s.interference_rerun,
        },
        &capacity::PlanCosts::default(),
    );
    run.ui.line(&format!(
        "echo plan: {} implementation(s) × ({} common rate(s) {:?} msgs/s at {} conns × {} B × {repeat} trials, ≤ {} capacity probe(s) at p99 ≤ {} µs, {} closed-loop point(s) × {}); client {} on {}; ≈ {:.0} s including verification{}",
        impls.len(),
        s.open_rates.len(),
        s.open_rates,
        s.open_at.0,
        s.open_at.1,
        s.capacity_probes,
        run.cfg.latency_objective_us,
        s.closed.len(),
        s.closed_repeat,
        crate::workload::echo::loadgen::ENGINE,
        run.cfg.pin_label,
        planned_s,
        if worst_s > planned_s * 1.01 {
            format!(
                ", with re-runs and extensions at the rates of the last default run (at most {worst_s:.0} s if every trial were re-run and extended)"
            )
        } else {
            String::new()
        }
    ));
    let trial = |l: &Launch, p: &EchoParams, r: usize| {
        crate::workload::echo::run_trial(l, *p, &cfg, 0xec40 + r as u64)
    };
    let (oc, ob) = s.open_at;
    let objective_ns = run.cfg.latency_objective_us * 1e3;
    // The grid, rate by rate; an implementation clearly over capacity stops climbing.
    let mut active = impls.clone();
    let mut grid: BTreeMap<String, Vec<capacity::Point>> = BTreeMap::new();
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
            &trial,
        )?;
        for i in cells {
            let c = &run.results.cells[i];
            let point = capacity::Point::of_cell(c, rate, objective_ns);
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
    // Capacity at the objective: bracket from the grid, then bisect with short probes.
    let probe_cfg = EchoConfig {
        duration: s.probe_duration,
        ..cfg.clone()
    };
    let launches: BTreeMap<String, Launch> = run.runnable("echo").into_iter().collect();
    run.ui.phase("echo capacity search", impls.len() as u64);
    for imp in &impls {
        if crate::process::interrupted() {
            bail!("interrupted");
        }
        run.ui.step(&format!(
            "{imp} capacity at p99 ≤ {} µs",
            run.cfg.latency_objective_us
        ));
        let (Some(launch), Some(g)) = (launches.get(imp), grid.get(imp)) else {
            run.ui.done();
            continue;
        };
        let max_grid = rates.last().copied().unwrap_or(10_000.0);
        let mut search = capacity::Search::from_grid(g, capacity::Search::cap_for(max_grid));
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
            let outcome = crate::workload::echo::run_trial(launch, p, &probe_cfg, seed);
            let point = capacity::Point::of_trial(outcome.as_ref(), rate, objective_ns);
            probes.push((point, outcome));
            point
        });
        let cell = capacity::cell(
            imp,
            (oc, ob),
            run.cfg.latency_objective_us,
            &search,
            failed_grid,
            probes,
        );
        run.results.cells.push(cell);
        run.save()?;
        run.ui.done();
    }
    run.ui.finish();
    // Secondary: the closed loop, the maximum under this client engine.
    let mut closed = Vec::new();
    for &(c, b) in &s.closed {
        for imp in &impls {
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
        &trial,
    )?;
    Ok(())
}

/// Whether an open-loop cell met the objective: ≥ 99 % of the offered rate achieved and p99 within it.
/// `None` when the cell has no measurement.
/// Measures fan-out and derives bytes per task against each implementation's 1-task baseline. Each
/// trial's sleep is sized to that implementation's spawn time at that N ([`fanout::SleepPlanner`]) and
/// recorded as the trial's `sleep_ms` metric, not as a parameter: cells stay comparable across
/// implementations, which compare on the times net of the sleep.
pub fn measure_fanout(run: &mut Run) -> anyhow::Result<()> {
    let s = run.cfg.suite.fanout.clone();
    let impls: Vec<String> = run.runnable("fanout").into_iter().map(|(n, _)| n).collect();
    let mut points = Vec::new();
    for (v, tasks) in &s.points {
        for &n in tasks {
            for imp in &impls {
                let p = FanoutParams {
                    tasks: n,
                    sleep_ms: s.sleep_ms,
                    variant: *v,
                };
                let pr = params(&[("variant", json!(v.as_str())), ("tasks", json!(n))]);
                points.push((imp.clone(), pr, p));
            }
        }
    }
    let planner = std::cell::RefCell::new(fanout::SleepPlanner::new(s.sleep_ms));
    let trial = |l: &Launch, p: &FanoutParams, _r: usize| {
        let imp = &l.implementation;
        let sleep_ms = planner.borrow().sleep_ms(imp, p.variant, p.tasks);
        let outcome = fanout::run_sized_trial(l, FanoutParams { sleep_ms, ..*p });
        if let Ok(t) = &outcome
            && let Some(spawn_ms) = t.metrics.get("spawn_ms")
        {
            planner
                .borrow_mut()
                .record(imp, p.variant, p.tasks, spawn_ms);
        }
        outcome
    };
    let cells = run.measure(
        "fanout",
        "fanout",
        points,
        "peak_rss_bytes",
        run.cfg.suite.repeat,
        &trial,
    )?;
    derive_bytes_per_task(&mut run.results.cells, &cells);
    run.save()
}

/// bytes_per_task = (peak RSS at N − peak RSS at N = 1) / N, per implementation and variant; per trial
/// too, so the value has an interval.
pub fn derive_bytes_per_task(cells: &mut [results::Cell], indices: &[usize]) {
    let mut baseline = BTreeMap::new();
    for &i in indices {
        let c = &cells[i];
        if c.params.get("tasks") == Some(&json!(1))
            && let Some(rss) = c.metrics.get("peak_rss_bytes")
        {
            baseline.insert(
                (c.implementation.clone(), c.params["variant"].to_string()),
                rss,
            );
        }
    }
    for &i in indices {
        let c = &mut cells[i];
        let n = c.params.get("tasks").and_then(|t| t.as_u64()).unwrap_or(1);
        let Some(base) = baseline
            .get(&(c.implementation.clone(), c.params["variant"].to_string()))
            .copied()
        else {
            continue;
        };
        if n <= 1 || c.status != results::CellStatus::Ok {
            continue;
        }
        let per: Vec<f64> = c
            .trials
            .iter_mut()
            .filter_map(|t| {
                let v = (t.metrics.get("peak_rss_bytes")? - base) / n as f64;
                t.metrics.set("bytes_per_task", v);
                Some(v)
            })
            .collect();
        if let Some(s) = crate::stats::summary::summarize(&per) {
            c.metrics.set("bytes_per_task", s.median);
            c.stats.insert("bytes_per_task".into(), s);
        }
    }
}

/// Measures stream points: balanced ones for at least the suite's minimum duration, then slow-consumer
/// ones at N and 10 × N, whose peak RSS gives the backpressure verdict attached to the larger cell.
/// Balanced cells headline gross throughput; slow-consumer cells throughput net of the pauses.
pub fn measure_stream(run: &mut Run) -> anyhow::Result<()> {
    let s = run.cfg.suite.stream.clone();
    let impls: Vec<String> = run.runnable("stream").into_iter().map(|(n, _)| n).collect();
    let points = |variant: stream::Variant, shapes: &[(u64, u32, u32)]| {
        let mut out = Vec::new();
        for &(n, k, c) in shapes {
            let sizes: &[u64] = match variant {
                stream::Variant::Balanced => &[n],
                stream::Variant::SlowConsumer => &[n, n * 10],
            };
            for &items in sizes {
                let p = StreamParams {
                    items,
                    stages: k,
                    capacity: c,
                    variant,
                    pause_every: s.pause_every,
                    pause_ms: s.pause_ms,
                    sample_every: s.sample_every,
                    warmup_items: s.warmup_items,
                    min_ms: match variant {
                        stream::Variant::Balanced => s.balanced_min_ms,
                        stream::Variant::SlowConsumer => 0,
                    },
                };
                for imp in &impls {
                    out.push((imp.clone(), stream_params(&p), p));
                }
            }
        }
        out
    };
    let trial = |l: &Launch, p: &StreamParams, _r: usize| stream::run_trial(l, *p);
    let repeat = run.cfg.suite.repeat;
    let balanced = points(stream::Variant::Balanced, &s.balanced);
    run.measure(
        "stream",
        "stream balanced",
        balanced,
        "throughput_items_per_s",
        repeat,
        &trial,
    )?;
    let slow = points(stream::Variant::SlowConsumer, &s.slow_consumer);
    let cells = run.measure(
        "stream",
        "stream slow consumer",
        slow,
        "throughput_net_items_per_s",
        repeat,
        &trial,
    )?;
    attach_backpressure_verdicts(&mut run.results.cells, &cells);
    run.save()
}

/// A stream cell's parameters: the shape and, because they change what is measured, the minimum
/// duration (balanced) or the pauses (slow consumer). The warm-up and the sampling rate are suite
/// settings recorded in the run's configuration.
pub fn stream_params(p: &StreamParams) -> BTreeMap<String, serde_json::Value> {
    let mut pr = params(&[
        ("variant", json!(p.variant.as_str())),
        ("items", json!(p.items)),
        ("stages", json!(p.stages)),
        ("capacity", json!(p.capacity)),
    ]);
    match p.variant {
        stream::Variant::Balanced if p.min_ms > 0 => {
            pr.insert("min_ms".into(), json!(p.min_ms));
        }
        stream::Variant::Balanced => {}
        stream::Variant::SlowConsumer => {
            pr.insert("pause_every".into(), json!(p.pause_every));
            pr.insert("pause_ms".into(), json!(p.pause_ms));
        }
    }
    pr
}

/// Pairs slow-consumer cells at N and 10·N (same implementation, stages, capacity) and records the verdict.
pub fn attach_backpressure_verdicts(cells: &mut [results::Cell], indices: &[usize]) {
    // Everything but the item count must match (older results have no pause parameters: both None).
    let key = |c: &results::Cell| {
        let p = |k: &str| c.params.get(k).map(|v| v.to_string());
        (
            c.implementation.clone(),
            p("stages"),
            p("capacity"),
            p("pause_every"),
            p("pause_ms"),
        )
    };
    let slow: Vec<usize> = indices
        .iter()
        .copied()
        .filter(|&i| {
            cells[i].params.get("variant") == Some(&json!("slow-consumer"))
                && cells[i].status == results::CellStatus::Ok
        })
        .collect();
    for &small in &slow {
        let n = cells[small].params["items"].as_u64().unwrap_or(0);
        let Some(&large) = slow.iter().find(|&&j| {
            key(&cells[j]) == key(&cells[small])
                && cells[j].params["items"].as_u64() == Some(n * 10)
        }) else {
            continue;
        };
        let (Some(a), Some(b)) = (
            cells[small].metrics.get("peak_rss_bytes"),
            cells[large].metrics.get("peak_rss_bytes"),
        ) else {
            continue;
        };
        let verdict: Finding = stream::backpressure_verdict(a, b, n, n * 10);
        cells[large]
            .findings
            .retain(|f| !f.kind.starts_with("backpressure_"));
        cells[large].findings.push(verdict);
    }
}
