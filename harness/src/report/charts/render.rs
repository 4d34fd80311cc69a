//! Drawing [`Figure`]s with plotters. Every axis is drawn on a linear coordinate of *transformed* values
//! (log10 for log scales, "nines" for percentiles) with explicit tick positions, so one code path serves
//! every scale and the tick labels are exactly the values a reader expects (1, 10, 100; 90 %, 99 %).

use super::{Axis, Bar, Chart, Figure, Point, RefLine, Scale, Series};
use crate::report::format::fmt_tick;
use crate::report::metrics::Unit;
use crate::report::palette::Marker;
use anyhow::anyhow;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::sync::Once;

const FONT: &str = "sans-serif";
const WIDTH: u32 = 960;
const LINE_HEIGHT: u32 = 480;
const BAR_ROW: u32 = 26;
/// Highest percentile position drawn: 99.99999 %.
const MAX_NINES: f64 = 7.0;

static FONTS: Once = Once::new();

/// Registers the embedded DejaVu Sans as plotters' `sans-serif` (needed for text layout in both
/// backends and for glyphs in PNGs).
fn register_fonts() {
    FONTS.call_once(|| {
        // Both fonts are valid TrueType files shipped by the `dejavu` crate; failure is impossible short
        // of a corrupted build, and text would then be missing rather than the report failing.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// Pixel size of a chart.
pub fn size(chart: &Chart) -> (u32, u32) {
    match &chart.figure {
        Figure::Lines { .. } => (WIDTH, LINE_HEIGHT),
        Figure::Bars { bars, refs, .. } => (
            WIDTH,
            110 + BAR_ROW * (bars.len().max(1) + usize::from(!refs.is_empty())) as u32,
        ),
    }
}

/// The chart as an SVG document.
pub fn render_svg(chart: &Chart) -> anyhow::Result<String> {
    register_fonts();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size(chart)).into_drawing_area();
        draw(&root, chart)?;
        root.present()
            .map_err(|e| anyhow!("drawing {}: {e}", chart.id))?;
    }
    Ok(out)
}

/// The chart as a PNG image.
pub fn render_png(chart: &Chart) -> anyhow::Result<Vec<u8>> {
    register_fonts();
    let (w, h) = size(chart);
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        draw(&root, chart)?;
        root.present()
            .map_err(|e| anyhow!("drawing {}: {e}", chart.id))?;
    }
    let mut png_bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png_bytes, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header()?;
        writer.write_image_data(&rgb)?;
        writer.finish()?;
    }
    Ok(png_bytes)
}

fn err<E: std::fmt::Display>(id: &str) -> impl Fn(E) -> anyhow::Error + '_ {
    move |e| anyhow!("drawing chart {id}: {e}")
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> anyhow::Result<()> {
    let e = err(&chart.id);
    root.fill(&WHITE).map_err(&e)?;
    let area = root
        .titled(&chart.title, (FONT, 19).into_font().style(FontStyle::Bold))
        .map_err(&e)?;
    match &chart.figure {
        Figure::Lines { x, y, series, .. } => draw_lines(&area, chart, x, y, series),
        Figure::Bars {
            value,
            bars,
            refs,
            legend,
        } => draw_bars(&area, chart, value, bars, refs, legend),
    }
}

/// A linear axis over positions `lo..hi` whose ticks are given, not computed.
struct Ticked {
    lo: f64,
    hi: f64,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        if self.hi == self.lo {
            return (limit.0 + limit.1) / 2;
        }
        let frac = (v - self.lo) / (self.hi - self.lo);
        let len = f64::from(limit.1 - limit.0);
        limit.0 + (len * frac).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// Value → axis position.
pub fn fwd(scale: Scale, v: f64) -> f64 {
    match scale {
        Scale::Linear => v,
        Scale::Log => v.max(f64::MIN_POSITIVE).log10(),
        Scale::Nines => {
            let rest = (1.0 - v / 100.0).max(10f64.powf(-MAX_NINES));
            -rest.log10()
        }
    }
}

/// Axis position → value.
pub fn inv(scale: Scale, t: f64) -> f64 {
    match scale {
        Scale::Linear => t,
        Scale::Log => 10f64.powf(t),
        Scale::Nines => 100.0 * (1.0 - 10f64.powf(-t)),
    }
}

/// A "nice" step (1, 2 or 5 × 10^k) giving about `target` intervals over `span`.
fn nice_step(span: f64, target: f64) -> f64 {
    let raw = (span / target).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Tick positions (bold) and minor grid positions (light) for an axis over positions `lo..hi`. Byte axes
/// get binary-friendly ticks (1 KiB, 1.5 KiB; 1 KiB, 4 KiB, 16 KiB), others decimal ones.
pub fn ticks(scale: Scale, unit: Unit, lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    let bytes = matches!(unit, Unit::Bytes | Unit::BytesPerS);
    let mut bold = Vec::new();
    let mut light = Vec::new();
    match scale {
        Scale::Linear => {
            // Step in "units": powers of 1024 for bytes, so steps are 256 B, 0.5 KiB, 2 MiB, ...
            let u = if bytes {
                let m = lo.abs().max(hi.abs()).max(1.0);
                1024f64.powi((m.log2() / 10.0).floor().max(0.0) as i32)
            } else {
                1.0
            };
            let step = nice_step((hi - lo) / u, 6.0) * u;
            // A count (runs, tasks, connections) has no fractional values: no "run 1.5" tick.
            let step = if matches!(unit, Unit::Count) {
                step.max(1.0)
            } else {
                step
            };
            let mut v = (lo / step).ceil() * step;
            while v <= hi + step * 1e-9 {
                // Avoid "-0" labels.
                bold.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
                v += step;
            }
        }
        Scale::Log if bytes => {
            let (l2, h2) = (lo / 2f64.log10(), hi / 2f64.log10());
            let (a, b) = (l2.ceil() as i32, h2.floor() as i32);
            let count = (b - a + 1).max(0);
            let step = [1, 2, 3, 4, 5, 10]
                .into_iter()
                .find(|s| count / s <= 7)
                .unwrap_or(10);
            for e in a..=b {
                let t = f64::from(e) * 2f64.log10();
                if e.rem_euclid(step) == 0 {
                    bold.push(t)
                } else {
                    light.push(t)
                }
            }
            if bold.len() < 2 {
                let (vl, vh) = (inv(scale, lo), inv(scale, hi));
                bold = ticks(Scale::Linear, unit, vl, vh)
                    .0
                    .into_iter()
                    .filter(|v| *v > 0.0)
                    .map(f64::log10)
                    .collect();
                light.clear();
            }
        }
        Scale::Log => {
            let (a, b) = (lo.floor() as i32, hi.ceil() as i32);
            for k in a..=b {
                let decade = f64::from(k);
                if decade >= lo - 1e-9 && decade <= hi + 1e-9 {
                    bold.push(decade);
                }
                for m in 2..=9 {
                    let t = decade + f64::from(m).log10();
                    if t > lo && t < hi {
                        light.push(t);
                    }
                }
            }
            if bold.len() < 3 {
                // Less than ~2 decades: label 2× and 5× too.
                for k in a..=b {
                    for m in [2.0f64, 5.0] {
                        let t = f64::from(k) + m.log10();
                        if t >= lo && t <= hi {
                            bold.push(t);
                        }
                    }
                }
                bold.sort_by(f64::total_cmp);
            }
            if bold.len() < 2 {
                // A very narrow range: linear ticks in value space.
                let (vl, vh) = (inv(scale, lo), inv(scale, hi));
                bold = ticks(Scale::Linear, unit, vl, vh)
                    .0
                    .into_iter()
                    .filter(|v| *v > 0.0)
                    .map(f64::log10)
                    .collect();
            }
        }
        Scale::Nines => {
            // 0 % only when 50 % is not on the axis (they would crowd each other).
            let half = 2f64.log10();
            let start = if half <= hi { half } else { 0.0 };
            for t in [start]
                .into_iter()
                .chain((1..=MAX_NINES as i32).map(f64::from))
            {
                if t >= lo - 1e-9 && t <= hi + 1e-9 {
                    bold.push(t);
                }
            }
        }
    }
    (bold, light)
}

/// Tick label for position `t` of `axis`.
pub fn tick_label(axis: &Axis, t: f64) -> String {
    let v = inv(axis.scale, t);
    match axis.scale {
        Scale::Nines => {
            let s = format!("{:.5}", v);
            let s = s.trim_end_matches('0').trim_end_matches('.');
            format!("{s}%")
        }
        _ => fmt_tick(axis.unit, v),
    }
}

/// The position range to show for data positions `lo..hi`, with margins.
fn padded(scale: Scale, lo: f64, hi: f64, from_zero: bool) -> (f64, f64) {
    let (mut lo, hi) = (lo, hi);
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    match scale {
        Scale::Linear => {
            if from_zero && lo >= 0.0 {
                lo = 0.0;
            }
            if hi - lo <= 0.0 {
                let d = if hi == 0.0 { 1.0 } else { hi.abs() * 0.1 };
                return (if from_zero && lo >= 0.0 { 0.0 } else { lo - d }, hi + d);
            }
            let pad = (hi - lo) * 0.06;
            (
                if from_zero && lo >= 0.0 {
                    0.0
                } else {
                    lo - pad
                },
                hi + pad,
            )
        }
        Scale::Log => {
            if hi - lo < 0.3 {
                let mid = (hi + lo) / 2.0;
                return (mid - 0.3, mid + 0.3);
            }
            let pad = ((hi - lo) * 0.05).max(0.05);
            (lo - pad, hi + pad)
        }
        Scale::Nines => (lo.min(0.0), (hi + 0.15).max(1.0)),
    }
}

fn rgb((r, g, b): (u8, u8, u8)) -> RGBColor {
    RGBColor(r, g, b)
}

fn legend_width(names: &[&str]) -> u32 {
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0) as u32;
    (longest * 8 + 50).clamp(110, 280)
}

/// A legend entry: name, colour, marker (`None`: a square swatch, for bars), dashed.
type LegendEntry = (String, (u8, u8, u8), Option<Marker>, bool);

/// Where a series ends (pixel row within the label area) and how it is drawn: name, colour, marker,
/// dashed.
type LineEnd = (i32, String, (u8, u8, u8), Marker, bool);

/// Series with more entries than this get direct labels at their line ends instead of a legend box.
const DIRECT_LABELS_FROM: usize = 7;

/// The marker shape, as elements positioned relative to a point (pixels). Hollow markers are white
/// inside so a line through them does not show.
fn marker_elements<DB: DrawingBackend>(
    m: Marker,
    c: RGBColor,
    hollow: bool,
    r: i32,
) -> Vec<DynElement<'static, DB, (i32, i32)>> {
    let fill = if hollow { WHITE.filled() } else { c.filled() };
    let edge = c.stroke_width(if hollow { 2 } else { 1 });
    let poly = |pts: Vec<(i32, i32)>| -> Vec<DynElement<'static, DB, (i32, i32)>> {
        let mut closed = pts.clone();
        closed.push(pts[0]);
        vec![
            Polygon::new(pts, fill).into_dyn(),
            PathElement::new(closed, edge).into_dyn(),
        ]
    };
    match m {
        Marker::Circle => vec![
            Circle::new((0, 0), r, fill).into_dyn(),
            Circle::new((0, 0), r, edge).into_dyn(),
        ],
        Marker::Square => poly(vec![(-r, -r), (r, -r), (r, r), (-r, r)]),
        Marker::Triangle => poly(vec![(0, -r - 1), (r + 1, r), (-r - 1, r)]),
        Marker::Diamond => poly(vec![(0, -r - 1), (r + 1, 0), (0, r + 1), (-r - 1, 0)]),
        Marker::Cross | Marker::Plus => {
            let w = if hollow { 1 } else { 2 };
            let st = c.stroke_width(w);
            let (a, b) = if m == Marker::Cross {
                (vec![(-r, -r), (r, r)], vec![(-r, r), (r, -r)])
            } else {
                (vec![(-r - 1, 0), (r + 1, 0)], vec![(0, -r - 1), (0, r + 1)])
            };
            let mut v: Vec<DynElement<'static, DB, (i32, i32)>> = Vec::new();
            if hollow {
                v.push(Circle::new((0, 0), r + 2, c.stroke_width(1)).into_dyn());
            }
            v.push(PathElement::new(a, st).into_dyn());
            v.push(PathElement::new(b, st).into_dyn());
            v
        }
    }
}

/// Draws a marker at pixel position `at` of `area`.
fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    at: (i32, i32),
    m: Marker,
    c: RGBColor,
    hollow: bool,
    id: &str,
) -> anyhow::Result<()> {
    for el in marker_elements::<DB>(m, c, hollow, 4) {
        area.draw(&(EmptyElement::at(at) + el)).map_err(err(id))?;
    }
    Ok(())
}

/// A short line sample (dashed or solid) with the marker in its middle, centred on (16, y).
fn draw_sample<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    x: i32,
    y: i32,
    c: RGBColor,
    marker: Option<Marker>,
    dashed: bool,
    id: &str,
) -> anyhow::Result<()> {
    let e = err(id);
    match marker {
        None => {
            area.draw(&Rectangle::new(
                [(x + 2, y - 6), (x + 18, y + 6)],
                c.mix(0.85).filled(),
            ))
            .map_err(&e)?;
        }
        Some(m) => {
            if dashed {
                for seg in [(x, x + 6), (x + 14, x + 20)] {
                    area.draw(&PathElement::new(
                        vec![(seg.0, y), (seg.1, y)],
                        c.stroke_width(2),
                    ))
                    .map_err(&e)?;
                }
            } else {
                area.draw(&PathElement::new(
                    vec![(x, y), (x + 20, y)],
                    c.stroke_width(2),
                ))
                .map_err(&e)?;
            }
            draw_marker(area, (x + 10, y), m, c, false, id)?;
        }
    }
    Ok(())
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    id: &str,
) -> anyhow::Result<()> {
    let e = err(id);
    let style = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, (name, color, marker, dashed)) in entries.iter().enumerate() {
        let y = 30 + i as i32 * 22;
        draw_sample(area, 6, y, rgb(*color), *marker, *dashed, id)?;
        area.draw_text(name, &style, (34, y)).map_err(&e)?;
    }
    Ok(())
}

/// Labels each series beside its last point (in the margin right of the plot), spread apart so they
/// never overlap: with many series a reader finds a line by its end instead of matching colours.
fn draw_direct_labels<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    ends: &[LineEnd],
    id: &str,
) -> anyhow::Result<()> {
    let e = err(id);
    let (_, h) = area.dim_in_pixel();
    let spacing = 15;
    let mut items: Vec<_> = ends.to_vec();
    items.sort_by_key(|(y, ..)| *y);
    // Push down to clear the previous label, then pull back up if the last ones ran off the bottom.
    let mut ys: Vec<i32> = Vec::with_capacity(items.len());
    for (y, ..) in &items {
        let y = (*y).max(ys.last().map_or(8, |p| p + spacing));
        ys.push(y);
    }
    let max_y = h as i32 - 8;
    for i in (0..ys.len()).rev() {
        let limit = if i + 1 < ys.len() {
            ys[i + 1] - spacing
        } else {
            max_y
        };
        ys[i] = ys[i].min(limit);
    }
    let style = TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for ((true_y, name, color, marker, dashed), y) in items.iter().zip(ys) {
        let c = rgb(*color);
        // A thin leader from the line's end height to its label.
        area.draw(&PathElement::new(
            vec![(0, *true_y), (6, y)],
            c.mix(0.6).stroke_width(1),
        ))
        .map_err(&e)?;
        draw_sample(area, 6, y, c, Some(*marker), *dashed, id)?;
        area.draw_text(name, &style, (30, y)).map_err(&e)?;
    }
    Ok(())
}

fn draw_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart,
    x: &Axis,
    y: &Axis,
    series: &[Series],
) -> anyhow::Result<()> {
    let e = err(&chart.id);
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    let (w, _) = area.dim_in_pixel();
    let (plot, legend) = area.split_horizontally(w.saturating_sub(legend_width(&names)));

    let pos = |axis: &Axis, v: f64| fwd(axis.scale, v);
    let valid = |axis: &Axis, v: f64| v.is_finite() && (axis.scale != Scale::Log || v > 0.0);
    let points: Vec<&Point> = series.iter().flat_map(|s| s.points.iter()).collect();
    let xs: Vec<f64> = points
        .iter()
        .map(|p| p.x)
        .filter(|v| valid(x, *v))
        .map(|v| pos(x, v))
        .collect();
    let ys: Vec<f64> = points
        .iter()
        .flat_map(|p| [Some(p.y), p.y_lo, p.y_hi])
        .flatten()
        .filter(|v| valid(y, *v))
        .map(|v| pos(y, v))
        .collect();
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (x0, x1) = padded(x.scale, min(&xs), max(&xs), false);
    let (y0, y1) = padded(y.scale, min(&ys), max(&ys), true);
    let (xb, xl) = ticks(x.scale, x.unit, x0, x1);
    let (yb, yl) = ticks(y.scale, y.unit, y0, y1);

    let x_fmt = |t: &f64| tick_label(x, *t);
    let y_fmt = |t: &f64| tick_label(y, *t);
    let mut ctx = ChartBuilder::on(&plot)
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(84)
        .build_cartesian_2d(
            Ticked {
                lo: x0,
                hi: x1,
                bold: xb,
                light: xl,
            },
            Ticked {
                lo: y0,
                hi: y1,
                bold: yb,
                light: yl,
            },
        )
        .map_err(&e)?;
    ctx.configure_mesh()
        .x_desc(x.label.as_str())
        .y_desc(y.label.as_str())
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .bold_line_style(BLACK.mix(0.15))
        .light_line_style(BLACK.mix(0.05))
        .draw()
        .map_err(&e)?;

    let cap = (x1 - x0) * 0.006;
    for s in series {
        draw_line_series(&mut ctx, s, x, y, cap, &chart.id)?;
    }
    if series.len() >= DIRECT_LABELS_FROM {
        let base_y = legend.get_base_pixel().1;
        let ends: Vec<_> = series
            .iter()
            .filter_map(|s| {
                let last = s
                    .points
                    .iter()
                    .rev()
                    .find(|p| valid(x, p.x) && valid(y, p.y))?;
                let (_, py) = ctx.backend_coord(&(pos(x, last.x), pos(y, last.y)));
                Some((py - base_y, s.name.clone(), s.color, s.marker, s.dashed))
            })
            .collect();
        return draw_direct_labels(&legend, &ends, &chart.id);
    }
    let entries: Vec<LegendEntry> = series
        .iter()
        .map(|s| (s.name.clone(), s.color, Some(s.marker), s.dashed))
        .collect();
    draw_legend(&legend, &entries, &chart.id)
}

fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart,
    value: &Axis,
    bars: &[Bar],
    refs: &[RefLine],
    legend: &[(String, (u8, u8, u8))],
) -> anyhow::Result<()> {
    let e = err(&chart.id);
    let (w, _) = area.dim_in_pixel();
    let (plot, legend_area) = if legend.is_empty() {
        let (a, b) = area.split_horizontally(w);
        (a, b)
    } else {
        let names: Vec<&str> = legend.iter().map(|(n, _)| n.as_str()).collect();
        area.split_horizontally(w.saturating_sub(legend_width(&names)))
    };
    let valid = |v: f64| v.is_finite() && (value.scale != Scale::Log || v > 0.0);
    let pos = |v: f64| fwd(value.scale, v);
    let vals: Vec<f64> = bars
        .iter()
        .flat_map(|b| [Some(b.value), b.lo, b.hi])
        .flatten()
        .chain(refs.iter().map(|r| r.value))
        .filter(|v| valid(*v))
        .map(pos)
        .collect();
    let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (x0, mut x1) = padded(value.scale, lo, hi, true);
    // Room for the value printed after the longest bar.
    x1 += (x1 - x0) * 0.12;
    let (xb, xl) = ticks(value.scale, value.unit, x0, x1);
    let n = bars.len();
    let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(4) as u32;
    let row_of = |i: usize| (n - 1 - i) as f64;
    // Reference lines carry a label above the first bar.
    let top = n as f64 - 0.4 + if refs.is_empty() { 0.0 } else { 0.6 };
    let y_fmt = |t: &f64| {
        let r = t.round();
        if (t - r).abs() > 1e-6 || r < 0.0 || r as usize >= n {
            return String::new();
        }
        labels[n - 1 - r as usize].clone()
    };
    let x_fmt = |t: &f64| tick_label(value, *t);
    let mut ctx = ChartBuilder::on(&plot)
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size((longest * 8 + 16).clamp(60, 420))
        .build_cartesian_2d(
            Ticked {
                lo: x0,
                hi: x1,
                bold: xb,
                light: xl,
            },
            Ticked {
                lo: -0.6,
                hi: top,
                bold: (0..n).map(|i| i as f64).collect(),
                light: Vec::new(),
            },
        )
        .map_err(&e)?;
    ctx.configure_mesh()
        .disable_y_mesh()
        .x_desc(value.label.as_str())
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .bold_line_style(BLACK.mix(0.15))
        .light_line_style(BLACK.mix(0.05))
        .draw()
        .map_err(&e)?;

    let text = TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, b) in bars.iter().enumerate() {
        if valid(b.value) {
            draw_bar(&mut ctx, b, row_of(i), x0, value, &text, &chart.id)?;
        }
    }
    draw_ref_lines(&mut ctx, refs, value, top, &chart.id)?;
    if !legend.is_empty() {
        let entries: Vec<LegendEntry> = legend
            .iter()
            .map(|(n, c)| (n.clone(), *c, None, false))
            .collect();
        draw_legend(&legend_area, &entries, &chart.id)?;
    }
    Ok(())
}

/// The plot area of a line or bar chart, in the charts' own tick coordinates.
type Plot<'a, DB> = ChartContext<'a, DB, Cartesian2d<Ticked, Ticked>>;

/// One series of a line chart: its interval bars (caps `cap` wide), the line (dashed or solid) and a
/// marker per point. Points whose value the axis cannot show (non-finite, ≤ 0 on a log scale) are
/// left out.
fn draw_line_series<DB: DrawingBackend>(
    ctx: &mut Plot<'_, DB>,
    s: &Series,
    x: &Axis,
    y: &Axis,
    cap: f64,
    id: &str,
) -> anyhow::Result<()> {
    let e = err(id);
    let pos = |axis: &Axis, v: f64| fwd(axis.scale, v);
    let valid = |axis: &Axis, v: f64| v.is_finite() && (axis.scale != Scale::Log || v > 0.0);
    let c = rgb(s.color);
    let pts: Vec<(f64, f64)> = s
        .points
        .iter()
        .filter(|p| valid(x, p.x) && valid(y, p.y))
        .map(|p| (pos(x, p.x), pos(y, p.y)))
        .collect();
    for p in s.points.iter().filter(|p| valid(x, p.x)) {
        if let (Some(lo), Some(hi)) = (p.y_lo, p.y_hi)
            && valid(y, lo)
            && valid(y, hi)
            && hi > lo
        {
            let px = pos(x, p.x);
            let (a, b) = (pos(y, lo), pos(y, hi));
            let st = c.mix(0.8).stroke_width(1);
            ctx.draw_series([
                PathElement::new(vec![(px, a), (px, b)], st),
                PathElement::new(vec![(px - cap, a), (px + cap, a)], st),
                PathElement::new(vec![(px - cap, b), (px + cap, b)], st),
            ])
            .map_err(&e)?;
        }
    }
    if s.dashed {
        ctx.draw_series(DashedLineSeries::new(pts.clone(), 8, 5, c.stroke_width(2)))
            .map_err(&e)?;
    } else {
        ctx.draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
            .map_err(&e)?;
    }
    let hollow: Vec<bool> = s
        .points
        .iter()
        .filter(|p| valid(x, p.x) && valid(y, p.y))
        .map(|p| p.hollow)
        .collect();
    for (p, hollow) in pts.iter().zip(hollow) {
        ctx.draw_series(
            marker_elements::<DB>(s.marker, c, hollow, 4)
                .into_iter()
                .map(|el| EmptyElement::at(*p) + el),
        )
        .map_err(&e)?;
    }
    Ok(())
}

/// One bar of a bar chart at row `y`, starting at `x0`: filled, or outlined when it is a lower bound
/// (then its value reads "≥"); its interval as a capped line; its value printed after its end.
fn draw_bar<DB: DrawingBackend>(
    ctx: &mut Plot<'_, DB>,
    b: &Bar,
    y: f64,
    x0: f64,
    value: &Axis,
    text: &TextStyle,
    id: &str,
) -> anyhow::Result<()> {
    let e = err(id);
    let valid = |v: f64| v.is_finite() && (value.scale != Scale::Log || v > 0.0);
    let pos = |v: f64| fwd(value.scale, v);
    let c = rgb(b.color);
    if b.hollow {
        // A lower bound: outline only.
        ctx.draw_series([Rectangle::new(
            [(x0, y - 0.32), (pos(b.value), y + 0.32)],
            c.stroke_width(2),
        )])
        .map_err(&e)?;
    } else {
        ctx.draw_series([Rectangle::new(
            [(x0, y - 0.32), (pos(b.value), y + 0.32)],
            c.mix(0.85).filled(),
        )])
        .map_err(&e)?;
    }
    let mut end = pos(b.value);
    if let (Some(l), Some(h)) = (b.lo, b.hi)
        && valid(l)
        && valid(h)
        && h > l
    {
        let st = BLACK.mix(0.7).stroke_width(1);
        ctx.draw_series([
            PathElement::new(vec![(pos(l), y), (pos(h), y)], st),
            PathElement::new(vec![(pos(l), y - 0.18), (pos(l), y + 0.18)], st),
            PathElement::new(vec![(pos(h), y - 0.18), (pos(h), y + 0.18)], st),
        ])
        .map_err(&e)?;
        end = end.max(pos(h));
    }
    let label = format!(
        "{}{}",
        if b.hollow { "≥" } else { "" },
        fmt_tick(value.unit, b.value)
    );
    ctx.draw_series([EmptyElement::at((end, y)) + Text::new(label, (6, 0), text.clone())])
        .map_err(&e)?;
    Ok(())
}

/// The reference lines of a bar chart: dashed red verticals from the bottom to `top`, each labelled
/// at its top.
fn draw_ref_lines<DB: DrawingBackend>(
    ctx: &mut Plot<'_, DB>,
    refs: &[RefLine],
    value: &Axis,
    top: f64,
    id: &str,
) -> anyhow::Result<()> {
    let e = err(id);
    let valid = |v: f64| v.is_finite() && (value.scale != Scale::Log || v > 0.0);
    let pos = |v: f64| fwd(value.scale, v);
    let ref_color = RGBColor(160, 20, 20);
    let ref_text = TextStyle::from((FONT, 12).into_font()).color(&ref_color);
    for r in refs.iter().filter(|r| valid(r.value)) {
        let x = pos(r.value);
        ctx.draw_series(DashedLineSeries::new(
            vec![(x, -0.6), (x, top)],
            6,
            4,
            RGBColor(200, 30, 30).stroke_width(1),
        ))
        .map_err(&e)?;
        ctx.draw_series([
            EmptyElement::at((x, top)) + Text::new(r.label.clone(), (4, 2), ref_text.clone())
        ])
        .map_err(&e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nines_positions_and_labels() {
        let axis = Axis::new("percentile", Unit::Plain, Scale::Nines, "p{}");
        assert!((fwd(Scale::Nines, 90.0) - 1.0).abs() < 1e-9);
        assert!((fwd(Scale::Nines, 99.9) - 3.0).abs() < 1e-9);
        assert_eq!(tick_label(&axis, 2.0), "99%");
        assert_eq!(tick_label(&axis, 3.0), "99.9%");
        assert_eq!(tick_label(&axis, 2f64.log10()), "50%");
        let (bold, _) = ticks(Scale::Nines, Unit::Plain, 0.0, 4.2);
        assert_eq!(bold.len(), 5); // 50, 90, 99, 99.9, 99.99 %
    }

    #[test]
    fn log_ticks_are_decades() {
        let (bold, light) = ticks(Scale::Log, Unit::Count, 0.0, 4.0);
        assert_eq!(bold, vec![0.0, 1.0, 2.0, 3.0, 4.0]);
        assert!(!light.is_empty());
        let (bold, _) = ticks(Scale::Log, Unit::Count, 2.1, 2.9);
        assert!(bold.len() >= 2, "{bold:?}");
    }

    #[test]
    fn linear_ticks_are_nice() {
        let (bold, _) = ticks(Scale::Linear, Unit::Count, 0.0, 1000.0);
        assert_eq!(bold, vec![0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]);
        let (bold, _) = ticks(Scale::Linear, Unit::Bytes, 0.0, 4000.0);
        assert_eq!(bold, vec![0.0, 1024.0, 2048.0, 3072.0]);
    }

    #[test]
    fn counts_get_whole_ticks() {
        // Three runs of a trend chart: no "run 1.5".
        let (bold, _) = ticks(Scale::Linear, Unit::Count, 0.9, 3.1);
        assert_eq!(bold, vec![1.0, 2.0, 3.0]);
        let (bold, _) = ticks(Scale::Linear, Unit::Millis, 0.9, 3.1);
        assert!(bold.contains(&1.5), "{bold:?}");
    }
}
