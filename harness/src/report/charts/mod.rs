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

use super::metrics::{Estimate, Unit, estimate};
use super::palette::Palette;
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
}

/// A point of a line series, with an optional vertical interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub y_lo: Option<f64>,
    pub y_hi: Option<f64>,
}

/// A line with markers.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub color: (u8, u8, u8),
    pub points: Vec<Point>,
    /// Drawn dashed (reference implementations).
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

/// Every chart the results support, in report order.
#[derive(Debug, Clone, Default)]
pub struct Charts {
    pub charts: Vec<Chart>,
}

impl Charts {
    /// Builds every chart type from the results (no drawing happens here).
    pub fn build(results: &Results) -> Self {
        let palette = Palette::new(results);
        let mut charts = Vec::new();
        charts.extend(echo_throughput::build(results, &palette));
        charts.extend(echo_latency_spectrum::build(results, &palette));
        charts.extend(echo_latency_vs_load::build(results, &palette));
        charts.extend(fanout_rss::build(results, &palette));
        charts.extend(fanout_bytes_per_task::build(results, &palette));
        charts.extend(stream_throughput::build(results, &palette));
        charts.extend(futures_sizes::build(results, &palette));
        charts.extend(micro::build(results, &palette));
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

/// One series per implementation: each cell contributes the point (`x(cell)`, `metric`), with the
/// metric's interval as the error bar. Cells without either are skipped; series without points dropped.
fn series_per_impl(
    cells: &[&Cell],
    palette: &Palette,
    x: impl Fn(&Cell) -> Option<f64>,
    metric: &str,
) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for c in cells {
        let (Some(xv), Some(e)) = (x(c), estimate(c, metric)) else {
            continue;
        };
        let p = point(xv, &e);
        match out.iter_mut().find(|s| s.name == c.implementation) {
            Some(s) => s.points.push(p),
            None => out.push(Series {
                name: c.implementation.clone(),
                color: palette.rgb(&c.implementation),
                points: vec![p],
                dashed: palette.is_reference(&c.implementation),
            }),
        }
    }
    for s in &mut out {
        s.points.sort_by(|a, b| a.x.total_cmp(&b.x));
    }
    out.sort_by_key(|s| palette.index(&s.name));
    out.retain(|s| !s.points.is_empty());
    out
}

fn point(x: f64, e: &Estimate) -> Point {
    Point {
        x,
        y: e.median,
        y_lo: e.has_interval.then_some(e.lo),
        y_hi: e.has_interval.then_some(e.hi),
    }
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
