//! Exports for CI benchmark trackers: one entry per completed cell and headline metric, its median and
//! interval, under a name that is stable across runs (workload, implementation and the scenario's
//! parameters; open-loop echo cells at a fraction of their own maximum leave out their absolute rate,
//! which differs between runs by construction). Pure: `render` returns the files' bytes.
//!
//! - **github-action-benchmark** (`customBiggerIsBetter` / `customSmallerIsBetter`): that tool takes one
//!   direction per file, so two files: `github-action-benchmark-bigger.json` and
//!   `github-action-benchmark-smaller.json`, each a JSON array of `{name, unit, value, range, extra}`;
//!   `range` is a string (`"± 1234"`, the larger distance from the median to an end of the interval) and
//!   `extra` says what the interval is.
//! - **Bencher Metric Format**: `bencher.json`, `{benchmark: {measure: {value, lower_value, upper_value}}}`
//!   with the metric names of results.json as measures.

use crate::report::metrics::{
    Better, Unit, cell_headline_metrics, estimate, metric_def, scenario_key,
};
use crate::results::{Cell, CellStatus, Results};
use crate::stats::summary::interval_label;
use serde_json::{Map, Value, json};

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// github-action-benchmark's customBiggerIsBetter / customSmallerIsBetter JSON.
    GithubActionBenchmark,
    /// Bencher Metric Format (BMF) JSON.
    Bencher,
}

/// One exported value.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    benchmark: String,
    metric: &'static str,
    better: Better,
    unit: &'static str,
    value: f64,
    lo: f64,
    hi: f64,
    n: usize,
    has_interval: bool,
}

/// The stable benchmark name of a cell: "echo/rust-tokio/connections=64,message_bytes=64,mode=closed".
pub fn benchmark_name(cell: &Cell) -> String {
    let scenario = scenario_key(cell);
    let params = scenario
        .split_once('/')
        .map(|(_, p)| p.to_string())
        .unwrap_or_default();
    if params.is_empty() {
        format!("{}/{}", cell.workload, cell.implementation)
    } else {
        format!("{}/{}/{}", cell.workload, cell.implementation, params)
    }
}

fn unit_name(u: Unit) -> &'static str {
    match u {
        Unit::MsgsPerS => "msgs/s",
        Unit::ItemsPerS => "items/s",
        Unit::BytesPerS => "bytes/s",
        Unit::Nanos => "ns",
        Unit::Millis => "ms",
        Unit::Seconds => "s",
        Unit::MicrosPerMsg => "us/msg",
        Unit::Bytes => "bytes",
        Unit::Cores => "cores",
        Unit::Count => "count",
        Unit::Plain => "",
    }
}

fn entries(results: &Results) -> Vec<Entry> {
    let mut out = Vec::new();
    for c in results.cells.iter().filter(|c| c.status == CellStatus::Ok) {
        for metric in cell_headline_metrics(c) {
            let def = metric_def(metric);
            if def.better == Better::Neither {
                continue;
            }
            let Some(e) = estimate(c, metric) else {
                continue;
            };
            out.push(Entry {
                benchmark: benchmark_name(c),
                metric,
                better: def.better,
                unit: unit_name(def.unit),
                value: e.median,
                lo: e.lo,
                hi: e.hi,
                n: e.n,
                has_interval: e.has_interval,
            });
        }
    }
    out
}

/// Renders `format` into (file name, bytes).
pub fn render(results: &Results, format: ExportFormat) -> Vec<(String, Vec<u8>)> {
    let entries = entries(results);
    let pretty = |v: &Value| {
        let mut b = serde_json::to_vec_pretty(v).unwrap_or_default();
        b.push(b'\n');
        b
    };
    match format {
        ExportFormat::GithubActionBenchmark => [
            (Better::Higher, "github-action-benchmark-bigger.json"),
            (Better::Lower, "github-action-benchmark-smaller.json"),
        ]
        .into_iter()
        .map(|(dir, file)| {
            let arr: Vec<Value> = entries
                .iter()
                .filter(|e| e.better == dir)
                .map(|e| {
                    let half = (e.hi - e.value).max(e.value - e.lo);
                    let mut extra =
                        format!("median of {} trial{}", e.n, if e.n == 1 { "" } else { "s" });
                    if e.has_interval {
                        extra.push_str(&format!(
                            "; interval {}–{} ({})",
                            e.lo,
                            e.hi,
                            if e.n >= 2 {
                                interval_label(e.n)
                            } else {
                                "the benchmark's own interval".into()
                            }
                        ));
                    }
                    json!({
                        "name": format!("{} {}", e.benchmark, e.metric),
                        "unit": e.unit,
                        "value": e.value,
                        "range": format!("± {half}"),
                        "extra": extra,
                    })
                })
                .collect();
            (file.to_string(), pretty(&Value::Array(arr)))
        })
        .collect(),
        ExportFormat::Bencher => {
            let mut root = Map::new();
            for e in &entries {
                let bench = root
                    .entry(e.benchmark.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = bench {
                    m.insert(
                        e.metric.to_string(),
                        json!({"value": e.value, "lower_value": e.lo, "upper_value": e.hi}),
                    );
                }
            }
            vec![("bencher.json".into(), pretty(&Value::Object(root)))]
        }
    }
}
