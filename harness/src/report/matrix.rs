//! The decision matrix: one row per implementation, one column per question a reader choosing a runtime
//! asks (CPU cost, throughput, tail latency at a common load, memory, per-task cost, pipeline speed,
//! start-up). Each cell holds the value, its rank in the column and a shade from best to worst, computed
//! here once so HTML and Markdown show the same ranks. Every column is a like-for-like comparison: one
//! scenario, the same parameters (and the same offered load) for every implementation.

use super::analysis::{Scenario, client_bound, headlines, rank};
use super::metrics::{Better, Estimate, MetricDef, metric_def};
use super::palette::Palette;
use crate::finding::FindingKind;
use crate::results::{Cell, Results};

/// Whether a cell's latency may be ranked: measurable by its self-checks and not over capacity.
fn latency_rankable(c: &Cell) -> bool {
    !c.findings
        .iter()
        .any(|f| f.kind == FindingKind::OverCapacity)
        && !c.metrics.get("latency_measurable").is_some_and(|m| m < 1.0)
}

/// One column: what it asks, in which scenario, on which metric.
#[derive(Debug, Clone)]
pub struct Column {
    /// Short header, e.g. "server CPU / msg".
    pub title: String,
    /// The scenario, e.g. "echo: closed loop, 64 connections, 64 B messages".
    pub scenario: String,
    pub metric: MetricDef,
}

/// One cell of the matrix.
#[derive(Debug, Clone)]
pub struct MatrixCell {
    pub estimate: Estimate,
    /// 1-based rank among non-reference implementations; `None` for references.
    pub rank: Option<usize>,
    /// Tied with the best: the ratio's 99 % interval includes 1× (rank > 1 only).
    pub tied_with_best: bool,
    /// The load generator limited this cell: the value is a lower bound (`≥`).
    pub lower_bound: bool,
    /// 0 = best in the column, 1 = worst, on a log scale of the values (references clamped).
    pub shade: f64,
}

/// One row: an implementation.
#[derive(Debug, Clone)]
pub struct Row {
    pub implementation: String,
    /// A reference line (a floor or a baseline), shown but not ranked.
    pub reference: bool,
    pub cells: Vec<Option<MatrixCell>>,
}

#[derive(Debug, Clone, Default)]
pub struct Matrix {
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
}

/// What each column measures; `None` where the results lack that scenario.
fn column_specs<'a>(
    results: &'a Results,
    palette: &Palette,
) -> Vec<(String, String, &'static str, Scenario<'a>)> {
    let h = headlines(results, palette);
    let mut out = Vec::new();
    let mut push = |title: &str, workload: &str, metric: &'static str, s: &Option<Scenario<'a>>| {
        if let Some(s) = s {
            out.push((
                title.to_string(),
                format!("{workload}: {}", s.description),
                metric,
                s.clone(),
            ));
        }
    };
    push(
        "server CPU / msg",
        "echo",
        "server_cpu_us_per_msg",
        &h.echo_closed,
    );
    push(
        "echo throughput",
        "echo",
        "throughput_msgs_per_s",
        &h.echo_closed,
    );
    let open_title = h
        .echo_open
        .as_ref()
        .and_then(|s| super::metrics::param_f64(s.cells[0], "rate_msgs_per_s"))
        .map(|r| {
            format!(
                "p99 @ {}",
                super::format::fmt_rate(r, "msg/s").replace(' ', "\u{a0}")
            )
        })
        .unwrap_or_else(|| "p99 latency".into());
    push(&open_title, "echo", "latency_ns.p99", &h.echo_open);
    push("peak RSS", "echo", "peak_rss_bytes", &h.echo_memory);
    push(
        "bytes / task",
        "fan-out",
        "bytes_per_task",
        &h.fanout.first().cloned(),
    );
    push(
        "stream items/s",
        "stream",
        "throughput_items_per_s",
        &h.stream,
    );
    push("start-up", "echo", "startup_ms", &h.echo_closed);
    out
}

/// Builds the matrix. Rows are the implementations with at least one value, in report order, references
/// last.
pub fn matrix(results: &Results, palette: &Palette) -> Matrix {
    let specs = column_specs(results, palette);
    let mut columns = Vec::new();
    let mut per_column: Vec<Vec<(String, MatrixCell)>> = Vec::new();
    for (title, scenario, metric, s) in &specs {
        // Latency the self-checks could not measure, or of a server over capacity, is not ranked (as in
        // the rankings below the matrix): those implementations show no value in the column.
        let ranked: Vec<&Cell> = s
            .cells
            .iter()
            .copied()
            .filter(|c| !metric.starts_with("latency_ns") || latency_rankable(c))
            .collect();
        let Some(r) = rank(&ranked, metric, scenario, palette) else {
            continue;
        };
        if r.entries.is_empty() {
            continue;
        }
        let best = r.entries[0].estimate.median;
        let worst = r.entries[r.entries.len() - 1].estimate.median;
        let shade = |v: f64| -> f64 {
            if best <= 0.0 || worst <= 0.0 || v <= 0.0 || best == worst {
                return 0.0;
            }
            ((v / best).ln() / (worst / best).ln()).clamp(0.0, 1.0)
        };
        let mut cells = Vec::new();
        for (i, e) in r.entries.iter().enumerate() {
            cells.push((
                e.implementation.clone(),
                MatrixCell {
                    estimate: e.estimate,
                    rank: Some(i + 1),
                    tied_with_best: i > 0 && e.tied_with_best,
                    lower_bound: e.lower_bound,
                    shade: shade(e.estimate.median),
                },
            ));
        }
        for e in &r.references {
            let lower_bound = s
                .cells
                .iter()
                .any(|c| c.implementation == e.implementation && client_bound(c))
                && metric.starts_with("throughput");
            cells.push((
                e.implementation.clone(),
                MatrixCell {
                    estimate: e.estimate,
                    rank: None,
                    tied_with_best: false,
                    lower_bound,
                    shade: shade(e.estimate.median),
                },
            ));
        }
        columns.push(Column {
            title: title.clone(),
            scenario: scenario.clone(),
            metric: metric_def(metric),
        });
        per_column.push(cells);
    }
    let mut names: Vec<String> = per_column
        .iter()
        .flat_map(|c| c.iter().map(|(n, _)| n.clone()))
        .collect();
    names.sort_by_key(|n| (palette.is_reference(n), palette.index(n), n.clone()));
    names.dedup();
    let rows = names
        .into_iter()
        .map(|n| Row {
            reference: palette.is_reference(&n),
            cells: per_column
                .iter()
                .map(|c| c.iter().find(|(m, _)| *m == n).map(|(_, v)| v.clone()))
                .collect(),
            implementation: n,
        })
        .collect();
    Matrix { columns, rows }
}

impl Column {
    /// "lower is better" / "higher is better".
    pub fn direction(&self) -> &'static str {
        match self.metric.better {
            Better::Higher => "higher is better",
            Better::Lower => "lower is better",
            Better::Neither => "",
        }
    }
}

/// A background colour for a shade (0 best … 1 worst): a colour-blind-safe diverging scale from light
/// blue through near-white to light orange, light enough for dark text everywhere.
pub fn shade_rgb(t: f64) -> (u8, u8, u8) {
    const BEST: (f64, f64, f64) = (146.0, 197.0, 222.0);
    const MID: (f64, f64, f64) = (247.0, 247.0, 247.0);
    const WORST: (f64, f64, f64) = (244.0, 165.0, 130.0);
    let t = t.clamp(0.0, 1.0);
    let (a, b, u) = if t < 0.5 {
        (BEST, MID, t * 2.0)
    } else {
        (MID, WORST, (t - 0.5) * 2.0)
    };
    let mix = |x: f64, y: f64| (x + (y - x) * u).round() as u8;
    (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shade_scale_ends() {
        assert_eq!(shade_rgb(0.0), (146, 197, 222));
        assert_eq!(shade_rgb(0.5), (247, 247, 247));
        assert_eq!(shade_rgb(1.0), (244, 165, 130));
        assert_eq!(shade_rgb(7.0), shade_rgb(1.0));
    }
}
