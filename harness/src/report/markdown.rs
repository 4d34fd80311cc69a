//! `report.md`: GitHub-flavoured Markdown with PNG charts in `charts/` beside it (relative links).

use super::analysis::{
    Insight, Ranking, Table, Warning, backpressure, impl_status_text, insights, status_text,
    tables, warnings, workload_title, workloads,
};
use super::format::{fmt_bytes, fmt_estimate, fmt_ratio, fmt_ratio_range, fmt_value};
use super::metrics::NOISY_CV;
use super::palette::Palette;
use super::{Artifact, Charts, Report};
use crate::results::{CellStatus, Results};
use std::fmt::Write;

/// The Markdown exporter.
pub struct Markdown;

/// Directory of the PNG charts, relative to the report.
pub const CHART_DIR: &str = "charts";

impl Report for Markdown {
    fn name(&self) -> &'static str {
        "Markdown"
    }

    fn render(&self, results: &Results, charts: &Charts) -> anyhow::Result<Vec<Artifact>> {
        let mut out = vec![Artifact::new("report.md", render(results, charts))];
        for c in &charts.charts {
            out.push(Artifact::new(format!("{CHART_DIR}/{}.png", c.id), c.png()?));
        }
        Ok(out)
    }
}

/// Escapes text for a Markdown table cell or paragraph.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace("\r\n", " ")
        .replace(['\n', '\r'], " ")
}

/// The Markdown text (without the chart images).
pub fn render(results: &Results, charts: &Charts) -> String {
    let palette = Palette::new(results);
    let mut md = String::new();
    let env = &results.environment;
    let warns = warnings(results, &palette);

    // Header.
    let _ = writeln!(md, "# asyncbench report\n");
    let mut run = format!(
        "Run `{}`, started {}",
        esc(&results.run_id),
        esc(&env.started_at)
    );
    if let Some(f) = &env.finished_at {
        let _ = write!(run, ", finished {}", esc(f));
    }
    let _ = writeln!(md, "{run}.  ");
    let _ = writeln!(md, "{}.\n", esc(&machine_line(results)));
    if !warns.is_empty() {
        let _ = writeln!(
            md,
            "> **{} warning{}** — read [Findings and warnings](#findings-and-warnings) before trusting a number.\n",
            warns.len(),
            if warns.len() == 1 { "" } else { "s" }
        );
    }

    // Summary.
    let _ = writeln!(md, "## Summary: what to pick for what\n");
    let ins = insights(results, &palette);
    if ins.is_empty() {
        let _ = writeln!(md, "No completed measurements to summarise.\n");
    }
    for i in &ins {
        match i {
            Insight::Pick { what, ranking } => {
                let _ = writeln!(md, "- **{}:** {}", esc(what), esc(&ranking.sentence(3)));
            }
            Insight::Statement { what, text } => {
                let _ = writeln!(md, "- **{}:** {}", esc(what), esc(text));
            }
        }
    }
    let _ = writeln!(md);
    let _ = writeln!(md, "{}\n", HOW_TO_READ);
    let picks: Vec<(&String, &Ranking)> = ins
        .iter()
        .filter_map(|i| match i {
            Insight::Pick { what, ranking } if ranking.entries.len() > 1 => Some((what, ranking)),
            _ => None,
        })
        .collect();
    if !picks.is_empty() {
        let _ = writeln!(md, "### Rankings\n");
        for (what, r) in picks {
            ranking_table(&mut md, what, r);
        }
    }

    // Detail tables.
    let _ = writeln!(md, "## Results by workload\n");
    let all_tables = tables(results, &palette);
    if all_tables.is_empty() {
        let _ = writeln!(md, "No cells were measured.\n");
    }
    for w in workloads(results) {
        let _ = writeln!(md, "### {}\n", workload_title(&w));
        for t in all_tables.iter().filter(|t| t.workload == w) {
            detail_table(&mut md, t);
        }
    }

    // Charts.
    if !charts.charts.is_empty() {
        let _ = writeln!(md, "## Charts\n");
        for w in workloads(results) {
            let cs: Vec<_> = charts.for_workload(&w).collect();
            if cs.is_empty() {
                continue;
            }
            let _ = writeln!(md, "### {}\n", workload_title(&w));
            for c in cs {
                let _ = writeln!(md, "![{}]({CHART_DIR}/{}.png)\n", esc(&c.title), c.id);
                let _ = writeln!(md, "*{}*\n", esc(&c.caption));
            }
        }
    }

    // Environment.
    let _ = writeln!(md, "## Environment\n");
    let _ = writeln!(md, "| | |\n|---|---|");
    for (k, v) in environment_rows(results) {
        let _ = writeln!(md, "| {} | {} |", esc(&k), esc(&v));
    }
    let _ = writeln!(md);
    if !env.toolchains.is_empty() {
        let _ = writeln!(md, "| toolchain | version |\n|---|---|");
        for (k, v) in &env.toolchains {
            let _ = writeln!(md, "| {} | {} |", esc(k), esc(v));
        }
        let _ = writeln!(md);
    }
    if !env.config.is_null() {
        let cfg = serde_json::to_string_pretty(&env.config).unwrap_or_default();
        let _ = writeln!(
            md,
            "<details><summary>Harness configuration</summary>\n\n```json\n{cfg}\n```\n\n</details>\n"
        );
    }

    // Implementations.
    let _ = writeln!(md, "## Implementations\n");
    let _ = writeln!(
        md,
        "| implementation | language | runtime | reported runtime | toolchain | threads | status |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    for i in &results.implementations {
        let status = match &i.reason {
            Some(r) => format!("{}: {}", impl_status_text(i.status), r),
            None => impl_status_text(i.status).to_string(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            esc(&i.name),
            esc(&i.language),
            esc(&i.runtime),
            esc(i.runtime_detail.as_deref().unwrap_or("")),
            esc(&join_opt(&i.toolchain, &i.toolchain_version)),
            i.threads.map(|t| t.to_string()).unwrap_or_default(),
            esc(&status)
        );
    }
    let _ = writeln!(md);
    let verified: Vec<_> = results
        .implementations
        .iter()
        .filter(|i| !i.verification.is_empty())
        .collect();
    if !verified.is_empty() {
        let _ = writeln!(md, "Verification before measuring:\n");
        for i in verified {
            let parts: Vec<String> = i
                .verification
                .iter()
                .map(|v| {
                    let mark = if v.passed { "passed" } else { "FAILED" };
                    if v.detail.is_empty() {
                        format!("{} {mark}", v.workload)
                    } else {
                        format!("{} {mark} ({})", v.workload, v.detail)
                    }
                })
                .collect();
            let _ = writeln!(md, "- **{}**: {}", esc(&i.name), esc(&parts.join("; ")));
        }
        let _ = writeln!(md);
    }
    let with_env: Vec<_> = results
        .implementations
        .iter()
        .filter(|i| !i.env.is_empty())
        .collect();
    if !with_env.is_empty() {
        let _ = writeln!(md, "Environment set by the manifest:\n");
        for i in with_env {
            let kv: Vec<String> = i.env.iter().map(|(k, v)| format!("`{k}={v}`")).collect();
            let _ = writeln!(md, "- **{}**: {}", esc(&i.name), kv.join(", "));
        }
        let _ = writeln!(md);
    }

    // Findings.
    let _ = writeln!(md, "## Findings and warnings\n");
    let bp = backpressure(results, &palette);
    if !bp.is_empty() {
        let _ = writeln!(md, "### Backpressure (stream)\n");
        let _ = writeln!(
            md,
            "| implementation | scenario | verdict | detail |\n|---|---|---|---|"
        );
        for v in &bp {
            let verdict = if v.held { "held" } else { "**VIOLATED**" };
            let _ = writeln!(
                md,
                "| {} | {} | {verdict} | {} |",
                esc(&v.implementation),
                esc(&v.scenario),
                esc(&v.message)
            );
        }
        let _ = writeln!(md);
    }
    if warns.is_empty() {
        let _ = writeln!(
            md,
            "No warnings: no noisy headline metric (CV > {:.0}%), no failures, no client bottleneck or busy machine flagged.\n",
            NOISY_CV * 100.0
        );
    } else {
        let _ = writeln!(md, "### Warnings\n");
        warnings_table(&mut md, &warns);
    }

    // Notes.
    let noted: Vec<_> = results
        .implementations
        .iter()
        .filter(|i| !i.notes.trim().is_empty())
        .collect();
    if !noted.is_empty() {
        let _ = writeln!(md, "## Implementation notes\n");
        for i in noted {
            let _ = writeln!(md, "### {}\n", esc(&i.name));
            for para in i.notes.trim().split("\n\n") {
                let _ = writeln!(md, "{}\n", esc(para.trim()));
            }
        }
    }
    md.truncate(md.trim_end().len());
    md.push('\n');
    md
}

/// How to read the numbers, shared by both reports.
pub const HOW_TO_READ: &str = "Values are medians across trials; `[a–b]` is the 95 % bootstrap confidence interval of the \
median. `×` divides by the best implementation's median (for lower-is-better metrics a larger factor is worse); \
\"tied\" means the interval overlaps the best's, so this data cannot tell them apart. ⚠ marks noisy values \
(coefficient of variation above 10 %).";

fn ranking_table(md: &mut String, what: &str, r: &Ranking) {
    let _ = writeln!(md, "#### {} — {}\n", esc(what), r.direction());
    let _ = writeln!(
        md,
        "| # | implementation | {} | × best | interval (× best) |",
        esc(r.metric.label)
    );
    let _ = writeln!(md, "|---:|---|---:|---:|---:|");
    for (i, e) in r.entries.iter().enumerate() {
        let interval = if e.estimate.has_interval {
            fmt_ratio_range(e.ratio_lo, e.ratio_hi)
        } else {
            String::new()
        };
        let tied = if i > 0 && e.tied_with_best {
            " (tied)"
        } else {
            ""
        };
        let _ = writeln!(
            md,
            "| {} | {} | {}{} | {}{tied} | {interval} |",
            i + 1,
            esc(&e.implementation),
            esc(&fmt_estimate(r.metric.unit, &e.estimate)),
            if e.estimate.noisy() { " ⚠" } else { "" },
            fmt_ratio(e.ratio),
        );
    }
    for e in &r.references {
        let _ = writeln!(
            md,
            "| – | {} (reference, {}) | {} | {} | |",
            esc(&e.implementation),
            esc(e.reference.as_deref().unwrap_or("not ranked")),
            esc(&fmt_estimate(r.metric.unit, &e.estimate)),
            fmt_ratio(e.ratio)
        );
    }
    let _ = writeln!(md);
}

fn detail_table(md: &mut String, t: &Table) {
    if !t.title.is_empty() {
        let _ = writeln!(md, "#### {}\n", esc(&t.title));
    }
    let mut head: Vec<String> = t.label_headers.iter().map(|h| esc(h)).collect();
    head.extend(t.columns.iter().map(|c| esc(c.label)));
    head.push("notes".into());
    let _ = writeln!(md, "| {} |", head.join(" | "));
    let align: Vec<&str> = t
        .label_headers
        .iter()
        .map(|_| "---")
        .chain(t.columns.iter().map(|_| "---:"))
        .chain(["---"])
        .collect();
    let _ = writeln!(md, "|{}|", align.join("|"));
    for r in &t.rows {
        let mut cells: Vec<String> = r.labels.iter().map(|l| esc(l)).collect();
        for (i, v) in r.values.iter().enumerate() {
            let unit = t.columns[i].unit;
            cells.push(match v {
                // Intervals only on the first (headline) column, to keep the table readable.
                Some(e) if i == 0 => format!(
                    "{}{}",
                    esc(&fmt_estimate(unit, e)),
                    if e.noisy() { " ⚠" } else { "" }
                ),
                Some(e) => format!(
                    "{}{}",
                    esc(&fmt_value(unit, e.median)),
                    if e.noisy() { " ⚠" } else { "" }
                ),
                None => "–".into(),
            });
        }
        let mut notes: Vec<String> = Vec::new();
        if r.status != CellStatus::Ok {
            notes.push(format!(
                "**{}**: {}",
                status_text(r.status),
                esc(r.reason.as_deref().unwrap_or(""))
            ));
        }
        notes.extend(r.flags.iter().map(|f| esc(f)));
        cells.push(notes.join("; "));
        let _ = writeln!(md, "| {} |", cells.join(" | "));
    }
    let _ = writeln!(md);
}

fn warnings_table(md: &mut String, warns: &[Warning]) {
    let _ = writeln!(md, "| kind | subject | message |\n|---|---|---|");
    for w in warns {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            esc(&w.kind),
            esc(&w.subject),
            esc(&w.message)
        );
    }
    let _ = writeln!(md);
}

fn join_opt(a: &Option<String>, b: &Option<String>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{a} {b}"),
        (Some(a), None) => a.clone(),
        (None, Some(b)) => b.clone(),
        (None, None) => String::new(),
    }
}

/// One line describing the machine: "Intel Xeon …, 2 cores, 24 GiB, Linux 6.1, Debian 12".
pub fn machine_line(results: &Results) -> String {
    let env = &results.environment;
    let mut parts: Vec<String> = Vec::new();
    if !env.cpu_model.is_empty() {
        parts.push(env.cpu_model.clone());
    }
    parts.push(format!(
        "{} core{}",
        env.cores,
        if env.cores == 1 { "" } else { "s" }
    ));
    if env.memory_bytes > 0 {
        parts.push(format!("{} memory", fmt_bytes(env.memory_bytes as f64)));
    }
    if !env.kernel.is_empty() {
        parts.push(env.kernel.clone());
    }
    if !env.os.is_empty() {
        parts.push(env.os.clone());
    }
    parts.join(", ")
}

/// The environment as label/value rows, shared by both reports.
pub fn environment_rows(results: &Results) -> Vec<(String, String)> {
    let env = &results.environment;
    let mut rows = vec![
        ("CPU".to_string(), env.cpu_model.clone()),
        ("cores".into(), env.cores.to_string()),
        ("memory".into(), fmt_bytes(env.memory_bytes as f64)),
        ("kernel".into(), env.kernel.clone()),
        ("OS".into(), env.os.clone()),
    ];
    if let Some(c) = &env.git_commit {
        let dirty = match env.git_dirty {
            Some(true) => " (uncommitted changes)",
            _ => "",
        };
        rows.push(("commit".into(), format!("{c}{dirty}")));
    }
    if let Some(l) = env.load_avg_1m_at_start {
        rows.push(("load average at start (1 min)".into(), format!("{l:.2}")));
    }
    match &env.cpu_pinning {
        Some(p) => rows.push((
            "CPU pinning".into(),
            format!(
                "server on CPUs {:?}, load generator on CPUs {:?}",
                p.server_cpus, p.client_cpus
            ),
        )),
        None => rows.push(("CPU pinning".into(), "none".into())),
    }
    rows.push(("started".into(), env.started_at.clone()));
    if let Some(f) = &env.finished_at {
        rows.push(("finished".into(), f.clone()));
    }
    rows
}
