//! What the metrics mean: their units, which direction is better, how to read a metric's estimate (median
//! and interval) from a cell, and how to describe a cell's parameters. Shared by the reports and
//! `compare`, so both read the same numbers the same way.
//!
//! Statistics keys: `Cell::stats` is keyed by metric name; latency percentiles use the dotted form
//! `latency_ns.p50`, `latency_ns.p99`, … (the same names as the CSV's `metric` column).

use crate::results::{Cell, CellStatus, Summary};
use crate::stats::change::{LogChange, StoredInterval};
use crate::stats::summary::median_interval_coverage;
use serde_json::Value;

/// Which direction of a metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
    /// Descriptive only (e.g. CPU utilisation of the load generator).
    Neither,
}

/// How a metric's values are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Messages per second.
    MsgsPerS,
    /// Items per second.
    ItemsPerS,
    /// Bytes per second.
    BytesPerS,
    /// Nanoseconds (printed in ns/µs/ms/s).
    Nanos,
    /// Milliseconds (printed in ms/s).
    Millis,
    /// Seconds.
    Seconds,
    /// Microseconds per message.
    MicrosPerMsg,
    /// Bytes (printed in B/KiB/MiB/GiB).
    Bytes,
    /// CPU cores.
    Cores,
    /// A plain count.
    Count,
    /// A unitless number.
    Plain,
}

/// A metric's meaning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricDef {
    pub name: &'static str,
    pub label: &'static str,
    pub unit: Unit,
    pub better: Better,
}

const fn def(name: &'static str, label: &'static str, unit: Unit, better: Better) -> MetricDef {
    MetricDef {
        name,
        label,
        unit,
        better,
    }
}

/// Every metric the harness records, with its unit and direction.
pub const METRICS: &[MetricDef] = &[
    def(
        "throughput_msgs_per_s",
        "throughput",
        Unit::MsgsPerS,
        Better::Higher,
    ),
    def(
        "throughput_bytes_per_s",
        "throughput (bytes)",
        Unit::BytesPerS,
        Better::Higher,
    ),
    def(
        "throughput_items_per_s",
        "throughput",
        Unit::ItemsPerS,
        Better::Higher,
    ),
    def("latency_ns.p50", "p50 latency", Unit::Nanos, Better::Lower),
    def("latency_ns.p90", "p90 latency", Unit::Nanos, Better::Lower),
    def("latency_ns.p99", "p99 latency", Unit::Nanos, Better::Lower),
    def(
        "latency_ns.p999",
        "p99.9 latency",
        Unit::Nanos,
        Better::Lower,
    ),
    def(
        "latency_ns.p9999",
        "p99.99 latency",
        Unit::Nanos,
        Better::Lower,
    ),
    def("latency_ns.max", "max latency", Unit::Nanos, Better::Lower),
    def("errors", "errors", Unit::Count, Better::Lower),
    def("peak_rss_bytes", "peak RSS", Unit::Bytes, Better::Lower),
    def(
        "bytes_per_task",
        "memory per task",
        Unit::Bytes,
        Better::Lower,
    ),
    def("cpu_user_s", "CPU user", Unit::Seconds, Better::Lower),
    def("cpu_sys_s", "CPU system", Unit::Seconds, Better::Lower),
    def(
        "server_cpu_us_per_msg",
        "server CPU per message",
        Unit::MicrosPerMsg,
        Better::Lower,
    ),
    def(
        "client_cpu_us_per_msg",
        "client CPU per message",
        Unit::MicrosPerMsg,
        Better::Neither,
    ),
    def(
        "client_sys_us_per_msg",
        "client system CPU per message",
        Unit::MicrosPerMsg,
        Better::Neither,
    ),
    def(
        "client_cpu_util",
        "client CPU",
        Unit::Cores,
        Better::Neither,
    ),
    def(
        "capacity_msgs_per_s",
        "capacity at the latency objective",
        Unit::MsgsPerS,
        Better::Higher,
    ),
    def(
        "offered_rate_msgs_per_s",
        "offered rate (Poisson)",
        Unit::MsgsPerS,
        Better::Neither,
    ),
    def(
        "sched_error_ns_p99",
        "client scheduling error p99",
        Unit::Nanos,
        Better::Neither,
    ),
    def("startup_ms", "start-to-ready", Unit::Millis, Better::Lower),
    def("future_bytes", "future size", Unit::Bytes, Better::Lower),
    def("spawn_ms", "spawn time", Unit::Millis, Better::Lower),
    def("loop_ms", "spawn loop", Unit::Millis, Better::Neither),
    def("wall_ms", "wall time", Unit::Millis, Better::Lower),
    def("total_ms", "spawn-to-done", Unit::Millis, Better::Lower),
    // Fan-out sleeps are sized per implementation, so times compare net of them.
    def(
        "total_net_ms",
        "spawn-to-done beyond the sleep",
        Unit::Millis,
        Better::Lower,
    ),
    def(
        "wall_net_ms",
        "wall time beyond the sleep",
        Unit::Millis,
        Better::Lower,
    ),
    def("sleep_ms", "sleep", Unit::Millis, Better::Neither),
    def("elapsed_ms", "elapsed", Unit::Millis, Better::Lower),
    def(
        "throughput_net_items_per_s",
        "throughput net of pauses",
        Unit::ItemsPerS,
        Better::Higher,
    ),
    def("paused_ms", "time paused", Unit::Millis, Better::Neither),
    def(
        "pause_overshoot",
        "pause overshoot",
        Unit::Plain,
        Better::Neither,
    ),
    def("items", "items", Unit::Count, Better::Neither),
    def("bytes", "future size", Unit::Bytes, Better::Lower),
    def("mean_ns", "mean", Unit::Nanos, Better::Lower),
    def("median_ns", "median", Unit::Nanos, Better::Lower),
    def("ci_low_ns", "CI low", Unit::Nanos, Better::Lower),
    def("ci_high_ns", "CI high", Unit::Nanos, Better::Lower),
    // Instructions executed under valgrind (workload/instructions.rs): deterministic, judged exactly.
    def("instructions", "instructions", Unit::Count, Better::Lower),
    // cancel (see workload/cancel.rs and docs/METHODOLOGY.md).
    def("cancel_ms", "cancel time", Unit::Millis, Better::Lower),
    def(
        "cancel_ns_per_task",
        "cancel cost per task",
        Unit::Nanos,
        Better::Lower,
    ),
    def(
        "rss_start_bytes",
        "RSS at start",
        Unit::Bytes,
        Better::Neither,
    ),
    def(
        "rss_armed_bytes",
        "RSS when armed",
        Unit::Bytes,
        Better::Lower,
    ),
    def(
        "rss_cancelled_bytes",
        "RSS after cancel",
        Unit::Bytes,
        Better::Lower,
    ),
    def(
        "rss_reclaimed_fraction",
        "memory reclaimed",
        Unit::Plain,
        Better::Higher,
    ),
    def(
        "cpu_ns_per_op",
        "CPU per operation",
        Unit::Nanos,
        Better::Lower,
    ),
    def("timeouts", "timeouts", Unit::Count, Better::Neither),
    def(
        "schedule_misses",
        "late responses",
        Unit::Count,
        Better::Lower,
    ),
    def("received", "items received", Unit::Count, Better::Neither),
    def("lost_items", "lost items", Unit::Count, Better::Lower),
    def("ticks", "ticks", Unit::Count, Better::Neither),
];

/// The definition of `name`; unknown metrics get a unit guessed from the name's suffix.
pub fn metric_def(name: &str) -> MetricDef {
    if let Some(d) = METRICS.iter().find(|d| d.name == name) {
        return *d;
    }
    if let Some(base) = name.strip_suffix(SUB_INTERVALS) {
        // Statistics over a trial's sub-intervals: the base metric's unit, no ranking direction.
        let d = metric_def(base);
        let label: &'static str =
            Box::leak(format!("{} (per sub-interval)", d.label).into_boxed_str());
        let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
        return MetricDef {
            name: leaked,
            label,
            unit: d.unit,
            better: Better::Neither,
        };
    }
    if let Some(i) = name
        .strip_prefix("client_cpu_util_host")
        .and_then(|i| i.parse::<usize>().ok())
    {
        // One `--client-host`'s load generator CPU, numbered from 1 as the hosts were given.
        let label: &'static str = Box::leak(format!("client CPU, host {}", i + 1).into_boxed_str());
        let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
        return MetricDef {
            name: leaked,
            label,
            unit: Unit::Cores,
            better: Better::Neither,
        };
    }
    let unit = if name.ends_with("_bytes_per_s") {
        Unit::BytesPerS
    } else if name.ends_with("_per_s") {
        Unit::Plain
    } else if name.ends_with("_ns") {
        Unit::Nanos
    } else if name.ends_with("_ms") {
        Unit::Millis
    } else if name.ends_with("_bytes") || name.ends_with("bytes") {
        Unit::Bytes
    } else if name.ends_with("_s") {
        Unit::Seconds
    } else {
        Unit::Plain
    };
    // Leaking is fine: a handful of unknown names at most, and `MetricDef` stays `Copy`.
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    MetricDef {
        name: leaked,
        label: leaked,
        unit,
        better: Better::Neither,
    }
}

/// The headline metric names of `workload` (what the rankings and `compare` judge), from its
/// definition; none for a workload the harness does not know.
pub fn headline_metrics(workload: &str) -> impl Iterator<Item = &'static str> + '_ {
    crate::workload::find(workload)
        .map_or(&[][..], |d| d.headlines)
        .iter()
        .copied()
}

/// (superseded, by): a cell that has `by` is judged on it instead of `superseded`. Fan-out sleeps are
/// sized per implementation (and may differ between trials) in newer results, so their wall time
/// compares net of the sleep; older results only have the raw one.
const SUPERSEDED: &[(&str, &str)] = &[("wall_ms", "wall_net_ms")];

/// The headline metrics that judge `cell`: its workload's, without those superseded by a metric the
/// cell has.
pub fn cell_headline_metrics(cell: &Cell) -> impl Iterator<Item = &'static str> + '_ {
    headline_metrics(&cell.workload).filter(move |m| {
        !SUPERSEDED
            .iter()
            .any(|(old, by)| old == m && cell.metrics.get(by).is_some())
    })
}

/// A metric's point value and interval in one cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub median: f64,
    pub lo: f64,
    pub hi: f64,
    pub cv: Option<f64>,
    pub n: usize,
    /// Whether `lo..hi` is a real interval (from statistics) rather than the point repeated.
    pub has_interval: bool,
}

impl Estimate {
    fn from_summary(s: &Summary) -> Self {
        Estimate {
            median: s.median,
            lo: s.ci_low,
            hi: s.ci_high,
            cv: s.cv,
            n: s.n,
            has_interval: s.n > 1,
        }
    }

    /// Whether the two intervals overlap (points count as zero-width intervals).
    pub fn overlaps(&self, other: &Estimate) -> bool {
        self.lo <= other.hi && other.lo <= self.hi
    }

    /// Coefficient of variation above the noise threshold.
    pub fn noisy(&self) -> bool {
        self.cv.is_some_and(|cv| cv > NOISY_CV)
    }
}

/// Suffix of the statistics key holding a metric's summary over the sub-intervals of its trials
/// (e.g. `throughput_msgs_per_s.sub_intervals`), recorded so a single trial still has an interval.
pub const SUB_INTERVALS: &str = ".sub_intervals";

pub use crate::metric::NOISY_CV;

/// Fan-out time beyond the sleep every task waits. The raw spawn-to-done time is dominated by the sleep
/// (5.44 s vs 5.46 s is the 5 s sleep), so only what is left after it compares runtimes. Newer results
/// record it; for older ones (one sleep for everyone, a parameter) it is derived as `total_ms − sleep_ms`.
pub const OVERHEAD_MS: &str = "total_net_ms";

/// The derived [`OVERHEAD_MS`] of an older cell: `total_ms`'s estimate shifted by the cell's sleep.
fn overhead_estimate(cell: &Cell) -> Option<Estimate> {
    let sleep = param_f64(cell, "sleep_ms")?;
    let mut e = estimate(cell, "total_ms")?;
    e.median -= sleep;
    e.lo -= sleep;
    e.hi -= sleep;
    // The CV of the total says nothing about the much smaller remainder.
    e.cv = None;
    Some(e)
}

/// The value of `metric` in `cell`'s headline medians (`latency_ns.p99` reads the percentile).
pub fn value(cell: &Cell, metric: &str) -> Option<f64> {
    if let Some(p) = metric.strip_prefix("latency_ns.") {
        let l = cell.metrics.latency_ns?;
        return match p {
            "p50" => Some(l.p50),
            "p90" => Some(l.p90),
            "p99" => Some(l.p99),
            "p999" => Some(l.p999),
            "p9999" => Some(l.p9999),
            "max" => Some(l.max),
            _ => None,
        }
        .filter(|v| v.is_finite());
    }
    cell.metrics.get(metric).filter(|v| v.is_finite())
}

/// The estimate of `metric` in `cell`: its statistics across trials when recorded; for micro-benchmarks
/// the benchmark's own interval (`ci_low_ns`..`ci_high_ns`); otherwise the median as a point.
/// `None` for cells that did not complete or lack the metric.
pub fn estimate(cell: &Cell, metric: &str) -> Option<Estimate> {
    if cell.status != CellStatus::Ok {
        return None;
    }
    if metric == OVERHEAD_MS
        && cell.workload == "fanout"
        && !cell.stats.contains_key(metric)
        && cell.metrics.get(metric).is_none()
    {
        return overhead_estimate(cell);
    }
    if let Some(s) = cell.stats.get(metric).filter(|s| s.median.is_finite()) {
        let mut e = Estimate::from_summary(s);
        // One trial: the spread of its sub-intervals is the only interval there is.
        if s.n < 2
            && let Some(sub) = cell
                .stats
                .get(&format!("{metric}{SUB_INTERVALS}"))
                .filter(|s| s.n >= 2)
        {
            e.lo = sub.ci_low.min(e.median);
            e.hi = sub.ci_high.max(e.median);
            e.cv = sub.cv;
            e.has_interval = true;
        }
        return Some(e);
    }
    let median = value(cell, metric)?;
    let n = cell.trials.len().max(1);
    if metric == "median_ns"
        && let (Some(lo), Some(hi)) = (value(cell, "ci_low_ns"), value(cell, "ci_high_ns"))
    {
        return Some(Estimate {
            median,
            lo: lo.min(median),
            hi: hi.max(median),
            cv: None,
            n,
            has_interval: true,
        });
    }
    Some(Estimate {
        median,
        lo: median,
        hi: median,
        cv: None,
        n,
        has_interval: false,
    })
}

/// Every metric name present in a cell: its statistics keys, its values and its latency percentiles.
pub fn metric_names(cell: &Cell) -> Vec<String> {
    let mut names: Vec<String> = cell.stats.keys().cloned().collect();
    names.extend(cell.metrics.values.keys().cloned());
    if cell.metrics.latency_ns.is_some() {
        for p in ["p50", "p90", "p99", "p999", "p9999", "max"] {
            names.push(format!("latency_ns.{p}"));
        }
    }
    names.sort();
    names.dedup();
    names
}

/// A parameter as text (strings without quotes).
pub fn param_str(cell: &Cell, key: &str) -> Option<String> {
    cell.params.get(key).map(value_text)
}

/// A numeric parameter.
pub fn param_f64(cell: &Cell, key: &str) -> Option<f64> {
    match cell.params.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A JSON value as plain text: strings without quotes, everything else as JSON.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Parameters as `k=v;k=v` (sorted by key), as in the CSV.
pub fn params_kv(cell: &Cell) -> String {
    cell.params
        .iter()
        .map(|(k, v)| format!("{k}={}", value_text(v)))
        .collect::<Vec<_>>()
        .join(";")
}

/// Whether a cell is an open-loop echo cell whose rate is a fraction of its own implementation's
/// closed-loop maximum (so its absolute rate differs per implementation).
pub fn is_relative_rate(cell: &Cell) -> bool {
    cell.workload == "echo" && cell.params.contains_key("rate_fraction")
}

/// The key of the scenario a cell belongs to: its workload and parameters, without the implementation.
/// Open-loop echo cells at a fraction of their own maximum share a scenario across implementations, so
/// their absolute rate is left out of the key.
pub fn scenario_key(cell: &Cell) -> String {
    let params: Vec<String> = cell
        .params
        .iter()
        .filter(|(k, _)| !(is_relative_rate(cell) && k.as_str() == "rate_msgs_per_s"))
        .map(|(k, v)| format!("{k}={}", value_text(v)))
        .collect();
    format!("{}/{}", cell.workload, params.join(","))
}

/// The key that groups cells into one report scenario: [`scenario_key`], except that a fan-out's sleep is
/// left out — the harness chooses it per implementation and task count so every task is alive at once,
/// which makes it a setting of the measurement, not a different question.
pub fn report_scenario_key(cell: &Cell) -> String {
    match without_sleep(cell) {
        Some(c) => scenario_key(&c),
        None => scenario_key(cell),
    }
}

/// A fan-out cell's workload and parameters without `sleep_ms` (nothing else copied).
pub(super) fn without_sleep(cell: &Cell) -> Option<Cell> {
    if cell.workload != "fanout" || !cell.params.contains_key("sleep_ms") {
        return None;
    }
    let mut params = cell.params.clone();
    params.remove("sleep_ms");
    Some(Cell::failed(
        &cell.workload,
        &cell.implementation,
        params,
        cell.status,
        String::new(),
    ))
}

/// A number without a trailing ".0".
pub fn trim_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// The log change of `metric` between two completed cells: from the trials when both have two or
/// more, else from their stored intervals, else exact for deterministic metrics (no trials at all),
/// else of unknown noise. `compare` judges with it and the reports' rankings use it too, so "tied" there means what
/// "within noise" means there (it lives here, below both, so neither imports the other).
pub fn log_change(
    b: &Cell,
    n: &Cell,
    metric: &str,
    be: &Estimate,
    ne: &Estimate,
) -> Option<LogChange> {
    let (bt, nt) = (trial_values(b, metric), trial_values(n, metric));
    if bt.len() >= 2 && nt.len() >= 2 {
        return LogChange::from_trials(&bt, &nt);
    }
    if be.has_interval && ne.has_interval {
        let stored = |e: &Estimate| StoredInterval {
            median: e.median,
            lo: e.lo,
            hi: e.hi,
            // Criterion's intervals (n = 1 here) and sub-interval intervals are stated as 95 %.
            coverage: if e.n >= 2 {
                median_interval_coverage(e.n)
            } else {
                0.95
            },
            n: e.n,
        };
        return LogChange::from_intervals(stored(be), stored(ne));
    }
    if b.trials.is_empty() && n.trials.is_empty() {
        return LogChange::exact(be.median, ne.median);
    }
    let (b1, n1) = (
        if bt.is_empty() { vec![be.median] } else { bt },
        if nt.is_empty() { vec![ne.median] } else { nt },
    );
    LogChange::from_trials(&b1, &n1)
}

/// Every trial's value of `metric` in `cell`.
pub fn trial_values(cell: &Cell, metric: &str) -> Vec<f64> {
    cell.trials
        .iter()
        .filter_map(|t| {
            if let Some(p) = metric.strip_prefix("latency_ns.") {
                let l = t.metrics.latency_ns?;
                Some(match p {
                    "p50" => l.p50,
                    "p90" => l.p90,
                    "p99" => l.p99,
                    "p999" => l.p999,
                    "p9999" => l.p9999,
                    "max" => l.max,
                    _ => return None,
                })
            } else {
                t.metrics.get(metric)
            }
        })
        .filter(|v| v.is_finite())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn fanout_cells_with_net_times_are_judged_on_them_alone() {
        let mut c = Cell::failed(
            "fanout",
            "go",
            BTreeMap::new(),
            CellStatus::Ok,
            String::new(),
        );
        c.metrics.set("wall_ms", 700.0);
        let old: Vec<&str> = cell_headline_metrics(&c).collect();
        assert_eq!(old, ["bytes_per_task", "wall_net_ms", "wall_ms"]);
        c.metrics.set("wall_net_ms", 100.0);
        let new: Vec<&str> = cell_headline_metrics(&c).collect();
        assert_eq!(new, ["bytes_per_task", "wall_net_ms"]);
    }
}
