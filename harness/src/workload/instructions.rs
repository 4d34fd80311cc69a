//! The micro workload's instruction counts: `rust/micro/benches/instructions.rs` under valgrind through
//! gungraun, imported from gungraun's `summary.json` files ([`crate::gungraun_import`]). Run after the
//! criterion benchmarks by `workload::micro::measure`.
//!
//! One cell per primitive and runtime, keyed like criterion's plus `counter = instructions`, with the
//! metric `instructions` (a count: no trials, no interval, so `compare` judges it exactly against its
//! own tight threshold). Only the implementations the manifest's `[micro]` entry lists in
//! `instruction_counts` are counted (single-threaded executors; why: the bench's module docs). Without valgrind or the matching `gungraun-runner`
//! nothing is measured and no cell is written: the environment records the tool as missing with the
//! command that installs it, and a line says so — a missing optional tool is not a failed benchmark.

use crate::gungraun_import::{GUNGRAUN_VERSION, INSTALL_RUNNER, InstructionCount, import};
use crate::manifest::MicroBenches;
use crate::process::{Spec, run_to_completion};
use crate::results::{Cell, CellStatus};
use crate::workload::params;
use crate::workload::session::Session;
use serde_json::json;
use std::time::Duration;

/// The metric name.
pub const METRIC: &str = "instructions";
/// The parameter that tells instruction cells from criterion's.
pub const COUNTER_PARAM: &str = "counter";
/// Per runtime: building the bench the first time plus five valgrind runs (about 6 s here).
const DEADLINE: Duration = Duration::from_secs(20 * 60);

/// Why the instruction counts cannot be taken here, with the fix; `None` when both tools are present.
fn missing_tool(cwd: &std::path::Path) -> Option<(&'static str, String)> {
    let version = |tool: &str| -> Option<String> {
        let spec = Spec {
            argv: vec![tool.into(), "--version".into()],
            cwd: cwd.to_path_buf(),
            ..Spec::default()
        };
        match run_to_completion(&spec, Duration::from_secs(30)) {
            Ok((exit, out, _)) if exit.success() => Some(out.trim().to_string()),
            _ => None,
        }
    };
    if version("valgrind").is_none() {
        return Some((
            "valgrind",
            "not installed; install with `apt-get install valgrind`".into(),
        ));
    }
    match version("gungraun-runner") {
        None => Some((
            "gungraun-runner",
            format!("not installed; install with `{INSTALL_RUNNER}`"),
        )),
        Some(v) if !v.ends_with(GUNGRAUN_VERSION) => Some((
            "gungraun-runner",
            format!(
                "{v} does not match the benches' gungraun {GUNGRAUN_VERSION}; install with `{INSTALL_RUNNER}`"
            ),
        )),
        Some(_) => None,
    }
}

/// Counts instructions for the selected implementations that `benches` counts (others are ignored).
pub fn measure(
    run: &mut dyn Session,
    benches: &MicroBenches,
    selected: &[String],
) -> anyhow::Result<()> {
    let counted: Vec<&String> = benches
        .instruction_counts
        .iter()
        .filter(|r| selected.contains(r))
        .collect();
    if counted.is_empty() {
        return Ok(());
    }
    let root = run.config().root.clone();
    if let Some((tool, why)) = missing_tool(&root) {
        run.ui()
            .line(&format!("micro: instruction counts skipped: {tool} {why}"));
        return run.record_tool(tool, format!("missing: {why}"));
    }
    for name in counted {
        let home = run.scratch_dir("instructions")?;
        let argv = argv(benches, name, &home);
        run.ui().line(&format!(
            "micro: instruction counts of {name} under valgrind: `{}`",
            argv.join(" ")
        ));
        let spec = Spec {
            argv,
            cwd: root.clone(),
            ..Spec::default()
        };
        let cells = cells_of(name, run_to_completion(&spec, DEADLINE), &home);
        run.add_cells(cells)?;
    }
    Ok(())
}

/// The gungraun command for one implementation: its output under `home`, and a filter on the bench
/// id, which is the implementation name with `_` for `-` (`#[bench::rust_tokio_ct(..)]`).
fn argv(benches: &MicroBenches, name: &str, home: &std::path::Path) -> Vec<String> {
    let mut argv = benches.instructions.clone();
    argv.push(format!("--home={}", home.display()));
    argv.push(format!("*::{}", name.replace('-', "_")));
    argv
}

type Outcome = std::io::Result<(crate::process::Exit, String, Duration)>;

/// The cells of one runtime's gungraun run: a count per primitive, or one failed cell saying why.
fn cells_of(rt: &str, outcome: Outcome, home: &std::path::Path) -> Vec<Cell> {
    let counts = match outcome {
        Ok((exit, _, _)) if exit.success() => import(home)
            .map_err(|e| format!("reading gungraun's summaries failed: {e:#}"))
            .map(|all| {
                all.into_iter()
                    .filter(|c| c.implementation == rt)
                    .collect::<Vec<_>>()
            }),
        Ok((exit, tail, _)) => Err(format!(
            "cargo bench --bench instructions failed ({exit}): {}",
            crate::toolchain::last_line(&tail)
        )),
        Err(e) => Err(format!("cargo bench could not start: {e}")),
    };
    match counts {
        Ok(c) if !c.is_empty() => c.iter().map(to_cell).collect(),
        Ok(_) => vec![failed(rt, "gungraun wrote no summary")],
        Err(why) => vec![failed(rt, &why)],
    }
}

fn failed(rt: &str, reason: &str) -> Cell {
    Cell::failed(
        "micro",
        rt,
        params(&[(COUNTER_PARAM, json!(METRIC))]),
        CellStatus::Failed,
        reason.to_string(),
    )
}

/// One count as a cell: the same key as criterion's cell of that primitive plus `counter`.
pub fn to_cell(c: &InstructionCount) -> Cell {
    let mut cell = Cell::failed(
        "micro",
        &c.implementation,
        params(&[
            ("primitive", json!(c.primitive)),
            (COUNTER_PARAM, json!(METRIC)),
        ]),
        CellStatus::Ok,
        String::new(),
    );
    cell.reason = None;
    cell.metrics.set(METRIC, c.instructions as f64);
    cell
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::Exit;

    #[test]
    fn a_count_is_a_cell_with_no_interval() {
        let c = to_cell(&InstructionCount {
            primitive: "ping_pong_1000".into(),
            implementation: "rust-smol".into(),
            instructions: 4_327_999,
        });
        assert_eq!(c.status, CellStatus::Ok);
        assert_eq!(c.metrics.get(METRIC), Some(4_327_999.0));
        assert!(c.trials.is_empty() && c.stats.is_empty());
        let e = crate::report::metrics::estimate(&c, METRIC).unwrap();
        assert!(!e.has_interval);
    }

    #[test]
    fn a_failed_run_is_one_failed_cell_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let cells = cells_of(
            "rust-monoio",
            Ok((
                Exit::Code(101),
                "build ok\nthread 'main' panicked: monoio needs io_uring".into(),
                Duration::ZERO,
            )),
            dir.path(),
        );
        assert_eq!(cells.len(), 1);
        assert_eq!(cells[0].status, CellStatus::Failed);
        assert!(
            cells[0].reason.as_deref().unwrap().contains("io_uring"),
            "{:?}",
            cells[0].reason
        );
        // Success without summaries is not silently empty either.
        let none = cells_of(
            "rust-smol",
            Ok((Exit::Code(0), String::new(), Duration::ZERO)),
            dir.path(),
        );
        assert_eq!(none[0].status, CellStatus::Failed);
    }
}
