//! `asyncbench compare <base.json> <new.json>`: what changed between two runs, as a CI gate.
//!
//! Cells are matched by workload, implementation and parameters (open-loop echo cells whose rate is a
//! fraction of the implementation's own maximum are matched without their absolute rate, which differs
//! between runs by construction), through hash maps: linear in the number of cells. Two cells of one run
//! with the same key are an error naming them — silently picking one would compare the wrong numbers.
//!
//! Each workload's headline metrics (plus every metric given its own threshold) are compared as
//! described in [`crate::stats::change`]: the change of the medians with a 99 % interval computed from
//! both runs' trials; a cell is **improved** or **regressed** only when that interval excludes zero and
//! the change exceeds the metric's threshold, otherwise **within noise**. One implementation's cells of
//! a workload are also pooled per metric (99.9 %), which is what the exit code gates on: a slowdown of
//! an implementation shows in all its cells and is caught there with far more power than in any single
//! three-trial cell, while unrelated cells' noise does not add up to a false alarm.
//!
//! A cell that was `ok` in the base run and is missing, skipped or failed in the new one is a failure
//! of the gate (unless `allow_missing`): a CI that passes exactly when an implementation stopped
//! building is worse than none. Deterministic counts (the micro-benchmarks' instructions under valgrind)
//! are judged exactly, per cell, against their own threshold ([`OWN_THRESHOLDS`], 1 %), and a
//! cell of them that regressed fails the gate by itself: there is no noise to pool away.
//! Exit code: 1 on any implementation-level regression, regressed count or vanished cell,
//! 0 otherwise. Pure: loading is `results::load`.

use crate::report::format::{fmt_estimate, fmt_pct};
use crate::report::metrics::{
    Better, Estimate, METRICS, cell_headline_metrics, estimate, log_change, metric_def,
    scenario_key,
};
use crate::report::scenario::describe_scenario;
use crate::results::{Cell, CellStatus, Environment, ImplStatus, Results};
use crate::stats::change::{
    CELL_CONFIDENCE, GROUP_CONFIDENCE, Judgement, LogChange, judge, moderate, pool,
};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

/// Errors that make a comparison meaningless.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CompareError {
    #[error(
        "the {run} run has {} duplicate cell key(s): {}; each (workload, implementation, parameters) must appear once — regenerate the file with `asyncbench run`",
        keys.len(),
        keys.join(", ")
    )]
    DuplicateCells {
        run: &'static str,
        keys: Vec<String>,
    },
    #[error("{0}")]
    BadThreshold(String),
}

/// Regression thresholds in percent: one default and per-metric overrides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Thresholds {
    pub default_pct: f64,
    /// Full metric name (as in results.json and results.csv) → threshold.
    pub per_metric: BTreeMap<String, f64>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            default_pct: 5.0,
            per_metric: BTreeMap::new(),
        }
    }
}

/// The metric naming `--threshold` accepts, for the help text and error messages.
pub const THRESHOLD_HELP: &str = "Regression threshold in percent: a change smaller than this is never a \
regression. `5` sets the default for every metric except the micro-benchmarks' instruction counts (deterministic: \
judged exactly against 1 % unless `instructions=PCT` is given); `METRIC=PCT` sets one metric, e.g. `p99=20,peak_rss_bytes=2`. \
METRIC is a metric name as in results.json / results.csv (throughput_msgs_per_s, throughput_items_per_s, \
latency_ns.p99, bytes_per_task, wall_ms, peak_rss_bytes, median_ns, bytes, …); latency percentiles may be \
shortened to p50, p90, p99, p999, p9999, max. A metric given a threshold is compared in every cell that has \
it, besides each workload's headline metrics. Repeat the flag or separate items with commas.";

impl Thresholds {
    /// Parses items such as `5`, `p99=20`, `peak_rss_bytes=2`.
    pub fn parse(items: &[String]) -> Result<Self, CompareError> {
        let mut t = Thresholds::default();
        for item in items.iter().flat_map(|s| s.split(',')) {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (name, value) = match item.split_once('=') {
                Some((n, v)) => (Some(n.trim()), v.trim()),
                None => (None, item),
            };
            let pct: f64 = value.trim_end_matches('%').parse().ok().filter(|p: &f64| p.is_finite() && *p >= 0.0).ok_or_else(|| {
                CompareError::BadThreshold(format!(
                    "--threshold '{item}': '{value}' is not a percentage ≥ 0; use e.g. --threshold 5 or --threshold p99=20"
                ))
            })?;
            match name {
                None => t.default_pct = pct,
                Some(n) => {
                    let full = canonical_metric(n).ok_or_else(|| {
                        let known: Vec<&str> = METRICS.iter().map(|d| d.name).collect();
                        CompareError::BadThreshold(format!(
                            "--threshold '{item}': unknown metric '{n}'; use one of {} (or p50, p99, … for latency_ns.p50, …)",
                            known.join(", ")
                        ))
                    })?;
                    t.per_metric.insert(full, pct);
                }
            }
        }
        Ok(t)
    }

    /// The threshold of `metric`: its own if given, else its entry in [`OWN_THRESHOLDS`], else the
    /// default.
    pub fn for_metric(&self, metric: &str) -> f64 {
        self.per_metric
            .get(metric)
            .copied()
            .or_else(|| own_threshold(metric).map(|t| t.pct))
            .unwrap_or(self.default_pct)
    }
}

/// A metric with a default threshold of its own, which `--threshold PCT` does not change (only
/// `--threshold METRIC=PCT` does).
pub struct OwnThreshold {
    pub metric: &'static str,
    pub pct: f64,
    /// A count that does not vary between runs of the same binary: judged exactly (no interval, no
    /// statistics), and one regressed cell fails the gate by itself (pooled, 2 % in one of five
    /// primitives would read as 0.4 %).
    pub exact: bool,
    /// Why, as the compare header says it.
    pub why: &'static str,
}

/// Metrics whose noise is not what the default threshold assumes.
///
/// * `instructions`: an instruction count under valgrind is the same on every run of the same binary
///   (±2 of 2 million measured), so any change beyond 1 % is real — a change in the code or in a
///   dependency, which is what a CI gate exists to catch.
/// * `median_ns`, `mean_ns` (criterion's wall clock): their interval is a bootstrap over the
///   iterations of one `cargo bench` process; what moves between two runs (CPU frequency and
///   placement on a shared VM, code layout) is not in it. Two back-to-back default runs of one commit
///   on the 2-core VM (2026-12-01, 02:00 and 02:27 UTC) moved 18 of 48 medians by more than 5 % with
///   intervals excluding zero, up to 30 % (tokio's spawn_join_1 −30 %, monoio's yield_now +29 %); the
///   issue measured 7–65 % between two VMs. So a wall-clock change counts only beyond 35 %; the
///   instruction counts are the micro-benchmarks' real gate.
pub const OWN_THRESHOLDS: &[OwnThreshold] = &[
    OwnThreshold {
        metric: "instructions",
        pct: 1.0,
        exact: true,
        why: "exact: a count, no noise",
    },
    OwnThreshold {
        metric: "median_ns",
        pct: 35.0,
        exact: false,
        why: "wall clock: the interval covers one process, not run-to-run drift",
    },
    OwnThreshold {
        metric: "mean_ns",
        pct: 35.0,
        exact: false,
        why: "wall clock: the interval covers one process, not run-to-run drift",
    },
];

fn own_threshold(metric: &str) -> Option<&'static OwnThreshold> {
    OWN_THRESHOLDS.iter().find(|t| t.metric == metric)
}

/// Whether `metric` is a count judged exactly (see [`OwnThreshold::exact`]).
fn is_exact(metric: &str) -> bool {
    own_threshold(metric).is_some_and(|t| t.exact)
}

/// The full metric name for a name or a latency percentile short form.
fn canonical_metric(name: &str) -> Option<String> {
    let full = if ["p50", "p90", "p99", "p999", "p9999", "max"].contains(&name) {
        format!("latency_ns.{name}")
    } else {
        name.to_string()
    };
    METRICS.iter().any(|d| d.name == full).then_some(full)
}

/// How to compare.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompareOptions {
    pub thresholds: Thresholds,
    /// Cells that vanished or fail now do not fail the gate (they are still listed).
    pub allow_missing: bool,
}

/// The judgement of one metric of one cell (or of one implementation's cells).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Improved,
    Regressed,
    WithinNoise,
    /// No interval could be computed (a single trial, no sub-intervals): not judged.
    Unjudged,
    /// The value says nothing about the implementation in one of the runs (a closed-loop throughput
    /// the client limited, a latency the self-checks could not measure, a capacity bounded by the
    /// client): listed and counted with the reason in `note`, never a regression or an improvement,
    /// never pooled.
    NotJudged,
    /// Completed in the base run, did not complete in the new one.
    NowFailing,
    /// Did not complete in the base run, completes now.
    NowPassing,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Improved => "improved",
            Verdict::Regressed => "REGRESSED",
            Verdict::WithinNoise => "within noise",
            Verdict::Unjudged => "not judged (no interval)",
            Verdict::NotJudged => "not judged",
            Verdict::NowFailing => "NOW FAILING",
            Verdict::NowPassing => "now passing",
        }
    }
}

/// One compared metric of one cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub workload: String,
    pub implementation: String,
    pub scenario: String,
    /// The cell's key in the base run (`Cell::key`).
    pub key: String,
    pub metric: &'static str,
    pub threshold_pct: f64,
    pub base: Option<Estimate>,
    pub new: Option<Estimate>,
    /// new / base − 1, in percent (ratio of the medians).
    pub change_pct: Option<f64>,
    /// The [`CELL_CONFIDENCE`] interval of the change, in percent; it decides the verdict.
    pub change_lo_pct: Option<f64>,
    pub change_hi_pct: Option<f64>,
    pub verdict: Verdict,
    /// Why the verdict is what it is, when not obvious (e.g. the failure reason).
    pub note: Option<String>,
}

/// One implementation's pooled change on one metric of one workload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupChange {
    pub workload: String,
    pub implementation: String,
    pub metric: &'static str,
    pub threshold_pct: f64,
    /// Cells pooled.
    pub cells: usize,
    pub change_pct: f64,
    /// The [`GROUP_CONFIDENCE`] interval of the pooled change, in percent (`None`: unknown noise).
    pub change_lo_pct: Option<f64>,
    pub change_hi_pct: Option<f64>,
    pub verdict: Verdict,
}

/// A cell that was `ok` in the base run and is absent from the new one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MissingCell {
    pub key: String,
    pub workload: String,
    pub implementation: String,
    pub scenario: String,
    /// What the new run says about the implementation (e.g. "build_failed: cargo build exited 101").
    pub reason: String,
}

/// The result of comparing two runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub thresholds: Thresholds,
    pub allow_missing: bool,
    pub base_run: String,
    pub new_run: String,
    /// Environment differences that make the numbers less comparable.
    pub env_warnings: Vec<String>,
    pub changes: Vec<Change>,
    pub groups: Vec<GroupChange>,
    /// Cells `ok` in the base run and absent from the new one.
    pub missing: Vec<MissingCell>,
    /// Keys of cells absent from the new run that were not `ok` in the base run either.
    pub only_in_base: Vec<String>,
    /// Keys of cells only in the new run.
    pub only_in_new: Vec<String>,
}

/// (workload, implementation, metric): the cells one pooled change is made of.
type GroupKey = (String, String, &'static str);

/// The key cells are matched by.
fn match_key(c: &Cell) -> String {
    format!("{}|{}", scenario_key(c), c.implementation)
}

/// Indexes a run's cells by match key; duplicate keys are an error naming them.
fn index<'a>(
    run: &'static str,
    cells: &'a [Cell],
) -> Result<HashMap<String, &'a Cell>, CompareError> {
    let mut map: HashMap<String, &Cell> = HashMap::with_capacity(cells.len());
    let mut dups: Vec<String> = Vec::new();
    for c in cells {
        if map.insert(match_key(c), c).is_some() {
            dups.push(c.key());
        }
    }
    if dups.is_empty() {
        Ok(map)
    } else {
        dups.sort();
        dups.dedup();
        Err(CompareError::DuplicateCells { run, keys: dups })
    }
}

/// Compares `new` against `base`.
pub fn compare(
    base: &Results,
    new: &Results,
    opts: &CompareOptions,
) -> Result<Comparison, CompareError> {
    let base_index = index("base", &base.cells)?;
    let new_index = index("new", &new.cells)?;
    let impl_status: HashMap<&str, (ImplStatus, Option<&str>)> = new
        .implementations
        .iter()
        .map(|i| (i.name.as_str(), (i.status, i.reason.as_deref())))
        .collect();
    let mut changes = Vec::new();
    // Per (workload, implementation, metric): the cells' log changes, pooled afterwards.
    let mut per_group: BTreeMap<GroupKey, Vec<(usize, LogChange)>> = BTreeMap::new();
    let mut missing = Vec::new();
    let mut only_in_base = Vec::new();
    for b in &base.cells {
        let Some(n) = new_index.get(&match_key(b)) else {
            if b.status == CellStatus::Ok {
                missing.push(MissingCell {
                    key: b.key(),
                    workload: b.workload.clone(),
                    implementation: b.implementation.clone(),
                    scenario: describe_scenario(b),
                    reason: missing_reason(impl_status.get(b.implementation.as_str())),
                });
            } else {
                only_in_base.push(b.key());
            }
            continue;
        };
        for metric in metrics_to_compare(b, &opts.thresholds) {
            if let Some((c, log)) = compare_metric(b, n, metric, &opts.thresholds) {
                if let Some(log) = log {
                    per_group
                        .entry((b.workload.clone(), b.implementation.clone(), metric))
                        .or_default()
                        .push((changes.len(), log));
                }
                changes.push(c);
            }
        }
    }
    // Cells of unknown noise borrow their group's typical variance.
    for members in per_group.values() {
        let logs: Vec<LogChange> = members.iter().map(|(_, l)| *l).collect();
        for ((i, _), m) in members.iter().zip(moderate(&logs)) {
            if changes[*i].verdict == Verdict::Unjudged {
                apply_judgement(&mut changes[*i], &m);
            }
        }
    }
    let groups = pooled_groups(per_group, &opts.thresholds);
    let only_in_new = new
        .cells
        .iter()
        .filter(|n| !base_index.contains_key(&match_key(n)))
        .map(|n| n.key())
        .collect();
    Ok(Comparison {
        thresholds: opts.thresholds.clone(),
        allow_missing: opts.allow_missing,
        base_run: base.run_id.clone(),
        new_run: new.run_id.clone(),
        env_warnings: environment_differences(&base.environment, &new.environment),
        changes,
        groups,
        missing,
        only_in_base,
        only_in_new,
    })
}

/// Why a cell that was ok in the base run is missing from the new run, from its implementation's
/// status there (`None`: the implementation is absent).
fn missing_reason(impl_status: Option<&(ImplStatus, Option<&str>)>) -> String {
    match impl_status {
        None => "implementation absent from the new run".to_string(),
        Some((ImplStatus::Ok, _)) => "cell absent from the new run".to_string(),
        Some((s, r)) => {
            let s = serde_json::to_value(s)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            match r {
                Some(r) => format!("{s}: {r}"),
                None => s,
            }
        }
    }
}

/// Per (workload, implementation, metric): the cells' log changes pooled into one change with its
/// verdict at the group confidence. Groups whose changes cannot be pooled are left out.
fn pooled_groups(
    per_group: BTreeMap<GroupKey, Vec<(usize, LogChange)>>,
    thresholds: &Thresholds,
) -> Vec<GroupChange> {
    per_group
        .into_iter()
        .filter_map(|((workload, implementation, metric), members)| {
            let logs: Vec<LogChange> = members.iter().map(|(_, l)| *l).collect();
            let pooled = pool(&logs)?;
            let def = metric_def(metric);
            let threshold_pct = thresholds.for_metric(metric);
            let interval = pooled.interval_pct(GROUP_CONFIDENCE);
            Some(GroupChange {
                verdict: verdict_of(
                    judge(
                        &pooled,
                        GROUP_CONFIDENCE,
                        threshold_pct,
                        def.better == Better::Higher,
                    ),
                    def.better,
                ),
                workload,
                implementation,
                metric,
                threshold_pct,
                cells: logs.len(),
                change_pct: pooled.pct(),
                change_lo_pct: interval.map(|i| i.0),
                change_hi_pct: interval.map(|i| i.1),
            })
        })
        .collect()
}

/// The workload's headline metrics, then every other metric with its own threshold that the cell has.
fn metrics_to_compare(cell: &Cell, t: &Thresholds) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = cell_headline_metrics(cell).collect();
    for name in t.per_metric.keys() {
        let def = metric_def(name);
        if !out.contains(&def.name) && estimate(cell, def.name).is_some() {
            out.push(def.name);
        }
    }
    out
}

fn verdict_of(j: Judgement, better: Better) -> Verdict {
    if better == Better::Neither {
        return Verdict::WithinNoise;
    }
    match j {
        Judgement::Better => Verdict::Improved,
        Judgement::Worse => Verdict::Regressed,
        Judgement::WithinNoise => Verdict::WithinNoise,
        Judgement::Unknown => Verdict::Unjudged,
    }
}

fn apply_judgement(c: &mut Change, log: &LogChange) {
    let def = metric_def(c.metric);
    let interval = log.interval_pct(CELL_CONFIDENCE);
    c.change_lo_pct = interval.map(|i| i.0);
    c.change_hi_pct = interval.map(|i| i.1);
    c.verdict = verdict_of(
        judge(
            log,
            CELL_CONFIDENCE,
            c.threshold_pct,
            def.better == Better::Higher,
        ),
        def.better,
    );
}

fn compare_metric(
    b: &Cell,
    n: &Cell,
    metric: &'static str,
    t: &Thresholds,
) -> Option<(Change, Option<LogChange>)> {
    let (be, ne) = (estimate(b, metric), estimate(n, metric));
    let mut c = Change {
        workload: b.workload.clone(),
        implementation: b.implementation.clone(),
        scenario: describe_scenario(b),
        key: b.key(),
        metric,
        threshold_pct: t.for_metric(metric),
        base: be,
        new: ne,
        change_pct: None,
        change_lo_pct: None,
        change_hi_pct: None,
        verdict: Verdict::WithinNoise,
        note: None,
    };
    let excluded = not_judged_reason(b, n, metric);
    match (be, ne) {
        (Some(be), Some(ne)) if excluded.is_some() => {
            c.change_pct = (be.median > 0.0).then(|| (ne.median / be.median - 1.0) * 100.0);
            c.verdict = Verdict::NotJudged;
            c.note = excluded;
            Some((c, None))
        }
        (Some(be), Some(ne)) => {
            let Some(log) = log_change(b, n, metric, &be, &ne) else {
                // No log scale (a zero or negative value): judge the point values alone.
                c.change_pct = (be.median != 0.0).then(|| (ne.median / be.median - 1.0) * 100.0);
                c.note = Some("no ratio interval (a value is zero or negative)".into());
                return Some((c, None));
            };
            c.change_pct = Some(log.pct());
            c.verdict = Verdict::Unjudged;
            apply_judgement(&mut c, &log);
            Some((c, Some(log)))
        }
        // A cell that stopped (or started) completing is reported once, against its first headline metric.
        (Some(_), None) if n.status != CellStatus::Ok && first_measured(b) == Some(metric) => {
            c.verdict = Verdict::NowFailing;
            let status = serde_json::to_value(n.status)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            c.note = Some(format!(
                "{status}: {}",
                n.reason.as_deref().unwrap_or("no reason recorded")
            ));
            Some((c, None))
        }
        (None, Some(_)) if b.status != CellStatus::Ok && first_measured(n) == Some(metric) => {
            c.verdict = Verdict::NowPassing;
            Some((c, None))
        }
        _ => None,
    }
}

/// Why `metric` of this cell pair says nothing about the implementation, when it does not: a
/// throughput the client limited (closed loop, `client_bottleneck`/`client_saturated`), a latency the
/// self-checks marked not measurable, or a capacity that is only a lower bound set by the client. Such
/// a change is neither a regression nor an improvement: a faster client or a quieter machine would
/// move it without any change in the server.
pub fn not_judged_reason(b: &Cell, n: &Cell, metric: &str) -> Option<String> {
    let which = |why: &dyn Fn(&Cell) -> bool| match (why(b), why(n)) {
        (true, true) => Some("both"),
        (true, false) => Some("the base"),
        (false, true) => Some("the new"),
        (false, false) => None,
    };
    let client_bound = |c: &Cell| {
        c.metrics.get("client_saturated").is_some_and(|s| s >= 0.5)
            || c.findings
                .iter()
                .any(|f| f.kind == crate::finding::FindingKind::ClientBottleneck)
    };
    let closed = b.params.get("mode").and_then(|m| m.as_str()) == Some("closed");
    let capacity = metric.starts_with("capacity");
    if ((closed && metric.starts_with("throughput")) || capacity)
        && let Some(w) = which(&client_bound)
    {
        return Some(if capacity {
            format!("client-limited capacity (a lower bound) in {w} run(s)")
        } else {
            format!("client-bound throughput in {w} run(s): the load generator's ceiling")
        });
    }
    let unmeasurable = |c: &Cell| c.metrics.get("latency_measurable").is_some_and(|m| m < 1.0);
    if (metric.starts_with("latency") || metric.starts_with("p9") || metric.starts_with("p5"))
        && let Some(w) = which(&unmeasurable)
    {
        return Some(format!(
            "latency not measurable in {w} run(s): self-checks failed"
        ));
    }
    None
}

/// The first headline metric the cell has a value for (a cell's failure is reported once, against it).
fn first_measured(c: &Cell) -> Option<&'static str> {
    cell_headline_metrics(c).find(|m| estimate(c, m).is_some())
}

/// Differences between two environments that make numbers less comparable.
pub fn environment_differences(a: &Environment, b: &Environment) -> Vec<String> {
    let mut out = Vec::new();
    let mut diff = |what: &str, x: String, y: String| {
        if x != y {
            out.push(format!("{what} differs: {x:?} (base) vs {y:?} (new)"));
        }
    };
    diff("CPU model", a.cpu_model.clone(), b.cpu_model.clone());
    diff("core count", a.cores.to_string(), b.cores.to_string());
    diff(
        "memory",
        a.memory_bytes.to_string(),
        b.memory_bytes.to_string(),
    );
    diff("kernel", a.kernel.clone(), b.kernel.clone());
    diff("OS", a.os.clone(), b.os.clone());
    diff(
        "CPU pinning",
        format!("{:?}", a.cpu_pinning),
        format!("{:?}", b.cpu_pinning),
    );
    // Programs on another host, or echo driven across a network, are different measurements.
    if a.topology_key() != b.topology_key() {
        out.push(format!(
            "topology differs: {} (base) vs {} (new)",
            a.topology(),
            b.topology()
        ));
    }
    let mut names: Vec<&String> = a.toolchains.keys().chain(b.toolchains.keys()).collect();
    names.sort();
    names.dedup();
    for n in names {
        match (a.toolchains.get(n), b.toolchains.get(n)) {
            (Some(x), Some(y)) if x != y => out.push(format!(
                "toolchain {n} differs: {x:?} (base) vs {y:?} (new)"
            )),
            (Some(_), None) => out.push(format!("toolchain {n} only in the base run")),
            (None, Some(_)) => out.push(format!("toolchain {n} only in the new run")),
            _ => {}
        }
    }
    out
}

/// Output formats of `compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
    Markdown,
}

impl Comparison {
    /// Changes with a given verdict.
    pub fn count(&self, v: Verdict) -> usize {
        self.changes.iter().filter(|c| c.verdict == v).count()
    }

    /// Cells (not metrics) with at least one improved or regressed metric.
    pub fn flagged_cells(&self) -> usize {
        let mut keys: Vec<&str> = self
            .changes
            .iter()
            .filter(|c| matches!(c.verdict, Verdict::Improved | Verdict::Regressed))
            .map(|c| c.key.as_str())
            .collect();
        keys.sort();
        keys.dedup();
        keys.len()
    }

    /// Why the gate fails, one line each; empty when it passes.
    pub fn gate_failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        // Deterministic metrics have no noise for pooling to average out: every cell that regressed
        // beyond the threshold fails the gate on its own (pooled, 2 % in one of five primitives would
        // read as 0.4 %).
        for c in self
            .changes
            .iter()
            .filter(|c| c.verdict == Verdict::Regressed && is_exact(c.metric))
        {
            out.push(format!(
                "{} {}: {} (exact count)",
                c.key,
                metric_def(c.metric).label,
                fmt_change(c.change_pct, c.change_lo_pct, c.change_hi_pct),
            ));
        }
        for g in self
            .groups
            .iter()
            .filter(|g| g.verdict == Verdict::Regressed && !is_exact(g.metric))
        {
            out.push(format!(
                "{} {} {}: {} over {} cell{}",
                g.workload,
                g.implementation,
                metric_def(g.metric).label,
                fmt_change(Some(g.change_pct), g.change_lo_pct, g.change_hi_pct),
                g.cells,
                if g.cells == 1 { "" } else { "s" }
            ));
        }
        if !self.allow_missing {
            for m in &self.missing {
                out.push(format!("{} vanished ({})", m.key, m.reason));
            }
            for c in self
                .changes
                .iter()
                .filter(|c| c.verdict == Verdict::NowFailing)
            {
                out.push(format!(
                    "{} fails now ({})",
                    c.key,
                    c.note.as_deref().unwrap_or("")
                ));
            }
        }
        out
    }

    /// 1 when an implementation regressed on a metric (pooled over its cells, beyond the threshold,
    /// 99.9 % interval), a cell's deterministic count (instructions) regressed beyond its threshold, or — unless `allow_missing` — a cell that was `ok` in the base run is
    /// missing or fails now; 0 otherwise.
    pub fn exit_code(&self) -> i32 {
        i32::from(!self.gate_failures().is_empty())
    }

    /// Renders in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Text => self.render_text(),
            Format::Json => self.render_json(),
            Format::Markdown => self.render_markdown(),
        }
    }

    fn threshold_text(&self) -> String {
        let mut s = format!("threshold {}%", self.thresholds.default_pct);
        for (m, p) in &self.thresholds.per_metric {
            let _ = write!(s, ", {m} {p}%");
        }
        for t in OWN_THRESHOLDS {
            if !self.thresholds.per_metric.contains_key(t.metric)
                && self.changes.iter().any(|c| c.metric == t.metric)
            {
                let _ = write!(
                    s,
                    ", {} {}% ({})",
                    t.metric,
                    self.thresholds.for_metric(t.metric),
                    t.why
                );
            }
        }
        s
    }

    fn rows(&self) -> Vec<[String; 8]> {
        self.changes
            .iter()
            .map(|c| {
                let def = metric_def(c.metric);
                let fmt = |e: &Option<Estimate>| {
                    e.as_ref()
                        .map(|e| fmt_estimate(def.unit, e))
                        .unwrap_or_else(|| "–".into())
                };
                let mut verdict = c.verdict.as_str().to_string();
                if let Some(n) = &c.note {
                    let _ = write!(verdict, " ({n})");
                }
                [
                    c.workload.clone(),
                    c.implementation.clone(),
                    c.scenario.clone(),
                    def.label.to_string(),
                    fmt(&c.base),
                    fmt(&c.new),
                    fmt_change(c.change_pct, c.change_lo_pct, c.change_hi_pct),
                    verdict,
                ]
            })
            .collect()
    }

    fn summary_line(&self) -> String {
        format!(
            "{} improved, {} regressed, {} within noise{}{}{}; {} of {} compared cells flagged.",
            self.count(Verdict::Improved),
            self.count(Verdict::Regressed),
            self.count(Verdict::WithinNoise),
            match self.count(Verdict::Unjudged) + self.count(Verdict::NotJudged) {
                0 => String::new(),
                n => format!(", {n} not judged"),
            },
            match self.count(Verdict::NowFailing) {
                0 => String::new(),
                n => format!(", {n} now failing"),
            },
            match self.count(Verdict::NowPassing) {
                0 => String::new(),
                n => format!(", {n} now passing"),
            },
            self.flagged_cells(),
            {
                let mut k: Vec<&str> = self.changes.iter().map(|c| c.key.as_str()).collect();
                k.sort();
                k.dedup();
                k.len()
            }
        )
    }

    /// A plain-text report: environment warnings, one aligned row per compared metric, the pooled
    /// per-implementation changes, vanished cells, and the gate's verdict.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Comparing {} (base) → {} (new); {}; intervals: {:.0} % per cell, {:.1} % per implementation.",
            self.base_run,
            self.new_run,
            self.threshold_text(),
            CELL_CONFIDENCE * 100.0,
            GROUP_CONFIDENCE * 100.0
        );
        if !self.env_warnings.is_empty() {
            let _ = writeln!(
                out,
                "\nWARNING: the runs were measured in different environments; changes may not be caused by the code:"
            );
            for w in &self.env_warnings {
                let _ = writeln!(out, "  - {w}");
            }
        }
        let _ = writeln!(out);
        let header = [
            "workload",
            "implementation",
            "scenario",
            "metric",
            "base",
            "new",
            "change [interval]",
            "verdict",
        ];
        let rows = self.rows();
        if rows.is_empty() {
            let _ = writeln!(out, "No cells in common.");
        } else {
            out.push_str(&aligned(&header.map(String::from), &rows));
        }
        let changed: Vec<&GroupChange> = self
            .groups
            .iter()
            .filter(|g| g.cells > 1 && g.verdict != Verdict::WithinNoise)
            .collect();
        if !changed.is_empty() {
            let _ = writeln!(out, "\nPer implementation (all its cells pooled):");
            for g in changed {
                let _ = writeln!(
                    out,
                    "  {} {} {}: {} over {} cells — {}",
                    g.workload,
                    g.implementation,
                    metric_def(g.metric).label,
                    fmt_change(Some(g.change_pct), g.change_lo_pct, g.change_hi_pct),
                    g.cells,
                    g.verdict.as_str()
                );
            }
        }
        self.write_unmatched_text(&mut out);
        let _ = writeln!(out, "\n{}", self.summary_line());
        let failures = self.gate_failures();
        if failures.is_empty() {
            let _ = writeln!(out, "Gate: pass.");
        } else {
            let _ = writeln!(out, "Gate: FAIL");
            for f in failures {
                let _ = writeln!(out, "  - {f}");
            }
        }
        out
    }

    /// The text report's list of cells that vanished from the new run, then the cells found in only
    /// one of the runs.
    fn write_unmatched_text(&self, out: &mut String) {
        if !self.missing.is_empty() {
            let _ = writeln!(
                out,
                "\n{} cell{} ok in the base run missing from the new run{}:",
                self.missing.len(),
                if self.missing.len() == 1 { "" } else { "s" },
                if self.allow_missing {
                    " (allowed by --allow-missing)"
                } else {
                    ""
                }
            );
            for m in &self.missing {
                let _ = writeln!(out, "  {} — {}", m.key, m.reason);
            }
        }
        for (what, keys) in [
            (
                "only in the base run (not ok there either)",
                &self.only_in_base,
            ),
            ("only in the new run", &self.only_in_new),
        ] {
            if !keys.is_empty() {
                let _ = writeln!(
                    out,
                    "\n{} cell{} {what}:",
                    keys.len(),
                    if keys.len() == 1 { "" } else { "s" }
                );
                for k in keys {
                    let _ = writeln!(out, "  {k}");
                }
            }
        }
    }

    /// The comparison as JSON (stable field names, units in names), for scripts and bots.
    pub fn render_json(&self) -> String {
        let est = |e: &Option<Estimate>| {
            e.map(|e| serde_json::json!({"median": e.median, "lo": e.lo, "hi": e.hi, "n": e.n}))
        };
        let v = serde_json::json!({
            "base_run": self.base_run,
            "new_run": self.new_run,
            "thresholds_pct": self.thresholds,
            "cell_confidence": CELL_CONFIDENCE,
            "implementation_confidence": GROUP_CONFIDENCE,
            "allow_missing": self.allow_missing,
            "exit_code": self.exit_code(),
            "gate_failures": self.gate_failures(),
            "env_warnings": self.env_warnings,
            "changes": self.changes.iter().map(|c| serde_json::json!({
                "key": c.key,
                "workload": c.workload,
                "implementation": c.implementation,
                "scenario": c.scenario,
                "metric": c.metric,
                "threshold_pct": c.threshold_pct,
                "base": est(&c.base),
                "new": est(&c.new),
                "change_pct": c.change_pct,
                "change_lo_pct": c.change_lo_pct,
                "change_hi_pct": c.change_hi_pct,
                "verdict": c.verdict,
                "note": c.note,
            })).collect::<Vec<_>>(),
            "implementations": self.groups,
            "missing": self.missing,
            "only_in_base": self.only_in_base,
            "only_in_new": self.only_in_new,
        });
        let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
        s.push('\n');
        s
    }

    /// GitHub-flavoured Markdown for a pull-request comment: the gate first, then what changed, then a
    /// collapsed table of everything. Every interpolated text is escaped.
    pub fn render_markdown(&self) -> String {
        let mut out = String::new();
        let failures = self.gate_failures();
        let _ = writeln!(
            out,
            "### asyncbench compare: {}\n",
            if failures.is_empty() {
                "✅ pass"
            } else {
                "❌ FAIL"
            }
        );
        let _ = writeln!(
            out,
            "{} (base) → {} (new); {}; intervals: {:.0} % per cell, {:.1} % per implementation.\n",
            md(&self.base_run),
            md(&self.new_run),
            md(&self.threshold_text()),
            CELL_CONFIDENCE * 100.0,
            GROUP_CONFIDENCE * 100.0
        );
        for f in &failures {
            let _ = writeln!(out, "- **{}**", md(f));
        }
        if !failures.is_empty() {
            out.push('\n');
        }
        if !self.env_warnings.is_empty() {
            let _ = writeln!(
                out,
                "> ⚠ The runs were measured in different environments; changes may not be caused by the code:"
            );
            for w in &self.env_warnings {
                let _ = writeln!(out, "> - {}", md(w));
            }
            out.push('\n');
        }
        let header = "| workload | implementation | scenario | metric | base | new | change [interval] | verdict |\n|---|---|---|---|---|---|---|---|\n";
        let row = |r: &[String; 8]| {
            format!(
                "| {} |\n",
                r.iter().map(|f| md(f)).collect::<Vec<_>>().join(" | ")
            )
        };
        let rows = self.rows();
        let notable: Vec<&[String; 8]> = self
            .changes
            .iter()
            .zip(&rows)
            .filter(|(c, _)| c.verdict != Verdict::WithinNoise)
            .map(|(_, r)| r)
            .collect();
        if !notable.is_empty() {
            let _ = writeln!(out, "**Changes beyond noise**\n");
            out.push_str(header);
            for r in notable {
                out.push_str(&row(r));
            }
            out.push('\n');
        }
        if !self.missing.is_empty() {
            let _ = writeln!(out, "**Missing from the new run**\n");
            for m in &self.missing {
                let _ = writeln!(out, "- `{}` — {}", code(&m.key), md(&m.reason));
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "<details><summary>All {} compared metrics</summary>\n",
            rows.len()
        );
        out.push_str(header);
        for r in &rows {
            out.push_str(&row(r));
        }
        let _ = writeln!(out, "\n</details>\n\n{}", md(&self.summary_line()));
        out
    }
}

/// "+3.1 % [+0.2 % … +6.0 %]", or the point alone, or "–".
fn fmt_change(p: Option<f64>, lo: Option<f64>, hi: Option<f64>) -> String {
    match (p, lo, hi) {
        (Some(p), Some(lo), Some(hi)) if lo != hi => {
            format!("{} [{} … {}]", fmt_pct(p), fmt_pct(lo), fmt_pct(hi))
        }
        (Some(p), _, _) => fmt_pct(p),
        _ => "–".into(),
    }
}

fn aligned(header: &[String; 8], rows: &[[String; 8]]) -> String {
    let mut widths = header.clone().map(|h| h.chars().count());
    for r in rows {
        for (i, f) in r.iter().enumerate() {
            widths[i] = widths[i].max(f.chars().count());
        }
    }
    let line = |fields: &[String]| {
        let mut s = String::new();
        for (i, f) in fields.iter().enumerate() {
            s.push_str(f);
            if i + 1 < fields.len() {
                s.push_str(&" ".repeat(widths[i] - f.chars().count() + 2));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

/// Escapes text for a Markdown table cell or list item: Markdown punctuation, HTML, pipes, newlines.
pub fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '|' | '~' | '!' => {
                out.push('\\');
                out.push(ch);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text for inside a code span: backticks and newlines cannot be escaped there, so they are replaced.
fn code(s: &str) -> String {
    s.replace('`', "'").replace(['\n', '\r'], " ")
}
