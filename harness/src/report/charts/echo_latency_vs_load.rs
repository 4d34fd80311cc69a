//! Echo p99 latency vs offered load (open loop), one chart per connection count and message size: where
//! the tail starts to climb as the request rate approaches each implementation's capacity.

use super::{Axis, Chart, Figure, Scale, auto_scale, series_per_impl, slug};
use crate::report::format::{fmt_bytes, fmt_count};
use crate::report::metrics::{Better, Unit, param_f64, param_str};
use crate::report::palette::Palette;
use crate::results::{Cell, Results};

pub fn build(results: &Results, palette: &Palette) -> Vec<Chart> {
    let open: Vec<&Cell> = results
        .cells
        .iter()
        .filter(|c| c.workload == "echo" && param_str(c, "mode").as_deref() == Some("open"))
        .collect();
    let mut groups: Vec<(Option<f64>, Option<f64>)> = open
        .iter()
        .map(|c| (param_f64(c, "connections"), param_f64(c, "message_bytes")))
        .collect();
    groups.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    groups.dedup();
    let mut out = Vec::new();
    for (conns, size) in groups {
        let cells: Vec<&Cell> = open
            .iter()
            .copied()
            .filter(|c| {
                param_f64(c, "connections") == conns && param_f64(c, "message_bytes") == size
            })
            .collect();
        let series = series_per_impl(
            &cells,
            palette,
            |c| param_f64(c, "rate_msgs_per_s"),
            "latency_ns.p99",
        );
        if series.is_empty() {
            continue;
        }
        let mut what = Vec::new();
        if let Some(c) = conns {
            what.push(format!("{} connections", fmt_count(c)));
        }
        if let Some(b) = size {
            what.push(format!("{} messages", fmt_bytes(b)));
        }
        let what = what.join(", ");
        let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.x));
        out.push(Chart {
            id: format!("echo-p99-vs-load-{}", slug(&what)),
            workload: "echo".into(),
            title: format!("Echo p99 latency vs offered load — {what}"),
            caption: format!(
                "99th-percentile round-trip latency (median across trials, bars: interval of the median, the range of the trials below six trials) when messages are sent \
                 on a fixed schedule at the given rate ({what}), measured from each message's scheduled send time, \
                 so queueing shows. Lower is better; a line that bends up marks the load an implementation stops keeping up with."
            ),
            figure: Figure::Lines {
                x: Axis::new("offered load (msg/s)", Unit::MsgsPerS, auto_scale(xs, 20.0), "{} offered"),
                y: Axis::new("p99 latency (log scale)", Unit::Nanos, Scale::Log, "{}"),
                series,
                better: Better::Lower,
            },
        });
    }
    out
}
