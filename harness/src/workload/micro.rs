//! The micro workload: criterion micro-benchmarks of runtime primitives (`rust/micro`), run with
//! `cargo bench` and imported from criterion's own estimates (mean and median with their bootstrap
//! intervals). Criterion owns the statistics here; the harness records them, one cell per primitive and
//! runtime. `cargo` is only the launcher of the bench binary: nothing here measures memory or CPU from
//! outside, so running it through cargo is harmless.

use super::definition::Definition;
use super::session::RunConfig;
use super::session::Session;
use super::{metrics_of, params};
use crate::criterion_import::{MicroEstimate, import};
use crate::finding::FindingKind;
use crate::manifest::MicroBenches;
use crate::process::{Spec, run_to_completion};
use crate::results::{Cell, CellStatus, Finding, Summary};
use crate::suite::SuiteKind;
use serde_json::json;
use std::time::Duration;

/// How criterion measures each benchmark, by suite: criterion's own settings, passed on its command
/// line. Kept here (not in `suite.rs`) so the workload is one module; recorded in the run's config.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MicroSuite {
    /// Criterion's `--quick` mode (stop once the estimate is precise enough); the timings below are
    /// then unused.
    pub quick: bool,
    pub warm_up_s: f64,
    pub measurement_s: f64,
    /// Samples per benchmark (criterion's minimum is 10). Criterion's linear sampling needs at least
    /// `n(n+1)/2` iterations, so a 3 ms primitive (timer_fan_in_1000) needs 3.8 s at 50 samples and
    /// 15 s at 100, whatever the measurement time says.
    pub sample_size: usize,
}

impl MicroSuite {
    /// Default ≈ 3 minutes for six runtimes × 8 primitives (≈ 3.3 s a benchmark: 1 s warm-up, 2 s
    /// measured, analysis; the two millisecond primitives take up to 3.8 s); full keeps criterion's
    /// own defaults (3 s, 5 s, 100 samples: ≈ 7 minutes, the slow primitives ≈ 18 s each).
    pub fn new(kind: SuiteKind) -> Self {
        let timed = |warm_up_s, measurement_s, sample_size| MicroSuite {
            quick: false,
            warm_up_s,
            measurement_s,
            sample_size,
        };
        match kind {
            SuiteKind::Quick => MicroSuite {
                quick: true,
                ..timed(3.0, 5.0, 100)
            },
            SuiteKind::Default => timed(1.0, 2.0, 50),
            SuiteKind::Full => timed(3.0, 5.0, 100),
        }
    }

    /// Expected seconds for one benchmark: warm-up and measurement plus criterion's analysis and
    /// report (≈ 0.6 s, fitted: the default run of 2026-12-01 spent 190 s on 6 runtimes × 8
    /// primitives and the instruction counts). `--quick` stops once the estimate is precise: ≈ 1 s.
    fn benchmark_s(&self) -> f64 {
        if self.quick {
            1.0
        } else {
            self.warm_up_s + self.measurement_s + ANALYSIS_S
        }
    }

    /// Criterion's command-line arguments for these settings.
    pub fn criterion_args(&self) -> Vec<String> {
        if self.quick {
            return vec!["--quick".into()];
        }
        vec![
            "--warm-up-time".into(),
            self.warm_up_s.to_string(),
            "--measurement-time".into(),
            self.measurement_s.to_string(),
            "--sample-size".into(),
            self.sample_size.to_string(),
        ]
    }
}

/// Runs the criterion suite for the implementations that list the micro workload and records every
/// estimate, then the instruction counts.
pub fn measure(run: &mut dyn Session) -> anyhow::Result<()> {
    let selected: Vec<String> = run
        .runnable(DEFINITION.name)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    if selected.is_empty() {
        return Ok(());
    }
    let Some(benches) = crate::manifest::load_micro(&run.config().root.join("manifest"))? else {
        run.ui()
            .line("micro: no [micro] entry in the manifest; nothing to run");
        return Ok(());
    };
    let home = run.scratch_dir("micro")?;
    let mut argv = benches.criterion.clone();
    argv.extend(MicroSuite::new(run.config().suite.kind).criterion_args());
    argv.push(criterion_filter(&selected));
    run.ui()
        .line(&format!("micro: criterion runs as `{}`", argv.join(" ")));
    let outcome = run_criterion(run, argv, &home);
    let cells = cells_of(&benches, outcome, &home);
    run.add_cells(cells)?;
    // The same primitives as instruction counts under valgrind (workload/instructions.rs).
    crate::workload::instructions::measure(run, &benches, &selected)
}

/// A criterion filter (a regex over `<primitive>/<implementation>`) selecting exactly `names`:
/// anchored so `rust-tokio` does not also select `rust-tokio-ct`, dots escaped.
fn criterion_filter(names: &[String]) -> String {
    let escaped: Vec<String> = names.iter().map(|n| n.replace('.', "\\.")).collect();
    format!("/({})$", escaped.join("|"))
}

type Outcome = std::io::Result<(crate::process::Exit, String, Duration)>;

/// Runs criterion with its output under `home`, showing progress: criterion runs in another process
/// and prints nothing the harness shows, so the estimates written so far are counted.
fn run_criterion(run: &mut dyn Session, argv: Vec<String>, home: &std::path::Path) -> Outcome {
    let ticker = run.ui().ticker("micro", Duration::from_secs(30));
    let poll = {
        let (home, ticker) = (home.to_path_buf(), ticker.clone());
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
    outcome
}

/// The cells of a criterion run: one per estimate, or one failed cell (under the suite's own name)
/// saying why there are none.
fn cells_of(benches: &MicroBenches, outcome: Outcome, home: &std::path::Path) -> Vec<Cell> {
    let failed = |reason: &str| failed(&benches.name, reason);
    match outcome {
        Ok((exit, _, _)) if exit.success() => match import(home) {
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
    }
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

fn failed(suite_name: &str, reason: &str) -> Cell {
    Cell::failed(
        "micro",
        suite_name,
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

/// Criterion's analysis and report per benchmark, beyond its warm-up and measurement (fitted).
const ANALYSIS_S: f64 = 0.6;

/// Primitives each runtime is benchmarked on (rust/micro/benches/micro.rs).
const PRIMITIVES: usize = 8;

/// `cargo bench` checking an up-to-date bench binary, and the instruction counts under valgrind
/// (a few runtimes × five primitives, ≈ 1 s each): fitted, together.
const FIXED_S: f64 = 25.0;

/// Expected seconds for `implementations` runtimes under `suite` (criterion's settings decide it).
pub fn plan_seconds(suite: &MicroSuite, implementations: usize) -> f64 {
    if implementations == 0 {
        return 0.0;
    }
    FIXED_S + (implementations * PRIMITIVES) as f64 * suite.benchmark_s()
}

/// The plan line's figure (see [`plan_seconds`]).
fn estimate_s(cfg: &RunConfig, implementations: usize) -> Option<f64> {
    Some(plan_seconds(
        &MicroSuite::new(cfg.suite.kind),
        implementations,
    ))
}

/// The micro workload's facts (see [`Definition`]).
pub const DEFINITION: Definition = Definition {
    name: "micro",
    title: "Micro-benchmarks",
    parameters: &["primitive"],
    headlines: &["median_ns", "instructions"],
    columns: &["median_ns", "mean_ns", "instructions"],
    charts: &["micro"],
    verify: None,
    measure,
    estimate_s,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_selects_exactly_the_names() {
        let f = criterion_filter(&["rust-tokio".into(), "py.x".into()]);
        assert_eq!(f, "/(rust-tokio|py\\.x)$");
    }

    #[test]
    fn the_estimate_reproduces_the_default_run_and_scales_with_the_settings() {
        // The default run of 2026-12-01 (6 runtimes): micro took 190 s.
        let default = plan_seconds(&MicroSuite::new(SuiteKind::Default), 6);
        assert!((170.0..=215.0).contains(&default), "{default}");
        assert!(plan_seconds(&MicroSuite::new(SuiteKind::Full), 6) > 2.0 * default);
        assert!(plan_seconds(&MicroSuite::new(SuiteKind::Quick), 6) < default / 2.0);
        assert_eq!(plan_seconds(&MicroSuite::new(SuiteKind::Default), 0), 0.0);
    }

    #[test]
    fn suites_pass_criterion_its_own_settings() {
        assert_eq!(
            MicroSuite::new(SuiteKind::Quick).criterion_args(),
            ["--quick"]
        );
        let default = MicroSuite::new(SuiteKind::Default).criterion_args();
        assert_eq!(
            default,
            [
                "--warm-up-time",
                "1",
                "--measurement-time",
                "2",
                "--sample-size",
                "50"
            ]
        );
        // Full keeps criterion's defaults, spelled out so the run's config records them.
        let full = MicroSuite::new(SuiteKind::Full).criterion_args();
        assert_eq!(
            full,
            [
                "--warm-up-time",
                "3",
                "--measurement-time",
                "5",
                "--sample-size",
                "100"
            ]
        );
    }

    #[test]
    fn a_failed_criterion_run_is_one_cell_under_the_manifest_name() {
        let benches = MicroBenches {
            name: "bench-suite".into(),
            criterion: vec!["cargo".into()],
            instructions: vec![],
            instruction_counts: vec![],
            source: Default::default(),
        };
        let dir = tempfile::tempdir().unwrap();
        let cells = cells_of(
            &benches,
            Ok((
                crate::process::Exit::Code(101),
                "error: no bench".into(),
                Duration::ZERO,
            )),
            dir.path(),
        );
        assert_eq!(cells.len(), 1);
        assert_eq!(cells[0].implementation, "bench-suite");
        assert!(cells[0].reason.as_deref().unwrap().contains("no bench"));
    }
}
