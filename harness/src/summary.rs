//! The short text summary printed at the end of a run: headline numbers per workload and every
//! implementation that did not take part, with the reason. Pure: results in, text out. It is built as
//! blocks of the report's document outline (headings, tables, lists) and rendered by the terminal
//! renderer (`report/terminal.rs`), as the HTML and Markdown reports render theirs.

use crate::finding::FindingKind;
use crate::report::format::{fmt_compact, fmt_compact_ns};
use crate::report::outline::{Block, Inline, Table};
use crate::report::palette::Palette;
use crate::results::{Cell, CellStatus, ImplStatus, Results};
use serde_json::json;

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
    let palette = Palette::new(r);
    let blocks = outline(r, &palette);
    let text = crate::report::terminal::render(&blocks, &palette);
    text.trim_start_matches('\n').to_string()
}

/// The summary's blocks, in order.
fn outline(r: &Results, palette: &Palette) -> Vec<Block<'static>> {
    let mut out = Vec::new();
    busy_machine(r, &mut out);
    let impls: Vec<&str> = r.implementations.iter().map(|i| i.name.as_str()).collect();
    // Implementations are shown under their report labels (`csharp (Mono 6.8)` with runtime_in_label).
    let has = |w: &str| r.cells.iter().any(|c| c.workload == w);
    if has("echo") {
        echo(r, &impls, palette, &mut out);
    }
    if has("fanout") {
        fanout(r, &impls, palette, &mut out);
    }
    if has("stream") {
        stream(r, &impls, palette, &mut out);
    }
    let cancel = crate::report::cancel::terminal_summary(r);
    if !cancel.is_empty() {
        out.push(Block::Prose(cancel));
    }
    if let Some(line) = loadgen_headroom(r) {
        out.push(para(line));
    }
    futures(r, &mut out);
    micro(r, &mut out);
    failed(r, &mut out);
    caveats(r, palette, &mut out);
    not_measured(r, palette, &mut out);
    out
}

fn text(s: impl Into<String>) -> Vec<Inline> {
    vec![Inline::Text(s.into())]
}

fn para(s: impl Into<String>) -> Block<'static> {
    Block::Paragraph(text(s))
}

fn heading(s: impl Into<String>) -> Block<'static> {
    Block::Heading {
        level: 3,
        text: text(s),
    }
}

/// A table of plain-text cells under a header row.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> Block<'static> {
    Block::Table(Table {
        header: Some(header.iter().map(|h| h.to_string()).collect()),
        rows: rows
            .into_iter()
            .map(|r| r.into_iter().map(text).collect())
            .collect(),
        row_headers: true,
    })
}

/// A warning line when the machine was busy as the run started.
fn busy_machine(r: &Results, out: &mut Vec<Block<'static>>) {
    let cores = f64::from(r.environment.cores.max(1));
    if let Some(load) = r
        .environment
        .load_avg_1m_at_start
        .filter(|l| *l > 0.5 * cores)
    {
        out.push(Block::Aside(text(format!(
            "warning: the machine was busy when the run started (load average {load:.2} on {cores} cores): numbers may be disturbed"
        ))));
    }
}

/// `v`, marked as a lower bound when `bound`.
fn at_least(bound: bool, v: String) -> String {
    if bound { format!("≥{v}") } else { v }
}

/// A capacity cell's value: "≥ X" when only a lower bound, "<X" when the objective was met at no rate
/// tried (below the lowest rate that missed; never "0").
fn capacity_text(c: &Cell) -> String {
    let flag = |k: &str| c.metrics.get(k).unwrap_or(0.0) >= 0.5;
    let bound = flag("capacity_is_lower_bound") || flag("capacity_client_limited");
    match (
        c.metrics.get("capacity_msgs_per_s"),
        c.metrics.get("capacity_upper_msgs_per_s"),
    ) {
        (Some(v), Some(upper)) if v <= 0.0 => format!("<{}", fmt_compact(Some(upper), "")),
        (v, _) => at_least(bound, fmt_compact(v, "")),
    }
}

/// Echo, headline first: the capacity at the latency objective ("≥" when only a lower bound), the
/// open-loop p99 and server CPU per message at the lowest rate every server was offered (equal load),
/// then the closed loop as the secondary "maximum under this client" ("≥" when the client was the
/// limit), as the report orders them: the closed loop is never the headline.
fn echo(r: &Results, impls: &[&str], palette: &Palette, out: &mut Vec<Block<'static>>) {
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
    out.push(heading(format!(
        "echo (64 conns × 64 B: capacity at the p99 objective; open loop at {} msgs/s offered; closed loop = maximum under this client)",
        fmt_compact(common.is_finite().then_some(common), "")
    )));
    let mut rows = Vec::new();
    for imp in impls {
        let cell_of = |mode: &str| {
            find(
                r,
                "echo",
                imp,
                &[
                    ("mode", json!(mode)),
                    ("connections", json!(64)),
                    ("message_bytes", json!(64)),
                ],
            )
        };
        let (closed, capacity) = (cell_of("closed"), cell_of("capacity"));
        let open = r.cells.iter().find(|c| {
            c.workload == "echo"
                && c.implementation == *imp
                && !c.params.contains_key("rate_fraction")
                && c.params.get("rate_msgs_per_s").and_then(|v| v.as_f64()) == Some(common)
        });
        if closed.is_none() && open.is_none() {
            continue;
        }
        rows.push(vec![
            palette.label(imp),
            status_or(capacity, capacity_text),
            status_or(open, |c| {
                let p99 = fmt_compact_ns(c.metrics.latency_ns.map(|l| l.p99));
                match c.metrics.get("latency_measurable") {
                    Some(m) if m < 0.5 => format!("({p99})"),
                    _ => p99,
                }
            }),
            status_or(open, |c| {
                format!(
                    "{:.2}",
                    c.metrics.get("server_cpu_us_per_msg").unwrap_or(f64::NAN)
                )
            }),
            status_or(closed, |c| {
                let client_bound = c
                    .findings
                    .iter()
                    .any(|f| f.kind == FindingKind::ClientBottleneck);
                at_least(
                    client_bound,
                    fmt_compact(c.metrics.get("throughput_msgs_per_s"), ""),
                )
            }),
            status_or(closed, |c| {
                fmt_compact(c.metrics.get("peak_rss_bytes"), "B")
            }),
            status_or(closed, |c| {
                c.metrics
                    .get("future_bytes")
                    .map(|b| format!("{b:.0}"))
                    .unwrap_or("-".into())
            }),
        ]);
    }
    out.push(table(
        &[
            "impl",
            "capacity",
            "open p99",
            "srv µs/msg",
            "closed/s",
            "peak RSS",
            "fut B",
        ],
        rows,
    ));
    out.push(Block::Aside(text(
        "(p99) = not measurable (a self-check failed; see the report); ≥ = a lower bound (the load generator or the search's range was the limit)",
    )));
}

/// Fan-out: bytes per task and wall time at the largest task count of each variant.
fn fanout(r: &Results, impls: &[&str], palette: &Palette, out: &mut Vec<Block<'static>>) {
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
    out.push(heading(format!(
        "fanout at {at} (bytes per task above the 1-task baseline; {})",
        wall.1
    )));
    let ms = |c: &Cell| format!("{:.0}ms", c.metrics.get(wall.0).unwrap_or(f64::NAN));
    let mut rows = Vec::new();
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
        rows.push(vec![
            palette.label(imp),
            status_or(bare, |c| fmt_compact(c.metrics.get("bytes_per_task"), "")),
            status_or(bare, ms),
            status_or(state, |c| fmt_compact(c.metrics.get("bytes_per_task"), "")),
            status_or(state, ms),
        ]);
    }
    out.push(table(
        &[
            "impl",
            "bare B/task",
            "bare wall",
            "state B/task",
            "state wall",
        ],
        rows,
    ));
}

/// Stream: the balanced 4-stage pipeline's throughput and p99, and the slow consumer's backpressure
/// verdict.
fn stream(r: &Results, impls: &[&str], palette: &Palette, out: &mut Vec<Block<'static>>) {
    out.push(heading(
        "stream (balanced, 4 stages, capacity 64; backpressure verdict from the slow consumer)",
    ));
    let mut rows = Vec::new();
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
        rows.push(vec![
            palette.label(imp),
            status_or(c, |c| {
                fmt_compact(c.metrics.get("throughput_items_per_s"), "")
            }),
            status_or(c, |c| fmt_compact_ns(c.metrics.latency_ns.map(|l| l.p99))),
            status_or(c, |c| fmt_compact(c.metrics.get("peak_rss_bytes"), "B")),
            verdict.to_string(),
        ]);
    }
    out.push(table(
        &["impl", "items/s", "p99", "peak RSS", "backpressure"],
        rows,
    ));
}

/// Every cell that did not complete, with its reason.
fn failed(r: &Results, out: &mut Vec<Block<'static>>) {
    let failed: Vec<Vec<Inline>> = r
        .cells
        .iter()
        .filter(|c| c.status != CellStatus::Ok)
        .map(|c| {
            let p: Vec<String> = c.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            text(format!(
                "{} {} {}: {:?}: {}",
                c.workload,
                c.implementation,
                p.join(" "),
                c.status,
                c.reason.as_deref().unwrap_or("")
            ))
        })
        .collect();
    if !failed.is_empty() {
        out.push(heading("cells that did not complete:"));
        out.push(Block::List(failed));
    }
}

/// The same few decision-relevant caveats the reports lead with, one item each with its count.
fn caveats(r: &Results, palette: &Palette, out: &mut Vec<Block<'static>>) {
    let warns = crate::report::analysis::warnings(r, palette);
    let mx = crate::report::matrix::matrix(r, palette);
    let items: Vec<Vec<Inline>> = crate::report::caveats::caveats(r, palette, &warns, &mx)
        .into_iter()
        .filter(|c| {
            !matches!(
                c.kind,
                FindingKind::NotRun | FindingKind::Failed | FindingKind::BusyMachine
            )
        })
        .map(|c| {
            let mut which = c.affected.join("; ");
            if which.chars().count() > 110 {
                which = which.chars().take(110).collect::<String>() + "…";
            }
            text(format!(
                "{} ({}): {}\n      {which}",
                c.kind, c.count, c.text
            ))
        })
        .collect();
    if !items.is_empty() {
        out.push(heading("caveats (details in report.md):"));
        out.push(Block::List(items));
    }
}

/// Implementations that did not take part (fully), with the first line of the reason.
fn not_measured(r: &Results, palette: &Palette, out: &mut Vec<Block<'static>>) {
    let items: Vec<Vec<Inline>> = r
        .implementations
        .iter()
        .filter(|i| i.status != ImplStatus::Ok)
        .map(|i| {
            text(format!(
                "{} ({:?}): {}",
                palette.label(&i.name),
                i.status,
                i.reason
                    .as_deref()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
            ))
        })
        .collect();
    if !items.is_empty() {
        out.push(heading("implementations not (fully) measured:"));
        out.push(Block::List(items));
    }
}

/// The future-size catalogue: one row per pattern and runtime, with its flags.
fn futures(r: &Results, out: &mut Vec<Block<'static>>) {
    let rows: Vec<Vec<String>> = r
        .cells
        .iter()
        .filter(|c| c.workload == "futures" && c.status == CellStatus::Ok)
        .map(|c| {
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
            vec![
                p("pattern"),
                p("runtime"),
                c.metrics
                    .get("bytes")
                    .map(|b| format!("{b:.0}"))
                    .unwrap_or_default(),
                flags.join(", "),
            ]
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    out.push(heading("futures (size_of_val of the future, bytes)"));
    out.push(table(&["pattern", "runtime", "bytes", "flags"], rows));
}

/// The micro-benchmarks: one row per primitive, one column per runtime, criterion's mean and interval.
fn micro(r: &Results, out: &mut Vec<Block<'static>>) {
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
    let rows = primitives
        .iter()
        .map(|p| {
            let mut row = vec![p.to_string()];
            for rt in &runtimes {
                let cell = cells.iter().find(|c| {
                    c.implementation == *rt
                        && c.params.get("primitive").and_then(|v| v.as_str()) == Some(*p)
                });
                row.push(cell.map_or_else(
                    || "-".into(),
                    |c| {
                        let ns = |k: &str| fmt_compact_ns(c.metrics.get(k));
                        format!(
                            "{} [{}–{}]",
                            ns("mean_ns"),
                            ns("ci_low_ns"),
                            ns("ci_high_ns")
                        )
                    },
                ));
            }
            row
        })
        .collect();
    out.push(heading(
        "micro (criterion mean per iteration [95 % interval])",
    ));
    let mut header = vec!["primitive"];
    header.extend(runtimes.iter().copied());
    out.push(table(&header, rows));
}
