//! `report.md`: GitHub-flavoured Markdown with PNG charts in `charts/` beside it (relative links).

use super::analysis::{Ranking, Table, impl_status_text, status_text};
use super::format::{fmt_bytes, fmt_estimate, fmt_ratio, fmt_ratio_range, fmt_value};
use super::matrix::Matrix;
use super::metrics::Better;
use super::outline::{self, Block, Inline};
use super::palette::Palette;
use super::{Artifact, Charts, Report};
use crate::results::{CellStatus, ImplementationInfo, Results};
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

/// Escapes text from the results for a Markdown table cell or paragraph: table pipes, HTML, emphasis,
/// links, code spans and line breaks, so a name or reason can never change the document's structure.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' | '|' | '*' | '_' | '`' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(ch);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push(' ');
                }
            }
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text from the results as an inline code span: backticks and line breaks cannot end it early.
pub fn code(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| match c {
            '`' => '\'',
            '\n' | '\r' | '|' => ' ',
            c => c,
        })
        .collect();
    format!("`{t}`")
}

/// The Markdown text (without the chart images).
pub fn render(results: &Results, charts: &Charts) -> String {
    let doc = outline::build(results, charts);
    let mut md = String::new();
    let head = &doc.header;
    let _ = writeln!(md, "# asyncbench report — {}\n", esc(&head.title));
    let _ = writeln!(md, "{}  ", esc(&head.what));
    let _ = writeln!(md, "{}\n", esc(&head.when));
    blocks(&mut md, &doc.blocks, &doc.palette);
    md.truncate(md.trim_end().len());
    md.push('\n');
    md
}

fn blocks(md: &mut String, bs: &[Block], palette: &Palette) {
    for b in bs {
        block(md, b, palette);
    }
}

/// One block of the outline.
fn block(md: &mut String, b: &Block, palette: &Palette) {
    match b {
        Block::Section(s) => {
            // Without a navigation bar to link to it, an empty section is left out.
            if s.body.is_empty() && s.placeholder.is_some() {
                return;
            }
            if let Some(t) = s.heading {
                let _ = writeln!(md, "## {}\n", esc(t));
            }
            blocks(md, &s.body, palette);
        }
        Block::Heading { level, text } => {
            let hashes = "#".repeat(usize::from(*level));
            let _ = writeln!(md, "{hashes} {}\n", inlines(text, palette));
        }
        Block::Paragraph(t) | Block::Aside(t) => {
            let _ = writeln!(md, "{}\n", inlines(t, palette));
        }
        Block::Prose(t) => {
            for para in t.split("\n\n") {
                let _ = writeln!(md, "{}\n", esc(para.trim()));
            }
        }
        Block::List(items) => {
            for i in items {
                let _ = writeln!(md, "- {}", inlines(i, palette));
            }
            let _ = writeln!(md);
        }
        Block::Table(t) => table(md, t, palette),
        Block::Figure(f) if f.lead => {}
        Block::Figure(f) => {
            let c = f.chart;
            let _ = writeln!(md, "![{}]({CHART_DIR}/{}.png)\n", esc(&c.title), c.id);
            let _ = writeln!(md, "*{}*\n", inlines(&f.caption, palette));
        }
        Block::Details { summary, body, .. } => {
            let _ = writeln!(md, "<details><summary>{}</summary>\n", esc(summary));
            blocks(md, body, palette);
            let _ = writeln!(md, "</details>\n");
        }
        Block::Code { lang, text } => {
            let _ = writeln!(md, "```{lang}\n{text}\n```\n");
        }
        // Markdown has no columns; the aside repeats what the document shows elsewhere.
        Block::Columns { main, .. } => blocks(md, main, palette),
        Block::Caveats(cavs) => {
            let _ = writeln!(md, "### Before you trust a number\n");
            for c in cavs {
                let _ = writeln!(
                    md,
                    "- **{} ({}):** {} — {}.",
                    code(c.kind.name()),
                    c.count,
                    esc(&c.text),
                    esc(&c.affected.join("; "))
                );
            }
            let _ = writeln!(md);
        }
        Block::Matrix(mx) => matrix_table(md, mx, palette),
        Block::Ranking { what, ranking } => ranking_table(md, what, ranking, palette),
        Block::Measurements(t) => detail_table(md, t),
        Block::Implementations(impls) => implementations(md, impls, palette),
    }
}

/// Inline runs as Markdown; text from the results is escaped.
fn inlines(runs: &[Inline], palette: &Palette) -> String {
    runs.iter()
        .map(|r| match r {
            Inline::Text(t) | Inline::Key(t) | Inline::Good(t) => esc(t),
            Inline::Own(t) => t.clone(),
            Inline::Strong(t) | Inline::Bad(t) => format!("**{}**", esc(t)),
            Inline::Code(t) => code(t),
            Inline::Impl(name) => esc(&palette.label(name)),
            Inline::Link { text, href } => format!("[{}]({href})", esc(text)),
        })
        .collect()
}

/// A generic table; without a header row, the header cells are empty.
fn table(md: &mut String, t: &outline::Table, palette: &Palette) {
    let width = t
        .header
        .as_ref()
        .map(Vec::len)
        .or_else(|| t.rows.first().map(Vec::len))
        .unwrap_or(0);
    match &t.header {
        Some(head) => {
            let cells: Vec<String> = head.iter().map(|c| esc(c)).collect();
            let _ = writeln!(md, "| {} |", cells.join(" | "));
        }
        None => {
            let _ = writeln!(md, "|{}", " |".repeat(width));
        }
    }
    let _ = writeln!(md, "|{}", "---|".repeat(width));
    for row in &t.rows {
        let cells: Vec<String> = row.iter().map(|c| inlines(c, palette)).collect();
        let _ = writeln!(md, "| {} |", cells.join(" | "));
    }
    let _ = writeln!(md);
}

/// Every implementation in a table, then its verification and the environment its manifest sets.
fn implementations(md: &mut String, impls: &[ImplementationInfo], palette: &Palette) {
    let _ = writeln!(
        md,
        "| implementation | language | runtime | reported runtime | toolchain | threads | status |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    for i in impls {
        let status = match &i.reason {
            Some(r) => format!("{}: {}", impl_status_text(i.status), r),
            None => impl_status_text(i.status).to_string(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            esc(&palette.label(&i.name)),
            esc(&i.language),
            esc(&i.runtime),
            esc(i.runtime_detail.as_deref().unwrap_or("")),
            esc(&join_opt(&i.toolchain, &i.toolchain_version)),
            i.threads.map(|t| t.to_string()).unwrap_or_default(),
            esc(&status)
        );
    }
    let _ = writeln!(md);
    let verified: Vec<_> = impls
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
            let _ = writeln!(
                md,
                "- **{}**: {}",
                esc(&palette.label(&i.name)),
                esc(&parts.join("; "))
            );
        }
        let _ = writeln!(md);
    }
    let with_env: Vec<_> = impls.iter().filter(|i| !i.env.is_empty()).collect();
    if !with_env.is_empty() {
        let _ = writeln!(md, "Environment set by the manifest:\n");
        for i in with_env {
            let kv: Vec<String> = i
                .env
                .iter()
                .map(|(k, v)| code(&format!("{k}={v}")))
                .collect();
            let _ = writeln!(
                md,
                "- **{}**: {}",
                esc(&palette.label(&i.name)),
                kv.join(", ")
            );
        }
        let _ = writeln!(md);
    }
}

/// How to read the numbers, shared by both reports.
pub const HOW_TO_READ: &str = "Values are medians across trials; `[a–b]` beside a value is a distribution-free interval of \
the median from the trials' order statistics (below six trials the range of the trials, whose coverage is stated: \
75 % for three), for micro-benchmarks criterion's bootstrap interval. `×` divides by the best implementation's \
median (for lower-is-better metrics a larger factor is worse); `[a–b]` beside a factor is its 99 % interval from the \
log-ratio statistics `compare` uses, and \"tied\" means that interval includes 1×, so this data cannot tell the \
two apart. ⚠ marks noisy values (coefficient of variation above 10 %).";

/// The decision matrix as a table: "value #rank" per cell (no colour in Markdown).
fn matrix_table(md: &mut String, mx: &Matrix, palette: &Palette) {
    let mut head = vec!["implementation".to_string()];
    head.extend(mx.columns.iter().map(|c| {
        format!(
            "{} {}",
            esc(&c.title),
            if c.metric.better == Better::Higher {
                "↑"
            } else {
                "↓"
            }
        )
    }));
    let _ = writeln!(md, "| {} |", head.join(" | "));
    let align: Vec<&str> = std::iter::once("---")
        .chain(mx.columns.iter().map(|_| "---:"))
        .collect();
    let _ = writeln!(md, "|{}|", align.join("|"));
    for r in &mx.rows {
        let mut cells = vec![if r.reference {
            format!("*{}* (reference)", esc(&palette.label(&r.implementation)))
        } else {
            esc(&palette.label(&r.implementation))
        }];
        for (i, c) in r.cells.iter().enumerate() {
            let unit = mx.columns[i].metric.unit;
            cells.push(match c {
                None => "–".into(),
                Some(c) => {
                    let rank = match c.rank {
                        Some(k) if c.tied_with_best => format!("#{k}≈"),
                        Some(k) => format!("#{k}"),
                        None => "ref".into(),
                    };
                    format!(
                        "{}{}{} {rank}",
                        if c.lower_bound { "≥" } else { "" },
                        esc(&fmt_value(unit, c.estimate.median)),
                        if c.estimate.noisy() { " ⚠" } else { "" }
                    )
                }
            });
        }
        let _ = writeln!(md, "| {} |", cells.join(" | "));
    }
    let _ = writeln!(md);
    let _ = writeln!(
        md,
        "#1 = best in its column (≈: tied with #1, the ratio's 99 % interval includes 1×; ↑ higher / ↓ lower is better); ≥ = client-bound lower bound; reference rows are shown, not ranked. Columns:
"
    );
    for c in &mx.columns {
        let _ = writeln!(md, "- {}: {}", esc(&c.title), esc(&c.scenario));
    }
    let _ = writeln!(md);
}

fn ranking_table(md: &mut String, what: &str, r: &Ranking, palette: &Palette) {
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
            esc(&palette.label(&e.implementation)),
            esc(&fmt_estimate(r.metric.unit, &e.estimate)),
            if e.estimate.noisy() { " ⚠" } else { "" },
            fmt_ratio(e.ratio),
        );
    }
    for e in &r.references {
        let _ = writeln!(
            md,
            "| – | {} (reference, {}) | {} | {} | |",
            esc(&palette.label(&e.implementation)),
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

fn join_opt(a: &Option<String>, b: &Option<String>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{a} {b}"),
        (Some(a), None) => a.clone(),
        (None, Some(b)) => b.clone(),
        (None, None) => String::new(),
    }
}

/// The report header in three parts: what ran ("default suite, 31 min 6 s"), on what ("commit b50b240 ·
/// AMD EPYC, 2 cores, …") and when (timestamps to the second).
#[derive(Debug, Clone, PartialEq)]
pub struct HeaderText {
    pub title: String,
    pub what: String,
    pub when: String,
}

/// `2026-11-26T13:13:15.258042528Z` → (`2026-11-26 13:13:15 UTC`, seconds since the epoch). Anything
/// that is not RFC 3339 is returned as it is, without seconds.
pub fn timestamp(ts: &str) -> (String, Option<i64>) {
    let b = ts.as_bytes();
    let num = |r: std::ops::Range<usize>| ts.get(r).and_then(|s| s.parse::<i64>().ok());
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || (b[10] != b'T' && b[10] != b' ') {
        return (ts.to_string(), None);
    }
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    ) else {
        return (ts.to_string(), None);
    };
    let utc = ts.ends_with('Z') || ts.ends_with("+00:00");
    // Days from civil (Howard Hinnant's algorithm).
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * (mo + if mo > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + s;
    let text = format!(
        "{} {}{}",
        &ts[0..10],
        &ts[11..19],
        if utc { " UTC" } else { "" }
    );
    (text, utc.then_some(secs))
}

/// "31 min 6 s", "2 h 5 min", "45 s".
pub fn fmt_duration_s(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h} h {m} min")
    } else if m > 0 {
        format!("{m} min {s} s")
    } else {
        format!("{s} s")
    }
}

/// The header of both reports.
pub fn header_lines(results: &Results) -> HeaderText {
    let env = &results.environment;
    let suite = env
        .config
        .pointer("/suite/kind")
        .and_then(|v| v.as_str())
        .map(|k| format!("{k} suite"));
    let command = env.config.get("command").and_then(|v| v.as_str());
    let (started, t0) = timestamp(&env.started_at);
    let finished = env.finished_at.as_deref().map(timestamp);
    let duration = match (t0, finished.as_ref().and_then(|f| f.1)) {
        (Some(a), Some(b)) if b >= a => Some(fmt_duration_s(b - a)),
        _ => None,
    };
    let mut title: Vec<String> = Vec::new();
    match (suite, command) {
        (Some(s), _) => title.push(s),
        (None, Some(c)) => title.push(format!("{c} command")),
        (None, None) => {}
    }
    match &duration {
        Some(d) => title.push(d.clone()),
        None if env.finished_at.is_none() => title.push("incomplete (no finish time)".into()),
        None => {}
    }
    let mut what: Vec<String> = Vec::new();
    if let Some(c) = &env.git_commit {
        let short: String = c.chars().take(10).collect();
        what.push(format!(
            "commit {short}{}",
            if env.git_dirty == Some(true) {
                " (uncommitted changes)"
            } else {
                ""
            }
        ));
    }
    what.push(machine_line(results));
    let mut when = format!("started {started}");
    if let Some((f, _)) = &finished {
        // Same day: the time is enough.
        let f = if f.get(0..10) == started.get(0..10) && f.len() > 11 {
            f[11..].to_string()
        } else {
            f.clone()
        };
        when.push_str(&format!(", finished {f}"));
    }
    when.push_str(&format!(" · run {}", results.run_id));
    HeaderText {
        title: if title.is_empty() {
            "run".into()
        } else {
            title.join(", ")
        },
        what: what.join(" · "),
        when,
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
    if !env.hosts.is_empty() {
        rows.push(("topology".into(), env.topology()));
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
    rows.push(("started".into(), timestamp(&env.started_at).0));
    if let Some(f) = &env.finished_at {
        rows.push(("finished".into(), timestamp(f).0));
    }
    rows
}
