//! The futures workload (Rust only): one run of the future-size catalogue, one cell per pattern and
//! runtime, flags (clippy's `large_futures`, tokio's auto-boxing) kept as findings. Sizes are decided by
//! the compiler, so a single trial is exact; there is nothing to repeat.

use super::{Failure, run_finite};
use crate::aggregate::metrics_of;
use crate::results::{Cell, CellStatus, Finding};
use crate::runner::{Run, params};
use serde_json::{Value, json};
use std::time::Duration;

/// Runs the catalogue of every implementation that declares the `futures` workload.
pub fn measure(run: &mut Run) -> anyhow::Result<()> {
    let targets: Vec<_> = run
        .prepared
        .iter()
        .filter(|p| p.runs("futures"))
        .map(|p| (p.imp.name.clone(), p.launch.clone().expect("runnable")))
        .collect();
    for (name, launch) in targets {
        run.ui.line(&format!("futures: {name}"));
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
        run.results.cells.extend(cells);
        run.save()?;
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
                kind: "description".into(),
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
                    kind: flag.to_string(),
                    message,
                });
            }
            Ok(cell)
        })
        .collect()
}
