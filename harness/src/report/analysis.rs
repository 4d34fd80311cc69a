//! What the data says, independent of the output format: scenarios, rankings with ratios to the best,
//! the "what to pick for what" insights, detail tables, warnings and backpressure verdicts. Every
//! exporter renders these, so HTML and Markdown say the same thing.

use super::format::{fmt_bytes, fmt_estimate, fmt_ratio, fmt_ratio_range, fmt_value};
use super::metrics::{
    Better, Estimate, MetricDef, OVERHEAD_MS, estimate, is_relative_rate, metric_def, metric_names,
    param_f64, param_str, report_scenario_key,
};
use super::palette::Palette;
use super::scenario::{describe_report_scenario, describe_scenario};
use crate::finding::FindingKind;
use crate::results::{Cell, CellStatus, ImplStatus, Results};
use crate::stats::change::CELL_CONFIDENCE;

/// Cells of one workload that share parameters (open-loop echo at a fraction of each implementation's
/// own maximum counts as one scenario).
#[derive(Debug, Clone)]
pub struct Scenario<'a> {
    pub key: String,
    pub workload: String,
    pub description: String,
    /// In palette order.
    pub cells: Vec<&'a Cell>,
}

/// Workloads present in the results, known ones first in registry order ([`crate::workload::ALL`]).
pub fn workloads(results: &Results) -> Vec<String> {
    let mut present: Vec<String> = Vec::new();
    for c in &results.cells {
        if !present.contains(&c.workload) {
            present.push(c.workload.clone());
        }
    }
    present.sort_by_key(|w| {
        crate::workload::ALL
            .iter()
            .position(|d| d.name == w)
            .unwrap_or(usize::MAX)
    });
    present
}

/// The scenarios of `workload`, ordered by their parameters (numbers numerically).
pub fn scenarios<'a>(results: &'a Results, palette: &Palette, workload: &str) -> Vec<Scenario<'a>> {
    let mut out: Vec<Scenario<'a>> = Vec::new();
    for cell in results.cells.iter().filter(|c| c.workload == workload) {
        let key = report_scenario_key(cell);
        match out.iter_mut().find(|s| s.key == key) {
            Some(s) => s.cells.push(cell),
            None => out.push(Scenario {
                key,
                workload: workload.to_string(),
                description: describe_report_scenario(cell),
                cells: vec![cell],
            }),
        }
    }
    for s in &mut out {
        s.cells.sort_by_key(|c| palette.index(&c.implementation));
    }
    out.sort_by(|a, b| param_order(a.cells[0], b.cells[0]));
    out
}

/// Orders cells by their parameters, comparing numbers numerically and strings lexically.
fn param_order(a: &Cell, b: &Cell) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let keys = a.params.keys().chain(b.params.keys());
    let mut keys: Vec<&String> = keys.collect();
    keys.sort();
    keys.dedup();
    // Echo: mode first ("closed" before "open"), then the rest alphabetically.
    keys.sort_by_key(|k| k.as_str() != "mode" && k.as_str() != "variant");
    for k in keys {
        let o = match (param_f64(a, k), param_f64(b, k)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            _ => param_str(a, k).cmp(&param_str(b, k)),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// One implementation's place in a ranking.
#[derive(Debug, Clone)]
pub struct RankEntry {
    pub implementation: String,
    pub estimate: Estimate,
    /// Value divided by the best's median (≤ 1 for higher-is-better, ≥ 1 for lower-is-better).
    pub ratio: f64,
    pub ratio_lo: f64,
    pub ratio_hi: f64,
    /// The ratio's [`CELL_CONFIDENCE`] interval (compare's log-ratio statistics) includes 1×: not
    /// distinguishable from the best with this data.
    pub tied_with_best: bool,
    /// The load generator limited this cell: the server does at least this much (shown `≥`).
    pub lower_bound: bool,
    /// For a reference implementation, what it stands for ("no spawning", "async vs threads").
    pub reference: Option<String>,
}

/// Implementations ordered best first on one metric in one scenario.
#[derive(Debug, Clone)]
pub struct Ranking {
    pub workload: String,
    pub metric: MetricDef,
    pub scenario: String,
    pub entries: Vec<RankEntry>,
    /// Reference implementations (not ranked), with ratios to the best.
    pub references: Vec<RankEntry>,
}

/// Ranks the cells' implementations on `metric`, reference implementations (per `palette`) beside the
/// ranking; `None` when no cell has the metric or the metric has no better direction.
pub fn rank(cells: &[&Cell], metric: &str, scenario: &str, palette: &Palette) -> Option<Ranking> {
    let def = metric_def(metric);
    if def.better == Better::Neither {
        return None;
    }
    let mut measured: Vec<(&Cell, Estimate)> = cells
        .iter()
        .filter_map(|c| estimate(c, metric).map(|e| (*c, e)))
        .collect();
    measured.sort_by(|(_, a), (_, b)| match def.better {
        Better::Higher => b.median.total_cmp(&a.median),
        _ => a.median.total_cmp(&b.median),
    });
    let (refs, ranked): (Vec<_>, Vec<_>) = measured
        .into_iter()
        .partition(|(c, _)| palette.is_reference(&c.implementation));
    let (best_cell, best) = *ranked.first()?;
    let entry = |(c, e): (&Cell, Estimate)| {
        let (ratio_interval, tied_with_best) = tie(best_cell, &best, c, &e, metric);
        let ratio = |v: f64| {
            if best.median != 0.0 {
                v / best.median
            } else {
                f64::NAN
            }
        };
        RankEntry {
            implementation: c.implementation.clone(),
            ratio: ratio(e.median),
            ratio_lo: ratio_interval.map_or_else(|| ratio(e.lo), |i| i.0),
            ratio_hi: ratio_interval.map_or_else(|| ratio(e.hi), |i| i.1),
            tied_with_best,
            lower_bound: def.better == Better::Higher
                && def.name.starts_with("throughput")
                && client_bound(c),
            reference: palette.reference(&c.implementation).map(str::to_string),
            estimate: e,
        }
    };
    Some(Ranking {
        workload: cells[0].workload.clone(),
        metric: def,
        scenario: scenario.to_string(),
        entries: ranked.into_iter().map(entry).collect(),
        references: refs.into_iter().map(entry).collect(),
    })
}

/// The ratio `cell / best` as a [`CELL_CONFIDENCE`] interval and whether it includes 1×, from the
/// same log-ratio statistics `compare` judges with ([`crate::report::metrics::log_change`]): "tied" is decided
/// by the interval that is shown beside the ratio. Without any noise estimate (single values), the raw
/// intervals' overlap decides and no ratio interval is returned.
fn tie(
    best_cell: &Cell,
    best: &Estimate,
    cell: &Cell,
    e: &Estimate,
    metric: &str,
) -> (Option<(f64, f64)>, bool) {
    let interval = crate::report::metrics::log_change(best_cell, cell, metric, best, e)
        .and_then(|l| l.interval_pct(CELL_CONFIDENCE));
    match interval {
        Some((lo, hi)) => (
            Some((1.0 + lo / 100.0, 1.0 + hi / 100.0)),
            lo <= 0.0 && hi >= 0.0,
        ),
        None => (None, e.overlaps(best)),
    }
}

impl Ranking {
    /// One line: "X (123k msg/s), then Y 0.93× [0.90–0.95], Z 0.71× (+2 more); reference R: 64 B",
    /// implementations under their display labels, client-bound values with `≥`.
    pub fn sentence(&self, top: usize, palette: &Palette) -> String {
        let unit = self.metric.unit;
        let ge = |e: &RankEntry| if e.lower_bound { "≥" } else { "" };
        let mut parts = Vec::new();
        for (i, e) in self.entries.iter().take(top).enumerate() {
            if i == 0 {
                parts.push(format!(
                    "{} ({}{})",
                    palette.label(&e.implementation),
                    ge(e),
                    fmt_value(unit, e.estimate.median)
                ));
            } else {
                let mut s = format!(
                    "{} {}{}",
                    palette.label(&e.implementation),
                    ge(e),
                    fmt_ratio(e.ratio)
                );
                if e.estimate.has_interval {
                    s.push_str(&format!(" [{}]", fmt_ratio_range(e.ratio_lo, e.ratio_hi)));
                }
                if e.tied_with_best {
                    s.push_str(" (tied)");
                }
                parts.push(s);
            }
        }
        let more = self.entries.len().saturating_sub(top);
        let mut line = parts.remove(0);
        if !parts.is_empty() {
            line.push_str(", then ");
            line.push_str(&parts.join(", "));
        }
        if self.entries.len() == 1 {
            line.push_str(" — the only implementation measured");
        } else if more > 0 {
            line.push_str(&format!(" (+{more} more)"));
        }
        for r in &self.references {
            line.push_str(&format!(
                "; reference {} ({}): {}",
                palette.label(&r.implementation),
                r.reference.as_deref().unwrap_or("reference"),
                fmt_value(unit, r.estimate.median)
            ));
        }
        line
    }

    /// "higher is better" / "lower is better".
    pub fn direction(&self) -> &'static str {
        match self.metric.better {
            Better::Higher => "higher is better",
            Better::Lower => "lower is better",
            Better::Neither => "",
        }
    }
}

/// A plain-language finding for the summary.
#[derive(Debug, Clone)]
pub enum Insight {
    /// "What to pick for X": a question answered by a ranking.
    Pick { what: String, ranking: Ranking },
    /// A statement that is not a ranking (backpressure verdicts, futures flags).
    Statement { what: String, text: String },
}

/// Adds a ranking insight when the cells can be ranked on `metric`.
fn push_pick(
    out: &mut Vec<Insight>,
    palette: &Palette,
    what: String,
    cells: &[&Cell],
    metric: &str,
    scenario: &str,
) {
    if let Some(ranking) = rank(cells, metric, scenario, palette)
        && !ranking.entries.is_empty()
    {
        out.push(Insight::Pick { what, ranking });
    }
}

/// Picks the scenario with the most implementations measured on `metric`; ties go to the highest
/// `tie` score.
fn headline<'s, 'a>(
    scenarios: &'s [Scenario<'a>],
    metric: &str,
    filter: impl Fn(&Cell) -> bool,
    tie: impl Fn(&Cell) -> f64,
) -> Option<&'s Scenario<'a>> {
    let count = |s: &Scenario| {
        s.cells
            .iter()
            .filter(|c| estimate(c, metric).is_some())
            .count()
    };
    scenarios
        .iter()
        .filter(|s| filter(s.cells[0]) && count(s) > 0)
        .max_by(|a, b| {
            count(a)
                .cmp(&count(b))
                .then(tie(a.cells[0]).total_cmp(&tie(b.cells[0])))
        })
}

/// Closeness of `v` to `target` on a log scale (higher is closer).
fn near(v: Option<f64>, target: f64) -> f64 {
    match v {
        Some(v) if v > 0.0 => -(v / target).log2().abs(),
        _ => f64::NEG_INFINITY,
    }
}

fn mode_is(c: &Cell, mode: &str) -> bool {
    param_str(c, "mode").as_deref() == Some(mode)
}

fn has_finding(c: &Cell, kind: FindingKind) -> bool {
    c.findings.iter().any(|f| f.kind == kind)
}

/// Splits cells into those that may be ranked and those whose value is only a bound.
fn split_bounds<'a>(
    cells: &[&'a Cell],
    is_bound: impl Fn(&Cell) -> bool,
) -> (Vec<&'a Cell>, Vec<&'a Cell>) {
    cells.iter().copied().partition(|c| !is_bound(c))
}

/// A statement listing values that are only bounds ("≥ X" or "below X"), which no ranking may crown.
fn push_bounds(out: &mut Vec<Insight>, what: &str, bounds: &[&Cell], metric: &str) {
    if bounds.is_empty() {
        return;
    }
    let unit = super::metrics::metric_def(metric).unit;
    let items: Vec<String> = bounds
        .iter()
        .filter_map(|c| {
            let v = c.metrics.get(metric)?;
            Some(if has_finding(c, FindingKind::CapacityBelowRange) {
                let below = c.metrics.get("capacity_upper_msgs_per_s").unwrap_or(v);
                format!(
                    "{} below {} (missed the objective at every rate tried)",
                    c.implementation,
                    fmt_value(unit, below)
                )
            } else if has_finding(c, FindingKind::ClientBottleneck)
                && metric == "capacity_msgs_per_s"
            {
                // Capacity interval [highest met, lowest missed]: the upper end when one was missed.
                let upper = c.metrics.get("capacity_upper_msgs_per_s");
                format!(
                    "{} ≥ {} (client-limited above{})",
                    c.implementation,
                    fmt_value(unit, v),
                    upper.map_or(String::new(), |u| format!(
                        "; interval [{}, {}]",
                        fmt_value(unit, v),
                        fmt_value(unit, u)
                    ))
                )
            } else if has_finding(c, FindingKind::ClientBottleneck) {
                format!(
                    "{} ≥ {} (the load generator was saturated)",
                    c.implementation,
                    fmt_value(unit, v)
                )
            } else {
                format!(
                    "{} ≥ {} (met the objective at every rate tried)",
                    c.implementation,
                    fmt_value(unit, v)
                )
            })
        })
        .collect();
    if !items.is_empty() {
        out.push(Insight::Statement {
            what: format!("{what}: bounds, not ranked"),
            text: items.join("; "),
        });
    }
}

/// Says why nothing was ranked when every cell of a scenario was excluded.
fn push_unranked(out: &mut Vec<Insight>, what: String, excluded: &[&Cell]) {
    let items: Vec<String> = excluded
        .iter()
        .map(|c| {
            let mut why: Vec<&str> = c
                .findings
                .iter()
                .filter(|f| f.kind == FindingKind::OverCapacity || f.kind.is_failed_check())
                .map(|f| f.kind.name())
                .collect();
            why.dedup();
            format!("{} ({})", c.implementation, why.join(", "))
        })
        .collect();
    out.push(Insight::Statement {
        what,
        text: format!(
            "not ranked: no cell kept up with the offered load with a measurable latency — {}",
            items.join("; ")
        ),
    });
}

/// Whether the load generator, not the server, limited this cell (its throughput is a lower bound).
pub fn client_bound(c: &Cell) -> bool {
    c.findings
        .iter()
        .any(|f| f.kind == FindingKind::ClientBottleneck)
}

/// The scenarios the summary and the decision matrix judge on, chosen once so both say the same thing.
/// Each is a like-for-like comparison: every implementation under the same parameters and, for latency,
/// the same absolute offered load. Echo choices live together here so a change to the echo suite only
/// needs this function adapted.
#[derive(Debug, Clone, Default)]
pub struct Headlines<'a> {
    /// Echo capacity at the latency objective (open loop, Poisson arrivals): the headline.
    pub echo_capacity: Option<Scenario<'a>>,
    /// Closed-loop echo nearest 64 connections × 64 B: throughput, CPU per message, start-up.
    pub echo_closed: Option<Scenario<'a>>,
    /// Open-loop echo at one absolute offered rate shared by every implementation (never a fraction of
    /// each one's own maximum): the highest such rate nobody was over capacity at.
    pub echo_open: Option<Scenario<'a>>,
    /// Closed-loop echo with the most connections: server memory.
    pub echo_memory: Option<Scenario<'a>>,
    /// Fan-out at the largest task count, per variant (bare first).
    pub fanout: Vec<Scenario<'a>>,
    /// Stream, balanced pipeline nearest capacity 64.
    pub stream: Option<Scenario<'a>>,
}

/// Chooses the [`Headlines`].
pub fn headlines<'a>(results: &'a Results, palette: &Palette) -> Headlines<'a> {
    let echo = scenarios(results, palette, "echo");
    let echo_capacity = headline(
        &echo,
        "capacity_msgs_per_s",
        |c| mode_is(c, "capacity"),
        |_| 0.0,
    )
    .cloned();
    let echo_closed = headline(
        &echo,
        "throughput_msgs_per_s",
        |c| mode_is(c, "closed"),
        |c| {
            near(param_f64(c, "connections"), 64.0) * 10.0
                + near(param_f64(c, "message_bytes"), 64.0)
        },
    )
    .cloned();
    let echo_open = headline(
        &echo,
        "latency_ns.p99",
        |c| mode_is(c, "open") && !is_relative_rate(c) && param_f64(c, "rate_msgs_per_s").is_some(),
        |c| {
            // Prefer a load nobody is over capacity at, then the highest such load.
            let over = c
                .findings
                .iter()
                .any(|f| f.kind == FindingKind::OverCapacity);
            param_f64(c, "rate_msgs_per_s").unwrap_or(0.0) - if over { 1e18 } else { 0.0 }
        },
    )
    .cloned();
    let echo_memory = headline(
        &echo,
        "peak_rss_bytes",
        |c| mode_is(c, "closed"),
        |c| {
            param_f64(c, "connections").unwrap_or(0.0) * 1e3
                + near(param_f64(c, "message_bytes"), 64.0)
        },
    )
    .cloned();
    let fan = scenarios(results, palette, "fanout");
    let mut variants: Vec<Option<String>> = fan
        .iter()
        .map(|s| param_str(s.cells[0], "variant"))
        .collect();
    variants.sort();
    variants.dedup();
    let fanout = variants
        .iter()
        .filter_map(|v| {
            headline(
                &fan,
                "bytes_per_task",
                |c| &param_str(c, "variant") == v,
                |c| param_f64(c, "tasks").unwrap_or(0.0),
            )
            .cloned()
        })
        .collect();
    let st = scenarios(results, palette, "stream");
    let stream = headline(
        &st,
        "throughput_items_per_s",
        |c| param_str(c, "variant").as_deref() != Some("slow-consumer"),
        |c| near(param_f64(c, "capacity"), 64.0),
    )
    .cloned();
    Headlines {
        echo_capacity,
        echo_closed,
        echo_open,
        echo_memory,
        fanout,
        stream,
    }
}

/// The summary's plain-language findings, generated from the data: one line per question, each a
/// like-for-like comparison (see [`Headlines`]).
pub fn insights(results: &Results, palette: &Palette) -> Vec<Insight> {
    let mut out = Vec::new();
    let h = headlines(results, palette);
    // Echo. The headline is the capacity at the latency objective and the open loop at equal offered
    // rates; the closed loop is the maximum under this client engine. A cell the client limited (or
    // that met the objective at every rate tried) is a bound, "≥ X", and never named the winner.
    // Results written before the epoll-loop engine name no engine (constant-rate open loop then).
    let engine = results.environment.client_engine.as_deref();
    let arrivals = if engine.is_some() {
        "Poisson arrivals, "
    } else {
        ""
    };
    echo_capacity_picks(&mut out, &h, palette);
    echo_open_picks(&mut out, &h, arrivals, palette);
    echo_closed_picks(&mut out, &h, engine, palette);
    fanout_stream_startup_picks(&mut out, &h, palette);
    out.extend(backpressure_statement(results, palette));
    out.extend(future_sizes_statement(results));
    out.extend(super::cancel::insights(results, palette));
    out.extend(micro_statement(results, palette));
    out
}

/// The echo capacity pick; the cells whose capacity is only a bound are listed, never crowned.
fn echo_capacity_picks(out: &mut Vec<Insight>, h: &Headlines, palette: &Palette) {
    if let Some(s) = &h.echo_capacity {
        let (ranked, bounds) = split_bounds(&s.cells, |c| {
            c.metrics.get("capacity_is_lower_bound") == Some(1.0)
                || has_finding(c, FindingKind::ClientBottleneck)
                || has_finding(c, FindingKind::CapacityBelowRange)
        });
        push_pick(
            out,
            palette,
            format!("Highest echo capacity ({})", s.description),
            &ranked,
            "capacity_msgs_per_s",
            &s.description,
        );
        push_bounds(out, "Echo capacity", &bounds, "capacity_msgs_per_s");
    }
}

/// The echo tail-latency and CPU picks at equal offered load.
fn echo_open_picks(out: &mut Vec<Insight>, h: &Headlines, arrivals: &str, palette: &Palette) {
    if let Some(s) = &h.echo_open {
        // Only cells whose latency is measurable and that kept up with the offered load compete.
        let (ranked, excluded) = split_bounds(&s.cells, |c| {
            has_finding(c, FindingKind::OverCapacity)
                || c.metrics.get("latency_measurable").is_some_and(|m| m < 1.0)
        });
        if ranked.is_empty() {
            push_unranked(
                out,
                format!(
                    "Echo tail latency at equal offered load ({})",
                    s.description
                ),
                &excluded,
            );
        }
        push_pick(
            out,
            palette,
            format!(
                "Lowest echo tail latency at equal offered load, p99 ({arrivals}{})",
                s.description
            ),
            &ranked,
            "latency_ns.p99",
            &s.description,
        );
        push_pick(
            out,
            palette,
            format!(
                "Least server CPU per echoed message at equal offered load ({arrivals}{})",
                s.description
            ),
            &ranked,
            "server_cpu_us_per_msg",
            &s.description,
        );
    }
}

/// The closed-loop throughput pick (bounds listed) and the server-memory pick.
fn echo_closed_picks(
    out: &mut Vec<Insight>,
    h: &Headlines,
    engine: Option<&str>,
    palette: &Palette,
) {
    if let Some(s) = &h.echo_closed {
        let (ranked, bounds) =
            split_bounds(&s.cells, |c| has_finding(c, FindingKind::ClientBottleneck));
        push_pick(
            out,
            palette,
            format!(
                "Highest echo throughput, secondary: the maximum under the {} client ({})",
                engine.unwrap_or("harness's"),
                s.description
            ),
            &ranked,
            "throughput_msgs_per_s",
            &s.description,
        );
        push_bounds(
            out,
            "Echo closed-loop throughput",
            &bounds,
            "throughput_msgs_per_s",
        );
    }
    if let Some(s) = &h.echo_memory {
        push_pick(
            out,
            palette,
            format!("Smallest echo server memory ({})", s.description),
            &s.cells,
            "peak_rss_bytes",
            &s.description,
        );
    }
}

/// Memory per task and spawn overhead (fan-out), stream throughput and start-up time.
fn fanout_stream_startup_picks(out: &mut Vec<Insight>, h: &Headlines, palette: &Palette) {
    for s in &h.fanout {
        push_pick(
            out,
            palette,
            format!("Smallest memory per task ({})", s.description),
            &s.cells,
            "bytes_per_task",
            &s.description,
        );
    }
    if let Some(s) = h.fanout.first() {
        push_pick(
            out,
            palette,
            format!(
                "Least time to spawn and finish all tasks, net of the sleep ({})",
                s.description
            ),
            &s.cells,
            OVERHEAD_MS,
            &s.description,
        );
    }
    if let Some(s) = &h.stream {
        push_pick(
            out,
            palette,
            format!("Highest stream throughput ({})", s.description),
            &s.cells,
            "throughput_items_per_s",
            &s.description,
        );
    }
    if let Some(s) = &h.echo_closed {
        push_pick(
            out,
            palette,
            "Fastest start-up (start to ready)".into(),
            &s.cells,
            "startup_ms",
            &s.description,
        );
    }
}

/// Who held stream backpressure in every checked scenario and who violated it.
fn backpressure_statement(results: &Results, palette: &Palette) -> Option<Insight> {
    let verdicts = backpressure(results, palette);
    if verdicts.is_empty() {
        return None;
    }
    let held: Vec<&str> = unique(
        verdicts
            .iter()
            .filter(|v| v.held)
            .map(|v| v.implementation.as_str()),
    );
    let violated: Vec<&str> = unique(
        verdicts
            .iter()
            .filter(|v| !v.held)
            .map(|v| v.implementation.as_str()),
    );
    let held: Vec<String> = held
        .into_iter()
        .filter(|h| !violated.contains(h))
        .map(|h| palette.label(h))
        .collect();
    let violated: Vec<String> = violated.iter().map(|h| palette.label(h)).collect();
    let mut text = String::new();
    if !held.is_empty() {
        text.push_str(&format!(
            "held in every checked scenario by {}",
            if violated.is_empty() {
                "every implementation checked".to_string()
            } else {
                held.join(", ")
            }
        ));
    }
    if !violated.is_empty() {
        if !text.is_empty() {
            text.push_str("; ");
        }
        text.push_str(&format!(
            "VIOLATED by {} (see Findings)",
            violated.join(", ")
        ));
    }
    Some(Insight::Statement {
        what: "Stream backpressure".into(),
        text,
    })
}

/// The largest futures and the ones over the well-known thresholds.
fn future_sizes_statement(results: &Results) -> Option<Insight> {
    // Futures: the largest futures and the ones over the well-known thresholds.
    let futures: Vec<&Cell> = results
        .cells
        .iter()
        .filter(|c| c.workload == "futures" && c.status == CellStatus::Ok)
        .collect();
    if futures.is_empty() {
        return None;
    }
    let mut sized: Vec<(&Cell, f64)> = futures
        .iter()
        .filter_map(|c| super::metrics::value(c, "bytes").map(|b| (*c, b)))
        .collect();
    sized.sort_by(|a, b| b.1.total_cmp(&a.1));
    let flagged: Vec<String> = sized
        .iter()
        .filter(|(c, _)| c.findings.iter().any(|f| f.kind.is_size_above()))
        .map(|(c, b)| format!("{} ({})", describe_scenario(c), fmt_bytes(*b)))
        .collect();
    let text = if flagged.is_empty() {
        match sized.first() {
            Some((c, b)) => format!(
                "no future crosses the clippy large_futures or tokio auto-box thresholds; the largest is {} ({})",
                describe_scenario(c),
                fmt_bytes(*b)
            ),
            None => "no sizes recorded".into(),
        }
    } else {
        format!(
            "above the clippy large_futures / tokio auto-box thresholds: {}",
            flagged.join(", ")
        )
    };
    Some(Insight::Statement {
        what: "Future sizes".into(),
        text,
    })
}

/// Micro-benchmarks in one line: how often each runtime is the cheapest (details in their table).
fn micro_statement(results: &Results, palette: &Palette) -> Option<Insight> {
    // Micro-benchmarks: one line, how often each runtime is the cheapest (details in their table).
    let micro = scenarios(results, palette, "micro");
    let mut wins: Vec<(String, usize)> = Vec::new();
    let mut ranked = 0;
    for s in &micro {
        if let Some(r) = rank(&s.cells, "median_ns", &s.description, palette)
            && r.entries.len() > 1
        {
            ranked += 1;
            let best = &r.entries[0].implementation;
            match wins.iter_mut().find(|(n, _)| n == best) {
                Some(w) => w.1 += 1,
                None => wins.push((best.clone(), 1)),
            }
        }
    }
    if ranked == 0 {
        return None;
    }
    wins.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let parts: Vec<String> = wins
        .iter()
        .map(|(n, k)| format!("{} on {k}", palette.label(n)))
        .collect();
    Some(Insight::Statement {
        what: format!("Cheapest runtime primitive ({ranked} micro-benchmarks)"),
        text: format!("{}; per primitive in Micro-benchmarks", parts.join(", ")),
    })
}

fn unique<'a>(it: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = Vec::new();
    for s in it {
        if !v.contains(&s) {
            v.push(s);
        }
    }
    v
}

/// A stream cell's backpressure verdict, from the runner's findings.
#[derive(Debug, Clone)]
pub struct BackpressureVerdict {
    pub implementation: String,
    pub scenario: String,
    pub held: bool,
    pub message: String,
}

/// Every backpressure verdict recorded, in scenario and palette order.
pub fn backpressure(results: &Results, palette: &Palette) -> Vec<BackpressureVerdict> {
    let mut out = Vec::new();
    for s in scenarios(results, palette, "stream") {
        for c in &s.cells {
            for f in &c.findings {
                let held = match f.kind {
                    FindingKind::BackpressureOk => true,
                    FindingKind::BackpressureViolation => false,
                    _ => continue,
                };
                out.push(BackpressureVerdict {
                    implementation: c.implementation.clone(),
                    scenario: s.description.clone(),
                    held,
                    message: f.message.clone(),
                });
            }
        }
    }
    out
}

/// A detail table: one row per cell, one column per metric.
#[derive(Debug, Clone)]
pub struct Table {
    pub workload: String,
    pub title: String,
    /// Headers of the leading label columns (e.g. "implementation", or "pattern", "runtime").
    pub label_headers: Vec<String>,
    pub columns: Vec<MetricDef>,
    pub rows: Vec<TableRow>,
}

#[derive(Debug, Clone)]
pub struct TableRow {
    pub implementation: String,
    pub labels: Vec<String>,
    pub status: CellStatus,
    pub reason: Option<String>,
    pub values: Vec<Option<Estimate>>,
    /// Finding kinds attached to the cell (descriptions excluded: see `detail`).
    pub flags: Vec<String>,
    /// What the cell is, when the runner described it (future-size catalogue entries).
    pub detail: Option<String>,
}

fn columns_for(workload: &str, cells: &[&Cell]) -> Vec<String> {
    // The workload's own column list (unknown workloads: every metric present, sorted).
    let preferred: &[&str] = crate::workload::find(workload).map_or(&[], |d| d.columns);
    let present = |m: &str| cells.iter().any(|c| estimate(c, m).is_some());
    if preferred.is_empty() {
        let mut all: Vec<String> = cells.iter().flat_map(|c| metric_names(c)).collect();
        all.sort();
        all.dedup();
        return all;
    }
    let superseded = |m: &str| m == "wall_ms" && present("wall_net_ms");
    let mut columns: Vec<String> = preferred
        .iter()
        .filter(|m| present(m) && !superseded(m))
        .map(|m| m.to_string())
        .collect();
    // With `--client-host`: each client host's CPU beside the total, in `--client-host` order.
    let mut hosts: Vec<String> = cells
        .iter()
        .flat_map(|c| metric_names(c))
        .filter(|m| m.starts_with(CLIENT_HOST_CPU) && present(m))
        .collect();
    hosts.sort_by_key(|m| m[CLIENT_HOST_CPU.len()..].parse::<usize>().unwrap_or(0));
    hosts.dedup();
    if let Some(i) = columns.iter().position(|c| c == "client_cpu_util") {
        columns.splice(i + 1..i + 1, hosts);
    }
    columns
}

/// The prefix of the per-client-host CPU metrics (`client_cpu_util_host0`, …).
const CLIENT_HOST_CPU: &str = "client_cpu_util_host";

fn row(cell: &Cell, labels: Vec<String>, columns: &[MetricDef]) -> TableRow {
    TableRow {
        implementation: cell.implementation.clone(),
        labels,
        status: cell.status,
        reason: cell.reason.clone(),
        values: columns.iter().map(|m| estimate(cell, m.name)).collect(),
        flags: cell
            .findings
            .iter()
            .filter(|f| !f.kind.is_informational())
            .map(|f| f.kind.name().to_string())
            .collect(),
        detail: cell
            .findings
            .iter()
            .find(|f| f.kind == FindingKind::Description)
            .map(|f| f.message.clone()),
    }
}

/// Computes a row's label cells from its cell.
type RowLabels = fn(&Cell, &Palette) -> Vec<String>;

/// The detail tables of every workload: one per scenario, except the catalogue-like workloads (futures,
/// micro) which get one table with a row per cell.
pub fn tables(results: &Results, palette: &Palette) -> Vec<Table> {
    let mut out = Vec::new();
    for w in workloads(results) {
        let scen = scenarios(results, palette, &w);
        if w == "futures" || w == "micro" {
            let cells: Vec<&Cell> = scen.iter().flat_map(|s| s.cells.iter().copied()).collect();
            let columns: Vec<MetricDef> = columns_for(&w, &cells)
                .iter()
                .map(|m| metric_def(m))
                .collect();
            let (headers, label): (Vec<String>, RowLabels) = if w == "futures" {
                (vec!["pattern".into(), "runtime".into()], |c, _| {
                    vec![
                        param_str(c, "pattern").unwrap_or_default(),
                        param_str(c, "runtime").unwrap_or_default(),
                    ]
                })
            } else {
                (vec!["primitive".into(), "runtime".into()], |c, p| {
                    vec![
                        param_str(c, "primitive").unwrap_or_default(),
                        p.label(&c.implementation),
                    ]
                })
            };
            out.push(Table {
                workload: w.clone(),
                // The workload heading already says what the table is.
                title: String::new(),
                label_headers: headers,
                rows: cells
                    .iter()
                    .map(|c| row(c, label(c, palette), &columns))
                    .collect(),
                columns,
            });
            continue;
        }
        for s in scen {
            let columns: Vec<MetricDef> = columns_for(&w, &s.cells)
                .iter()
                .map(|m| metric_def(m))
                .collect();
            out.push(Table {
                workload: w.clone(),
                title: s.description.clone(),
                label_headers: vec!["implementation".into()],
                rows: s
                    .cells
                    .iter()
                    .map(|c| row(c, vec![palette.label(&c.implementation)], &columns))
                    .collect(),
                columns,
            });
        }
        if w == "cancel" {
            out.extend(super::cancel::lost_items_table(results, palette));
        }
    }
    out
}

/// Something a reader must know before trusting a number.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    pub kind: FindingKind,
    /// What it is about: "run", an implementation, or "workload implementation (scenario)".
    pub subject: String,
    pub message: String,
}

/// Load average per core above which the machine counts as busy.
pub const BUSY_LOAD_PER_CORE: f64 = 0.5;

/// Every warning: run-level (busy machine, dirty tree), implementations that did not run, failed cells,
/// the runner's findings (except backpressure verdicts, reported on their own) and noisy headline
/// metrics the runner did not already flag.
pub fn warnings(results: &Results, palette: &Palette) -> Vec<Warning> {
    let mut out = run_warnings(results);
    out.extend(implementation_warnings(results, palette));
    for w in workloads(results) {
        for s in scenarios(results, palette, &w) {
            for c in &s.cells {
                let subject = format!(
                    "{} {} ({})",
                    c.workload,
                    palette.label(&c.implementation),
                    s.description
                );
                cell_warnings(c, &subject, &mut out);
            }
        }
    }
    out
}

/// The warnings about the whole run: a busy machine, a dirty tree.
fn run_warnings(results: &Results) -> Vec<Warning> {
    let mut out = Vec::new();
    let env = &results.environment;
    if let Some(load) = env.load_avg_1m_at_start
        && env.cores > 0
        && load / f64::from(env.cores) > BUSY_LOAD_PER_CORE
    {
        out.push(Warning {
            kind: FindingKind::BusyMachine,
            subject: "run".into(),
            message: format!(
                "1-minute load average was {load:.2} on {} cores when the run started; other work competes with the measurements",
                env.cores
            ),
        });
    }
    if env.git_dirty == Some(true) {
        out.push(Warning {
            kind: FindingKind::DirtyTree,
            subject: "run".into(),
            message: "the working tree had uncommitted changes; the commit alone does not reproduce this run".into(),
        });
    }
    out
}

/// One warning per implementation that did not run (skipped, did not build, failed verification).
fn implementation_warnings(results: &Results, palette: &Palette) -> Vec<Warning> {
    let mut out = Vec::new();
    for i in &results.implementations {
        let kind = match i.status {
            ImplStatus::Ok => continue,
            ImplStatus::Skipped => FindingKind::Skipped,
            ImplStatus::BuildFailed => FindingKind::BuildFailed,
            ImplStatus::VerifyFailed => FindingKind::VerifyFailed,
        };
        out.push(Warning {
            kind,
            subject: palette.label(&i.name),
            message: i
                .reason
                .clone()
                .unwrap_or_else(|| "no reason recorded".into()),
        });
    }
    out
}

/// A cell's warnings: its status if it did not complete, its findings (except informational ones and
/// backpressure verdicts), noisy headline metrics the runner did not flag, and counted errors.
fn cell_warnings(c: &Cell, subject: &str, out: &mut Vec<Warning>) {
    if c.status != CellStatus::Ok {
        out.push(Warning {
            kind: cell_status_kind(c.status),
            subject: subject.to_string(),
            message: c
                .reason
                .clone()
                .unwrap_or_else(|| "no reason recorded".into()),
        });
    }
    for f in &c.findings {
        // Informational findings are not warnings (the future-size catalogue describes
        // every entry in a finding); violations are reported in their own table.
        if f.kind.is_informational() || f.kind == FindingKind::BackpressureViolation {
            continue;
        }
        out.push(Warning {
            kind: f.kind.clone(),
            subject: subject.to_string(),
            message: f.message.clone(),
        });
    }
    if !c.findings.iter().any(|f| f.kind == FindingKind::Noisy) {
        for m in super::metrics::cell_headline_metrics(c) {
            if let Some(e) = estimate(c, m)
                && e.noisy()
            {
                let def = metric_def(m);
                out.push(Warning {
                    kind: FindingKind::Noisy,
                    subject: subject.to_string(),
                    message: format!(
                        "{} varies {:.0}% between trials (CV > {:.0}%): {}",
                        def.label,
                        e.cv.unwrap_or(0.0) * 100.0,
                        super::metrics::NOISY_CV * 100.0,
                        fmt_estimate(def.unit, &e)
                    ),
                });
            }
        }
    }
    let errors: u64 = c.errors_by_kind.values().sum();
    if errors > 0 {
        let kinds: Vec<String> = c
            .errors_by_kind
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        out.push(Warning {
            kind: FindingKind::Errors,
            subject: subject.to_string(),
            message: format!("{errors} errors ({})", kinds.join(", ")),
        });
    }
}

/// The warning for a cell that did not complete (`cell_<status text>`).
fn cell_status_kind(s: CellStatus) -> FindingKind {
    match s {
        // `Ok` never gets here (only cells that did not complete have a status warning).
        CellStatus::Ok | CellStatus::Failed => FindingKind::CellFailed,
        CellStatus::Timeout => FindingKind::CellTimeout,
        CellStatus::Crashed => FindingKind::CellCrashed,
        CellStatus::OutOfMemory => FindingKind::CellOutOfMemory,
    }
}

/// A cell status as text.
pub fn status_text(s: CellStatus) -> &'static str {
    match s {
        CellStatus::Ok => "ok",
        CellStatus::Failed => "failed",
        CellStatus::Timeout => "timeout",
        CellStatus::Crashed => "crashed",
        CellStatus::OutOfMemory => "out of memory",
    }
}

/// An implementation status as text.
pub fn impl_status_text(s: ImplStatus) -> &'static str {
    match s {
        ImplStatus::Ok => "ok",
        ImplStatus::Skipped => "skipped",
        ImplStatus::BuildFailed => "build failed",
        ImplStatus::VerifyFailed => "verification failed",
    }
}

/// A workload's display name: its definition's title, else its name.
pub fn workload_title(w: &str) -> String {
    crate::workload::find(w).map_or_else(|| w.to_string(), |d| d.title.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Cell, CellStatus, Summary};
    use serde_json::json;
    use std::collections::BTreeMap;

    fn cell(implementation: &str, metric: &str, median: f64, halfwidth: f64) -> Cell {
        let mut params = BTreeMap::new();
        params.insert("variant".to_string(), json!("bare"));
        let mut c = Cell::failed(
            "fanout",
            implementation,
            params,
            CellStatus::Ok,
            String::new(),
        );
        c.metrics.set(metric, median);
        let s = Summary {
            n: 5,
            median,
            ci_low: median - halfwidth,
            ci_high: median + halfwidth,
            cv: Some(0.01),
        };
        c.stats.insert(metric.to_string(), s);
        c
    }

    #[test]
    fn lower_is_better_ranking_with_ties_and_references() {
        let cells = [
            cell("go", "bytes_per_task", 2600.0, 10.0),
            cell("rust-tokio", "bytes_per_task", 250.0, 5.0),
            cell("node", "bytes_per_task", 254.0, 5.0),
            cell("rust-join-all", "bytes_per_task", 64.0, 1.0),
        ];
        let refs: Vec<&Cell> = cells.iter().collect();
        let palette = Palette::from_names(
            &["go", "rust-tokio", "node", "rust-join-all"],
            &[("rust-join-all", "no spawning")],
        );
        let r = rank(&refs, "bytes_per_task", "bare", &palette).unwrap();
        let names: Vec<&str> = r
            .entries
            .iter()
            .map(|e| e.implementation.as_str())
            .collect();
        assert_eq!(
            names,
            ["rust-tokio", "node", "go"],
            "the reference is not ranked"
        );
        assert_eq!(r.references[0].implementation, "rust-join-all");
        // "tied" is decided by the ratio interval that is shown: it includes 1× exactly when tied.
        for e in &r.entries[1..] {
            assert_eq!(
                e.tied_with_best,
                e.ratio_lo <= 1.0 && e.ratio_hi >= 1.0,
                "{e:?}"
            );
        }
        assert!(r.entries[1].tied_with_best, "1.6 % apart, ±2 % intervals");
        assert!(!r.entries[2].tied_with_best);
        assert!((r.entries[2].ratio - 10.4).abs() < 1e-9);
        assert!(r.entries[2].ratio_lo > 10.0 && r.entries[2].ratio_hi < 10.8);
        let s = r.sentence(2, &palette);
        assert!(
            s.starts_with("rust-tokio (250 B), then node 1.02× [0.97–1.07] (tied) (+1 more)"),
            "{s}"
        );
        assert!(
            s.ends_with("reference rust-join-all (no spawning): 64 B"),
            "{s}"
        );
    }

    #[test]
    fn references_come_from_the_results_not_a_fixed_list() {
        let cells = [
            cell("rust-tokio", "total_net_ms", 30.0, 1.0),
            cell("rust-threads", "total_net_ms", 900.0, 10.0),
            cell("rust-join-all", "total_net_ms", 10.0, 1.0),
        ];
        let refs: Vec<&Cell> = cells.iter().collect();
        // rust-join-all is a contender here: only the results say what is a reference.
        let palette = Palette::from_names(
            &["rust-tokio", "rust-threads", "rust-join-all"],
            &[("rust-threads", "async vs threads")],
        );
        let r = rank(&refs, "total_net_ms", "bare", &palette).unwrap();
        let names: Vec<&str> = r
            .entries
            .iter()
            .map(|e| e.implementation.as_str())
            .collect();
        assert_eq!(names, ["rust-join-all", "rust-tokio"]);
        assert_eq!(r.references.len(), 1);
        assert_eq!(
            r.references[0].reference.as_deref(),
            Some("async vs threads")
        );
        assert!(r.entries.iter().all(|e| e.reference.is_none()));
        let s = r.sentence(3, &palette);
        assert!(
            s.ends_with("; reference rust-threads (async vs threads): 900 ms"),
            "{s}"
        );
    }

    #[test]
    fn higher_is_better_and_failed_cells_are_not_ranked() {
        let mut failed = cell("node", "throughput_items_per_s", 9e9, 1.0);
        failed.status = CellStatus::Crashed;
        let cells = [
            cell("go", "throughput_items_per_s", 5e6, 1e5),
            cell("rust-tokio", "throughput_items_per_s", 9e6, 1e5),
            failed,
        ];
        let refs: Vec<&Cell> = cells.iter().collect();
        let palette = Palette::from_names(&[], &[]);
        let r = rank(&refs, "throughput_items_per_s", "x", &palette).unwrap();
        let names: Vec<&str> = r
            .entries
            .iter()
            .map(|e| e.implementation.as_str())
            .collect();
        assert_eq!(names, ["rust-tokio", "go"]);
        assert!(r.entries[1].ratio < 1.0);
        // Descriptive metrics are never ranked.
        assert!(rank(&refs, "client_cpu_util", "x", &palette).is_none());
    }
}
