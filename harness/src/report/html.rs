//! `report.html`: one self-contained page. Inline CSS and inline SVG charts only: no scripts, fonts,
//! images or styles from anywhere else, so it opens offline and makes no request.

use super::analysis::{
    Insight, Ranking, Table, backpressure, impl_status_text, insights, status_text, tables,
    warnings, workload_title, workloads,
};
use super::caveats::{Caveat, caveats};
use super::format::{fmt_range, fmt_ratio, fmt_ratio_range, fmt_value};
use super::markdown::{HOW_TO_READ, environment_rows, header_lines};
use super::matrix::{Matrix, matrix, shade_rgb};
use super::metrics::{Better, NOISY_CV};
use super::palette::Palette;
use super::{Artifact, Charts, Report};
use crate::results::{CellStatus, ImplStatus, Results};
use std::fmt::Write;

/// The HTML exporter.
pub struct Html;

impl Report for Html {
    fn name(&self) -> &'static str {
        "HTML"
    }

    fn render(&self, results: &Results, charts: &Charts) -> anyhow::Result<Vec<Artifact>> {
        Ok(vec![Artifact::new("report.html", render(results, charts)?)])
    }
}

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
:root { --fg: #1d2125; --muted: #5f6b76; --line: #d8dee4; --bg-alt: #f6f8fa; --warn: #9a6700; --bad: #b42318; --good: #1a7f37; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", "Liberation Sans", sans-serif;
       color: var(--fg); margin: 0 auto; max-width: 1280px; padding: .8rem 1.5rem 4rem; line-height: 1.4; }
h1 { margin: 0 0 .15rem; font-size: 1.45rem; }
h1 .muted { font-weight: 400; }
h2 { margin-top: 2.5rem; padding-bottom: .3rem; border-bottom: 2px solid var(--line); }
h3 { margin-top: 1.8rem; }
h4 { margin: 1.4rem 0 .4rem; }
.meta { color: var(--muted); margin: 0; }
nav { margin: .5rem 0; padding: .35rem .9rem; background: var(--bg-alt); border-radius: 6px; font-size: .95rem; }
nav a { margin-right: 1rem; color: #0b5cad; text-decoration: none; }
nav a:hover { text-decoration: underline; }
.banner { border-left: 4px solid var(--warn); background: #fff8e6; padding: .6rem .9rem; margin: 1rem 0; }
ul.picks { padding-left: 1.2rem; }
ul.picks li { margin: .35rem 0; }
.howto { color: var(--muted); font-size: .92rem; }
.scroll { overflow-x: auto; }
.rankings { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); column-gap: 2rem; }
.ranking h4 { min-height: 2.6em; }
table { border-collapse: collapse; margin: .4rem 0 1rem; font-size: .9rem; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: var(--bg-alt); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.ci { display: block; color: var(--muted); font-size: .8rem; }
.swatch { display: inline-block; width: .8rem; height: .8rem; border-radius: 2px; margin-right: .4rem; vertical-align: -1px; }
.bar { display: inline-block; height: .55rem; border-radius: 2px; vertical-align: middle; }
.tied { color: var(--muted); font-size: .8rem; margin-left: .3rem; }
.noisy { color: var(--warn); cursor: help; }
.bad { color: var(--bad); font-weight: 600; }
.good { color: var(--good); }
.muted { color: var(--muted); }
figure { margin: 1rem 0 2rem; }
figure svg { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
figcaption { color: var(--muted); font-size: .9rem; max-width: 960px; margin-top: .3rem; }
svg text { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; }
pre { background: var(--bg-alt); padding: .8rem; border-radius: 6px; overflow-x: auto; font-size: .85rem; }
.notes { white-space: pre-wrap; }
details { margin: .5rem 0 1rem; }
details.inline { display: inline; margin: 0; }
details.inline summary { display: inline; cursor: pointer; color: #0b5cad; }
details.inline[open] { display: block; }
summary { cursor: pointer; }
#summary h2, #picks h2 { margin: .6rem 0 .3rem; font-size: 1.15rem; border: 0; padding: 0; }
table.matrix { font-size: .86rem; margin: 0; }
table.matrix th, table.matrix td { padding: .18rem .5rem; }
table.matrix thead th { vertical-align: bottom; }
table.matrix th .sub { display: block; font-weight: 400; color: var(--muted); font-size: .72rem; }
table.matrix tbody th { background: none; white-space: nowrap; }
table.matrix tr.ref th, table.matrix tr.ref td { color: var(--muted); font-style: italic; }
.rank { color: var(--muted); font-size: .75rem; margin-left: .15rem; }
.tag { font-size: .7rem; font-style: normal; border: 1px solid var(--line); border-radius: 3px; padding: 0 .25rem; }
.legend { color: var(--muted); font-size: .8rem; margin: .25rem 0 .4rem; }
.chip { display: inline-block; width: .9rem; height: .7rem; vertical-align: -1px; border: 1px solid var(--line); }
.first { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); column-gap: 1.5rem; align-items: start; }
@media (max-width: 1000px) { .first { grid-template-columns: 1fr; } }
.first-chart { margin: .6rem 0 0; }
ul.caveats, ul.picks { padding-left: 1.1rem; margin: .2rem 0; font-size: .88rem; }
ul.caveats li, ul.picks li { margin: .15rem 0; }
"#;

/// The page.
pub fn render(results: &Results, charts: &Charts) -> anyhow::Result<String> {
    let palette = Palette::new(results);
    let env = &results.environment;
    let warns = warnings(results, &palette);
    let mx = matrix(results, &palette);
    let cavs = caveats(results, &palette, &warns, &mx);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>asyncbench report — {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(&results.run_id)
    );
    let head = header_lines(results);
    let _ = writeln!(
        h,
        "<header>\n<h1>asyncbench report <span class=\"muted\">— {}</span></h1>\n<p class=\"meta\">{}<br>{}</p>\n</header>",
        esc(&head.title),
        esc(&head.what),
        esc(&head.when)
    );
    let _ = writeln!(
        h,
        "<nav><a href=\"#summary\">Decision matrix</a><a href=\"#picks\">What to pick</a><a href=\"#results\">Results</a>\
         <a href=\"#charts\">Charts</a><a href=\"#environment\">Environment</a><a href=\"#implementations\">Implementations</a>\
         <a href=\"#findings\">Findings</a><a href=\"#notes\">Notes</a></nav>"
    );

    // Decision matrix.
    let _ = writeln!(h, "<section id=\"summary\">");
    if mx.rows.is_empty() {
        let _ = writeln!(
            h,
            "<h2>Decision matrix</h2>\n<p>No completed measurements to compare.</p>"
        );
    } else {
        matrix_table(&mut h, &mx, &palette);
    }
    let _ = writeln!(h, "</section>");

    // Caveats and picks beside the first chart.
    let ins = insights(results, &palette);
    let _ = writeln!(h, "<div class=\"first\">\n<section id=\"picks\">");
    if !cavs.is_empty() {
        let _ = writeln!(
            h,
            "<h2>Before you trust a number</h2>\n<ul class=\"caveats\">"
        );
        for c in &cavs {
            caveat_item(&mut h, c);
        }
        let _ = writeln!(h, "</ul>");
    }
    let _ = writeln!(h, "<h2>What to pick for what</h2>");
    if ins.is_empty() {
        let _ = writeln!(h, "<p>No completed measurements to summarise.</p>");
    } else {
        let _ = writeln!(h, "<ul class=\"picks\">");
        for i in &ins {
            match i {
                Insight::Pick { what, ranking } => {
                    let _ = writeln!(
                        h,
                        "<li><strong>{}:</strong> {}</li>",
                        esc(what),
                        esc(&ranking.sentence(2, &palette))
                    );
                }
                Insight::Statement { what, text } => {
                    let _ = writeln!(h, "<li><strong>{}:</strong> {}</li>", esc(what), esc(text));
                }
            }
        }
        let _ = writeln!(h, "</ul>");
    }
    let _ = writeln!(h, "</section>");
    if let Some(c) = charts.charts.first() {
        let svg = inline_svg(&c.svg()?, &c.title);
        let _ = writeln!(
            h,
            "<figure id=\"first-chart\" class=\"first-chart\">\n{svg}\n<figcaption>{} <a href=\"#charts\">All charts</a></figcaption>\n</figure>",
            esc(&c.caption)
        );
    }
    let _ = writeln!(h, "</div>");
    let _ = writeln!(h, "<p class=\"howto\">{}</p>", md_inline(HOW_TO_READ));
    let picks: Vec<_> = ins
        .iter()
        .filter_map(|i| match i {
            Insight::Pick { what, ranking } if ranking.entries.len() > 1 => Some((what, ranking)),
            _ => None,
        })
        .collect();
    if !picks.is_empty() {
        let _ = writeln!(
            h,
            "<details class=\"rankings-all\"><summary>Rankings behind each pick, with ratios and intervals</summary>\n<div class=\"rankings\">"
        );
        for (what, ranking) in picks {
            ranking_table(&mut h, what, ranking, &palette);
        }
        let _ = writeln!(h, "</div>\n</details>");
    }

    // Detail tables.
    let _ = writeln!(h, "<section id=\"results\">\n<h2>Results by workload</h2>");
    let all_tables = tables(results, &palette);
    if all_tables.is_empty() {
        let _ = writeln!(h, "<p>No cells were measured.</p>");
    }
    for w in workloads(results) {
        let _ = writeln!(h, "<h3>{}</h3>", esc(&workload_title(&w)));
        for t in all_tables.iter().filter(|t| t.workload == w) {
            detail_table(&mut h, t, &palette);
        }
    }
    let _ = writeln!(h, "</section>");

    // Charts.
    let _ = writeln!(h, "<section id=\"charts\">\n<h2>Charts</h2>");
    if charts.charts.is_empty() {
        let _ = writeln!(h, "<p>No data to chart.</p>");
    }
    for w in workloads(results) {
        let cs: Vec<_> = charts.for_workload(&w).collect();
        if cs.is_empty() {
            continue;
        }
        let _ = writeln!(h, "<h3>{}</h3>", esc(&workload_title(&w)));
        for c in cs {
            let svg = inline_svg(&c.svg()?, &c.title);
            let _ = writeln!(
                h,
                "<figure id=\"chart-{}\">\n{svg}\n<figcaption>{}</figcaption>\n</figure>",
                c.id,
                esc(&c.caption)
            );
        }
    }
    let _ = writeln!(h, "</section>");

    // Environment.
    let _ = writeln!(
        h,
        "<section id=\"environment\">\n<h2>Environment</h2>\n<table>"
    );
    for (k, v) in environment_rows(results) {
        let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(&k), esc(&v));
    }
    let _ = writeln!(h, "</table>");
    if !env.toolchains.is_empty() {
        let _ = writeln!(h, "<table>\n<tr><th>toolchain</th><th>version</th></tr>");
        for (k, v) in &env.toolchains {
            let _ = writeln!(h, "<tr><td>{}</td><td>{}</td></tr>", esc(k), esc(v));
        }
        let _ = writeln!(h, "</table>");
    }
    if !env.config.is_null() {
        let cfg = serde_json::to_string_pretty(&env.config).unwrap_or_default();
        let _ = writeln!(
            h,
            "<details><summary>Harness configuration</summary>\n<pre>{}</pre>\n</details>",
            esc(&cfg)
        );
    }
    let _ = writeln!(h, "</section>");

    // Implementations.
    let _ = writeln!(
        h,
        "<section id=\"implementations\">\n<h2>Implementations</h2>\n<div class=\"scroll\"><table>"
    );
    let _ = writeln!(
        h,
        "<tr><th>implementation</th><th>language</th><th>runtime</th><th>reported runtime</th><th>toolchain</th>\
         <th class=\"num\">threads</th><th>status</th><th>verification</th><th>environment</th></tr>"
    );
    for i in &results.implementations {
        let status_class = if i.status == ImplStatus::Ok {
            "good"
        } else {
            "bad"
        };
        let mut status = format!(
            "<span class=\"{status_class}\">{}</span>",
            esc(impl_status_text(i.status))
        );
        if let Some(r) = &i.reason {
            let _ = write!(status, "<br>{}", esc(r));
        }
        let verification: Vec<String> = i
            .verification
            .iter()
            .map(|v| {
                let mark = if v.passed {
                    "<span class=\"good\">passed</span>"
                } else {
                    "<span class=\"bad\">FAILED</span>"
                };
                if v.detail.is_empty() {
                    format!("{} {mark}", esc(&v.workload))
                } else {
                    format!(
                        "{} {mark} <span class=\"muted\">({})</span>",
                        esc(&v.workload),
                        esc(&v.detail)
                    )
                }
            })
            .collect();
        let envs: Vec<String> = i
            .env
            .iter()
            .map(|(k, v)| format!("<code>{}={}</code>", esc(k), esc(v)))
            .collect();
        let toolchain = [i.toolchain.as_deref(), i.toolchain_version.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let _ = writeln!(
            h,
            "<tr><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{status}</td>\
             <td>{}</td><td>{}</td></tr>",
            swatch(&palette, &i.name),
            esc(&palette.label(&i.name)),
            esc(&i.language),
            esc(&i.runtime),
            esc(i.runtime_detail.as_deref().unwrap_or("")),
            esc(&toolchain),
            i.threads.map(|t| t.to_string()).unwrap_or_default(),
            verification.join("<br>"),
            envs.join(" ")
        );
    }
    let _ = writeln!(h, "</table></div>\n</section>");

    // Findings.
    let _ = writeln!(
        h,
        "<section id=\"findings\">\n<h2>Findings and warnings</h2>"
    );
    let bp = backpressure(results, &palette);
    if !bp.is_empty() {
        let _ = writeln!(h, "<h3>Backpressure (stream)</h3>\n<table>");
        let _ = writeln!(
            h,
            "<tr><th>implementation</th><th>scenario</th><th>verdict</th><th>detail</th></tr>"
        );
        for v in &bp {
            let verdict = if v.held {
                "<span class=\"good\">held</span>"
            } else {
                "<span class=\"bad\">VIOLATED</span>"
            };
            let _ = writeln!(
                h,
                "<tr><td>{}{}</td><td>{}</td><td>{verdict}</td><td>{}</td></tr>",
                swatch(&palette, &v.implementation),
                esc(&palette.label(&v.implementation)),
                esc(&v.scenario),
                esc(&v.message)
            );
        }
        let _ = writeln!(h, "</table>");
    }
    if warns.is_empty() {
        let _ = writeln!(
            h,
            "<p>No warnings: no noisy headline metric (CV &gt; {:.0}%), no failures, no client bottleneck or busy \
             machine flagged.</p>",
            NOISY_CV * 100.0
        );
    } else {
        let _ = writeln!(
            h,
            "<details><summary>All {} findings and warnings</summary>\n<table>\n<tr><th>kind</th><th>subject</th><th>message</th></tr>",
            warns.len()
        );
        for w in &warns {
            let _ = writeln!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                esc(&w.kind),
                esc(&w.subject),
                esc(&w.message)
            );
        }
        let _ = writeln!(h, "</table>\n</details>");
    }
    let _ = writeln!(h, "</section>");

    // Notes.
    let _ = writeln!(h, "<section id=\"notes\">\n<h2>Implementation notes</h2>");
    let noted: Vec<_> = results
        .implementations
        .iter()
        .filter(|i| !i.notes.trim().is_empty())
        .collect();
    if noted.is_empty() {
        let _ = writeln!(h, "<p>No notes recorded.</p>");
    }
    for i in noted {
        let _ = writeln!(
            h,
            "<h3>{}{}</h3>\n<p class=\"notes\">{}</p>",
            swatch(&palette, &i.name),
            esc(&palette.label(&i.name)),
            esc(i.notes.trim())
        );
    }
    let _ = writeln!(h, "</section>\n</body>\n</html>");
    Ok(h)
}

/// The decision matrix: value, rank and a best-to-worst shade per cell.
fn matrix_table(h: &mut String, mx: &Matrix, palette: &Palette) {
    let _ = writeln!(
        h,
        "<h2>Decision matrix</h2>\n<div class=\"scroll\"><table class=\"matrix\">\n<thead><tr><th>implementation</th>"
    );
    for c in &mx.columns {
        let _ = write!(
            h,
            "<th class=\"num\" title=\"{}; {}\">{}<span class=\"sub\">{}</span></th>",
            esc(&c.scenario),
            c.direction(),
            esc(&c.title),
            esc(match c.metric.better {
                Better::Higher => "↑ higher is better",
                _ => "↓ lower is better",
            })
        );
    }
    let _ = writeln!(h, "</tr></thead>\n<tbody>");
    for r in &mx.rows {
        let class = if r.reference { " class=\"ref\"" } else { "" };
        let name = if r.reference {
            format!(
                "{} <span class=\"tag\" title=\"{}\">reference</span>",
                esc(&palette.label(&r.implementation)),
                esc(palette.reference(&r.implementation).unwrap_or(""))
            )
        } else {
            esc(&palette.label(&r.implementation))
        };
        let _ = write!(
            h,
            "<tr{class}><th scope=\"row\">{}{name}</th>",
            swatch(palette, &r.implementation)
        );
        for (i, c) in r.cells.iter().enumerate() {
            let unit = mx.columns[i].metric.unit;
            match c {
                None => {
                    let _ = write!(h, "<td class=\"num muted\">–</td>");
                }
                Some(c) => {
                    let (rr, gg, bb) = shade_rgb(c.shade);
                    let style = if r.reference {
                        String::new()
                    } else {
                        format!(" style=\"background:#{rr:02x}{gg:02x}{bb:02x}\"")
                    };
                    let rank = match c.rank {
                        Some(k) if c.tied_with_best => format!(
                            "<span class=\"rank\" title=\"the ratio's 99 % interval includes 1×: tied with the best\">#{k}≈</span>"
                        ),
                        Some(k) => format!("<span class=\"rank\">#{k}</span>"),
                        None => "<span class=\"rank\">ref</span>".into(),
                    };
                    let noisy = if c.estimate.noisy() {
                        format!(
                            "<span class=\"noisy\" title=\"coefficient of variation {:.0}%\">⚠</span>",
                            c.estimate.cv.unwrap_or(0.0) * 100.0
                        )
                    } else {
                        String::new()
                    };
                    let ge = if c.lower_bound {
                        "<span title=\"client-bound: the server does at least this\">≥</span>"
                    } else {
                        ""
                    };
                    let _ = write!(
                        h,
                        "<td class=\"num\"{style}>{ge}{}{noisy} {rank}</td>",
                        esc(&fmt_value(unit, c.estimate.median))
                    );
                }
            }
        }
        let _ = writeln!(h, "</tr>");
    }
    let _ = writeln!(h, "</tbody>\n</table></div>");
    let scen: Vec<String> = {
        let mut v: Vec<String> = Vec::new();
        for c in &mx.columns {
            let line = format!("{} — {}", c.title, c.scenario);
            if !v.contains(&line) {
                v.push(line);
            }
        }
        v
    };
    let _ = writeln!(
        h,
        "<div class=\"legend\">#1 = best in its column (≈: tied with #1, the ratio's 99 % interval includes 1×); shading runs from best \
         <span class=\"chip\" style=\"background:#92c5de\"></span> to worst <span class=\"chip\" style=\"background:#f4a582\"></span> \
         on a log scale; ≥ = client-bound lower bound; reference rows are shown, not ranked. \
         <details class=\"inline\"><summary>Scenarios</summary>{}</details></div>",
        scen.iter().map(|l| esc(l)).collect::<Vec<_>>().join("<br>")
    );
}

/// One caveat: its meaning, count, and the affected cells (folded when long).
fn caveat_item(h: &mut String, c: &Caveat) {
    let affected = c.affected.join("; ");
    let count = format!(
        "{} {}",
        c.count,
        match c.kind.as_str() {
            "not_run" => "implementations",
            "busy_machine" | "dirty_tree" => "run",
            _ if c.count == 1 => "cell",
            _ => "cells",
        }
    );
    let _ = write!(
        h,
        "<li class=\"caveat\"><strong><code>{}</code> ({count}):</strong> {}",
        esc(&c.kind),
        esc(&c.text)
    );
    if affected.chars().count() <= 110 {
        let _ = writeln!(h, " — {}.</li>", esc(&affected));
    } else {
        let _ = writeln!(
            h,
            " <details class=\"inline\"><summary>which</summary><ul>{}</ul></details></li>",
            c.affected
                .iter()
                .map(|a| format!("<li>{}</li>", esc(a)))
                .collect::<String>()
        );
    }
}

/// The shared how-to-read text, with Markdown code spans turned into `<code>`.
fn md_inline(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in esc(s).split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

fn swatch(palette: &Palette, name: &str) -> String {
    format!(
        "<span class=\"swatch\" style=\"background:{}\"></span>",
        palette.hex(name)
    )
}

/// Prepares a plotters SVG document for inlining: no XML prolog, no namespace declarations (implied in
/// HTML), an accessible name.
fn inline_svg(svg: &str, title: &str) -> String {
    let mut s = svg.trim().to_string();
    if s.starts_with("<?xml")
        && let Some(end) = s.find("?>")
    {
        s = s[end + 2..].trim_start().to_string();
    }
    for attr in [
        " xmlns=\"http://www.w3.org/2000/svg\"",
        " xmlns:xlink=\"http://www.w3.org/1999/xlink\"",
    ] {
        s = s.replace(attr, "");
    }
    s.replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-label=\"{}\" ", esc(title)),
        1,
    )
}

fn ranking_table(h: &mut String, what: &str, r: &Ranking, palette: &Palette) {
    let _ = writeln!(
        h,
        "<div class=\"ranking\">\n<h4>{} <span class=\"muted\">— {}</span></h4>",
        esc(what),
        r.direction()
    );
    let _ = writeln!(
        h,
        "<table>\n<tr><th class=\"num\">#</th><th>implementation</th><th class=\"num\">{}</th>\
         <th class=\"num\">× best</th><th>relative</th></tr>",
        esc(r.metric.label)
    );
    // Bar length: relative performance (1 = best), so longer is always better.
    let rel = |ratio: f64| match r.metric.better {
        Better::Lower if ratio > 0.0 => 1.0 / ratio,
        _ => ratio,
    };
    let row = |h: &mut String, rank: String, e: &super::analysis::RankEntry, reference: bool| {
        let noisy = if e.estimate.noisy() {
            format!(
                " <span class=\"noisy\" title=\"coefficient of variation {:.0}%\">⚠</span>",
                e.estimate.cv.unwrap_or(0.0) * 100.0
            )
        } else {
            String::new()
        };
        let interval = if e.estimate.has_interval {
            format!(
                "<span class=\"ci\">[{}]</span>",
                esc(&fmt_ratio_range(e.ratio_lo, e.ratio_hi))
            )
        } else {
            String::new()
        };
        let tied = if e.tied_with_best && !rank.starts_with('1') && !reference {
            "<span class=\"tied\">tied</span>"
        } else {
            ""
        };
        let width = (rel(e.ratio).clamp(0.0, 1.0) * 160.0).round();
        let name = if reference {
            format!(
                "{} <span class=\"muted\">(reference, {})</span>",
                esc(&palette.label(&e.implementation)),
                esc(e.reference.as_deref().unwrap_or("not ranked"))
            )
        } else {
            esc(&palette.label(&e.implementation))
        };
        let _ = writeln!(
            h,
            "<tr><td class=\"num\">{rank}</td><td>{}{name}</td><td class=\"num\">{}{noisy}{}</td>\
             <td class=\"num\">{}{tied}{interval}</td><td><span class=\"bar\" style=\"width:{width}px;background:{}\"></span></td></tr>",
            swatch(palette, &e.implementation),
            esc(&fmt_value(r.metric.unit, e.estimate.median)),
            if e.estimate.has_interval {
                format!(
                    "<span class=\"ci\">{}</span>",
                    esc(&fmt_range(r.metric.unit, e.estimate.lo, e.estimate.hi))
                )
            } else {
                String::new()
            },
            fmt_ratio(e.ratio),
            palette.hex(&e.implementation)
        );
    };
    for (i, e) in r.entries.iter().enumerate() {
        row(h, (i + 1).to_string(), e, false);
    }
    for e in &r.references {
        row(h, "–".into(), e, true);
    }
    let _ = writeln!(h, "</table>\n</div>");
}

fn detail_table(h: &mut String, t: &Table, palette: &Palette) {
    if !t.title.is_empty() {
        let _ = writeln!(h, "<h4>{}</h4>", esc(&t.title));
    }
    let _ = writeln!(h, "<div class=\"scroll\"><table>\n<tr>");
    for l in &t.label_headers {
        let _ = write!(h, "<th>{}</th>", esc(l));
    }
    for c in &t.columns {
        let _ = write!(h, "<th class=\"num\">{}</th>", esc(c.label));
    }
    let _ = writeln!(h, "<th>notes</th></tr>");
    for r in &t.rows {
        let _ = write!(h, "<tr>");
        for (i, l) in r.labels.iter().enumerate() {
            if (i == 0 && t.label_headers[0] == "implementation")
                || (i == 1 && l == &r.implementation)
            {
                let _ = write!(
                    h,
                    "<td>{}{}</td>",
                    swatch(palette, &r.implementation),
                    esc(l)
                );
            } else {
                let _ = write!(h, "<td>{}</td>", esc(l));
            }
        }
        for (i, v) in r.values.iter().enumerate() {
            let unit = t.columns[i].unit;
            match v {
                Some(e) => {
                    let noisy = if e.noisy() {
                        format!(
                            " <span class=\"noisy\" title=\"coefficient of variation {:.0}%\">⚠</span>",
                            e.cv.unwrap_or(0.0) * 100.0
                        )
                    } else {
                        String::new()
                    };
                    let ci = if e.has_interval {
                        format!(
                            "<span class=\"ci\">{}</span>",
                            esc(&fmt_range(unit, e.lo, e.hi))
                        )
                    } else {
                        String::new()
                    };
                    let _ = write!(
                        h,
                        "<td class=\"num\">{}{noisy}{ci}</td>",
                        esc(&fmt_value(unit, e.median))
                    );
                }
                None => {
                    let _ = write!(h, "<td class=\"num muted\">–</td>");
                }
            }
        }
        let mut notes: Vec<String> = Vec::new();
        if r.status != CellStatus::Ok {
            notes.push(format!(
                "<span class=\"bad\">{}</span>: {}",
                status_text(r.status),
                esc(r.reason.as_deref().unwrap_or(""))
            ));
        }
        notes.extend(r.flags.iter().map(|f| format!("<code>{}</code>", esc(f))));
        let _ = writeln!(h, "<td>{}</td></tr>", notes.join(" "));
    }
    let _ = writeln!(h, "</table></div>");
}
