//! The futures workload (Rust only): one run of the future-size catalogue, one cell per pattern and
//! runtime, flags (clippy's `large_futures`, tokio's auto-boxing) kept as findings. Sizes are decided by
//! the compiler, so a single trial is exact; there is nothing to repeat.

use super::definition::{Definition, Verified};
use super::estimate::TRIAL_OVERHEAD_S;
use super::session::{RunConfig, Session};
use super::{Failure, run_finite};
use super::{Launch, metrics_of, params};
use crate::finding::FindingKind;
use crate::results::{Cell, CellStatus, Finding};
use serde_json::{Value, json};
use std::time::Duration;

/// Runs the catalogue of every implementation that declares the `futures` workload.
pub fn measure(run: &mut dyn Session) -> anyhow::Result<()> {
    let targets = run.runnable("futures");
    for (name, launch) in targets {
        run.ui().line(&format!("futures: {name}"));
        let cells = match run_finite(&launch, "futures", &[], Duration::from_secs(60))
            .and_then(|r| to_cells(&name, &r.fields))
        {
            Ok(cells) => cells,
            Err(f) => vec![Cell::failed(
                "futures",
                &name,
                Default::default(),
                f.status,
                f.reason,
            )],
        };
        run.add_cells(cells)?;
    }
    Ok(())
}

/// Turns the catalogue's `entries` into cells.
pub fn to_cells(
    implementation: &str,
    fields: &serde_json::Map<String, Value>,
) -> Result<Vec<Cell>, Failure> {
    let entries = fields
        .get("entries")
        .and_then(Value::as_array)
        .ok_or_else(|| Failure::failed("result has no entries array"))?;
    if entries.is_empty() {
        return Err(Failure::failed("the catalogue is empty"));
    }
    let thresholds = fields.get("thresholds").cloned().unwrap_or(Value::Null);
    entries
        .iter()
        .map(|e| {
            let s = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
            let (Some(pattern), Some(runtime), Some(bytes)) = (
                s("pattern"),
                s("runtime"),
                e.get("bytes").and_then(Value::as_u64),
            ) else {
                return Err(Failure::failed(format!(
                    "catalogue entry without pattern/runtime/bytes: {e}"
                )));
            };
            let mut cell = Cell::failed(
                "futures",
                implementation,
                params(&[("pattern", json!(pattern)), ("runtime", json!(runtime))]),
                CellStatus::Ok,
                String::new(),
            );
            cell.reason = None;
            cell.metrics = metrics_of(&[("bytes", bytes as f64)]);
            let description = s("description").unwrap_or_default();
            cell.findings.push(Finding {
                kind: FindingKind::Description,
                message: description,
            });
            for flag in e
                .get("flags")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                let source = thresholds
                    .get(flag)
                    .and_then(|t| t.get("source"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let limit = thresholds
                    .get(flag)
                    .and_then(|t| t.get("bytes"))
                    .and_then(Value::as_u64);
                let message = match limit {
                    Some(l) => format!("{bytes} B is above {l} B ({source})"),
                    None => format!("{bytes} B ({source})"),
                };
                cell.findings.push(Finding {
                    kind: FindingKind::from_name(flag),
                    message,
                });
            }
            Ok(cell)
        })
        .collect()
}

/// The check before measuring: the catalogue parses, every entry complete.
pub fn verify(launch: &Launch, _ready_timeout: Duration) -> Verified {
    match run_finite(launch, "futures", &[], Duration::from_secs(60)) {
        Ok(run) => match to_cells(&launch.implementation, &run.fields) {
            Ok(cells) => (
                Ok(format!(
                    "{} catalogue entries, each with pattern, runtime and size",
                    cells.len()
                )),
                Some(run.ready),
            ),
            Err(f) => (Err(f.reason), Some(run.ready)),
        },
        Err(f) => (Err(f.reason), None),
    }
}

/// One catalogue run: a Rust binary that prints a table computed at compile time (start-up ≈ 1 ms).
/// Generous, since it is negligible beside the other workloads.
const RUN_S: f64 = 0.1;

/// Expected seconds for `implementations` implementations: one verification run and one measured run
/// each (sizes are exact, so nothing is repeated).
pub fn plan_seconds(implementations: usize) -> f64 {
    implementations as f64 * 2.0 * (RUN_S + TRIAL_OVERHEAD_S)
}

/// The plan line's figure (see [`plan_seconds`]).
fn estimate_s(_cfg: &RunConfig, implementations: usize) -> Option<f64> {
    Some(plan_seconds(implementations))
}

/// The futures workload's facts (see [`Definition`]).
pub const DEFINITION: Definition = Definition {
    name: "futures",
    title: "Future sizes",
    parameters: &["pattern", "runtime"],
    headlines: &["bytes"],
    columns: &["bytes"],
    charts: &["futures_sizes"],
    verify: Some(verify),
    measure,
    estimate_s,
};

#[cfg(test)]
mod tests {
    #[test]
    fn two_runs_per_implementation() {
        assert_eq!(super::plan_seconds(0), 0.0);
        assert!((super::plan_seconds(3) - 3.0 * super::plan_seconds(1)).abs() < 1e-9);
        assert!(super::plan_seconds(1) < 1.0);
    }
}
