//! The micro workload: criterion micro-benchmarks of runtime primitives (`rust/micro`), run with
//! `cargo bench` and imported from criterion's own estimates (mean and median with their bootstrap
//! intervals). Criterion owns the statistics here; the harness records them, one cell per primitive and
//! runtime. `cargo` is only the launcher of the bench binary: nothing here measures memory or CPU from
//! outside, so running it through cargo is harmless.

use super::definition::{Definition, no_estimate};
use super::session::Session;
use super::{metrics_of, params};
use crate::criterion_import::{MicroEstimate, import};
use crate::finding::FindingKind;
use crate::manifest::Paths;
use crate::process::{Spec, run_to_completion};
use crate::results::{Cell, CellStatus, Finding, Summary};
use serde_json::json;
use std::time::Duration;

/// The runtimes the micro-benchmarks cover; their cells carry these implementation names.
pub const RUNTIMES: [&str; 6] = [
    "rust-tokio",
    "rust-tokio-ct",
    "rust-async-std",
    "rust-smol",
    "rust-monoio",
    "rust-glommio",
];

/// Runs the criterion suite for the selected Rust runtimes and records every estimate.
pub fn measure(run: &mut dyn Session) -> anyhow::Result<()> {
    let selected: Vec<String> = run
        .built()
        .into_iter()
        .filter(|n| RUNTIMES.contains(&n.as_str()))
        .collect();
    if selected.is_empty() {
        return Ok(());
    }
    let paths = Paths::new(&run.config().root);
    let home = criterion_home(&paths);
    // Anchored so "rust-tokio" does not also select "rust-tokio-ct".
    let filter = format!("/({})$", selected.join("|"));
    let mut argv: Vec<String> = [
        "cargo",
        "bench",
        "-p",
        "asyncbench-micro",
        "--bench",
        "micro",
        "--",
    ]
    .map(String::from)
    .to_vec();
    if run.config().suite.micro_quick {
        argv.push("--quick".into());
    }
    argv.push(filter);
    run.ui()
        .line(&format!("micro: criterion runs as `{}`", argv.join(" ")));
    // Criterion runs in another process and prints nothing the harness shows: count the estimates it
    // has written so far, so a several-minute phase shows progress.
    let ticker = run.ui().ticker("micro", Duration::from_secs(30));
    let poll = {
        let (home, ticker) = (home.clone(), ticker.clone());
        crate::ui::poll_every(Duration::from_secs(1), move || {
            let n = count_estimates(&home);
            ticker.set(&format!(
                "criterion: {n} benchmark{} measured",
                if n == 1 { "" } else { "s" }
            ));
        })
    };
    let spec = Spec {
        argv,
        env: vec![("CRITERION_HOME".into(), home.to_string_lossy().into_owned())],
        cwd: run.config().root.clone(),
        ..Spec::default()
    };
    let outcome = run_to_completion(&spec, Duration::from_secs(60 * 60));
    drop(poll);
    run.ui().finish();
    let cells = match outcome {
        Ok((exit, _, _)) if exit.success() => match import(&home) {
            Ok(estimates) if !estimates.is_empty() => estimates.iter().map(to_cell).collect(),
            Ok(_) => vec![failed("criterion produced no estimates")],
            Err(e) => vec![failed(&format!(
                "reading criterion's estimates failed: {e:#}"
            ))],
        },
        Ok((exit, tail, _)) => vec![failed(&format!(
            "cargo bench failed ({exit}): {}",
            crate::toolchain::last_line(&tail)
        ))],
        Err(e) => vec![failed(&format!("cargo bench could not start: {e}"))],
    };
    let _ = std::fs::remove_dir_all(&home);
    run.add_cells(cells)?;
    // The same primitives as instruction counts under valgrind (workload/instructions.rs).
    crate::workload::instructions::measure(run, &selected)
}

/// Benchmarks criterion has finished under `dir`: its `new/estimates.json` files.
fn count_estimates(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n == "new") && p.join("estimates.json").is_file() {
                    1
                } else {
                    count_estimates(&p)
                }
            } else {
                0
            }
        })
        .sum()
}

/// A scratch directory of this run's own for criterion's output, under `target/asyncbench/micro/`, named
/// by a fresh unique id (never by `--out`, whose last component may be empty or `.`): the only thing
/// the micro workload ever deletes, once criterion's estimates are imported.
fn criterion_home(paths: &Paths) -> std::path::PathBuf {
    paths
        .target
        .join("asyncbench")
        .join("micro")
        .join(crate::env::run_id())
}

fn failed(reason: &str) -> Cell {
    Cell::failed(
        "micro",
        "rust-micro",
        Default::default(),
        CellStatus::Failed,
        reason.to_string(),
    )
}

/// One criterion estimate as a cell: mean and median with criterion's intervals.
pub fn to_cell(e: &MicroEstimate) -> Cell {
    let mut cell = Cell::failed(
        "micro",
        &e.implementation,
        params(&[("primitive", json!(e.primitive))]),
        CellStatus::Ok,
        String::new(),
    );
    cell.reason = None;
    cell.metrics = metrics_of(&[
        ("mean_ns", e.mean_ns),
        ("median_ns", e.median_ns),
        ("ci_low_ns", e.mean_ci_low_ns),
        ("ci_high_ns", e.mean_ci_high_ns),
        ("std_dev_ns", e.std_dev_ns),
    ]);
    if let Some(s) = e.slope_ns {
        cell.metrics.set("slope_ns", s);
    }
    let cv = (e.mean_ns > 0.0).then(|| e.std_dev_ns / e.mean_ns);
    cell.stats.insert(
        "mean_ns".into(),
        Summary {
            n: 1,
            median: e.mean_ns,
            ci_low: e.mean_ci_low_ns,
            ci_high: e.mean_ci_high_ns,
            cv,
        },
    );
    cell.stats.insert(
        "median_ns".into(),
        Summary {
            n: 1,
            median: e.median_ns,
            ci_low: e.median_ci_low_ns,
            ci_high: e.median_ci_high_ns,
            cv,
        },
    );
    if cv.is_some_and(|cv| cv > crate::metric::NOISY_CV) {
        cell.findings.push(Finding {
            kind: FindingKind::Noisy,
            message: format!(
                "criterion's samples vary by {:.0} % (std dev / mean)",
                cv.unwrap_or(0.0) * 100.0
            ),
        });
    }
    cell
}

#[cfg(test)]
mod progress_tests {
    use super::count_estimates;

    #[test]
    fn counts_finished_criterion_benchmarks_only() {
        let dir = tempfile::tempdir().unwrap();
        let mk = |p: &str| {
            let d = dir.path().join(p);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("estimates.json"), "{}").unwrap();
        };
        mk("spawn/rust-tokio/new");
        mk("spawn/rust-smol/new");
        mk("spawn/rust-smol/base");
        std::fs::create_dir_all(dir.path().join("yield/rust-tokio/new")).unwrap();
        assert_eq!(count_estimates(dir.path()), 2);
        assert_eq!(count_estimates(&dir.path().join("missing")), 0);
    }
}

/// The micro workload's facts (see [`Definition`]).
pub const DEFINITION: Definition = Definition {
    name: "micro",
    title: "Micro-benchmarks",
    parameters: &["primitive"],
    headlines: &["median_ns", "instructions"],
    columns: &["median_ns", "mean_ns", "instructions"],
    charts: &["micro"],
    also_runs: &RUNTIMES,
    verify: None,
    measure,
    estimate_s: no_estimate,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criterion_scratch_is_a_fresh_subdirectory_whatever_out_is() {
        let paths = Paths {
            root: "/r".into(),
            target: "/r/target".into(),
        };
        let shared = std::path::Path::new("/r/target/asyncbench/micro");
        let (a, b) = (criterion_home(&paths), criterion_home(&paths));
        assert_ne!(a, b, "two runs never share (or delete) one directory");
        for home in [a, b] {
            assert_eq!(home.parent(), Some(shared));
            let name = home.file_name().unwrap().to_string_lossy().into_owned();
            assert!(name.len() > 10 && !name.starts_with('.'), "{name}");
        }
    }
}
