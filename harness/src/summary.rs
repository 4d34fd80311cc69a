//! The short text summary printed at the end of a run: headline numbers per workload and every
//! implementation that did not take part, with the reason. Pure: results in, text out.

use crate::finding::FindingKind;
use crate::report::format::{fmt_compact, fmt_compact_ns};
use crate::report::palette::Palette;
use crate::results::{Cell, CellStatus, ImplStatus, Results};
use serde_json::json;
use std::fmt::Write;

fn find<'a>(
    r: &'a Results,
    workload: &str,
    imp: &str,
    want: &[(&str, serde_json::Value)],
) -> Option<&'a Cell> {
    r.cells.iter().find(|c| {
        c.workload == workload
            && c.implementation == imp
            && want.iter().all(|(k, v)| c.params.get(*k) == Some(v))
    })
}

fn status_or<'a>(c: Option<&'a Cell>, f: impl Fn(&'a Cell) -> String) -> String {
    match c {
        None => "-".into(),
        Some(c) if c.status != CellStatus::Ok => format!("{:?}", c.status).to_lowercase(),
        Some(c) => f(c),
    }
}

/// The load generator's own capacity, measured against the fastest closed-loop server: what it sustained
/// and the client CPU it spent per message (so how many messages/s one core of it can drive).
pub fn loadgen_headroom(r: &Results) -> Option<String> {
    let fastest = r
        .cells
        .iter()
        .filter(|c| {
            c.workload == "echo"
                && c.status == CellStatus::Ok
                && c.params.get("mode") == Some(&json!("closed"))
        })
        .max_by(|a, b| {
            let t = |c: &Cell| c.metrics.get("throughput_msgs_per_s").unwrap_or(0.0);
            t(a).total_cmp(&t(b))
        })?;
    let tput = fastest.metrics.get("throughput_msgs_per_s")?;
    let us = fastest.metrics.get("client_cpu_us_per_msg")?;
    let util = fastest.metrics.get("client_cpu_util").unwrap_or(f64::NAN);
    let p: Vec<String> = fastest
        .params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    Some(format!(
        "load generator: sustained {} msgs/s against the fastest server ({} {}) using {util:.2} cores, {us:.2} µs of client CPU per message → at most ≈{} msgs/s per client core",
        fmt_compact(Some(tput), ""),
        fastest.implementation,
        p.join(" "),
        fmt_compact(Some(1e6 / us), "")
    ))
}

/// Renders the end-of-run summary.
pub fn render(r: &Results) -> String {
    let mut out = String::new();
    busy_machine(r, &mut out);
    let impls: Vec<&str> = r.implementations.iter().map(|i| i.name.as_str()).collect();
    // Implementations are shown under their report labels (`csharp (Mono 6.8)` with runtime_in_label).
    let palette = Palette::new(r);
    let has = |w: &str| r.cells.iter().any(|c| c.workload == w);
    if has("echo") {
        render_echo(r, &impls, &palette, &mut out);
    }
    if has("fanout") {
        render_fanout(r, &impls, &palette, &mut out);
    }
    if has("stream") {
        render_stream(r, &impls, &palette, &mut out);
    }
    out.push_str(&crate::report::cancel::terminal_summary(r));
    if let Some(line) = loadgen_headroom(r) {
        let _ = writeln!(out, "\n{line}");
    }
    render_futures(r, &mut out);
    render_micro(r, &mut out);
    render_failed(r, &mut out);
    render_caveats(r, &palette, &mut out);
    render_not_measured(r, &palette, &mut out);
    out
}

/// One line of fixed-width columns, one space apart: the first (the implementation) left-aligned, the
/// numbers right-aligned.
fn columns<const N: usize>(out: &mut String, widths: &[usize; N], cells: [String; N]) {
    for (i, (w, c)) in widths.iter().zip(cells).enumerate() {
        let _ = match i {
            0 => write!(out, "{c:<w$}"),
            _ => write!(out, " {c:>w$}"),
        };
    }
    out.push('\n');
}

/// A warning line when the machine was busy as the run started.
fn busy_machine(r: &Results, out: &mut String) {
    let cores = f64::from(r.environment.cores.max(1));
    if let Some(load) = r
        .environment
        .load_avg_1m_at_start
        .filter(|l| *l > 0.5 * cores)
    {
        let _ = writeln!(
            out,
            "warning: the machine was busy when the run started (load average {load:.2} on {cores} cores): numbers may be disturbed"
        );
    }
}

/// Echo: the closed-loop headline cell and the open-loop p99 at the lowest rate every server was offered.
fn render_echo(r: &Results, impls: &[&str], palette: &Palette, out: &mut String) {
    let _ = writeln!(
        out,
        "\necho (closed loop 64 conns × 64 B; open loop p99 at the lowest common rate)"
    );
    const WIDTHS: [usize; 7] = [20, 12, 10, 12, 10, 12, 8];
    columns(
        out,
        &WIDTHS,
        [
            "impl",
            "msgs/s",
            "p99",
            "open p99",
            "peak RSS",
            "srv µs/msg",
            "fut B",
        ]
        .map(String::from),
    );
    let common = r
        .cells
        .iter()
        .filter(|c| {
            c.workload == "echo"
                && c.params.get("mode") == Some(&json!("open"))
                && !c.params.contains_key("rate_fraction")
        })
        .filter_map(|c| c.params.get("rate_msgs_per_s").and_then(|v| v.as_f64()))
        .fold(f64::INFINITY, f64::min);
    for imp in impls {
        let closed = find(
            r,
            "echo",
            imp,
            &[
                ("mode", json!("closed")),
                ("connections", json!(64)),
                ("message_bytes", json!(64)),
            ],
        );
        if closed.is_none() {
            continue;
        }
        let open = r.cells.iter().find(|c| {
            c.workload == "echo"
                && c.implementation == *imp
                && !c.params.contains_key("rate_fraction")
                && c.params.get("rate_msgs_per_s").and_then(|v| v.as_f64()) == Some(common)
        });
        let row = [
            palette.label(imp),
            status_or(closed, |c| {
                fmt_compact(c.metrics.get("throughput_msgs_per_s"), "")
            }),
            status_or(closed, |c| {
                fmt_compact_ns(c.metrics.latency_ns.map(|l| l.p99))
            }),
            status_or(open, |c| {
                fmt_compact_ns(c.metrics.latency_ns.map(|l| l.p99))
            }),
            status_or(closed, |c| {
                fmt_compact(c.metrics.get("peak_rss_bytes"), "B")
            }),
            status_or(closed, |c| {
                format!(
                    "{:.2}",
                    c.metrics.get("server_cpu_us_per_msg").unwrap_or(f64::NAN)
                )
            }),
            status_or(closed, |c| {
                c.metrics
                    .get("future_bytes")
                    .map(|b| format!("{b:.0}"))
                    .unwrap_or("-".into())
            }),
        ];
        columns(out, &WIDTHS, row);
    }
}

/// Fan-out: bytes per task and wall time at the largest task count of each variant.
fn render_fanout(r: &Results, impls: &[&str], palette: &Palette, out: &mut String) {
    let max_n_of = |variant: &str| {
        r.cells
            .iter()
            .filter(|c| c.workload == "fanout")
            .filter(|c| c.params.get("variant") == Some(&json!(variant)))
            .filter_map(|c| c.params["tasks"].as_u64())
            .max()
            .unwrap_or(0)
    };
    let (bare_n, state_n) = (max_n_of("bare"), max_n_of("state"));
    // Newer results size the sleep per implementation: the wall time beyond it compares.
    let wall = if r
        .cells
        .iter()
        .any(|c| c.metrics.get("wall_net_ms").is_some())
    {
        ("wall_net_ms", "wall time beyond the sleep")
    } else {
        ("wall_ms", "wall time")
    };
    let at = if bare_n == state_n || state_n == 0 {
        format!("{bare_n} tasks")
    } else {
        format!("{bare_n} (bare) and {state_n} (state) tasks")
    };
    let _ = writeln!(
        out,
        "\nfanout at {at} (bytes per task above the 1-task baseline; {})",
        wall.1
    );
    const WIDTHS: [usize; 5] = [20, 12, 10, 12, 10];
    columns(
        out,
        &WIDTHS,
        [
            "impl",
            "bare B/task",
            "bare wall",
            "state B/task",
            "state wall",
        ]
        .map(String::from),
    );
    let ms = |c: &Cell| format!("{:.0}ms", c.metrics.get(wall.0).unwrap_or(f64::NAN));
    for imp in impls {
        let bare = find(
            r,
            "fanout",
            imp,
            &[("variant", json!("bare")), ("tasks", json!(bare_n))],
        );
        let state = find(
            r,
            "fanout",
            imp,
            &[("variant", json!("state")), ("tasks", json!(state_n))],
        );
        if bare.is_none() && state.is_none() {
            continue;
        }
        let row = [
            palette.label(imp),
            status_or(bare, |c| fmt_compact(c.metrics.get("bytes_per_task"), "")),
            status_or(bare, ms),
            status_or(state, |c| fmt_compact(c.metrics.get("bytes_per_task"), "")),
            status_or(state, ms),
        ];
        columns(out, &WIDTHS, row);
    }
}

/// Stream: the balanced 4-stage pipeline's throughput and p99, and the slow consumer's backpressure
/// verdict.
fn render_stream(r: &Results, impls: &[&str], palette: &Palette, out: &mut String) {
    let _ = writeln!(
        out,
        "\nstream (balanced, 4 stages, capacity 64; backpressure verdict from the slow consumer)"
    );
    let _ = writeln!(
        out,
        "{:<20} {:>12} {:>10} {:>10}  backpressure",
        "impl", "items/s", "p99", "peak RSS"
    );
    for imp in impls {
        let c = r.cells.iter().find(|c| {
            c.workload == "stream"
                && c.implementation == *imp
                && c.params.get("variant") == Some(&json!("balanced"))
                && c.params.get("stages") == Some(&json!(4))
                && c.params.get("capacity") == Some(&json!(64))
        });
        let verdict = r
            .cells
            .iter()
            .filter(|c| c.workload == "stream" && c.implementation == *imp)
            .flat_map(|c| c.findings.iter())
            .find(|f| f.kind.is_backpressure_verdict())
            .map(|f| {
                if f.kind == FindingKind::BackpressureOk {
                    "ok"
                } else {
                    "VIOLATED"
                }
            })
            .unwrap_or("-");
        if c.is_none() && verdict == "-" {
            continue;
        }
        let _ = writeln!(
            out,
            "{:<20} {:>12} {:>10} {:>10}  {verdict}",
            palette.label(imp),
            status_or(c, |c| fmt_compact(
                c.metrics.get("throughput_items_per_s"),
                ""
            )),
            status_or(c, |c| fmt_compact_ns(c.metrics.latency_ns.map(|l| l.p99))),
            status_or(c, |c| fmt_compact(c.metrics.get("peak_rss_bytes"), "B")),
        );
    }
}

/// Every cell that did not complete, with its reason.
fn render_failed(r: &Results, out: &mut String) {
    let failed: Vec<&Cell> = r
        .cells
        .iter()
        .filter(|c| c.status != CellStatus::Ok)
        .collect();
    if failed.is_empty() {
        return;
    }
    let _ = writeln!(out, "\ncells that did not complete:");
    for c in failed {
        let p: Vec<String> = c.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(
            out,
            "  {} {} {}: {:?}: {}",
            c.workload,
            c.implementation,
            p.join(" "),
            c.status,
            c.reason.as_deref().unwrap_or("")
        );
    }
}

/// The same few decision-relevant caveats the reports lead with, one line each with its count.
fn render_caveats(r: &Results, palette: &Palette, out: &mut String) {
    let warns = crate::report::analysis::warnings(r, palette);
    let mx = crate::report::matrix::matrix(r, palette);
    let cavs: Vec<_> = crate::report::caveats::caveats(r, palette, &warns, &mx)
        .into_iter()
        .filter(|c| {
            !matches!(
                c.kind,
                FindingKind::NotRun | FindingKind::Failed | FindingKind::BusyMachine
            )
        })
        .collect();
    if cavs.is_empty() {
        return;
    }
    let _ = writeln!(out, "\ncaveats (details in report.md):");
    for c in cavs {
        let mut which = c.affected.join("; ");
        if which.chars().count() > 110 {
            which = which.chars().take(110).collect::<String>() + "…";
        }
        let _ = writeln!(out, "  {} ({}): {}\n      {which}", c.kind, c.count, c.text);
    }
}

/// Implementations that did not take part (fully), with the first line of the reason.
fn render_not_measured(r: &Results, palette: &Palette, out: &mut String) {
    let out_of_run: Vec<String> = r
        .implementations
        .iter()
        .filter(|i| i.status != ImplStatus::Ok)
        .map(|i| {
            format!(
                "  {} ({:?}): {}",
                palette.label(&i.name),
                i.status,
                i.reason
                    .as_deref()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
            )
        })
        .collect();
    if !out_of_run.is_empty() {
        let _ = writeln!(out, "\nimplementations not (fully) measured:");
        for l in out_of_run {
            let _ = writeln!(out, "{l}");
        }
    }
}

/// The future-size catalogue: one line per pattern and runtime, with its flags.
fn render_futures(r: &Results, out: &mut String) {
    let cells: Vec<&Cell> = r
        .cells
        .iter()
        .filter(|c| c.workload == "futures" && c.status == CellStatus::Ok)
        .collect();
    if cells.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nfutures (size_of_val of the future, bytes)");
    let _ = writeln!(
        out,
        "{:<52} {:<12} {:>8}  flags",
        "pattern", "runtime", "bytes"
    );
    for c in cells {
        let p = |k: &str| {
            c.params
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        let flags: Vec<&str> = c
            .findings
            .iter()
            .filter(|f| f.kind.is_size_above())
            .map(|f| f.kind.name())
            .collect();
        let _ = writeln!(
            out,
            "{:<52} {:<12} {:>8}  {}",
            p("pattern"),
            p("runtime"),
            c.metrics
                .get("bytes")
                .map(|b| format!("{b:.0}"))
                .unwrap_or_default(),
            flags.join(", ")
        );
    }
}

/// The micro-benchmarks: one row per primitive, one column per runtime, criterion's mean and interval.
fn render_micro(r: &Results, out: &mut String) {
    let cells: Vec<&Cell> = r
        .cells
        .iter()
        .filter(|c| c.workload == "micro" && c.status == CellStatus::Ok)
        .collect();
    if cells.is_empty() {
        return;
    }
    let mut runtimes: Vec<&str> = Vec::new();
    let mut primitives: Vec<&str> = Vec::new();
    for c in &cells {
        if !runtimes.contains(&c.implementation.as_str()) {
            runtimes.push(&c.implementation);
        }
        if let Some(p) = c.params.get("primitive").and_then(|v| v.as_str())
            && !primitives.contains(&p)
        {
            primitives.push(p);
        }
    }
    let _ = writeln!(
        out,
        "\nmicro (criterion mean per iteration [95 % interval])"
    );
    let _ = write!(out, "{:<20}", "primitive");
    for rt in &runtimes {
        let _ = write!(out, " {rt:>26}");
    }
    let _ = writeln!(out);
    for p in primitives {
        let _ = write!(out, "{p:<20}");
        for rt in &runtimes {
            let cell = cells.iter().find(|c| {
                c.implementation == *rt
                    && c.params.get("primitive").and_then(|v| v.as_str()) == Some(p)
            });
            let text = cell
                .map(|c| {
                    let ns = |k: &str| fmt_compact_ns(c.metrics.get(k));
                    format!(
                        "{} [{}–{}]",
                        ns("mean_ns"),
                        ns("ci_low_ns"),
                        ns("ci_high_ns")
                    )
                })
                .unwrap_or_else(|| "-".into());
            let _ = write!(out, " {text:>26}");
        }
        let _ = writeln!(out);
    }
}
