//! `report.html`: one self-contained page. Inline CSS and inline SVG charts only: no scripts, fonts,
//! images or styles from anywhere else, so it opens offline and makes no request.

use super::analysis::{Ranking, Table, impl_status_text, status_text};
use super::caveats::Caveat;
use super::format::{fmt_range, fmt_ratio, fmt_ratio_range, fmt_value};
use super::matrix::{Matrix, MatrixCell, shade_rgb};
use super::metrics::{Better, Unit};
use super::outline::{self, Block, Inline};
use super::palette::Palette;
use super::{Artifact, Charts, Report};
use crate::finding::FindingKind;
use crate::results::{CellStatus, ImplStatus, ImplementationInfo, Results};
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
    let doc = outline::build(results, charts);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>asyncbench report — {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(doc.run_id)
    );
    let head = &doc.header;
    let _ = writeln!(
        h,
        "<header>\n<h1>asyncbench report <span class=\"muted\">— {}</span></h1>\n<p class=\"meta\">{}<br>{}</p>\n</header>",
        esc(&head.title),
        esc(&head.what),
        esc(&head.when)
    );
    let nav: String = doc
        .nav()
        .iter()
        .map(|(id, label)| format!("<a href=\"#{id}\">{}</a>", esc(label)))
        .collect();
    let _ = writeln!(h, "<nav>{nav}</nav>");
    blocks(&mut h, &doc.blocks, &doc.palette)?;
    let _ = writeln!(h, "</body>\n</html>");
    Ok(h)
}

fn blocks(h: &mut String, bs: &[Block], palette: &Palette) -> anyhow::Result<()> {
    for b in bs {
        block(h, b, palette)?;
    }
    Ok(())
}

/// One block of the outline.
fn block(h: &mut String, b: &Block, palette: &Palette) -> anyhow::Result<()> {
    match b {
        Block::Section(s) => {
            let _ = writeln!(h, "<section id=\"{}\">", s.id);
            if let Some(t) = s.heading {
                let _ = writeln!(h, "<h2>{}</h2>", esc(t));
            }
            match s.placeholder {
                Some(p) if s.body.is_empty() => {
                    let _ = writeln!(h, "<p>{}</p>", esc(p));
                }
                _ => blocks(h, &s.body, palette)?,
            }
            let _ = writeln!(h, "</section>");
        }
        Block::Heading { level, text } => {
            let _ = writeln!(h, "<h{level}>{}</h{level}>", inlines(text, palette));
        }
        Block::Paragraph(t) => {
            let _ = writeln!(h, "<p>{}</p>", inlines(t, palette));
        }
        Block::Aside(t) => {
            let _ = writeln!(h, "<p class=\"howto\">{}</p>", inlines(t, palette));
        }
        Block::Prose(t) => {
            let _ = writeln!(h, "<p class=\"notes\">{}</p>", esc(t));
        }
        Block::List(items) => {
            let _ = writeln!(h, "<ul class=\"picks\">");
            for i in items {
                let _ = writeln!(h, "<li>{}</li>", inlines(i, palette));
            }
            let _ = writeln!(h, "</ul>");
        }
        Block::Table(t) => table(h, t, palette),
        Block::Figure(f) => figure(h, f, palette)?,
        Block::Details {
            summary,
            body,
            grid,
        } => {
            if *grid {
                let _ = writeln!(
                    h,
                    "<details class=\"rankings-all\"><summary>{}</summary>\n<div class=\"rankings\">",
                    esc(summary)
                );
                blocks(h, body, palette)?;
                let _ = writeln!(h, "</div>\n</details>");
            } else {
                let _ = writeln!(h, "<details><summary>{}</summary>", esc(summary));
                blocks(h, body, palette)?;
                let _ = writeln!(h, "</details>");
            }
        }
        Block::Code { text, .. } => {
            let _ = writeln!(h, "<pre>{}</pre>", esc(text));
        }
        Block::Columns { main, aside } => {
            let _ = writeln!(h, "<div class=\"first\">");
            blocks(h, main, palette)?;
            blocks(h, aside, palette)?;
            let _ = writeln!(h, "</div>");
        }
        Block::Caveats(cavs) => {
            let _ = writeln!(
                h,
                "<h2>Before you trust a number</h2>\n<ul class=\"caveats\">"
            );
            for c in cavs {
                caveat_item(h, c);
            }
            let _ = writeln!(h, "</ul>");
        }
        Block::Matrix(mx) => matrix_table(h, mx, palette),
        Block::Ranking { what, ranking } => ranking_table(h, what, ranking, palette),
        Block::Measurements(t) => detail_table(h, t, palette),
        Block::Implementations(impls) => implementations(h, impls, palette),
    }
    Ok(())
}

/// Inline runs as HTML.
fn inlines(runs: &[Inline], palette: &Palette) -> String {
    let mut out = String::new();
    for r in runs {
        match r {
            Inline::Text(t) | Inline::Own(t) => out.push_str(&esc(t)),
            Inline::Strong(t) => {
                let _ = write!(out, "<strong>{}</strong>", esc(t));
            }
            Inline::Code(t) | Inline::Key(t) => {
                let _ = write!(out, "<code>{}</code>", esc(t));
            }
            Inline::Impl(name) => {
                let _ = write!(
                    out,
                    "{}{}",
                    swatch(palette, name),
                    esc(&palette.label(name))
                );
            }
            Inline::Good(t) => {
                let _ = write!(out, "<span class=\"good\">{}</span>", esc(t));
            }
            Inline::Bad(t) => {
                let _ = write!(out, "<span class=\"bad\">{}</span>", esc(t));
            }
            Inline::Link { text, href } => {
                let _ = write!(out, "<a href=\"{}\">{}</a>", esc(href), esc(text));
            }
        }
    }
    out
}

/// A generic table: header row of `th`, then rows (first cell a `th` with `row_headers`).
fn table(h: &mut String, t: &outline::Table, palette: &Palette) {
    let _ = writeln!(h, "<table>");
    if let Some(head) = &t.header {
        let cells: String = head
            .iter()
            .map(|c| format!("<th>{}</th>", esc(c)))
            .collect();
        let _ = writeln!(h, "<tr>{cells}</tr>");
    }
    for row in &t.rows {
        let cells: String = row
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let tag = if i == 0 && t.row_headers { "th" } else { "td" };
                format!("<{tag}>{}</{tag}>", inlines(c, palette))
            })
            .collect();
        let _ = writeln!(h, "<tr>{cells}</tr>");
    }
    let _ = writeln!(h, "</table>");
}

/// A chart inline as SVG with its caption; the lead figure is the one beside the summary.
fn figure(h: &mut String, f: &outline::Figure, palette: &Palette) -> anyhow::Result<()> {
    let svg = inline_svg(&f.chart.svg()?, &f.chart.title);
    let open = if f.lead {
        "<figure id=\"first-chart\" class=\"first-chart\">".to_string()
    } else {
        format!("<figure id=\"chart-{}\">", f.chart.id)
    };
    let _ = writeln!(
        h,
        "{open}\n{svg}\n<figcaption>{}</figcaption>\n</figure>",
        inlines(&f.caption, palette)
    );
    Ok(())
}

/// Every implementation: what it is, its status, verification and manifest environment.
fn implementations(h: &mut String, impls: &[ImplementationInfo], palette: &Palette) {
    let _ = writeln!(h, "<div class=\"scroll\"><table>");
    let _ = writeln!(
        h,
        "<tr><th>implementation</th><th>language</th><th>runtime</th><th>reported runtime</th><th>toolchain</th>\
         <th class=\"num\">threads</th><th>status</th><th>verification</th><th>environment</th></tr>"
    );
    for i in impls {
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
            swatch(palette, &i.name),
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
    let _ = writeln!(h, "</table></div>");
}

/// The decision matrix: value, rank and a best-to-worst shade per cell.
fn matrix_table(h: &mut String, mx: &Matrix, palette: &Palette) {
    let _ = writeln!(
        h,
        "<div class=\"scroll\"><table class=\"matrix\">\n<thead><tr><th>implementation</th>"
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
                Some(c) => h.push_str(&matrix_cell(c, unit, r.reference)),
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

/// One matrix cell: value, noise mark, rank, and its shade (none on a reference row).
fn matrix_cell(c: &MatrixCell, unit: Unit, reference: bool) -> String {
    let (rr, gg, bb) = shade_rgb(c.shade);
    let style = if reference {
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
    format!(
        "<td class=\"num\"{style}>{ge}{}{noisy} {rank}</td>",
        esc(&fmt_value(unit, c.estimate.median))
    )
}

/// One caveat: its meaning, count, and the affected cells (folded when long).
fn caveat_item(h: &mut String, c: &Caveat) {
    let affected = c.affected.join("; ");
    let count = format!(
        "{} {}",
        c.count,
        match c.kind {
            FindingKind::NotRun => "implementations",
            FindingKind::BusyMachine | FindingKind::DirtyTree => "run",
            _ if c.count == 1 => "cell",
            _ => "cells",
        }
    );
    let _ = write!(
        h,
        "<li class=\"caveat\"><strong><code>{}</code> ({count}):</strong> {}",
        esc(c.kind.name()),
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
