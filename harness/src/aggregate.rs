//! Folding the trials of a cell into its headline values: medians, intervals of the median, merged latency
//! histograms, summed errors and de-duplicated findings. Pure: no I/O.

use crate::finding::FindingKind;
use crate::results::{Cell, CellStatus, Finding};
use crate::stats::summary::summarize;
use crate::workload::{Failure, TrialData, percentiles, spectrum};
use std::collections::BTreeMap;

pub use crate::metric::NOISY_CV;

/// Everything measured so far for one cell.
#[derive(Debug, Clone)]
pub struct CellAcc {
    pub workload: String,
    pub implementation: String,
    pub params: BTreeMap<String, serde_json::Value>,
    /// The metric whose noise decides the `noisy` finding.
    pub headline: &'static str,
    pub trials: Vec<TrialData>,
    pub failures: Vec<Failure>,
    /// Why the cell ran only once although the suite repeats cells.
    pub single_trial: Option<String>,
}

impl CellAcc {
    pub fn new(
        workload: &str,
        implementation: &str,
        params: BTreeMap<String, serde_json::Value>,
        headline: &'static str,
    ) -> Self {
        CellAcc {
            workload: workload.into(),
            implementation: implementation.into(),
            params,
            headline,
            trials: Vec::new(),
            failures: Vec::new(),
            single_trial: None,
        }
    }

    pub fn push(&mut self, outcome: Result<TrialData, Failure>) {
        match outcome {
            Ok(t) => self.trials.push(t),
            Err(f) => self.failures.push(f),
        }
    }

    /// The cell as it stands now.
    pub fn to_cell(&self) -> Cell {
        let Some(first_ok) = self.trials.first() else {
            return self.failed_cell();
        };
        let mut cell = Cell::failed(
            &self.workload,
            &self.implementation,
            self.params.clone(),
            CellStatus::Ok,
            String::new(),
        );
        cell.reason = None;
        self.summarize_metrics(&mut cell, first_ok);
        self.merge_latency(&mut cell);
        // Sub-intervals give the headline metric an interval even with a single trial.
        let subs: Vec<f64> = self
            .trials
            .iter()
            .flat_map(|t| t.sub_intervals.iter().copied())
            .collect();
        if let Some(s) = summarize(&subs) {
            cell.stats
                .insert(format!("{}.sub_intervals", self.headline), s);
        }
        cell.trials = self
            .trials
            .iter()
            .map(|t| crate::results::Trial {
                metrics: t.metrics.clone(),
                sub_intervals: t.sub_intervals.clone(),
            })
            .collect();
        for t in &self.trials {
            for (k, v) in &t.errors_by_kind {
                *cell.errors_by_kind.entry(k.clone()).or_default() += v;
            }
        }
        cell.findings = merge_findings(&self.trials);
        self.add_failure_and_noise_findings(&mut cell);
        cell.rss_timeline = self
            .trials
            .last()
            .map(|t| t.rss_timeline.clone())
            .unwrap_or_default();
        cell
    }

    /// A cell without one successful trial: the first failure's status and reason.
    fn failed_cell(&self) -> Cell {
        let f = self.failures.first().cloned().unwrap_or(Failure {
            status: CellStatus::Failed,
            reason: "not run".into(),
        });
        let mut cell = Cell::failed(
            &self.workload,
            &self.implementation,
            self.params.clone(),
            f.status,
            f.reason,
        );
        if self.failures.len() > 1 {
            cell.findings.push(Finding {
                kind: FindingKind::AllTrialsFailed,
                message: format!("all {} trials failed", self.failures.len()),
            });
        }
        cell
    }

    /// Flat metrics (those of the first successful trial): median and interval across trials.
    fn summarize_metrics(&self, cell: &mut Cell, first_ok: &TrialData) {
        let names: Vec<String> = first_ok.metrics.values.keys().cloned().collect();
        for name in names {
            let values: Vec<f64> = self
                .trials
                .iter()
                .filter_map(|t| t.metrics.get(&name))
                .collect();
            if let Some(s) = summarize(&values) {
                cell.metrics.set(&name, s.median);
                cell.stats.insert(name, s);
            }
        }
    }

    /// Latency: exact percentiles of all trials' samples together; intervals from per-trial values.
    fn merge_latency(&self, cell: &mut Cell) {
        let mut merged: Option<hdrhistogram::Histogram<u64>> = None;
        for h in self.trials.iter().filter_map(|t| t.histogram.as_ref()) {
            match merged.as_mut() {
                None => merged = Some(h.clone()),
                Some(m) => {
                    let _ = m.add(h);
                }
            }
        }
        let Some(h) = merged.filter(|h| !h.is_empty()) else {
            return;
        };
        cell.metrics.latency_ns = Some(percentiles(&h));
        cell.latency_spectrum = spectrum(&h);
        let per_trial: Vec<_> = self
            .trials
            .iter()
            .filter_map(|t| t.metrics.latency_ns)
            .collect();
        for (name, get) in [("p50", 0usize), ("p99", 2), ("p999", 3)] {
            let values: Vec<f64> = per_trial
                .iter()
                .map(|p| [p.p50, p.p90, p.p99, p.p999][get])
                .collect();
            if let Some(s) = summarize(&values) {
                cell.stats.insert(format!("latency_ns.{name}"), s);
            }
        }
    }

    /// Failed trials beside successful ones, and a headline that varies more than [`NOISY_CV`].
    fn add_failure_and_noise_findings(&self, cell: &mut Cell) {
        if !self.failures.is_empty() {
            let reasons: Vec<&str> = self.failures.iter().map(|f| f.reason.as_str()).collect();
            cell.findings.push(Finding {
                kind: FindingKind::TrialFailed,
                message: format!(
                    "{} of {} trials failed: {}",
                    self.failures.len(),
                    self.failures.len() + self.trials.len(),
                    reasons.join("; ")
                ),
            });
        }
        if let Some(cv) = cell
            .stats
            .get(self.headline)
            .and_then(|s| s.cv)
            .filter(|cv| *cv > NOISY_CV)
        {
            cell.findings.push(Finding {
                kind: FindingKind::Noisy,
                message: format!("{} varies by {:.0} % (CV) across trials: treat differences below that as noise", self.headline, cv * 100.0),
            });
        }
    }
}

/// One finding per kind, saying in how many trials it appeared.
fn merge_findings(trials: &[TrialData]) -> Vec<Finding> {
    let mut by_kind: BTreeMap<FindingKind, (String, usize)> = BTreeMap::new();
    for t in trials {
        for f in &t.findings {
            by_kind
                .entry(f.kind.clone())
                .or_insert_with(|| (f.message.clone(), 0))
                .1 += 1;
        }
    }
    by_kind
        .into_iter()
        .map(|(kind, (message, n))| {
            let message = if trials.len() > 1 {
                format!("{message} (in {n} of {} trials)", trials.len())
            } else {
                message
            };
            Finding { kind, message }
        })
        .collect()
}

pub use crate::workload::metrics_of;

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(tput: f64) -> TrialData {
        TrialData {
            metrics: metrics_of(&[("throughput_msgs_per_s", tput)]),
            sub_intervals: vec![tput, tput],
            ..TrialData::default()
        }
    }

    #[test]
    fn medians_intervals_and_raw_trials() {
        let mut acc = CellAcc::new("echo", "x", BTreeMap::new(), "throughput_msgs_per_s");
        for v in [100.0, 110.0, 90.0] {
            acc.push(Ok(trial(v)));
        }
        let cell = acc.to_cell();
        assert_eq!(cell.status, CellStatus::Ok);
        assert_eq!(cell.metrics.get("throughput_msgs_per_s"), Some(100.0));
        assert_eq!(cell.trials.len(), 3);
        let s = cell.stats["throughput_msgs_per_s"];
        assert!(s.ci_low <= 100.0 && s.ci_high >= 100.0);
        assert_eq!(cell.stats["throughput_msgs_per_s.sub_intervals"].n, 6);
    }

    #[test]
    fn failures_and_noise_are_findings() {
        let mut acc = CellAcc::new("echo", "x", BTreeMap::new(), "throughput_msgs_per_s");
        acc.push(Ok(trial(100.0)));
        acc.push(Ok(trial(300.0)));
        acc.push(Err(Failure::crashed("boom")));
        let cell = acc.to_cell();
        let kinds: Vec<&str> = cell.findings.iter().map(|f| f.kind.name()).collect();
        assert!(
            kinds.contains(&"trial_failed") && kinds.contains(&"noisy"),
            "{kinds:?}"
        );

        let mut all_bad = CellAcc::new("echo", "x", BTreeMap::new(), "throughput_msgs_per_s");
        all_bad.push(Err(Failure::timeout("slow")));
        let cell = all_bad.to_cell();
        assert_eq!(cell.status, CellStatus::Timeout);
        assert_eq!(cell.reason.as_deref(), Some("slow"));
    }
}
