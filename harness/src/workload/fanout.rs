//! The fan-out workload: N concurrent tasks each awaiting a timer, measured from outside (peak RSS and
//! CPU from wait4, wall time from spawn to exit) and checked for the right answer and real concurrency.
//!
//! Peak RSS only counts N live tasks if every task is still waiting when the last one arms its timer,
//! so the sleep is sized per implementation and N ([`SleepPlanner`]): at least 1.5 × that
//! implementation's spawn time, and a trial that still spawned for longer than it slept is re-run
//! with a longer sleep ([`run_sized_trial`]). Because the sleep then differs between implementations,
//! the comparable times are the ones net of it (`total_net_ms`, `wall_net_ms`).

use super::definition::{Definition, Verified};
use super::estimate::{TRIAL_OVERHEAD_S, scaled_mean, trials};
use super::session::RunConfig;
use super::session::Session;
use super::{Failure, Launch, TrialData, params, process_metrics, run_finite};
use crate::finding::FindingKind;
use crate::protocol::{f64_field, u64_field};
use crate::results::{self, Finding};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

/// `bare` tasks hold nothing across the await; `state` tasks hold a 1 KiB buffer. Defined with the
/// suites (plain data), so `suite` needs nothing from the workloads.
pub use crate::suite::FanoutVariant as Variant;

/// One fan-out trial's parameters (the sleep is the one actually passed to the program).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FanoutParams {
    pub tasks: u64,
    pub sleep_ms: u64,
    pub variant: Variant,
}

/// The checksum a correct implementation prints (see docs/PROTOCOL.md).
pub fn expected_checksum(p: FanoutParams) -> u64 {
    let n = p.tasks;
    let base = n * (n - 1) / 2;
    match p.variant {
        Variant::Bare => base,
        // Each task's buffer holds (i + j) mod 256 for j in 0..1024: four full cycles of 0..=255.
        Variant::State => base + n * 4 * (255 * 256 / 2),
    }
}

/// How long a trial may take: generous, since a slow runtime at 1M tasks is data, not an error.
pub fn timeout(p: FanoutParams) -> Duration {
    Duration::from_millis(p.sleep_ms * 3) + Duration::from_secs(10 + p.tasks / 5_000)
}

/// Checks the result fields; `Ok` carries (spawn_ms, total_ms) and any findings.
pub fn check(
    p: FanoutParams,
    fields: &serde_json::Map<String, serde_json::Value>,
) -> Result<(f64, f64, Vec<Finding>), Failure> {
    let bad = |e: crate::protocol::ProtocolError| Failure::failed(e.to_string());
    let tasks = u64_field(fields, "tasks").map_err(bad)?;
    let checksum = u64_field(fields, "checksum").map_err(bad)?;
    let spawn_ms = f64_field(fields, "spawn_ms").map_err(bad)?;
    let total_ms = f64_field(fields, "total_ms").map_err(bad)?;
    if tasks != p.tasks {
        return Err(Failure::failed(format!(
            "reported {tasks} tasks, expected {}",
            p.tasks
        )));
    }
    let want = expected_checksum(p);
    if checksum != want {
        return Err(Failure::failed(format!(
            "checksum {checksum}, expected {want}"
        )));
    }
    let d = p.sleep_ms as f64;
    let after_spawn = total_ms - spawn_ms;
    // The last task sleeps D after it is spawned, so finishing sooner means nobody waited.
    if after_spawn < d * 0.9 - 5.0 {
        return Err(Failure::failed(format!(
            "finished {after_spawn:.0} ms after the last spawn, but every task sleeps {d:.0} ms: the tasks did not wait for their timers"
        )));
    }
    // Concurrent tasks finish about D after the last spawn, plus the time to process N completions
    // (comparable to the time to spawn them); serialised ones take N × D.
    let limit = 2.0 * d + 10_000.0 + 3.0 * spawn_ms;
    if p.tasks > 1 && after_spawn > limit {
        return Err(Failure::failed(format!(
            "finished {after_spawn:.0} ms after the last spawn (limit {limit:.0} ms for a {d:.0} ms sleep and {spawn_ms:.0} ms of spawning): tasks are not running concurrently"
        )));
    }
    let mut findings = Vec::new();
    if !all_alive_at_once(p, spawn_ms) {
        findings.push(Finding {
            kind: FindingKind::NotAllConcurrent,
            message: format!(
                "the last task armed its timer {spawn_ms:.0} ms after the first spawn, not before the {d:.0} ms sleep of the first ran out: early tasks may have finished before the last started, so peak RSS may undercount N live tasks"
            ),
        });
    }
    Ok((spawn_ms, total_ms, findings))
}

/// Whether every task was armed before the first timer could expire: `spawn_ms` is the time until the
/// last task armed its timer (docs/PROTOCOL.md), so only `spawn_ms ≥ sleep` lets an early task finish
/// while later ones are still being spawned.
pub fn all_alive_at_once(p: FanoutParams, spawn_ms: f64) -> bool {
    p.tasks <= 1 || spawn_ms < p.sleep_ms as f64
}

/// The sleep per millisecond of expected spawn time. 1.5 leaves 50 % for error: linear extrapolation
/// from 100k to 1M tasks was off by at most 1.21× (csharp; 0.94–1.09× for the others) in the reference
/// run, and spawn times measured at the same N varied by ≤ 5 % between trials; a trial that still
/// spawns for longer than it sleeps is re-run ([`run_sized_trial`]), so the margin only costs time,
/// never the every-task-alive guarantee. (It was 2 until the default suite had to fit its budget: the
/// sleep is most of a large fan-out trial.)
pub const SLEEP_PER_SPAWN: f64 = 1.5;

/// Task counts below this give spawn times dominated by fixed costs (the first timer, the first
/// allocation of a slab), so extrapolating them linearly to 10× or 100× the tasks overshoots badly.
pub const MIN_EXTRAPOLATION_TASKS: u64 = 1_000;

/// Chooses each trial's sleep so that every task is alive at once: at least [`SLEEP_PER_SPAWN`] × the
/// implementation's spawn time at that N. Cells run in increasing N, so the first trial at N
/// extrapolates linearly from the largest smaller N measured (spawn time grows about linearly with
/// the number of tasks); later trials at N use the largest spawn time already measured there. The
/// suite's sleep is the floor. Pure bookkeeping, no I/O.
#[derive(Debug, Clone, Default)]
pub struct SleepPlanner {
    floor_ms: u64,
    /// (implementation, variant) → tasks → the largest spawn_ms measured.
    spawn_ms: BTreeMap<(String, Variant), BTreeMap<u64, f64>>,
}

impl SleepPlanner {
    pub fn new(floor_ms: u64) -> Self {
        SleepPlanner {
            floor_ms,
            spawn_ms: BTreeMap::new(),
        }
    }

    /// Remembers a measured spawn time.
    pub fn record(&mut self, implementation: &str, variant: Variant, tasks: u64, spawn_ms: f64) {
        if !spawn_ms.is_finite() || spawn_ms < 0.0 {
            return;
        }
        let slot = self
            .spawn_ms
            .entry((implementation.to_string(), variant))
            .or_default()
            .entry(tasks)
            .or_insert(spawn_ms);
        *slot = slot.max(spawn_ms);
    }

    /// The expected spawn time at `tasks`, if anything measured so far says.
    pub fn expected_spawn_ms(
        &self,
        implementation: &str,
        variant: Variant,
        tasks: u64,
    ) -> Option<f64> {
        let seen = self.spawn_ms.get(&(implementation.to_string(), variant))?;
        if let Some(&s) = seen.get(&tasks) {
            return Some(s);
        }
        let (&n, &s) = seen.range(MIN_EXTRAPOLATION_TASKS..tasks).next_back()?;
        Some(s * tasks as f64 / n as f64)
    }

    /// The sleep for the next trial of (`implementation`, `variant`) at `tasks`.
    pub fn sleep_ms(&self, implementation: &str, variant: Variant, tasks: u64) -> u64 {
        let wanted = self
            .expected_spawn_ms(implementation, variant, tasks)
            .map_or(0, |s| (SLEEP_PER_SPAWN * s).ceil() as u64);
        wanted.max(self.floor_ms)
    }
}

/// The sleep of a re-run after a trial spawned for `spawn_ms` (≥ its sleep): three times the spawn
/// time, so the re-run still has all tasks alive at once if spawning is a bit slower the second time.
pub fn resized_sleep_ms(spawn_ms: f64) -> u64 {
    (3.0 * spawn_ms).ceil().max(1.0) as u64
}

/// Runs one fan-out trial with the given sleep; if spawning outlasted it (so not every task was alive
/// at once), runs it again with [`resized_sleep_ms`] and records that on the trial. If the re-run
/// fails, the first trial is kept with its `not_all_concurrent` finding and the re-run's reason.
pub fn run_sized_trial(launch: &Launch, p: FanoutParams) -> Result<TrialData, Failure> {
    let first = run_trial(launch, p)?;
    let spawn_ms = first.metrics.get("spawn_ms").unwrap_or(0.0);
    if all_alive_at_once(p, spawn_ms) {
        return Ok(first);
    }
    let resized = FanoutParams {
        sleep_ms: resized_sleep_ms(spawn_ms),
        ..p
    };
    match run_trial(launch, resized) {
        Ok(mut second) => {
            second.findings.push(Finding {
                kind: FindingKind::SleepResized,
                message: format!(
                    "a {} ms sleep was shorter than spawning ({spawn_ms:.0} ms), so not every task was alive at once; re-run with a {} ms sleep (3 × the spawn time)",
                    p.sleep_ms, resized.sleep_ms
                ),
            });
            Ok(second)
        }
        Err(f) => {
            let mut first = first;
            first.findings.push(Finding {
                kind: FindingKind::SleepResizeFailed,
                message: format!(
                    "the re-run with a {} ms sleep failed ({:?}: {}); keeping the first trial, whose {} ms sleep was shorter than spawning",
                    resized.sleep_ms, f.status, f.reason, p.sleep_ms
                ),
            });
            Ok(first)
        }
    }
}

/// Runs one fan-out trial.
pub fn run_trial(launch: &Launch, p: FanoutParams) -> Result<TrialData, Failure> {
    let flags = [
        ("tasks", p.tasks.to_string()),
        ("sleep-ms", p.sleep_ms.to_string()),
        ("variant", p.variant.as_str().to_string()),
    ];
    let run = run_finite(launch, "fanout", &flags, timeout(p))?;
    let (spawn_ms, total_ms, findings) = check(p, &run.fields)?;
    let mut m = process_metrics(&run.usage, &run.memory, run.startup_ms, &run.ready);
    let sleep_ms = p.sleep_ms as f64;
    // Optional: when the spawn loop returned (the handles exist), before every task has armed.
    if let Ok(loop_ms) = f64_field(&run.fields, "loop_ms") {
        m.set("loop_ms", loop_ms);
    }
    m.set("spawn_ms", spawn_ms);
    m.set("total_ms", total_ms);
    m.set("wall_ms", run.wall_ms);
    m.set("sleep_ms", sleep_ms);
    // The sleep differs per implementation (it is sized to each one's spawn time): what compares is
    // the time beyond it.
    m.set("total_net_ms", total_ms - sleep_ms);
    m.set("wall_net_ms", run.wall_ms - sleep_ms);
    Ok(TrialData {
        metrics: m,
        findings,
        rss_timeline: run.memory.timeline,
        ready: Some(run.ready),
        ..TrialData::default()
    })
}

/// Measures fan-out and derives bytes per task against each implementation's 1-task baseline. Each
/// trial's sleep is sized to that implementation's spawn time at that N ([`SleepPlanner`]) and
/// recorded as the trial's `sleep_ms` metric, not as a parameter: cells stay comparable across
/// implementations, which compare on the times net of the sleep.
pub fn measure(run: &mut dyn Session) -> anyhow::Result<()> {
    let s = run.config().suite.fanout.clone();
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
    let planner = std::cell::RefCell::new(SleepPlanner::new(s.sleep_ms));
    let trial = |l: &Launch, p: &FanoutParams, _r: usize| {
        let imp = &l.implementation;
        let sleep_ms = planner.borrow().sleep_ms(imp, p.variant, p.tasks);
        let outcome = run_sized_trial(l, FanoutParams { sleep_ms, ..*p });
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
        run.config().suite.repeat,
        &trial,
    )?;
    derive_bytes_per_task(run.cells(), &cells);
    Ok(())
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

/// The check before measuring: checksums, concurrency and a clean exit at 1 and 1000 tasks.
pub fn verify(launch: &Launch, _ready_timeout: Duration) -> Verified {
    let mut ready = None;
    for variant in [Variant::Bare, Variant::State] {
        for tasks in [1, 1000] {
            let p = FanoutParams {
                tasks,
                sleep_ms: 200,
                variant,
            };
            match run_trial(launch, p) {
                Ok(t) => ready = ready.or(t.ready),
                Err(f) => {
                    return (
                        Err(format!(
                            "{} tasks, {}: {}",
                            tasks,
                            variant.as_str(),
                            f.reason
                        )),
                        ready,
                    );
                }
            }
        }
    }
    (
        Ok(
            "1 and 1000 tasks, bare and state: checksums right, tasks concurrent, clean exit"
                .into(),
        ),
        ready,
    )
}

/// One implementation's fan-out costs, as the reference run measured them (results/reference).
#[derive(Debug, Clone, Copy)]
struct SpawnCost {
    startup_s: f64,
    /// Spawn time per task of the bare variant (at 1M tasks).
    bare_ns_per_task: f64,
    /// Spawn time per task of the state variant (at 100k tasks).
    state_ns_per_task: f64,
}

const fn cost(startup_s: f64, bare_ns_per_task: f64, state_ns_per_task: f64) -> SpawnCost {
    SpawnCost {
        startup_s,
        bare_ns_per_task,
        state_ns_per_task,
    }
}

/// The reference run's twelve fan-out runtimes (csharp, go, node, python-asyncio, python-uvloop,
/// rust-monoio, -glommio, -tokio, -tokio-ct, -join-all, -async-std, -smol): spawn cost spans 40×,
/// and the slowest decide the plan (their 1M cells run once, as long trials). `rust-threads` counts as
/// an average runtime (it stops at the pid limit above ≈ 32k tasks).
const REFERENCE_SPAWN: [SpawnCost; 12] = [
    cost(0.017, 1_130.0, 3_440.0),
    cost(0.002, 2_190.0, 4_220.0),
    cost(0.075, 2_320.0, 4_350.0),
    cost(0.270, 13_150.0, 14_670.0),
    cost(0.270, 11_890.0, 13_780.0),
    cost(0.001, 860.0, 1_540.0),
    cost(0.002, 560.0, 1_220.0),
    cost(0.002, 640.0, 1_420.0),
    cost(0.001, 550.0, 1_290.0),
    cost(0.001, 690.0, 1_470.0),
    cost(0.002, 430.0, 1_150.0),
    cost(0.001, 320.0, 1_120.0),
];

/// Completing N timers and exiting takes about this fraction of the time to spawn them (the
/// reference's 1M cells: wall − start-up − spawn − sleep ≈ 0.06–0.14 × spawn).
const COMPLETION_PER_SPAWN: f64 = 0.1;

/// What a fan-out run's duration depends on: the suite's points and repeat rules and the sleep factor.
#[derive(Debug, Clone)]
pub struct FanoutPlan {
    pub points: Vec<(Variant, Vec<u64>)>,
    pub floor_ms: u64,
    pub repeat: usize,
    pub long_trial_s: f64,
    pub sleep_per_spawn: f64,
}

impl FanoutPlan {
    pub fn of(cfg: &RunConfig) -> FanoutPlan {
        FanoutPlan {
            points: cfg.suite.fanout.points.clone(),
            floor_ms: cfg.suite.fanout.sleep_ms,
            repeat: cfg.suite.repeat,
            long_trial_s: cfg.suite.long_trial_s,
            sleep_per_spawn: SLEEP_PER_SPAWN,
        }
    }
}

/// One trial's expected seconds: start-up, spawning, the sleep sized to it, completion, harness.
fn trial_s(
    c: &SpawnCost,
    variant: Variant,
    tasks: u64,
    floor_ms: u64,
    sleep_per_spawn: f64,
) -> f64 {
    let ns = match variant {
        Variant::Bare => c.bare_ns_per_task,
        Variant::State => c.state_ns_per_task,
    };
    let spawn_s = tasks.saturating_sub(1) as f64 * ns * 1e-9;
    let sleep_s = (floor_ms as f64 / 1e3).max(sleep_per_spawn * spawn_s);
    c.startup_s + spawn_s * (1.0 + COMPLETION_PER_SPAWN) + sleep_s + TRIAL_OVERHEAD_S
}

/// Expected seconds of verifying and measuring fan-out on `implementations` implementations: per
/// implementation, verification (1 and 1000 tasks of both variants at a 200 ms sleep) plus, per
/// point, its trials (one when the first is a long trial) × [`trial_s`].
pub fn plan_seconds(plan: &FanoutPlan, implementations: usize) -> f64 {
    scaled_mean(&REFERENCE_SPAWN, implementations, |c| {
        let verify: f64 = [Variant::Bare, Variant::State]
            .iter()
            .flat_map(|&v| [1, 1_000].map(|n| trial_s(c, v, n, 200, 2.0)))
            .sum();
        let measure: f64 = plan
            .points
            .iter()
            .flat_map(|(v, counts)| counts.iter().map(move |&n| (*v, n)))
            .map(|(v, n)| {
                let t = trial_s(c, v, n, plan.floor_ms, plan.sleep_per_spawn);
                trials(t, plan.repeat, plan.long_trial_s) as f64 * t
            })
            .sum();
        verify + measure
    })
}

/// The plan line's figure (see [`plan_seconds`]).
fn estimate_s(cfg: &RunConfig, implementations: usize) -> Option<f64> {
    Some(plan_seconds(&FanoutPlan::of(cfg), implementations))
}

/// The fanout workload's facts (see [`Definition`]).
pub const DEFINITION: Definition = Definition {
    name: "fanout",
    title: "Task fan-out",
    parameters: &["variant", "tasks", "sleep_ms"],
    headlines: &["bytes_per_task", "wall_net_ms", "wall_ms"],
    columns: &[
        "peak_rss_bytes",
        "bytes_per_task",
        "spawn_ms",
        // The overhead net of the sleep (`report::metrics::OVERHEAD_MS`).
        "total_net_ms",
        "wall_net_ms",
        // Older results (one sleep for everyone) only have the raw wall time; the reports drop it when
        // the net one exists.
        "wall_ms",
        "sleep_ms",
        "cpu_user_s",
        "cpu_sys_s",
        "future_bytes",
    ],
    charts: &["fanout_rss", "fanout_bytes_per_task"],
    verify: Some(verify),
    measure,
    estimate_s,
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().unwrap().clone()
    }
    const P: FanoutParams = FanoutParams {
        tasks: 1000,
        sleep_ms: 100,
        variant: Variant::Bare,
    };

    #[test]
    fn checksums_match_the_protocol_vectors() {
        assert_eq!(expected_checksum(P), 499_500);
        assert_eq!(
            expected_checksum(FanoutParams {
                variant: Variant::State,
                ..P
            }),
            131_059_500
        );
    }

    #[test]
    fn accepts_a_good_result_and_rejects_bad_ones() {
        let good = fields(json!({"tasks":1000,"checksum":499500,"spawn_ms":2.0,"total_ms":103.0}));
        assert!(check(P, &good).is_ok());
        let wrong = fields(json!({"tasks":1000,"checksum":1,"spawn_ms":2.0,"total_ms":103.0}));
        assert!(check(P, &wrong).unwrap_err().reason.contains("checksum"));
        let no_sleep =
            fields(json!({"tasks":1000,"checksum":499500,"spawn_ms":2.0,"total_ms":3.0}));
        assert!(
            check(P, &no_sleep)
                .unwrap_err()
                .reason
                .contains("did not wait")
        );
        let serial =
            fields(json!({"tasks":1000,"checksum":499500,"spawn_ms":2.0,"total_ms":100000.0}));
        assert!(
            check(P, &serial)
                .unwrap_err()
                .reason
                .contains("not running concurrently")
        );
        let slow_spawn =
            fields(json!({"tasks":1000,"checksum":499500,"spawn_ms":500.0,"total_ms":620.0}));
        assert_eq!(
            check(P, &slow_spawn).unwrap().2[0].kind,
            FindingKind::NotAllConcurrent
        );
    }

    #[test]
    fn not_all_concurrent_only_when_spawning_reaches_the_sleep() {
        let at = |spawn: f64| {
            let f = fields(
                json!({"tasks":1000,"checksum":499500,"spawn_ms":spawn,"total_ms":spawn + 100.0}),
            );
            check(P, &f).unwrap().2
        };
        assert!(at(99.9).is_empty(), "armed before the first timer expired");
        assert_eq!(at(100.0)[0].kind, FindingKind::NotAllConcurrent);
        // One task cannot overlap with anything.
        let one = FanoutParams { tasks: 1, ..P };
        assert!(all_alive_at_once(one, 1e9));
    }

    #[test]
    fn sleep_is_the_floor_until_something_is_measured() {
        let planner = SleepPlanner::new(200);
        assert_eq!(planner.sleep_ms("go", Variant::Bare, 1_000_000), 200);
    }

    #[test]
    fn sleep_extrapolates_one_and_a_half_times_the_spawn_time_from_the_previous_n() {
        let mut planner = SleepPlanner::new(200);
        planner.record("go", Variant::Bare, 1, 0.05);
        // N = 1 is all fixed cost: extrapolating 0.05 ms × 10^4 would ask for a needless 1 s sleep.
        assert_eq!(planner.sleep_ms("go", Variant::Bare, 10_000), 200);
        planner.record("go", Variant::Bare, 10_000, 25.0);
        planner.record("go", Variant::Bare, 100_000, 240.0);
        // 1M extrapolates from 100k (not 10k): 240 ms × 10 × 1.5.
        assert_eq!(planner.sleep_ms("go", Variant::Bare, 1_000_000), 3_600);
        // 100k: measured there already; the largest trial counts.
        planner.record("go", Variant::Bare, 100_000, 180.0);
        assert_eq!(planner.sleep_ms("go", Variant::Bare, 100_000), 360);
        // Small spawn times keep the floor.
        assert_eq!(planner.sleep_ms("go", Variant::Bare, 10_000), 200);
        // Implementations and variants never share estimates.
        assert_eq!(planner.sleep_ms("node", Variant::Bare, 1_000_000), 200);
        assert_eq!(planner.sleep_ms("go", Variant::State, 1_000_000), 200);
    }

    #[test]
    fn sleep_ignores_nonsense_spawn_times() {
        let mut planner = SleepPlanner::new(200);
        planner.record("go", Variant::Bare, 10_000, f64::NAN);
        planner.record("go", Variant::Bare, 10_000, -1.0);
        assert_eq!(planner.sleep_ms("go", Variant::Bare, 10_000), 200);
    }

    #[test]
    fn a_resized_sleep_is_three_times_the_spawn_time() {
        assert_eq!(resized_sleep_ms(700.2), 2_101);
        let p = FanoutParams {
            sleep_ms: resized_sleep_ms(700.2),
            ..P
        };
        assert!(all_alive_at_once(p, 700.2));
    }

    /// The reference run's fan-out plan (results/reference: default suite of commit 64d3782).
    fn reference_plan() -> FanoutPlan {
        FanoutPlan {
            points: vec![
                (Variant::Bare, vec![1, 10_000, 100_000, 1_000_000]),
                (Variant::State, vec![1, 10_000, 100_000]),
            ],
            floor_ms: 200,
            repeat: 3,
            long_trial_s: 12.0,
            sleep_per_spawn: 2.0,
        }
    }

    #[test]
    fn the_estimate_reproduces_the_reference_run() {
        // 13 implementations; their 259 trials lasted 310 s (summed wall time), verification ≈ 15 s,
        // the harness ≈ 5 s: ≈ 330 s.
        let s = plan_seconds(&reference_plan(), 13);
        assert!((300.0..360.0).contains(&s), "{s:.0} s");
    }

    #[test]
    fn the_estimate_counts_long_first_trials_once_and_scales_with_implementations() {
        let plan = reference_plan();
        let one = plan_seconds(&plan, 1);
        assert!((plan_seconds(&plan, 13) - 13.0 * one).abs() < 1e-6);
        // Repeating every cell (no long-trial rule) costs the Python 1M cells twice more.
        let every = FanoutPlan {
            long_trial_s: f64::INFINITY,
            ..plan.clone()
        };
        let extra = plan_seconds(&every, 12) - plan_seconds(&plan, 12);
        assert!((140.0..180.0).contains(&extra), "{extra:.0} s");
        // Sleeping 1.5 × the spawn time instead of 2 × saves ≈ 40 s of the reference plan.
        let budget = FanoutPlan {
            sleep_per_spawn: SLEEP_PER_SPAWN,
            ..plan.clone()
        };
        let saved = plan_seconds(&plan, 13) - plan_seconds(&budget, 13);
        assert!((30.0..55.0).contains(&saved), "{saved:.0} s");
        assert_eq!(plan_seconds(&plan, 0), 0.0);
    }
}
