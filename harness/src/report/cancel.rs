//! The cancel workload's report section: the cancel-cost rankings and the "lost items by idiom" table.
//! Kept apart from `analysis.rs` so the workload's presentation is one module; `analysis` calls in.

use super::analysis::{Insight, Ranking, Scenario, Table, TableRow, rank, scenarios};
use super::format::fmt_count;
use super::metrics::{estimate, metric_def, param_f64, param_str};
use super::palette::Palette;
use crate::finding::FindingKind;
use crate::results::{Cell, CellStatus, Results};

fn variant_is(c: &Cell, v: &str) -> bool {
    param_str(c, "variant").as_deref() == Some(v)
}

/// The scenario of `variant` whose `size` parameter is largest among those with a measured `metric`.
fn largest<'s, 'a>(
    scen: &'s [Scenario<'a>],
    variant: &str,
    size: &str,
    metric: &str,
) -> Option<&'s Scenario<'a>> {
    scen.iter()
        .filter(|s| variant_is(s.cells[0], variant))
        .filter(|s| s.cells.iter().any(|c| estimate(c, metric).is_some()))
        .max_by(|a, b| {
            let n = |s: &Scenario| param_f64(s.cells[0], size).unwrap_or(0.0);
            n(a).total_cmp(&n(b))
        })
}

/// The cancel-cost rankings: cancel_ns_per_task at the largest N, and CPU per timeout race at the
/// largest M measured with repeats (the 10·M leak point runs once, so it has no interval).
pub fn rankings(results: &Results, palette: &Palette) -> Vec<(String, Ranking)> {
    let scen = scenarios(results, palette, "cancel");
    let mut out = Vec::new();
    if let Some(s) = largest(&scen, "mass", "tasks", "cancel_ns_per_task")
        && let Some(r) = rank(&s.cells, "cancel_ns_per_task", &s.description, palette)
    {
        out.push((format!("Cheapest mass cancellation ({})", s.description), r));
    }
    let repeated = |s: &&Scenario| {
        s.cells
            .iter()
            .any(|c| estimate(c, "cpu_ns_per_op").is_some_and(|e| e.n > 1))
    };
    let deadline: Vec<Scenario> = scen.iter().filter(repeated).cloned().collect::<Vec<_>>();
    let pick = largest(&deadline, "deadline", "ops", "cpu_ns_per_op")
        .or_else(|| largest(&scen, "deadline", "ops", "cpu_ns_per_op"));
    if let Some(s) = pick
        && let Some(r) = rank(&s.cells, "cpu_ns_per_op", &s.description, palette)
    {
        out.push((format!("Cheapest timeout race ({})", s.description), r));
    }
    out
}

/// Plain-language cancel findings for the summary: the rankings, who loses items with the unsafe
/// idiom, and leaks.
pub fn insights(results: &Results, palette: &Palette) -> Vec<Insight> {
    let mut out: Vec<Insight> = rankings(results, palette)
        .into_iter()
        .filter(|(_, r)| !r.entries.is_empty())
        .map(|(what, ranking)| Insight::Pick { what, ranking })
        .collect();
    let safety: Vec<&Cell> = results
        .cells
        .iter()
        .filter(|c| c.workload == "cancel" && variant_is(c, "safety"))
        .filter(|c| param_str(c, "idiom").as_deref() == Some("unsafe"))
        .filter(|c| c.status == CellStatus::Ok)
        .collect();
    if !safety.is_empty() {
        let mut lost = Vec::new();
        let mut kept = Vec::new();
        for c in &safety {
            match estimate(c, "lost_items").map(|e| e.median) {
                Some(n) if n > 0.0 => lost.push(format!(
                    "{} ({} of {})",
                    c.implementation,
                    fmt_count(n),
                    fmt_count(param_f64(c, "items").unwrap_or(0.0))
                )),
                Some(_) => kept.push(c.implementation.clone()),
                None => {}
            }
        }
        let mut text = String::new();
        if !lost.is_empty() {
            text.push_str(&format!(
                "the unsafe idiom lost items in {} (median over trials)",
                lost.join(", ")
            ));
        }
        if !kept.is_empty() {
            if !text.is_empty() {
                text.push_str("; ");
            }
            text.push_str(&format!("no loss observed in {}", kept.join(", ")));
        }
        out.push(Insight::Statement {
            what: "Cancellation safety".into(),
            text,
        });
    }
    let leaks: Vec<&str> = results
        .cells
        .iter()
        .filter(|c| {
            c.workload == "cancel" && c.findings.iter().any(|f| f.kind == FindingKind::Leak)
        })
        .map(|c| c.implementation.as_str())
        .collect();
    if !leaks.is_empty() {
        out.push(Insight::Statement {
            what: "Timeout races".into(),
            text: format!(
                "memory grows with the number of races in {} (leak; see Findings)",
                leaks.join(", ")
            ),
        });
    }
    out
}

/// "Lost items by idiom": one row per implementation and idiom of the safety variant. Losses are
/// findings, never failures, so a row with losses still has status ok.
pub fn lost_items_table(results: &Results, palette: &Palette) -> Option<Table> {
    let mut cells: Vec<&Cell> = results
        .cells
        .iter()
        .filter(|c| c.workload == "cancel" && variant_is(c, "safety"))
        .collect();
    if cells.is_empty() {
        return None;
    }
    cells.sort_by_key(|c| {
        (
            palette.index(&c.implementation),
            param_str(c, "idiom"),
            param_f64(c, "items").map(|k| k as u64),
        )
    });
    let columns: Vec<_> = ["lost_items", "received", "ticks"]
        .iter()
        .map(|m| metric_def(m))
        .collect();
    let rows = cells
        .iter()
        .map(|c| TableRow {
            implementation: c.implementation.clone(),
            labels: vec![
                c.implementation.clone(),
                param_str(c, "idiom").unwrap_or_default(),
                param_f64(c, "items").map(fmt_count).unwrap_or_default(),
            ],
            status: c.status,
            reason: c.reason.clone(),
            values: columns.iter().map(|m| estimate(c, m.name)).collect(),
            flags: c
                .findings
                .iter()
                .map(|f| f.kind.name().to_string())
                .collect(),
            detail: None,
        })
        .collect();
    Some(Table {
        workload: "cancel".into(),
        title: "Lost items by idiom (safety variant; losses are findings, never failures)".into(),
        label_headers: vec!["implementation".into(), "idiom".into(), "items".into()],
        columns,
        rows,
    })
}

/// The terminal summary's cancel table: per implementation, the cancel cost and memory at the largest
/// N, CPU per race at the largest repeated M, lost items with the unsafe idiom, and a leak mark.
pub fn terminal_summary(r: &Results) -> String {
    use std::fmt::Write;
    let cancel: Vec<&Cell> = r.cells.iter().filter(|c| c.workload == "cancel").collect();
    if cancel.is_empty() {
        return String::new();
    }
    let max_of = |variant: &str, key: &str| {
        cancel
            .iter()
            .filter(|c| variant_is(c, variant))
            .filter_map(|c| param_f64(c, key))
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
    };
    let n = max_of("mass", "tasks");
    // The 10·M point runs once; the summary shows the repeated one (the smallest M) for CPU.
    let m = cancel
        .iter()
        .filter(|c| variant_is(c, "deadline"))
        .filter_map(|c| param_f64(c, "ops"))
        .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.min(v))));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\ncancel (mass at {} tasks; deadline at {} ops; lost items with the unsafe idiom)",
        n.map(fmt_count).unwrap_or("-".into()),
        m.map(fmt_count).unwrap_or("-".into())
    );
    let _ = writeln!(
        out,
        "{:<20} {:>10} {:>10} {:>10} {:>11} {:>6} {:>8}",
        "impl", "ns/task", "B/task", "reclaimed", "CPU ns/op", "lost", "leak"
    );
    let mut impls: Vec<&str> = Vec::new();
    for c in &cancel {
        if !impls.contains(&c.implementation.as_str()) {
            impls.push(&c.implementation);
        }
    }
    let cell_where = |imp: &str, variant: &str, key: &str, v: Option<f64>| {
        cancel.iter().copied().find(|c| {
            c.implementation == imp
                && variant_is(c, variant)
                && (v.is_none() || param_f64(c, key) == v)
        })
    };
    let show = |c: Option<&Cell>, metric: &str, f: &dyn Fn(f64) -> String| match c {
        None => "-".to_string(),
        Some(c) if c.status != CellStatus::Ok => format!("{:?}", c.status).to_lowercase(),
        Some(c) => c.metrics.get(metric).map(f).unwrap_or("-".into()),
    };
    for imp in impls {
        let mass = cell_where(imp, "mass", "tasks", n);
        let dl = cell_where(imp, "deadline", "ops", m);
        let unsafe_cell = cancel.iter().copied().find(|c| {
            c.implementation == imp
                && variant_is(c, "safety")
                && param_str(c, "idiom").as_deref() == Some("unsafe")
        });
        let leak = cancel.iter().any(|c| {
            c.implementation == imp && c.findings.iter().any(|f| f.kind == FindingKind::Leak)
        });
        let _ = writeln!(
            out,
            "{:<20} {:>10} {:>10} {:>10} {:>11} {:>6} {:>8}",
            imp,
            show(mass, "cancel_ns_per_task", &|v| format!("{v:.0}")),
            show(mass, "bytes_per_task", &|v| format!("{v:.0}")),
            show(mass, "rss_reclaimed_fraction", &|v| format!(
                "{:.0}%",
                v * 100.0
            )),
            show(dl, "cpu_ns_per_op", &|v| format!("{v:.0}")),
            show(unsafe_cell, "lost_items", &|v| format!("{v:.0}")),
            if leak { "LEAK" } else { "-" },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Cell, CellStatus, Finding, Summary};
    use serde_json::json;
    use std::collections::BTreeMap;

    fn cell(imp: &str, params: &[(&str, serde_json::Value)], metric: &str, v: f64) -> Cell {
        let p: BTreeMap<String, serde_json::Value> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let mut c = Cell::failed("cancel", imp, p, CellStatus::Ok, String::new());
        c.reason = None;
        c.metrics.set(metric, v);
        c.stats.insert(
            metric.into(),
            Summary {
                n: 3,
                median: v,
                ci_low: v * 0.99,
                ci_high: v * 1.01,
                cv: Some(0.01),
            },
        );
        c
    }

    fn results(cells: Vec<Cell>) -> Results {
        let text = include_str!("../../tests/fixtures/small.json");
        let mut r: Results = serde_json::from_str(text).expect("fixture");
        r.cells = cells;
        r
    }

    #[test]
    fn ranks_cancel_cost_at_the_largest_n_and_tabulates_losses() {
        let mass = |imp: &str, n: u64, v: f64| {
            cell(
                imp,
                &[("variant", json!("mass")), ("tasks", json!(n))],
                "cancel_ns_per_task",
                v,
            )
        };
        let safety = |imp: &str, idiom: &str, lost: f64| {
            let mut c = cell(
                imp,
                &[
                    ("variant", json!("safety")),
                    ("items", json!(1000)),
                    ("idiom", json!(idiom)),
                ],
                "lost_items",
                lost,
            );
            if lost > 0.0 {
                c.findings.push(Finding {
                    kind: FindingKind::LostItems,
                    message: "lost".into(),
                });
            }
            c
        };
        let r = results(vec![
            mass("a", 10, 50.0),
            mass("b", 10, 10.0),
            mass("a", 100, 100.0),
            mass("b", 100, 300.0),
            safety("a", "safe", 0.0),
            safety("a", "unsafe", 7.0),
            safety("b", "unsafe", 0.0),
        ]);
        let palette = Palette::new(&r);
        let ranks = rankings(&r, &palette);
        assert_eq!(ranks.len(), 1);
        assert!(ranks[0].0.contains("100 tasks"), "{}", ranks[0].0);
        assert_eq!(ranks[0].1.entries[0].implementation, "a");
        let t = lost_items_table(&r, &palette).unwrap();
        assert_eq!(t.rows.len(), 3);
        let lost_a = t
            .rows
            .iter()
            .find(|row| row.labels[0] == "a" && row.labels[1] == "unsafe")
            .unwrap();
        assert_eq!(lost_a.values[0].unwrap().median, 7.0);
        assert_eq!(lost_a.status, CellStatus::Ok);
        let text = insights(&r, &palette)
            .into_iter()
            .find_map(|i| match i {
                Insight::Statement { what, text } if what == "Cancellation safety" => Some(text),
                _ => None,
            })
            .unwrap();
        assert!(text.contains("lost items in a (7 of 1k)"), "{text}");
        assert!(text.contains("no loss observed in b"), "{text}");
    }
}
