//! Synthetic runs for `compare` tests: cells built from trial values, and a seeded noise model whose

#![allow(dead_code)]
//! per-cell coefficients of variation are those measured in the first landing's reference run
//! (a fixed copy in tests/fixtures/noise-model/results.json).

use asyncbench::results::{Cell, CellStatus, Environment, Percentiles, Results, Trial};
use asyncbench::stats::summary::summarize;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::Path;

/// A results file with `cells`.
pub fn run(id: &str, cells: Vec<Cell>) -> Results {
    Results {
        schema_version: asyncbench::results::SCHEMA_VERSION,
        run_id: id.into(),
        environment: Environment::default(),
        implementations: Vec::new(),
        cells,
    }
}

/// An `ok` cell whose metrics have the given trial values (`latency_ns.p99` goes into the percentiles).
pub fn cell(
    workload: &str,
    implementation: &str,
    params: &[(&str, serde_json::Value)],
    metrics: &[(&str, Vec<f64>)],
) -> Cell {
    let params: BTreeMap<String, serde_json::Value> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let mut c = Cell::failed(
        workload,
        implementation,
        params,
        CellStatus::Ok,
        String::new(),
    );
    c.reason = None;
    let trials = metrics.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
    c.trials = (0..trials)
        .map(|_| Trial {
            metrics: Default::default(),
            sub_intervals: Vec::new(),
        })
        .collect();
    for (name, values) in metrics {
        let s = summarize(values).expect("values");
        c.stats.insert(name.to_string(), s);
        if let Some(p) = name.strip_prefix("latency_ns.") {
            assert_eq!(p, "p99", "only p99 is synthesised");
            let set = |l: &mut Option<Percentiles>, v: f64| {
                l.get_or_insert_with(Percentiles::default).p99 = v;
            };
            set(&mut c.metrics.latency_ns, s.median);
            for (t, v) in c.trials.iter_mut().zip(values) {
                set(&mut t.metrics.latency_ns, *v);
            }
        } else {
            c.metrics.set(name, s.median);
            for (t, v) in c.trials.iter_mut().zip(values) {
                t.metrics.set(name, *v);
            }
        }
    }
    c
}

/// One cell of the noise model: its identity and the CV of each headline metric.
#[derive(Debug, Clone)]
pub struct NoisyCell {
    pub workload: String,
    pub implementation: String,
    pub params: BTreeMap<String, serde_json::Value>,
    /// (metric, true value, CV across trials).
    pub metrics: Vec<(String, f64, f64)>,
}

/// The headline metrics of every `ok` cell with ≥ 2 trials in the reference run, with the CV of its
/// trials: the noise this machine really showed.
pub fn reference_noise() -> Vec<NoisyCell> {
    // A fixed copy of the first landing's reference run (the noise model must not move when
    // results/reference is regenerated: the 2026-11-30 reference's echo open-loop p99s vary up to
    // 150 % between trials, and with that model a 15 % slowdown is caught in only 64 % of cases).
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/noise-model/results.json");
    let r = asyncbench::results::load(&path).expect("reference results load");
    let mut out = Vec::new();
    for c in &r.cells {
        if c.status != CellStatus::Ok || c.trials.len() < 2 {
            continue;
        }
        let mut metrics = Vec::new();
        for m in asyncbench::report::metrics::headline_metrics(&c.workload) {
            if let Some(s) = c.stats.get(m)
                && let Some(cv) = s.cv
                && s.median > 0.0
                && ["echo", "fanout", "stream"].contains(&c.workload.as_str())
            {
                metrics.push((m.to_string(), s.median, cv));
            }
        }
        if !metrics.is_empty() {
            out.push(NoisyCell {
                workload: c.workload.clone(),
                implementation: c.implementation.clone(),
                params: c.params.clone(),
                metrics,
            });
        }
    }
    out
}

/// A standard normal variate (Box–Muller).
fn normal(rng: &mut SmallRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A run of `trials` trials per cell: each value is the true value × a log-normal factor with the
/// cell's CV, times `factor(cell, metric)` (1.0 = unchanged; 0.85 = a planted 15 % loss).
pub fn synth_run(
    id: &str,
    model: &[NoisyCell],
    trials: usize,
    seed: u64,
    factor: impl Fn(&NoisyCell, &str) -> f64,
) -> Results {
    let mut rng = SmallRng::seed_from_u64(seed);
    let cells = model
        .iter()
        .map(|nc| {
            let metrics: Vec<(&str, Vec<f64>)> = nc
                .metrics
                .iter()
                .map(|(m, value, cv)| {
                    let sigma = (1.0 + cv * cv).ln().sqrt();
                    let f = factor(nc, m);
                    let v = (0..trials)
                        .map(|_| value * f * (sigma * normal(&mut rng)).exp())
                        .collect();
                    (m.as_str(), v)
                })
                .collect();
            let params: Vec<(&str, serde_json::Value)> = nc
                .params
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            cell(&nc.workload, &nc.implementation, &params, &metrics)
        })
        .collect();
    run(id, cells)
}
