//! Fan-out peak RSS vs number of tasks on log-log axes, per variant: the slope shows per-task cost, the
//! intercept the runtime's fixed footprint.

use super::{Axis, Chart, Figure, Scale, series_per_impl, slug};
use crate::report::metrics::{Unit, param_f64, param_str};
use crate::report::palette::Palette;
use crate::results::{Cell, Results};

pub fn build(results: &Results, palette: &Palette) -> Vec<Chart> {
    let fanout: Vec<&Cell> = results
        .cells
        .iter()
        .filter(|c| c.workload == "fanout")
        .collect();
    let mut groups: Vec<(Option<String>, Option<f64>)> = fanout
        .iter()
        .map(|c| (param_str(c, "variant"), param_f64(c, "sleep_ms")))
        .collect();
    groups.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    groups.dedup();
    let several_sleeps = {
        let mut s: Vec<Option<f64>> = groups.iter().map(|g| g.1).collect();
        s.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        s.dedup();
        s.len() > 1
    };
    let mut out = Vec::new();
    for (variant, sleep) in groups {
        let cells: Vec<&Cell> = fanout
            .iter()
            .copied()
            .filter(|c| param_str(c, "variant") == variant && param_f64(c, "sleep_ms") == sleep)
            .collect();
        let series = series_per_impl(&cells, palette, |c| param_f64(c, "tasks"), "peak_rss_bytes");
        if series.is_empty() {
            continue;
        }
        let dashed: Vec<String> = series
            .iter()
            .filter_map(|s| Some(format!("{} ({})", s.name, palette.reference(&s.name)?)))
            .collect();
        let dashed = if dashed.is_empty() {
            String::new()
        } else {
            format!(
                " Dashed: reference lines, not contenders: {}.",
                dashed.join(", ")
            )
        };
        let mut what = variant.clone().unwrap_or_else(|| "fan-out".into());
        if several_sleeps && let Some(s) = sleep {
            what.push_str(&format!(", {s} ms sleep"));
        }
        out.push(Chart {
            id: format!("fanout-rss-{}", slug(&what)),
            workload: "fanout".into(),
            title: format!("Fan-out peak memory vs tasks — {what}"),
            caption: format!(
                "Peak resident set size of the whole process while N tasks wait on a timer ({what} variant; median \
                 across trials, bars: 95 % CI). Both axes are logarithmic: parallel lines mean the same per-task \
                 cost.{dashed} Lower is better."
            ),
            figure: Figure::Lines {
                x: Axis { label: "tasks (log scale)".into(), unit: Unit::Count, scale: Scale::Log },
                y: Axis { label: "peak RSS (log scale)".into(), unit: Unit::Bytes, scale: Scale::Log },
                series,
            },
        });
    }
    out
}
