//! Stream throughput vs channel capacity, one chart per variant and pipeline shape: how much buffering
//! each ecosystem's bounded channel needs to reach full speed.

use super::{Axis, Chart, Figure, Scale, auto_scale, series_per_impl, slug};
use crate::report::format::fmt_count;
use crate::report::metrics::{Better, Unit, param_f64, param_str};
use crate::report::palette::Palette;
use crate::results::{Cell, Results};

pub fn build(results: &Results, palette: &Palette) -> Vec<Chart> {
    let stream: Vec<&Cell> = results
        .cells
        .iter()
        .filter(|c| c.workload == "stream")
        .collect();
    type Group = (Option<String>, Option<f64>, Option<f64>);
    let group = |c: &Cell| -> Group {
        (
            param_str(c, "variant"),
            param_f64(c, "stages"),
            param_f64(c, "items"),
        )
    };
    let mut groups: Vec<Group> = stream.iter().map(|c| group(c)).collect();
    groups.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    groups.dedup();
    let mut out = Vec::new();
    for g in groups {
        let cells: Vec<&Cell> = stream.iter().copied().filter(|c| group(c) == g).collect();
        // A slow consumer's pauses set its gross pace; what the pipeline itself does is the rest.
        let net = cells
            .iter()
            .any(|c| c.metrics.get("throughput_net_items_per_s").is_some());
        let metric = if net {
            "throughput_net_items_per_s"
        } else {
            "throughput_items_per_s"
        };
        let series = series_per_impl(&cells, palette, |c| param_f64(c, "capacity"), metric);
        if series.is_empty() {
            continue;
        }
        let (variant, stages, items) = &g;
        let mut what = vec![variant.clone().unwrap_or_else(|| "stream".into())];
        if let Some(k) = stages {
            what.push(format!("{k} stages"));
        }
        if let Some(n) = items {
            what.push(format!("{} items", fmt_count(*n)));
        }
        let what = what.join(", ");
        let (kind, caption) = if net {
            (
                "throughput net of pauses",
                format!(
                    "Items per second over the time the sink was not paused (elapsed − paused_ms) through a source → \
                     stages → sink pipeline of bounded channels ({what}; median across trials, bars: interval of the median, the range of the trials below six trials), by \
                     channel capacity: the pauses' own length and timer rounding are taken out. Higher is better; \
                     the backpressure verdict is in the findings."
                ),
            )
        } else {
            (
                "throughput",
                format!(
                    "Items per second through a source → stages → sink pipeline of bounded channels ({what}; median \
                     across trials, bars: interval of the median, the range of the trials below six trials), by channel capacity. Higher is better; with a slow consumer the \
                     consumer's pauses set the pace and the interesting result is the backpressure verdict."
                ),
            )
        };
        let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.x));
        out.push(Chart {
            id: format!("stream-throughput-{}", slug(&what)),
            workload: "stream".into(),
            title: format!("Stream {kind} vs channel capacity — {what}"),
            caption,
            figure: Figure::Lines {
                x: Axis::new(
                    "channel capacity (items)",
                    Unit::Count,
                    auto_scale(xs, 8.0),
                    "capacity {}",
                ),
                y: Axis::new(
                    format!("{kind} (items/s)"),
                    Unit::ItemsPerS,
                    Scale::Linear,
                    "{}",
                ),
                series,
                better: Better::Higher,
            },
        });
    }
    out
}
