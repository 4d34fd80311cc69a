//! Micro-benchmarks as bars with their confidence intervals, grouped by primitive and coloured by
//! runtime.

use super::{Axis, Bar, Chart, Figure, auto_scale};
use crate::report::analysis::scenarios;
use crate::report::metrics::{Unit, estimate, param_str};
use crate::report::palette::Palette;
use crate::results::Results;

pub fn build(results: &Results, palette: &Palette) -> Vec<Chart> {
    let mut bars = Vec::new();
    let mut legend: Vec<(String, (u8, u8, u8))> = Vec::new();
    for s in scenarios(results, palette, "micro") {
        for c in &s.cells {
            let Some(e) = estimate(c, "median_ns") else {
                continue;
            };
            let color = palette.rgb(&c.implementation);
            if !legend
                .iter()
                .any(|(n, _)| *n == palette.label(&c.implementation))
            {
                legend.push((palette.label(&c.implementation), color));
            }
            let primitive = param_str(c, "primitive").unwrap_or_else(|| s.description.clone());
            bars.push(Bar {
                label: format!("{primitive} · {}", palette.label(&c.implementation)),
                value: e.median,
                lo: e.has_interval.then_some(e.lo),
                hi: e.has_interval.then_some(e.hi),
                color,
                hollow: false,
            });
        }
    }
    if bars.is_empty() {
        return Vec::new();
    }
    legend.sort_by_key(|(n, _)| palette.index(n));
    let scale = auto_scale(bars.iter().map(|b| b.value), 50.0);
    vec![Chart {
        id: "micro-benchmarks".into(),
        workload: "micro".into(),
        title: "Micro-benchmarks: time per operation".into(),
        caption: "Median time per operation of each runtime primitive, with the benchmark's 95 % confidence \
                  interval as whiskers; rows are grouped by primitive. Lower is better. Compare within a \
                  primitive, not across primitives."
            .into(),
        figure: Figure::Bars {
            value: Axis::new(
                if scale == super::Scale::Log { "time per operation (log scale)" } else { "time per operation" },
                Unit::Nanos,
                scale,
                "{}",
            ),
            bars,
            refs: Vec::new(),
            legend,
        },
    }]
}
