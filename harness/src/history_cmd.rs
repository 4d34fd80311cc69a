//! `asyncbench history`: the run history as a table of runs, a trend table with a chart, or an import
//! of existing results files. The glue between the CLI and [`crate::history`].

use crate::cli::{HistoryAction, HistoryArgs};
use crate::history::{History, TrendQuery, find_results};
use crate::report::format::fmt_value;
use crate::report::metrics::metric_def;
use anyhow::Context;
use std::path::Path;

/// Runs the subcommand; returns the exit code.
pub fn run(root: &Path, args: &HistoryArgs) -> anyhow::Result<i32> {
    let results_dir = root.join("results");
    let db = args
        .db
        .clone()
        .unwrap_or_else(|| results_dir.join(crate::history::FILE));
    let mut h = History::open(&db)?;
    if let Some(HistoryAction::Import { dir }) = &args.action {
        return import(&mut h, &db, dir);
    }
    if args.metric.is_none() && args.implementation.is_none() && args.workload.is_none() {
        return list_runs(&h, &db);
    }
    let q = TrendQuery {
        metric: args.metric.clone(),
        implementation: args.implementation.clone(),
        workload: args.workload.clone(),
    };
    let points = h.trend(&q)?;
    if points.is_empty() {
        println!("no recorded values match; `asyncbench history` lists the runs");
        return Ok(0);
    }
    println!(
        "{:<8} {:<16} {:<40} {:<22} {:<22} {:<10} value [interval]",
        "workload", "implementation", "scenario", "metric", "run", "commit"
    );
    for p in &points {
        let unit = metric_def(&p.metric).unit;
        println!(
            "{:<8} {:<16} {:<40} {:<22} {:<22} {:<10} {} [{} – {}]",
            p.workload,
            p.implementation,
            p.scenario.split_once('/').map(|x| x.1).unwrap_or(""),
            p.metric,
            p.run_id,
            p.git_commit
                .as_deref()
                .map(|c| &c[..c.len().min(10)])
                .unwrap_or("–"),
            fmt_value(unit, p.median),
            fmt_value(unit, p.lo),
            fmt_value(unit, p.hi)
        );
    }
    if let Some(chart) = crate::history::trend_chart(&points) {
        let out = args.out.clone().unwrap_or(results_dir);
        std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
        let png = out.join(format!("{}.png", chart.id));
        std::fs::write(&png, chart.png()?).with_context(|| format!("writing {}", png.display()))?;
        let svg = out.join(format!("{}.svg", chart.id));
        std::fs::write(&svg, chart.svg()?).with_context(|| format!("writing {}", svg.display()))?;
        println!("\ntrend chart: {}", png.display());
    }
    Ok(0)
}

/// `history import DIR`: records every results.json under `dir`; unreadable files are skipped with a
/// line each.
fn import(h: &mut History, db: &Path, dir: &Path) -> anyhow::Result<i32> {
    let files = find_results(dir);
    if files.is_empty() {
        anyhow::bail!(
            "no results.json under {}; pass the directory `asyncbench run` writes to (e.g. results/)",
            dir.display()
        );
    }
    let (mut ok, mut incomplete) = (0, 0);
    for f in &files {
        match crate::results::load(f) {
            Ok(r) => {
                // A run killed before it finished has no finished_at: kept, marked incomplete.
                let complete = r.environment.finished_at.is_some();
                h.record(&r, complete, Some(f))?;
                ok += 1;
                incomplete += usize::from(!complete);
            }
            Err(e) => eprintln!("skipped {}: {e:#}", f.display()),
        }
    }
    println!(
        "imported {ok} run{} into {} ({incomplete} incomplete)",
        if ok == 1 { "" } else { "s" },
        db.display()
    );
    Ok(0)
}

/// `history` alone: one line per recorded run, oldest first.
fn list_runs(h: &History, db: &Path) -> anyhow::Result<i32> {
    let runs = h.runs()?;
    if runs.is_empty() {
        println!(
            "no runs recorded in {} yet: `asyncbench run` records each run, `asyncbench history import results/` loads old ones",
            db.display()
        );
        return Ok(0);
    }
    println!(
        "{:<22} {:<20} {:<10} {:<8} {:>6}  machine",
        "run", "started", "commit", "suite", "values"
    );
    for r in runs {
        println!(
            "{:<22} {:<20} {:<10} {:<8} {:>6}  {}{}",
            r.run_id,
            r.started_at.chars().take(19).collect::<String>(),
            r.git_commit
                .as_deref()
                .map(|c| &c[..c.len().min(10)])
                .unwrap_or("–"),
            r.suite,
            r.measurements,
            r.machine,
            if r.complete { "" } else { " (incomplete)" }
        );
    }
    Ok(0)
}
