//! `compare`'s error rates on synthetic runs whose noise is the noise this machine really showed: every
//! cell of tests/fixtures/noise-model/results.json (the first landing's reference run) with its headline metrics' trial-to-trial CV, three trials
//! drawn from a seeded log-normal model. Deterministic seeds: the counts below are reproducible.
//!
//! - Two runs of the same code: at most 2 % of cells flagged (improved or regressed).
//! - One implementation slowed by 15 % in one workload (throughput × 0.85, latency and wall time
//!   × 1.15): the gate fails, naming that implementation, in ≥ 95 % of cases.

use crate::common::synth;

use asyncbench::compare::{CompareOptions, Verdict, compare};
use std::collections::BTreeSet;
use synth::{NoisyCell, reference_noise, synth_run};

const TRIALS: usize = 3;

fn slowed(metric: &str) -> f64 {
    match metric {
        m if m.starts_with("throughput") => 0.85,
        "latency_ns.p99" | "wall_ms" => 1.15,
        // Memory per task does not change when code gets slower.
        _ => 1.0,
    }
}

#[test]
fn identical_runs_flag_at_most_two_percent_of_cells() {
    let model = reference_noise();
    assert!(model.len() > 150, "reference cells: {}", model.len());
    let (mut flagged, mut compared, mut gate_failures) = (0usize, 0usize, 0usize);
    let reps: u64 = 20;
    for rep in 0..reps {
        let base = synth_run("base", &model, TRIALS, 2 * rep, |_, _| 1.0);
        let new = synth_run("new", &model, TRIALS, 2 * rep + 1, |_, _| 1.0);
        let c = compare(&base, &new, &CompareOptions::default()).unwrap();
        flagged += c.flagged_cells();
        compared += model.len();
        gate_failures += usize::from(c.exit_code() != 0);
    }
    let rate = flagged as f64 / compared as f64;
    eprintln!(
        "identical runs: {flagged} of {compared} cells flagged ({:.2} %); gate failed in {gate_failures} of {reps} comparisons",
        rate * 100.0
    );
    assert!(rate <= 0.02, "false-positive rate {rate}");
    // The gate itself must not be a coin toss on unchanged code.
    assert!(
        gate_failures as u64 * 5 <= reps,
        "gate failed {gate_failures} of {reps} times"
    );
}

#[test]
fn a_planted_15_percent_slowdown_is_caught() {
    let model = reference_noise();
    // Every (workload, implementation) with at least two cells is slowed in turn, with two seeds each.
    let groups: BTreeSet<(String, String)> = model
        .iter()
        .map(|c| (c.workload.clone(), c.implementation.clone()))
        .filter(|(w, i)| {
            model
                .iter()
                .filter(|c| &c.workload == w && &c.implementation == i)
                .count()
                >= 2
        })
        .collect();
    assert!(groups.len() >= 20, "{}", groups.len());
    let (mut caught, mut cases, mut cell_hits, mut cell_total, mut blamed_others) = (0, 0, 0, 0, 0);
    for (k, (w, i)) in groups.iter().enumerate() {
        for s in 0..2u64 {
            let seed = 1000 + 10 * k as u64 + s;
            let target = |c: &NoisyCell| &c.workload == w && &c.implementation == i;
            let base = synth_run("base", &model, TRIALS, seed, |_, _| 1.0);
            let new = synth_run("new", &model, TRIALS, seed + 5, |c, m| {
                if target(c) { slowed(m) } else { 1.0 }
            });
            let c = compare(&base, &new, &CompareOptions::default()).unwrap();
            cases += 1;
            let named = c.groups.iter().any(|g| {
                &g.workload == w && &g.implementation == i && g.verdict == Verdict::Regressed
            });
            caught += usize::from(named && c.exit_code() == 1);
            blamed_others += c
                .groups
                .iter()
                .filter(|g| {
                    g.verdict == Verdict::Regressed && !(&g.workload == w && &g.implementation == i)
                })
                .count();
            for ch in c.changes.iter().filter(|ch| {
                &ch.workload == w && &ch.implementation == i && slowed(ch.metric) != 1.0
            }) {
                cell_total += 1;
                cell_hits += usize::from(ch.verdict == Verdict::Regressed);
            }
        }
    }
    let rate = caught as f64 / cases as f64;
    eprintln!(
        "planted 15 % slowdown: caught in {caught} of {cases} cases ({:.1} %); single cells flagged {cell_hits} of {cell_total} ({:.1} %); other implementations blamed {blamed_others} times",
        rate * 100.0,
        100.0 * cell_hits as f64 / cell_total as f64
    );
    assert!(rate >= 0.95, "detection rate {rate}");
}
