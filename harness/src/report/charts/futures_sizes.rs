//! The future-size catalogue as bars: how big each async pattern's state machine is, against the
//! 16 KiB thresholds of clippy's `large_futures` lint and tokio's automatic boxing of spawned futures.

use super::{Axis, Bar, Chart, Figure, RefLine, auto_scale};
use crate::report::metrics::{Unit, estimate, param_str};
use crate::report::palette::Palette;
use crate::results::Results;

/// clippy `large_futures` default `future-size-threshold`, and tokio's auto-box threshold in release builds.
const THRESHOLD_BYTES: f64 = 16_384.0;

pub fn build(results: &Results, palette: &Palette) -> Vec<Chart> {
    let mut bars = Vec::new();
    let mut legend: Vec<(String, (u8, u8, u8))> = Vec::new();
    for c in results.cells.iter().filter(|c| c.workload == "futures") {
        let Some(e) = estimate(c, "bytes") else {
            continue;
        };
        let pattern = param_str(c, "pattern").unwrap_or_else(|| "?".into());
        let runtime = param_str(c, "runtime");
        // Colour by runtime when the runtime is also a measured implementation, so tokio is tokio's
        // colour everywhere; otherwise the catalogue's own colour.
        let key = runtime
            .as_deref()
            .map(|r| format!("rust-{r}"))
            .filter(|k| palette.names().contains(k))
            .unwrap_or_else(|| c.implementation.clone());
        let color = palette.rgb(&key);
        let legend_name = runtime.clone().unwrap_or_else(|| c.implementation.clone());
        if !legend.iter().any(|(n, _)| *n == legend_name) {
            legend.push((legend_name, color));
        }
        bars.push(Bar {
            label: match &runtime {
                Some(r) => format!("{pattern} ({r})"),
                None => pattern,
            },
            value: e.median,
            lo: None,
            hi: None,
            color,
            hollow: false,
        });
    }
    if bars.is_empty() {
        return Vec::new();
    }
    bars.sort_by(|a, b| b.value.total_cmp(&a.value));
    let scale = auto_scale(bars.iter().map(|b| b.value).chain([THRESHOLD_BYTES]), 50.0);
    let show_legend = legend.len() > 1;
    vec![Chart {
        id: "futures-sizes".into(),
        workload: "futures".into(),
        title: "Future sizes by pattern".into(),
        caption: "std::mem::size_of_val of each pattern's future, as compiled (largest first). The dashed line is \
                  16 KiB: clippy's large_futures default threshold and the size above which tokio boxes spawned \
                  futures in release builds. Smaller futures are cheaper to spawn, move and keep per task."
            .into(),
        figure: Figure::Bars {
            value: Axis::new("future size", Unit::Bytes, scale, "{}"),
            bars,
            refs: vec![RefLine { value: THRESHOLD_BYTES, label: "16 KiB".into() }],
            legend: if show_legend { legend } else { Vec::new() },
        },
    }]
}
