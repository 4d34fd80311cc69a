//! The report's document outline, built once from the results and rendered by every text format (HTML,
//! Markdown), in the manner of hyperfine's markup exporter: what the report says and in which order lives
//! here; how a heading, table or folded block looks lives in each renderer.
//!
//! Most blocks are generic (sections, headings, paragraphs, lists, tables, figures, folded details, code).
//! The four dense tables whose layout differs on purpose between a wide page and a plain-text table
//! (decision matrix, rankings, per-workload measurements, implementations) and the caveats are typed
//! blocks carrying the analysed data; each renderer lays them out itself.

use super::analysis::{
    Insight, Ranking, Table as Measurements, Warning, backpressure, insights, tables, warnings,
    workload_title, workloads,
};
use super::caveats::{Caveat, caveats};
use super::charts::{Chart, Charts};
use super::markdown::{HOW_TO_READ, HeaderText, environment_rows, header_lines};
use super::matrix::{Matrix, matrix};
use super::metrics::NOISY_CV;
use super::palette::Palette;
use crate::results::{ImplementationInfo, Results};

/// The whole report: its header and its blocks, plus what renderers need to label implementations.
pub struct Document<'a> {
    pub run_id: &'a str,
    pub header: HeaderText,
    pub palette: Palette,
    pub blocks: Vec<Block<'a>>,
}

/// A run of inline text.
#[derive(Debug, Clone, PartialEq)]
pub enum Inline {
    /// Text, escaped for every format.
    Text(String),
    /// The harness's own wording, never text from the results: escaped for HTML, written as it is in
    /// Markdown (where it may use `>` without turning into `&gt;`).
    Own(String),
    /// Strong emphasis.
    Strong(String),
    /// An inline code span.
    Code(String),
    /// A machine name (finding kind): code on the page, plain text in a Markdown table.
    Key(String),
    /// An implementation, under its report label (with its colour swatch where the format has colour).
    Impl(String),
    /// A verdict that holds ("held"): green on the page, plain elsewhere.
    Good(String),
    /// A verdict that failed ("VIOLATED"): red on the page, strong elsewhere.
    Bad(String),
    /// A link within the document (`#charts`).
    Link { text: String, href: String },
}

/// A table of inline cells: optional header row, first column as row headers when `row_headers`.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub header: Option<Vec<String>>,
    pub rows: Vec<Vec<Vec<Inline>>>,
    pub row_headers: bool,
}

/// A chart with its caption. The lead figure sits beside the summary on the page.
pub struct Figure<'a> {
    pub chart: &'a Chart,
    pub caption: Vec<Inline>,
    pub lead: bool,
}

/// A top-level part of the report.
pub struct Section<'a> {
    /// Anchor on the page.
    pub id: &'static str,
    /// Short label in the page's navigation bar.
    pub nav: &'static str,
    pub heading: Option<&'static str>,
    pub body: Vec<Block<'a>>,
    /// Said instead of an empty body where every section is kept (the page links to each from its
    /// navigation bar); formats without navigation leave an empty section out.
    pub placeholder: Option<&'static str>,
}

/// One block of the document.
pub enum Block<'a> {
    Section(Section<'a>),
    /// A heading inside a section: level 3 for a workload, 4 for a table's title.
    Heading {
        level: u8,
        text: Vec<Inline>,
    },
    Paragraph(Vec<Inline>),
    /// A reading guide: a quieter paragraph.
    Aside(Vec<Inline>),
    /// Free text from the results, with its own paragraphs (blank lines) and line breaks.
    Prose(String),
    List(Vec<Vec<Inline>>),
    Table(Table),
    Figure(Figure<'a>),
    /// Folded content; `grid` lays the children out in columns where the format can.
    Details {
        summary: String,
        body: Vec<Block<'a>>,
        grid: bool,
    },
    Code {
        lang: &'static str,
        text: String,
    },
    /// Side by side where the format can; `aside` only repeats content shown elsewhere, so formats
    /// without columns leave it out.
    Columns {
        main: Vec<Block<'a>>,
        aside: Vec<Block<'a>>,
    },
    /// What to know before trusting a number.
    Caveats(Vec<Caveat>),
    Matrix(Matrix),
    Ranking {
        what: String,
        ranking: Ranking,
    },
    Measurements(Measurements),
    Implementations(&'a [ImplementationInfo]),
}

fn text(s: impl Into<String>) -> Inline {
    Inline::Text(s.into())
}

fn para(s: impl Into<String>) -> Block<'static> {
    Block::Paragraph(vec![text(s)])
}

fn section<'a>(
    id: &'static str,
    nav: &'static str,
    heading: &'static str,
    body: Vec<Block<'a>>,
) -> Block<'a> {
    Block::Section(Section {
        id,
        nav,
        heading: Some(heading),
        body,
        placeholder: None,
    })
}

/// Builds the report's outline from the results and the charts drawn from them.
pub fn build<'a>(results: &'a Results, charts: &'a Charts) -> Document<'a> {
    let palette = Palette::new(results);
    let warns = warnings(results, &palette);
    let mx = matrix(results, &palette);
    let cavs = caveats(results, &palette, &warns, &mx);
    let summary = if mx.rows.is_empty() {
        para("No completed measurements to compare.")
    } else {
        Block::Matrix(mx)
    };
    let mut blocks = vec![section(
        "summary",
        "Decision matrix",
        "Decision matrix",
        vec![summary],
    )];
    blocks.extend(picks(results, charts, &palette, cavs));
    blocks.push(measurements(results, &palette));
    blocks.push(chart_section(results, charts));
    blocks.push(environment(results));
    blocks.push(section(
        "implementations",
        "Implementations",
        "Implementations",
        vec![Block::Implementations(&results.implementations)],
    ));
    blocks.push(findings(results, &palette, &warns));
    blocks.push(notes(results));
    Document {
        run_id: &results.run_id,
        header: header_lines(results),
        palette,
        blocks,
    }
}

/// The caveats, the picks (beside the lead chart), how to read them, and the rankings behind them.
fn picks<'a>(
    results: &Results,
    charts: &'a Charts,
    palette: &Palette,
    cavs: Vec<Caveat>,
) -> Vec<Block<'a>> {
    let ins = insights(results, palette);
    let mut body = Vec::new();
    if !cavs.is_empty() {
        body.push(Block::Caveats(cavs));
    }
    body.push(Block::Heading {
        level: 2,
        text: vec![text("What to pick for what")],
    });
    if ins.is_empty() {
        body.push(para("No completed measurements to summarise."));
    } else {
        let items = ins
            .iter()
            .map(|i| match i {
                Insight::Pick { what, ranking } => vec![
                    Inline::Strong(format!("{what}:")),
                    text(format!(" {}", ranking.sentence(2, palette))),
                ],
                Insight::Statement { what, text: t } => {
                    vec![Inline::Strong(format!("{what}:")), text(format!(" {t}"))]
                }
            })
            .collect();
        body.push(Block::List(items));
    }
    let main = vec![Block::Section(Section {
        id: "picks",
        nav: "What to pick",
        heading: None,
        body,
        placeholder: None,
    })];
    let aside = charts
        .charts
        .first()
        .map(|c| {
            Block::Figure(Figure {
                chart: c,
                caption: vec![
                    text(format!("{} ", c.caption)),
                    Inline::Link {
                        text: "All charts".into(),
                        href: "#charts".into(),
                    },
                ],
                lead: true,
            })
        })
        .into_iter()
        .collect();
    let mut out = vec![Block::Columns { main, aside }, Block::Aside(how_to_read())];
    let rankings: Vec<Block> = ins
        .into_iter()
        .filter_map(|i| match i {
            Insight::Pick { what, ranking } if ranking.entries.len() > 1 => {
                Some(Block::Ranking { what, ranking })
            }
            _ => None,
        })
        .collect();
    if !rankings.is_empty() {
        out.push(Block::Details {
            summary: "Rankings behind each pick, with ratios and intervals".into(),
            body: rankings,
            grid: true,
        });
    }
    out
}

/// [`HOW_TO_READ`] with its code spans as [`Inline::Code`].
fn how_to_read() -> Vec<Inline> {
    HOW_TO_READ
        .split('`')
        .enumerate()
        .filter(|(_, part)| !part.is_empty())
        .map(|(i, part)| {
            if i % 2 == 1 {
                Inline::Code(part.into())
            } else {
                text(part)
            }
        })
        .collect()
}

/// Per workload, its measurement tables.
fn measurements<'a>(results: &Results, palette: &Palette) -> Block<'a> {
    let all = tables(results, palette);
    let mut body = Vec::new();
    if all.is_empty() {
        body.push(para("No cells were measured."));
    }
    for w in workloads(results) {
        body.push(Block::Heading {
            level: 3,
            text: vec![text(workload_title(&w))],
        });
        body.extend(
            all.iter()
                .filter(|t| t.workload == w)
                .map(|t| Block::Measurements(t.clone())),
        );
    }
    section("results", "Results", "Results by workload", body)
}

/// Per workload, its charts.
fn chart_section<'a>(results: &Results, charts: &'a Charts) -> Block<'a> {
    let mut body = Vec::new();
    for w in workloads(results) {
        // The same charts as `Charts::for_workload`, borrowed from `charts` rather than from `w`.
        let cs: Vec<&'a Chart> = charts.charts.iter().filter(|c| c.workload == w).collect();
        if cs.is_empty() {
            continue;
        }
        body.push(Block::Heading {
            level: 3,
            text: vec![text(workload_title(&w))],
        });
        body.extend(cs.into_iter().map(|c| {
            Block::Figure(Figure {
                chart: c,
                caption: vec![text(c.caption.clone())],
                lead: false,
            })
        }));
    }
    Block::Section(Section {
        id: "charts",
        nav: "Charts",
        heading: Some("Charts"),
        body,
        placeholder: Some("No data to chart."),
    })
}

/// The machine, the toolchains and the harness configuration.
fn environment<'a>(results: &Results) -> Block<'a> {
    let env = &results.environment;
    let rows = environment_rows(results)
        .into_iter()
        .map(|(k, v)| vec![vec![text(k)], vec![text(v)]])
        .collect();
    let mut body = vec![Block::Table(Table {
        header: None,
        rows,
        row_headers: true,
    })];
    if !env.toolchains.is_empty() {
        body.push(Block::Table(Table {
            header: Some(vec!["toolchain".into(), "version".into()]),
            rows: env
                .toolchains
                .iter()
                .map(|(k, v)| vec![vec![text(k)], vec![text(v)]])
                .collect(),
            row_headers: false,
        }));
    }
    if !env.config.is_null() {
        body.push(Block::Details {
            summary: "Harness configuration".into(),
            body: vec![Block::Code {
                lang: "json",
                text: serde_json::to_string_pretty(&env.config).unwrap_or_default(),
            }],
            grid: false,
        });
    }
    section("environment", "Environment", "Environment", body)
}

/// Backpressure verdicts and every finding and warning (folded).
fn findings<'a>(results: &Results, palette: &Palette, warns: &[Warning]) -> Block<'a> {
    let mut body = Vec::new();
    let bp = backpressure(results, palette);
    if !bp.is_empty() {
        body.push(Block::Heading {
            level: 3,
            text: vec![text("Backpressure (stream)")],
        });
        let rows = bp
            .iter()
            .map(|v| {
                let verdict = if v.held {
                    Inline::Good("held".into())
                } else {
                    Inline::Bad("VIOLATED".into())
                };
                vec![
                    vec![Inline::Impl(v.implementation.clone())],
                    vec![text(&v.scenario)],
                    vec![verdict],
                    vec![text(&v.message)],
                ]
            })
            .collect();
        body.push(Block::Table(Table {
            header: Some(
                ["implementation", "scenario", "verdict", "detail"]
                    .map(String::from)
                    .to_vec(),
            ),
            rows,
            row_headers: false,
        }));
    }
    if warns.is_empty() {
        body.push(Block::Paragraph(vec![Inline::Own(format!(
            "No warnings: no noisy headline metric (CV > {:.0}%), no failures, no client bottleneck or \
             busy machine flagged.",
            NOISY_CV * 100.0
        ))]));
    } else {
        let rows = warns
            .iter()
            .map(|w| {
                vec![
                    vec![Inline::Key(w.kind.name().to_string())],
                    vec![text(&w.subject)],
                    vec![text(&w.message)],
                ]
            })
            .collect();
        body.push(Block::Details {
            summary: format!("All {} findings and warnings", warns.len()),
            body: vec![Block::Table(Table {
                header: Some(["kind", "subject", "message"].map(String::from).to_vec()),
                rows,
                row_headers: false,
            })],
            grid: false,
        });
    }
    section("findings", "Findings", "Findings and warnings", body)
}

/// The implementations' own notes.
fn notes<'a>(results: &Results) -> Block<'a> {
    let mut body = Vec::new();
    for i in results
        .implementations
        .iter()
        .filter(|i| !i.notes.trim().is_empty())
    {
        body.push(Block::Heading {
            level: 3,
            text: vec![Inline::Impl(i.name.clone())],
        });
        body.push(Block::Prose(i.notes.trim().to_string()));
    }
    Block::Section(Section {
        id: "notes",
        nav: "Notes",
        heading: Some("Implementation notes"),
        body,
        placeholder: Some("No notes recorded."),
    })
}

impl Document<'_> {
    /// The navigation entries (anchor, label) of every section, in order.
    pub fn nav(&self) -> Vec<(&'static str, &'static str)> {
        fn walk(blocks: &[Block], out: &mut Vec<(&'static str, &'static str)>) {
            for b in blocks {
                match b {
                    Block::Section(s) => {
                        out.push((s.id, s.nav));
                        walk(&s.body, out);
                    }
                    Block::Columns { main, aside } => {
                        walk(main, out);
                        walk(aside, out);
                    }
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.blocks, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn how_to_read_keeps_every_character() {
        let parts = how_to_read();
        let joined: String = parts
            .iter()
            .map(|p| match p {
                Inline::Text(t) => t.clone(),
                Inline::Code(c) => format!("`{c}`"),
                _ => panic!("unexpected inline {p:?}"),
            })
            .collect();
        assert_eq!(joined, HOW_TO_READ);
        assert!(parts.iter().any(|p| matches!(p, Inline::Code(_))));
    }

    fn small() -> Results {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/small.json");
        crate::results::load(&path).expect("fixture loads")
    }

    /// Heading texts of the page, in order, with tags and the swatches' markup removed.
    fn html_headings(html: &str) -> Vec<String> {
        let mut out = Vec::new();
        for level in ["<h2>", "<h3>", "<h4>"] {
            let mut rest = html;
            while let Some(i) = rest.find(level) {
                let body = &rest[i + 4..];
                let end = body.find("</h").expect("closed heading");
                out.push((html.len() - rest.len() + i, body[..end].to_string()));
                rest = &body[end..];
            }
        }
        out.sort();
        out.into_iter()
            .map(|(_, h)| {
                let mut text = String::new();
                let mut in_tag = false;
                for ch in h.chars() {
                    match ch {
                        '<' => in_tag = true,
                        '>' => in_tag = false,
                        c if !in_tag => text.push(c),
                        _ => {}
                    }
                }
                text.replace("&#39;", "'")
                    .replace("&quot;", "\"")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&")
            })
            .collect()
    }

    #[test]
    fn page_and_markdown_walk_the_same_outline() {
        let r = small();
        let charts = Charts::build(&r);
        let html = super::super::html::render(&r, &charts).expect("renders");
        let md = super::super::markdown::render(&r, &charts);
        let md_headings: Vec<String> = md
            .lines()
            .filter(|l| l.starts_with("##"))
            .map(|l| l.trim_start_matches('#').trim().to_string())
            .collect();
        let page = html_headings(&html);
        assert!(md_headings.len() > 10, "{md_headings:?}");
        assert_eq!(page, md_headings);
        // Every section is in the page's navigation bar, in document order.
        let doc = build(&r, &charts);
        let ids: Vec<&str> = doc.nav().iter().map(|(id, _)| *id).collect();
        assert_eq!(
            ids,
            [
                "summary",
                "picks",
                "results",
                "charts",
                "environment",
                "implementations",
                "findings",
                "notes"
            ]
        );
    }

    #[test]
    fn empty_sections_keep_their_anchor_on_the_page_only() {
        let mut r = small();
        r.cells.clear();
        r.implementations.clear();
        let charts = Charts::build(&r);
        let html = super::super::html::render(&r, &charts).expect("renders");
        let md = super::super::markdown::render(&r, &charts);
        for placeholder in ["No data to chart.", "No notes recorded."] {
            assert!(
                html.contains(&format!("<p>{placeholder}</p>")),
                "{placeholder}"
            );
            assert!(!md.contains(placeholder), "{placeholder}");
        }
        assert!(html.contains("<section id=\"charts\">\n<h2>Charts</h2>"));
        assert!(!md.contains("## Charts"));
        assert!(!md.contains("## Implementation notes"));
    }
}
