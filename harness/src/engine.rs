//! The measuring engine, free of processes and files: runs a batch's trials in interleaved order
//! (A B C A B C, so machine drift does not favour one implementation), applies the repeat rules (a
//! first trial that timed out, ran out of memory or ran longer than the suite's budget is not
//! repeated) and hands every finished trial's cell to its [`Executor`] to record. The run session
//! (`runner::Run`) is one executor; the tests below use fake trials.

use crate::aggregate::CellAcc;
use crate::results::{Cell, CellStatus, PhaseTiming};
use crate::workload::{Failure, TrialData};
use serde_json::Value;
use std::collections::BTreeMap;

/// A batch's point: the implementation and the cell's parameters.
pub type Point = (String, BTreeMap<String, Value>);

/// What the engine asks of the world around it.
pub trait Executor {
    /// Whether the user asked to stop (checked before every trial).
    fn interrupted(&self) -> bool;
    /// Runs trial `repeat` (0-based) of point `index`; returns its outcome and how long it took (s).
    fn run_trial(&mut self, index: usize, repeat: usize) -> (Result<TrialData, Failure>, f64);
    /// Progress: trial `repeat` of point `index` starts (`Some`), or is skipped (`None`).
    fn starting(&mut self, index: usize, repeat: Option<usize>);
    /// Records the cell of point `index` after a trial (the run session saves it right away).
    fn record(
        &mut self,
        index: usize,
        outcome: &Result<TrialData, Failure>,
        cell: Cell,
    ) -> anyhow::Result<()>;
}

/// The repeat rules, one batch's worth.
#[derive(Debug, Clone)]
pub struct Schedule<'a> {
    pub workload: &'a str,
    pub headline: &'static str,
    pub repeat: usize,
    /// A first trial longer than this (s) is not repeated.
    pub long_trial_s: f64,
}

/// Why a cell keeps its first trial only, if it does: a timeout or an OOM kill (repeating them only
/// stresses the host again) or a first trial over the suite's budget.
pub fn single_trial_reason(
    outcome: &Result<TrialData, Failure>,
    took_s: f64,
    long_trial_s: f64,
) -> Option<String> {
    match outcome {
        Err(f) if f.status == CellStatus::Timeout => Some(format!(
            "not repeated: the first trial timed out ({})",
            f.reason
        )),
        Err(f) if f.status == CellStatus::OutOfMemory => Some(format!(
            "not repeated: the first trial ran out of memory ({})",
            f.reason
        )),
        _ if took_s > long_trial_s => Some(format!(
            "not repeated: the first trial took {took_s:.0} s (> {long_trial_s:.0} s), so repeats would exceed the suite's time budget; no interval across trials"
        )),
        _ => None,
    }
}

/// Runs every point `schedule.repeat` times, interleaved, and returns the finished cells (in point
/// order). Stops with an error when interrupted or when recording fails.
pub fn run_batch(
    points: &[Point],
    schedule: &Schedule,
    exec: &mut dyn Executor,
) -> anyhow::Result<Vec<Cell>> {
    let mut accs: Vec<CellAcc> = points
        .iter()
        .map(|(imp, params)| {
            CellAcc::new(schedule.workload, imp, params.clone(), schedule.headline)
        })
        .collect();
    for r in 0..schedule.repeat {
        for (i, acc) in accs.iter_mut().enumerate() {
            if exec.interrupted() {
                anyhow::bail!("interrupted");
            }
            if acc.single_trial.is_some() {
                exec.starting(i, None);
                continue;
            }
            exec.starting(i, Some(r));
            let (outcome, took_s) = exec.run_trial(i, r);
            if r == 0 && schedule.repeat > 1 {
                acc.single_trial = single_trial_reason(&outcome, took_s, schedule.long_trial_s);
            }
            let cell = {
                acc.push(outcome.clone());
                acc.to_cell()
            };
            exec.record(i, &outcome, cell)?;
        }
    }
    Ok(accs.iter().map(CellAcc::to_cell).collect())
}

/// A duration for people: seconds below two minutes, else minutes and seconds.
fn human_s(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.0} s")
    } else {
        let whole = s.round() as u64;
        format!("{} min {:02} s", whole / 60, whole % 60)
    }
}

/// The plan said once before measuring: per workload (name, implementations, estimated seconds if it
/// can say), each estimate including its verification, and their total; `build_s` is what the build
/// just took.
pub fn plan_line(workloads: &[(&str, usize, Option<f64>)], build_s: Option<f64>) -> String {
    let parts: Vec<String> = workloads
        .iter()
        .map(|(name, n, est)| match est {
            Some(s) => format!("{name} × {n} ≈ {}", human_s(*s)),
            None => format!("{name} × {n}"),
        })
        .collect();
    let known_s: f64 = workloads.iter().filter_map(|w| w.2).sum();
    let unknown: Vec<&str> = workloads
        .iter()
        .filter(|w| w.2.is_none())
        .map(|w| w.0)
        .collect();
    let mut line = format!(
        "plan: {} (workload × implementations, verification included)",
        parts.join(", ")
    );
    if known_s > 0.0 {
        line.push_str(&format!("; estimated ≈ {}", human_s(known_s)));
        if !unknown.is_empty() {
            line.push_str(&format!(" plus {} (no estimate)", unknown.join(", ")));
        }
    }
    if let Some(b) = build_s {
        line.push_str(&format!("; the build took {}", human_s(b)));
    }
    line
}

/// The run's time, said at the end: each phase's actual time beside its estimate (and the ratio), and
/// the total.
pub fn phases_line(phases: &[PhaseTiming]) -> String {
    let parts: Vec<String> = phases
        .iter()
        .map(|p| match p.estimated_s {
            Some(e) if e > 0.0 => format!(
                "{} {} (estimated {}, {:+.0} %)",
                p.name,
                human_s(p.actual_s),
                human_s(e),
                100.0 * (p.actual_s / e - 1.0)
            ),
            _ => format!("{} {}", p.name, human_s(p.actual_s)),
        })
        .collect();
    let total: f64 = phases.iter().map(|p| p.actual_s).sum();
    format!("time: {}; total {}", parts.join(", "), human_s(total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::metrics_of;

    /// A mock executor: scripted outcomes per (point, repeat), a log of what the engine did.
    #[derive(Default)]
    struct Fake {
        /// (point, repeat) → (outcome, seconds); missing: a 1-second success of 100.
        script: BTreeMap<(usize, usize), (Result<TrialData, Failure>, f64)>,
        log: Vec<String>,
        recorded: Vec<(usize, usize)>,
        interrupt_after: Option<usize>,
        fail_record: bool,
    }

    impl Executor for Fake {
        fn interrupted(&self) -> bool {
            self.interrupt_after
                .is_some_and(|n| self.log.iter().filter(|l| l.starts_with("run")).count() >= n)
        }
        fn run_trial(&mut self, index: usize, repeat: usize) -> (Result<TrialData, Failure>, f64) {
            self.log.push(format!("run {index}/{repeat}"));
            self.script.remove(&(index, repeat)).unwrap_or_else(|| {
                let t = TrialData {
                    metrics: metrics_of(&[("x", 100.0 + index as f64)]),
                    ..TrialData::default()
                };
                (Ok(t), 1.0)
            })
        }
        fn starting(&mut self, index: usize, repeat: Option<usize>) {
            if repeat.is_none() {
                self.log.push(format!("skip {index}"));
            }
        }
        fn record(
            &mut self,
            index: usize,
            _outcome: &Result<TrialData, Failure>,
            cell: Cell,
        ) -> anyhow::Result<()> {
            if self.fail_record {
                anyhow::bail!("disk full");
            }
            self.recorded.push((index, cell.trials.len()));
            Ok(())
        }
    }

    fn points(n: usize) -> Vec<Point> {
        (0..n)
            .map(|i| (format!("impl{i}"), BTreeMap::new()))
            .collect()
    }

    fn schedule(repeat: usize) -> Schedule<'static> {
        Schedule {
            workload: "toy",
            headline: "x",
            repeat,
            long_trial_s: 10.0,
        }
    }

    #[test]
    fn trials_interleave_across_points_and_every_trial_is_recorded() {
        let mut fake = Fake::default();
        let cells = run_batch(&points(3), &schedule(2), &mut fake).unwrap();
        assert_eq!(
            fake.log,
            [
                "run 0/0", "run 1/0", "run 2/0", "run 0/1", "run 1/1", "run 2/1"
            ]
        );
        // Recorded after each trial, with the trials so far.
        assert_eq!(
            fake.recorded,
            [(0, 1), (1, 1), (2, 1), (0, 2), (1, 2), (2, 2)]
        );
        assert_eq!(cells.len(), 3);
        assert_eq!(cells[1].implementation, "impl1");
        assert_eq!(cells[1].workload, "toy");
        assert_eq!(cells[1].metrics.get("x"), Some(101.0));
    }

    #[test]
    fn timeouts_oom_kills_and_long_first_trials_are_not_repeated() {
        let mut fake = Fake::default();
        fake.script
            .insert((0, 0), (Err(Failure::timeout("no result within 5s")), 5.0));
        fake.script
            .insert((1, 0), (Err(Failure::out_of_memory("killed")), 1.0));
        fake.script.insert((2, 0), (Ok(TrialData::default()), 11.0));
        fake.script
            .insert((3, 0), (Err(Failure::crashed("exit 1")), 1.0));
        let cells = run_batch(&points(4), &schedule(3), &mut fake).unwrap();
        let runs = |i: usize| {
            fake.log
                .iter()
                .filter(|l| l.starts_with(&format!("run {i}/")))
                .count()
        };
        assert_eq!([runs(0), runs(1), runs(2), runs(3)], [1, 1, 1, 3]);
        assert_eq!(fake.log.iter().filter(|l| *l == "skip 0").count(), 2);
        assert_eq!(cells[0].status, CellStatus::Timeout);
        assert_eq!(cells[0].reason.as_deref(), Some("no result within 5s"));
        assert_eq!(cells[1].status, CellStatus::OutOfMemory);
        // A crash is repeated: the cell keeps the later successes.
        assert_eq!(cells[3].trials.len(), 2);
    }

    #[test]
    fn a_single_repeat_never_marks_long_trials() {
        let mut fake = Fake::default();
        fake.script.insert((0, 0), (Ok(TrialData::default()), 99.0));
        run_batch(&points(1), &schedule(1), &mut fake).unwrap();
        assert_eq!(fake.log, ["run 0/0"]);
        assert_eq!(
            single_trial_reason(&Ok(TrialData::default()), 9.0, 10.0),
            None
        );
        assert!(single_trial_reason(&Ok(TrialData::default()), 11.0, 10.0).is_some());
    }

    #[test]
    fn an_interrupt_stops_before_the_next_trial_and_a_failed_record_stops_the_batch() {
        let mut fake = Fake {
            interrupt_after: Some(2),
            ..Fake::default()
        };
        let err = run_batch(&points(3), &schedule(2), &mut fake).unwrap_err();
        assert_eq!(err.to_string(), "interrupted");
        assert_eq!(fake.log, ["run 0/0", "run 1/0"]);
        let mut fake = Fake {
            fail_record: true,
            ..Fake::default()
        };
        assert!(run_batch(&points(2), &schedule(1), &mut fake).is_err());
        assert_eq!(fake.log, ["run 0/0"]);
    }
    #[test]
    fn the_plan_line_gives_each_estimate_and_the_total_and_names_the_unknown() {
        let line = plan_line(
            &[
                ("echo", 14, Some(529.0)),
                ("fanout", 13, Some(90.4)),
                ("micro", 6, None),
            ],
            Some(41.0),
        );
        assert_eq!(
            line,
            "plan: echo × 14 ≈ 8 min 49 s, fanout × 13 ≈ 90 s, micro × 6 (workload × implementations, verification included); estimated ≈ 10 min 19 s plus micro (no estimate); the build took 41 s"
        );
        assert_eq!(
            plan_line(&[("micro", 6, None)], None),
            "plan: micro × 6 (workload × implementations, verification included)"
        );
    }

    #[test]
    fn the_time_line_sets_each_actual_beside_its_estimate() {
        let phase = |name: &str, estimated_s, actual_s| PhaseTiming {
            name: name.into(),
            estimated_s,
            actual_s,
        };
        let line = phases_line(&[
            phase("build", None, 40.0),
            phase("echo", Some(500.0), 550.0),
            phase("futures", Some(0.0), 0.4),
        ]);
        assert_eq!(
            line,
            "time: build 40 s, echo 9 min 10 s (estimated 8 min 20 s, +10 %), futures 0 s; total 9 min 50 s"
        );
    }
}
