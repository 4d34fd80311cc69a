//! Echo throughput vs connections (closed loop), one chart per message size: where each implementation
//! saturates as concurrency grows.

use super::{Axis, Chart, Figure, Scale, auto_scale, series_per_impl, slug};
use crate::report::format::fmt_bytes;
use crate::report::metrics::{Better, Unit, param_f64, param_str};
use crate::report::palette::Palette;
use crate::results::{Cell, Results};

pub fn build(results: &Results, palette: &Palette) -> Vec<Chart> {
    let closed: Vec<&Cell> = results
        .cells
        .iter()
        .filter(|c| c.workload == "echo" && param_str(c, "mode").as_deref() == Some("closed"))
        .collect();
    let mut sizes: Vec<f64> = closed
        .iter()
        .filter_map(|c| param_f64(c, "message_bytes"))
        .collect();
    sizes.sort_by(f64::total_cmp);
    sizes.dedup();
    let mut out = Vec::new();
    for size in sizes {
        let cells: Vec<&Cell> = closed
            .iter()
            .copied()
            .filter(|c| param_f64(c, "message_bytes") == Some(size))
            .collect();
        let series = series_per_impl(
            &cells,
            palette,
            |c| param_f64(c, "connections"),
            "throughput_msgs_per_s",
        );
        if series.is_empty() {
            continue;
        }
        let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.x));
        let size_text = fmt_bytes(size);
        out.push(Chart {
            id: format!("echo-throughput-{}", slug(&size_text)),
            workload: "echo".into(),
            title: format!("Echo throughput vs connections — {size_text} messages, closed loop"),
            caption: format!(
                "Messages echoed per second (median across trials, bars: interval of the median, the range of the trials below six trials) as the number of concurrent \
                 connections grows; each connection sends a {size_text} message and waits for its echo. Hollow markers: \
                 the load generator was the bottleneck, so the server did at least that much. Higher is better."
            ),
            figure: Figure::Lines {
                x: Axis::new("concurrent connections", Unit::Count, auto_scale(xs, 8.0), "{} connections"),
                y: Axis::new("throughput (msg/s)", Unit::MsgsPerS, Scale::Linear, "{}"),
                series,
                better: Better::Higher,
            },
        });
    }
    out
}
