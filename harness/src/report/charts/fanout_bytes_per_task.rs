//! Fan-out memory per task as bars, per variant, at the largest task count measured by the most
//! implementations.

use super::{Axis, Bar, Chart, Figure, RefLine, Scale, slug};
use crate::report::analysis::scenarios;
use crate::report::metrics::{Unit, estimate, param_f64, param_str};
use crate::report::palette::Palette;
use crate::results::Results;

pub fn build(results: &Results, palette: &Palette) -> Vec<Chart> {
    let scen = scenarios(results, palette, "fanout");
    let mut variants: Vec<Option<String>> = scen
        .iter()
        .map(|s| param_str(s.cells[0], "variant"))
        .collect();
    variants.sort();
    variants.dedup();
    let mut out = Vec::new();
    for v in variants {
        let count = |s: &crate::report::analysis::Scenario| {
            s.cells
                .iter()
                .filter(|c| estimate(c, "bytes_per_task").is_some())
                .count()
        };
        let best = scen
            .iter()
            .filter(|s| param_str(s.cells[0], "variant") == v && count(s) > 0)
            .max_by(|a, b| {
                count(a).cmp(&count(b)).then(
                    param_f64(a.cells[0], "tasks")
                        .unwrap_or(0.0)
                        .total_cmp(&param_f64(b.cells[0], "tasks").unwrap_or(0.0)),
                )
            });
        let Some(s) = best else { continue };
        let mut bars: Vec<Bar> = s
            .cells
            .iter()
            .filter_map(|c| {
                let e = estimate(c, "bytes_per_task")?;
                let reference = palette.is_reference(&c.implementation);
                Some(Bar {
                    label: if reference {
                        format!("{} (reference)", palette.label(&c.implementation))
                    } else {
                        palette.label(&c.implementation)
                    },
                    value: e.median,
                    lo: e.has_interval.then_some(e.lo),
                    hi: e.has_interval.then_some(e.hi),
                    color: palette.rgb(&c.implementation),
                    hollow: false,
                })
            })
            .collect();
        bars.sort_by(|a, b| a.value.total_cmp(&b.value));
        let refs = if v.as_deref() == Some("state") {
            vec![RefLine {
                value: 1024.0,
                label: "1 KiB task buffer".into(),
            }]
        } else {
            Vec::new()
        };
        out.push(Chart {
            id: format!("fanout-bytes-per-task-{}", slug(&s.description)),
            workload: "fanout".into(),
            title: format!("Memory per task — {}", s.description),
            caption: format!(
                "Peak RSS growth divided by the number of tasks ({}; median across trials, whiskers: interval of the median, the range of the trials below six trials). \
                 Includes the task's future, the runtime's per-task bookkeeping and, for the state variant, the \
                 1 KiB buffer each task keeps alive across its await. Lower is better.",
                s.description
            ),
            figure: Figure::Bars {
                value: Axis::new("bytes per task", Unit::Bytes, Scale::Linear, "{}"),
                bars,
                refs,
                legend: Vec::new(),
            },
        });
    }
    out
}
