//! The few caveats that can change a decision, shown under the matrix instead of a count of every
//! warning: each says what it means for the numbers, how many cells it touches and which. Everything else
//! (one noise flag per value, already marked ⚠ inline) stays in the folded findings table.

use super::analysis::{Warning, status_text, workloads};
use super::matrix::Matrix;
use super::metrics::NOISY_CV;
use super::palette::Palette;
use crate::finding::FindingKind;
use crate::results::{CellStatus, ImplStatus, Results};

/// One caveat: a headline, the count of cells (or implementations) it concerns, and which.
#[derive(Debug, Clone, PartialEq)]
pub struct Caveat {
    /// Machine-readable kind (the finding kind it summarises).
    pub kind: FindingKind,
    /// What it means for a reader, one sentence.
    pub text: String,
    pub count: usize,
    /// What is affected, grouped compactly ("closed loop, 64 connections: go, node").
    pub affected: Vec<String>,
}

/// Groups (implementation label, scenario) pairs the shorter way: by scenario, or by implementation.
fn group(pairs: &[(String, String)]) -> Vec<String> {
    fn by(pairs: &[(String, String)], key_first: bool) -> Vec<String> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for (imp, scen) in pairs {
            let (k, v) = if key_first { (scen, imp) } else { (imp, scen) };
            match groups.iter_mut().find(|(g, _)| g == k) {
                Some((_, vs)) => {
                    if !vs.contains(v) {
                        vs.push(v.clone())
                    }
                }
                None => groups.push((k.clone(), vec![v.clone()])),
            }
        }
        groups
            .into_iter()
            .map(|(k, vs)| {
                if key_first {
                    format!("{k}: {}", vs.join(", "))
                } else {
                    format!("{k} ({})", vs.join("; "))
                }
            })
            .collect()
    }
    let a = by(pairs, true);
    let b = by(pairs, false);
    if b.len() < a.len() { b } else { a }
}

/// The caveats, most decision-relevant first. `warnings` is the full list (for the run-level ones).
pub fn caveats(
    results: &Results,
    palette: &Palette,
    warnings: &[Warning],
    matrix: &Matrix,
) -> Vec<Caveat> {
    let mut out = run_caveats(warnings);
    out.extend(not_run_caveat(results, palette));
    let (failed, by_kind) = cell_problems(results, palette);
    if !failed.is_empty() {
        out.push(Caveat {
            kind: FindingKind::Failed,
            text: FindingKind::Failed.explanation().into(),
            count: failed.len(),
            affected: group(&failed),
        });
    }
    for kind in FindingKind::CAVEATS {
        if let Some((_, pairs)) = by_kind.iter().find(|(k, _)| k == kind) {
            out.push(Caveat {
                kind: kind.clone(),
                text: kind.explanation().into(),
                count: pairs.len(),
                affected: group(pairs),
            });
        }
    }
    out.extend(noisy_caveat(palette, matrix));
    out
}

/// The run-level warnings: each one qualifies every number in the report.
fn run_caveats(warnings: &[Warning]) -> Vec<Caveat> {
    warnings
        .iter()
        .filter(|w| w.subject == "run")
        .map(|w| Caveat {
            kind: w.kind.clone(),
            text: w.message.clone(),
            count: 1,
            affected: vec!["every number in this report".into()],
        })
        .collect()
}

/// The implementations that did not run at all, with the first line of their reason.
fn not_run_caveat(results: &Results, palette: &Palette) -> Option<Caveat> {
    let not_run: Vec<String> = results
        .implementations
        .iter()
        .filter(|i| i.status != ImplStatus::Ok)
        .map(|i| {
            let reason = i.reason.as_deref().unwrap_or("no reason recorded");
            let reason = reason.lines().next().unwrap_or("");
            format!(
                "{} ({}: {})",
                palette.label(&i.name),
                super::analysis::impl_status_text(i.status),
                shorten(reason, 120)
            )
        })
        .collect();
    (!not_run.is_empty()).then(|| Caveat {
        kind: FindingKind::NotRun,
        text: FindingKind::NotRun.explanation().into(),
        count: not_run.len(),
        affected: not_run,
    })
}

/// (label, scenario) pairs.
type Pairs = Vec<(String, String)>;

/// Cell-level problems as (label, scenario) pairs: the cells that did not complete, and per finding
/// kind (plus `errors` for cells with counted errors) the cells that have it, kinds in first-seen order.
fn cell_problems(results: &Results, palette: &Palette) -> (Pairs, Vec<(FindingKind, Pairs)>) {
    let mut failed: Pairs = Vec::new();
    let mut by_kind: Vec<(FindingKind, Pairs)> = Vec::new();
    for w in workloads(results) {
        for s in super::analysis::scenarios(results, palette, &w) {
            for c in &s.cells {
                let pair = (
                    palette.label(&c.implementation),
                    format!("{} {}", c.workload, s.description),
                );
                if c.status != CellStatus::Ok {
                    let mut p = pair.clone();
                    p.0 = format!("{} ({})", p.0, status_text(c.status));
                    failed.push(p);
                }
                for f in &c.findings {
                    match by_kind.iter_mut().find(|(k, _)| *k == f.kind) {
                        Some((_, v)) => v.push(pair.clone()),
                        None => by_kind.push((f.kind.clone(), vec![pair.clone()])),
                    }
                }
                if !c.errors_by_kind.is_empty() && c.errors_by_kind.values().sum::<u64>() > 0 {
                    match by_kind.iter_mut().find(|(k, _)| *k == FindingKind::Errors) {
                        Some((_, v)) => v.push(pair.clone()),
                        None => by_kind.push((FindingKind::Errors, vec![pair.clone()])),
                    }
                }
            }
        }
    }
    (failed, by_kind)
}

/// Noise: only where it touches the matrix (elsewhere the ⚠ beside the value says it).
fn noisy_caveat(palette: &Palette, matrix: &Matrix) -> Option<Caveat> {
    let noisy: Vec<String> = matrix
        .rows
        .iter()
        .flat_map(|r| {
            r.cells.iter().enumerate().filter_map(move |(i, c)| {
                c.as_ref()
                    .filter(|c| c.estimate.noisy())
                    .map(|_| (r.implementation.clone(), i))
            })
        })
        .map(|(imp, i)| format!("{} ({})", palette.label(&imp), matrix.columns[i].title))
        .collect();
    (!noisy.is_empty()).then(|| Caveat {
        kind: FindingKind::Noisy,
        text: format!(
            "decision-matrix values that vary more than {:.0} % between trials (⚠): differences smaller than that are noise",
            NOISY_CV * 100.0
        ),
        count: noisy.len(),
        affected: vec![noisy.join(", ")],
    })
}

/// At most `n` characters, with an ellipsis when cut.
fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_takes_the_shorter_form() {
        let pairs = vec![
            ("node".to_string(), "a".to_string()),
            ("node".to_string(), "b".to_string()),
            ("go".to_string(), "a".to_string()),
        ];
        // By scenario: 2 groups; by implementation: 2 groups → scenario form kept.
        assert_eq!(group(&pairs), vec!["a: node, go", "b: node"]);
        let one_impl = vec![
            ("node".to_string(), "a".to_string()),
            ("node".to_string(), "b".to_string()),
        ];
        assert_eq!(group(&one_impl), vec!["node (a; b)"]);
    }
}
