//! Describing a cell's scenario in words ("closed loop, 64 connections, 64 B messages"): the one
//! place the reports, `compare` and the history put parameters into prose. It uses the number
//! formatting of [`super::format`] and the parameter readers of [`super::metrics`], which use neither
//! it nor each other's callers (format → metrics only).

use super::format::{fmt_bytes, fmt_count, fmt_rate};
use super::metrics::{param_f64, param_str, trim_num, value_text, without_sleep};
use crate::results::Cell;

/// [`describe_scenario`] of the report scenario ([`super::metrics::report_scenario_key`]): without a fan-out's sleep.
pub fn describe_report_scenario(cell: &Cell) -> String {
    match without_sleep(cell) {
        Some(c) => describe_scenario(&c),
        None => describe_scenario(cell),
    }
}

/// A human description of a cell's scenario, e.g. "closed loop, 64 connections, 64 B messages".
pub fn describe_scenario(cell: &Cell) -> String {
    let mut parts: Vec<String> = Vec::new();
    match cell.workload.as_str() {
        "echo" => echo_parts(cell, &mut parts),
        "fanout" => fanout_parts(cell, &mut parts),
        "stream" => stream_parts(cell, &mut parts),
        "cancel" => cancel_parts(cell, &mut parts),
        "micro" => micro_parts(cell, &mut parts),
        "futures" => futures_parts(cell, &mut parts),
        _ => {}
    }
    let known = [
        "mode",
        "latency_objective_us",
        "rate_fraction",
        "rate_msgs_per_s",
        "connections",
        "message_bytes",
        "variant",
        "tasks",
        "sleep_ms",
        "capacity",
        "stages",
        "items",
        "min_ms",
        "pause_every",
        "pause_ms",
        "primitive",
        "pattern",
        "runtime",
        "ops",
        "timeout_ms",
        "concurrency",
        "idiom",
        // The deadline variant's seed is the same everywhere; its outcome counts are in the protocol.
        "seed",
    ];
    for (k, v) in &cell.params {
        if !known.contains(&k.as_str()) {
            parts.push(format!("{k}={}", value_text(v)));
        }
    }
    if parts.is_empty() {
        "default parameters".into()
    } else {
        parts.join(", ")
    }
}

/// The echo mode (open / closed / capacity), connections and message size.
fn echo_parts(cell: &Cell, parts: &mut Vec<String>) {
    let s = |k: &str| param_str(cell, k);
    let f = |k: &str| param_f64(cell, k);

    match s("mode").as_deref() {
        Some("open") => {
            if let Some(frac) = f("rate_fraction") {
                parts.push(format!(
                    "open loop at {}% of each implementation's closed-loop maximum",
                    trim_num(frac * 100.0)
                ));
            } else if let Some(rate) = f("rate_msgs_per_s") {
                parts.push(format!("open loop, {} offered", fmt_rate(rate, "msg/s")));
            } else {
                parts.push("open loop".into());
            }
        }
        Some("closed") => parts.push("closed loop".into()),
        Some("capacity") => parts.push(format!(
            "capacity at p99 ≤ {} µs with ≥ 99 % of offered completed",
            trim_num(f("latency_objective_us").unwrap_or(1000.0))
        )),
        Some(other) => parts.push(other.to_string()),
        None => {}
    }
    if let Some(c) = f("connections") {
        parts.push(format!(
            "{} connection{}",
            fmt_count(c),
            if c == 1.0 { "" } else { "s" }
        ));
    }
    if let Some(b) = f("message_bytes") {
        parts.push(format!("{} messages", fmt_bytes(b)));
    }
}

/// The fan-out variant, task count and sleep.
fn fanout_parts(cell: &Cell, parts: &mut Vec<String>) {
    let s = |k: &str| param_str(cell, k);
    let f = |k: &str| param_f64(cell, k);

    if let Some(v) = s("variant") {
        parts.push(v);
    }
    if let Some(t) = f("tasks") {
        parts.push(format!("{} tasks", fmt_count(t)));
    }
    if let Some(d) = f("sleep_ms") {
        parts.push(format!("{} ms sleep", trim_num(d)));
    }
}

/// The stream variant, channel capacity, stages, items or minimum time, and pauses.
fn stream_parts(cell: &Cell, parts: &mut Vec<String>) {
    let s = |k: &str| param_str(cell, k);
    let f = |k: &str| param_f64(cell, k);

    if let Some(v) = s("variant") {
        parts.push(v);
    }
    if let Some(c) = f("capacity") {
        parts.push(format!("capacity {}", fmt_count(c)));
    }
    if let Some(k) = f("stages") {
        parts.push(format!(
            "{} stage{}",
            trim_num(k),
            if k == 1.0 { "" } else { "s" }
        ));
    }
    match (f("items"), f("min_ms")) {
        (Some(n), Some(t)) if t > 0.0 => {
            parts.push(format!("≥ {} items and ≥ {} ms", fmt_count(n), trim_num(t)))
        }
        (Some(n), _) => parts.push(format!("{} items", fmt_count(n))),
        _ => {}
    }
    if let (Some(m), Some(t)) = (f("pause_every"), f("pause_ms")) {
        parts.push(format!(
            "{} ms pause every {} items",
            trim_num(t),
            fmt_count(m)
        ));
    }
}

/// The cancellation variant, its sizes, timeout, concurrency and idiom.
fn cancel_parts(cell: &Cell, parts: &mut Vec<String>) {
    let s = |k: &str| param_str(cell, k);
    let f = |k: &str| param_f64(cell, k);

    if let Some(v) = s("variant") {
        parts.push(v);
    }
    if let Some(n) = f("tasks") {
        parts.push(format!("{} tasks", fmt_count(n)));
    }
    if let Some(m) = f("ops") {
        parts.push(format!("{} ops", fmt_count(m)));
    }
    if let Some(t) = f("timeout_ms") {
        parts.push(format!("{} ms timeout", trim_num(t)));
    }
    if let Some(p) = f("concurrency") {
        parts.push(format!("{} in flight", fmt_count(p)));
    }
    if let Some(k) = f("items") {
        parts.push(format!("{} items", fmt_count(k)));
    }
    if let Some(i) = s("idiom") {
        parts.push(format!("{i} idiom"));
    }
}

/// The micro-benchmark's primitive.
fn micro_parts(cell: &Cell, parts: &mut Vec<String>) {
    let s = |k: &str| param_str(cell, k);

    if let Some(p) = s("primitive") {
        parts.push(p);
    }
}

/// The future-size entry's pattern and runtime.
fn futures_parts(cell: &Cell, parts: &mut Vec<String>) {
    let s = |k: &str| param_str(cell, k);
    match (s("pattern"), s("runtime")) {
        (Some(p), Some(r)) => parts.push(format!("{p} on {r}")),
        (Some(p), None) => parts.push(p),
        (None, Some(r)) => parts.push(format!("on {r}")),
        (None, None) => {}
    };
}
