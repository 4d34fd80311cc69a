//! Charts: each chart type lives in its own file and turns results into a [`Figure`] (pure data);
//! `render` draws figures with plotters, as SVG for the HTML report and PNG for the Markdown report.
//! A chart type with no data produces no chart.
//!
//! Text in PNGs is rendered with DejaVu Sans embedded from the `dejavu` crate (pure Rust via ab_glyph),
//! so rendering needs no system fonts. SVG text names `sans-serif` and is drawn by the browser.

mod echo_latency_spectrum;
mod echo_latency_vs_load;
mod echo_throughput;
mod fanout_bytes_per_task;
mod fanout_rss;
mod futures_sizes;
mod micro;
mod render;
mod stream_throughput;

use super::analysis::client_bound;
use super::metrics::{Better, Estimate, Unit, estimate};
use super::palette::{Marker, Palette};
use crate::results::{Cell, Results};

pub use render::{render_png, render_svg};

/// How an axis maps values to positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    /// Base-10 logarithmic; values must be positive.
    Log,
    /// Percentiles (0–100) on an HdrHistogram-style axis: position = −log10(1 − p/100), so 90 %, 99 %,
    /// 99.9 % are equally spaced.
    Nines,
}

/// An axis: its description (with unit), how its tick labels are printed, and its scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub label: String,
    pub unit: Unit,
    pub scale: Scale,
    /// How one value of this axis reads in a title, `{}` standing for the value ("{} connections"):
    /// used when every point shares one x and the chart is drawn as bars instead.
    pub at: &'static str,
}

impl Axis {
    pub fn new(label: impl Into<String>, unit: Unit, scale: Scale, at: &'static str) -> Self {
        Axis {
            label: label.into(),
            unit,
            scale,
            at,
        }
    }
}

/// A point of a line series, with an optional vertical interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub y_lo: Option<f64>,
    pub y_hi: Option<f64>,
    /// Drawn hollow: the data says this value is a bound, not a measurement of the server alone (the
    /// load generator was the bottleneck).
    pub hollow: bool,
}

/// A line with markers.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The label readers see (the implementation's display label).
    pub name: String,
    pub color: (u8, u8, u8),
    pub marker: Marker,
    pub points: Vec<Point>,
    /// Drawn dashed (reference implementations and variants of another implementation).
    pub dashed: bool,
}

/// A horizontal bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    pub color: (u8, u8, u8),
    /// Outline only: a lower bound (client-bound), as hollow points are on line charts.
    pub hollow: bool,
}

/// A vertical reference line across a bar chart.
#[derive(Debug, Clone, PartialEq)]
pub struct RefLine {
    pub value: f64,
    pub label: String,
}

/// What a chart shows, independent of how it is drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    Lines {
        x: Axis,
        y: Axis,
        series: Vec<Series>,
        /// Which direction of y is better: orders the bars when the chart collapses to one x.
        better: Better,
    },
    Bars {
        value: Axis,
        bars: Vec<Bar>,
        refs: Vec<RefLine>,
        legend: Vec<(String, (u8, u8, u8))>,
    },
}

/// One chart: a stable id (file stem), a title, a caption saying how to read it, and the figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub id: String,
    pub workload: String,
    pub title: String,
    pub caption: String,
    pub figure: Figure,
}

impl Chart {
    /// The chart as a standalone SVG document.
    pub fn svg(&self) -> anyhow::Result<String> {
        render_svg(self)
    }

    /// The chart as PNG bytes.
    pub fn png(&self) -> anyhow::Result<Vec<u8>> {
        render_png(self)
    }
}

/// A chart type: builds its charts (none when the results have nothing for it).
pub type Builder = fn(&Results, &Palette) -> Vec<Chart>;

/// Every chart type, in report order, by the names workload definitions list in `charts`.
pub const BUILDERS: &[(&str, Builder)] = &[
    ("echo_throughput", echo_throughput::build),
    ("echo_latency_spectrum", echo_latency_spectrum::build),
    ("echo_latency_vs_load", echo_latency_vs_load::build),
    ("fanout_rss", fanout_rss::build),
    ("fanout_bytes_per_task", fanout_bytes_per_task::build),
    ("stream_throughput", stream_throughput::build),
    ("futures_sizes", futures_sizes::build),
    ("micro", micro::build),
];

/// Every chart the results support, in report order.
#[derive(Debug, Clone, Default)]
pub struct Charts {
    pub charts: Vec<Chart>,
}

impl Charts {
    /// Builds every chart type from the results (no drawing happens here).
    pub fn build(results: &Results) -> Self {
        let palette = Palette::new(results);
        let mut charts: Vec<Chart> = BUILDERS
            .iter()
            .flat_map(|(_, build)| build(results, &palette))
            .collect();
        for c in &mut charts {
            single_x_to_bars(c);
        }
        // Ids are file names: keep them unique.
        let mut seen: Vec<String> = Vec::new();
        for c in &mut charts {
            let base = c.id.clone();
            let mut n = 2;
            while seen.contains(&c.id) {
                c.id = format!("{base}-{n}");
                n += 1;
            }
            seen.push(c.id.clone());
        }
        Charts { charts }
    }

    pub fn for_workload<'a>(&'a self, workload: &'a str) -> impl Iterator<Item = &'a Chart> + 'a {
        self.charts.iter().filter(move |c| c.workload == workload)
    }
}

/// A file-name-safe slug of `text` (lowercase ASCII letters, digits and dashes, at most 60 characters).
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for ch in text.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut out = out.trim_end_matches('-').to_string();
    if out.len() > 60 {
        out.truncate(60);
        out = out.trim_end_matches('-').to_string();
    }
    out
}

/// A line series for `implementation`, styled by its name (colour, marker, dash), labelled for readers.
pub fn styled_series(palette: &Palette, implementation: &str, points: Vec<Point>) -> Series {
    let st = palette.style(implementation);
    Series {
        name: palette.label(implementation),
        color: st.rgb,
        marker: st.marker,
        points,
        dashed: st.dashed || palette.is_reference(implementation),
    }
}

/// One series per implementation: each cell contributes the point (`x(cell)`, `metric`), with the
/// metric's interval as the error bar; throughput points of client-bound cells are hollow. Cells without
/// either are skipped; series without points dropped.
fn series_per_impl(
    cells: &[&Cell],
    palette: &Palette,
    x: impl Fn(&Cell) -> Option<f64>,
    metric: &str,
) -> Vec<Series> {
    let mut out: Vec<(String, Vec<Point>)> = Vec::new();
    for c in cells {
        let (Some(xv), Some(e)) = (x(c), estimate(c, metric)) else {
            continue;
        };
        let mut p = point(xv, &e);
        p.hollow = metric.starts_with("throughput") && client_bound(c);
        match out.iter_mut().find(|(n, _)| *n == c.implementation) {
            Some((_, pts)) => pts.push(p),
            None => out.push((c.implementation.clone(), vec![p])),
        }
    }
    out.sort_by_key(|(n, _)| palette.index(n));
    out.into_iter()
        .filter(|(_, pts)| !pts.is_empty())
        .map(|(n, mut pts)| {
            pts.sort_by(|a, b| a.x.total_cmp(&b.x));
            styled_series(palette, &n, pts)
        })
        .collect()
}

fn point(x: f64, e: &Estimate) -> Point {
    Point {
        x,
        y: e.median,
        y_lo: e.has_interval.then_some(e.lo),
        y_hi: e.has_interval.then_some(e.hi),
        hollow: false,
    }
}

/// A line chart whose points all share one x says nothing a line can: it becomes horizontal bars,
/// best first, with that x named in the title.
fn single_x_to_bars(chart: &mut Chart) {
    let Figure::Lines {
        x,
        y,
        series,
        better,
    } = &chart.figure
    else {
        return;
    };
    let mut xs: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.x))
        .collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    if xs.len() != 1 {
        return;
    }
    let at = x.at.replace("{}", &super::format::fmt_tick(x.unit, xs[0]));
    let mut bars: Vec<Bar> = series
        .iter()
        .flat_map(|s| {
            s.points.iter().map(|p| Bar {
                label: s.name.clone(),
                value: p.y,
                lo: p.y_lo,
                hi: p.y_hi,
                color: s.color,
                hollow: p.hollow,
            })
        })
        .collect();
    match better {
        Better::Higher => bars.sort_by(|a, b| b.value.total_cmp(&a.value)),
        _ => bars.sort_by(|a, b| a.value.total_cmp(&b.value)),
    }
    // "Echo throughput vs connections — 4 KiB messages" → "Echo throughput — 4 KiB messages, 64 connections".
    let title = match chart.title.split_once(" vs ") {
        Some((what, rest)) => match rest.split_once(" — ") {
            Some((_, detail)) => format!("{what} — {detail}, {at}"),
            None => format!("{what} — {at}"),
        },
        None => format!("{} — {at}", chart.title),
    };
    let value = y.clone();
    chart.title = title;
    chart.caption = format!(
        "{} Every implementation was measured at one point ({at}), so the chart shows bars, best first.",
        chart.caption
    );
    chart.figure = Figure::Bars {
        value,
        bars,
        refs: Vec::new(),
        legend: Vec::new(),
    };
}

/// Log scale when the positive values span more than `ratio`, linear otherwise.
fn auto_scale(values: impl Iterator<Item = f64>, ratio: f64) -> Scale {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut any_non_positive = false;
    for v in values {
        if v <= 0.0 {
            any_non_positive = true;
        }
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !any_non_positive && lo.is_finite() && hi / lo > ratio {
        Scale::Log
    } else {
        Scale::Linear
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(x: f64, y: f64, hollow: bool) -> Point {
        Point {
            x,
            y,
            y_lo: None,
            y_hi: None,
            hollow,
        }
    }

    fn chart(series: Vec<Series>, better: Better) -> Chart {
        Chart {
            id: "t".into(),
            workload: "echo".into(),
            title: "Echo throughput vs connections — 4 KiB messages".into(),
            caption: "Caption.".into(),
            figure: Figure::Lines {
                x: Axis::new("connections", Unit::Count, Scale::Linear, "{} connections"),
                y: Axis::new("throughput", Unit::MsgsPerS, Scale::Linear, "{}"),
                series,
                better,
            },
        }
    }

    #[test]
    fn a_single_x_becomes_sorted_bars_best_first() {
        let p = Palette::empty();
        let mut c = chart(
            vec![
                styled_series(&p, "go", vec![pt(64.0, 5.0, false)]),
                styled_series(&p, "node", vec![pt(64.0, 9.0, true)]),
                styled_series(&p, "rust-tokio", vec![pt(64.0, 7.0, false)]),
            ],
            Better::Higher,
        );
        single_x_to_bars(&mut c);
        let Figure::Bars { bars, .. } = &c.figure else {
            panic!("still lines: {c:?}")
        };
        let order: Vec<&str> = bars.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(order, ["node", "rust-tokio", "go"]);
        assert!(bars[0].hollow, "client-bound stays visible as a bound");
        assert_eq!(c.title, "Echo throughput — 4 KiB messages, 64 connections");

        // Lower is better: ascending. Two x values: untouched.
        let mut low = chart(
            vec![
                styled_series(&p, "go", vec![pt(1.0, 5.0, false)]),
                styled_series(&p, "node", vec![pt(1.0, 3.0, false)]),
            ],
            Better::Lower,
        );
        single_x_to_bars(&mut low);
        let Figure::Bars { bars, .. } = &low.figure else {
            panic!()
        };
        assert_eq!(bars[0].label, "node");
        let mut two = chart(
            vec![styled_series(
                &p,
                "go",
                vec![pt(1.0, 5.0, false), pt(2.0, 6.0, false)],
            )],
            Better::Higher,
        );
        single_x_to_bars(&mut two);
        assert!(matches!(two.figure, Figure::Lines { .. }));
    }

    #[test]
    fn colours_follow_the_name_not_the_subset() {
        let p = Palette::empty();
        let a = styled_series(&p, "node", vec![]);
        let b = styled_series(&p, "node", vec![pt(1.0, 1.0, false)]);
        assert_eq!((a.color, a.marker), (b.color, b.marker));
        assert_ne!(
            styled_series(&p, "node", vec![]).color,
            styled_series(&p, "python-asyncio", vec![]).color
        );
    }
}
