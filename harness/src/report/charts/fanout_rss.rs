//! Fan-out peak RSS vs number of tasks on log-log axes, per variant: the slope shows per-task cost, the
//! intercept the runtime's fixed footprint.

use super::{Axis, Chart, Figure, Scale, series_per_impl, slug};
use crate::report::metrics::{Better, Unit, param_f64, param_str};
use crate::report::palette::Palette;
use crate::results::{Cell, Results};

pub fn build(results: &Results, palette: &Palette) -> Vec<Chart> {
    let fanout: Vec<&Cell> = results
        .cells
        .iter()
        .filter(|c| c.workload == "fanout")
        .collect();
    // One chart per variant, across task counts: the sleep is chosen per implementation and task count
    // (long enough that every task is alive at once), so it is a setting, not a separate series.
    let mut groups: Vec<Option<String>> = fanout.iter().map(|c| param_str(c, "variant")).collect();
    groups.sort();
    groups.dedup();
    let mut out = Vec::new();
    for variant in groups {
        let cells: Vec<&Cell> = fanout
            .iter()
            .copied()
            .filter(|c| param_str(c, "variant") == variant)
            .collect();
        let series = series_per_impl(&cells, palette, |c| param_f64(c, "tasks"), "peak_rss_bytes");
        if series.is_empty() {
            continue;
        }
        let mut refs: Vec<String> = Vec::new();
        for c in &cells {
            if let Some(r) = palette.reference(&c.implementation) {
                let t = format!("{} ({r})", palette.label(&c.implementation));
                if !refs.contains(&t) {
                    refs.push(t);
                }
            }
        }
        let dashed = if refs.is_empty() {
            String::new()
        } else {
            format!(
                " Dashed grey: reference lines, not contenders: {}.",
                refs.join(", ")
            )
        };
        let what = variant.clone().unwrap_or_else(|| "fan-out".into());
        out.push(Chart {
            id: format!("fanout-rss-{}", slug(&what)),
            workload: "fanout".into(),
            title: format!("Fan-out peak memory vs tasks — {what}"),
            caption: format!(
                "Peak resident set size of the whole process while N tasks wait on a timer ({what} variant; median \
                 across trials, bars: interval of the median, the range of the trials below six trials). Both axes are logarithmic: parallel lines mean the same per-task \
                 cost.{dashed} Lower is better."
            ),
            figure: Figure::Lines {
                x: Axis::new("tasks (log scale)", Unit::Count, Scale::Log, "{} tasks"),
                y: Axis::new("peak RSS (log scale)", Unit::Bytes, Scale::Log, "{}"),
                series,
                better: Better::Lower,
            },
        });
    }
    out
}
