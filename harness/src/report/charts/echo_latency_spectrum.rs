//! Echo latency percentile spectrum (HdrHistogram style): latency against percentile on a "nines" axis,
//! per implementation at a common offered load, so the whole tail is visible, not just p99.

use super::{Axis, Chart, Figure, Point, Scale, Series, slug, styled_series};
use crate::report::analysis::scenarios;
use crate::report::metrics::{Better, Unit, param_f64, param_str};
use crate::report::palette::Palette;
use crate::results::{CellStatus, Results};

/// At most this many spectra (one per load) are drawn.
const MAX_CHARTS: usize = 4;

pub fn build(results: &Results, palette: &Palette) -> Vec<Chart> {
    let scen = scenarios(results, palette, "echo");
    let with_spectrum = |s: &&crate::report::analysis::Scenario| {
        s.cells
            .iter()
            .filter(|c| c.status == CellStatus::Ok && !c.latency_spectrum.is_empty())
            .count()
    };
    // Open-loop loads first (free of coordinated omission); closed loop only if there is no open loop.
    let open: Vec<_> = scen
        .iter()
        .filter(|s| {
            param_str(s.cells[0], "mode").as_deref() == Some("open") && with_spectrum(s) > 0
        })
        .collect();
    let mut chosen: Vec<_> = if open.is_empty() {
        scen.iter()
            .filter(|s| with_spectrum(s) > 0)
            .max_by_key(|s| with_spectrum(s))
            .into_iter()
            .collect()
    } else {
        let mut o = open;
        // Most implementations first; stable for equal counts (scenario order).
        o.sort_by_key(|s| std::cmp::Reverse(with_spectrum(s)));
        o.truncate(MAX_CHARTS);
        o
    };
    chosen.sort_by(|a, b| {
        let r = |s: &&crate::report::analysis::Scenario| {
            param_f64(s.cells[0], "rate_msgs_per_s").unwrap_or(0.0)
        };
        r(a).total_cmp(&r(b))
    });
    let mut out = Vec::new();
    for s in chosen {
        let series: Vec<Series> = s
            .cells
            .iter()
            .filter(|c| c.status == CellStatus::Ok && !c.latency_spectrum.is_empty())
            .map(|c| {
                let pct_scale = if c.latency_spectrum.iter().all(|p| p.percentile <= 1.0) {
                    100.0
                } else {
                    1.0
                };
                let mut points: Vec<Point> = c
                    .latency_spectrum
                    .iter()
                    .map(|p| (p.percentile * pct_scale, p.latency_ns))
                    .filter(|(p, l)| *p >= 0.0 && *p < 100.0 && *l > 0.0 && l.is_finite())
                    .map(|(p, l)| Point {
                        x: p,
                        y: l,
                        y_lo: None,
                        y_hi: None,
                        hollow: false,
                    })
                    .collect();
                points.sort_by(|a, b| a.x.total_cmp(&b.x));
                styled_series(palette, &c.implementation, points)
            })
            .filter(|s| !s.points.is_empty())
            .collect();
        if series.is_empty() {
            continue;
        }
        out.push(Chart {
            id: format!("echo-latency-spectrum-{}", slug(&s.description)),
            workload: "echo".into(),
            title: format!("Echo latency by percentile — {}", s.description),
            caption: format!(
                "Round-trip latency at each percentile over all trials ({}). The percentile axis is logarithmic in \
                 the distance to 100 %, so 90 %, 99 %, 99.9 % are evenly spaced and the tail is visible. Lower is better.",
                s.description
            ),
            figure: Figure::Lines {
                x: Axis::new("percentile", Unit::Plain, Scale::Nines, "p{}"),
                y: Axis::new("latency (log scale)", Unit::Nanos, Scale::Log, "{}"),
                series,
                better: Better::Lower,
            },
        });
    }
    out
}
