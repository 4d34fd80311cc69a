//! Capacity at a latency objective: the highest offered open-loop rate an implementation sustains with
//! at least 99 % of the offered messages completed and p99 at or below the objective. The common rate
//! grid brackets it; a few geometric bisection probes narrow the bracket.

use crate::results::{Cell, CellStatus, Finding, Trial};
use crate::workload::{Failure, TrialData};
use serde_json::json;

/// Bisection stops when the bracket is narrower than this ratio.
const MIN_BRACKET_RATIO: f64 = 1.05;

/// The search state: `lo` passed (0 when nothing did), `hi` failed (`None` while nothing failed).
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub lo: f64,
    pub hi: Option<f64>,
    /// The lowest rate tried, for "below X" when nothing passed.
    pub lowest_tried: f64,
}

impl Search {
    /// Brackets from the grid: `lo` is the highest rate of the passing prefix (an implementation must
    /// pass every lower rate too), `hi` the first rate after it. Unknown verdicts count as failures.
    pub fn from_grid(grid: &[(f64, Option<bool>)], max_grid: f64) -> Search {
        let mut sorted = grid.to_vec();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut s = Search {
            lo: 0.0,
            hi: None,
            lowest_tried: sorted.first().map_or(max_grid, |g| g.0),
        };
        for (rate, pass) in sorted {
            if pass == Some(true) {
                s.lo = rate;
            } else {
                s.hi = Some(rate);
                break;
            }
        }
        s
    }

    /// The next rate to probe, or `None` when the bracket is narrow enough.
    pub fn next_probe(&self) -> Option<f64> {
        let rate = match self.hi {
            None => (self.lo * 2.0).max(1_000.0),
            Some(hi) if self.lo <= 0.0 => hi / 2.0,
            Some(hi) if hi / self.lo < MIN_BRACKET_RATIO => return None,
            Some(hi) => (self.lo * hi).sqrt(),
        };
        let rate = (rate / 100.0).round() * 100.0;
        (rate >= 100.0).then_some(rate)
    }

    pub fn record(&mut self, rate: f64, pass: bool) {
        self.lowest_tried = self.lowest_tried.min(rate);
        if pass {
            self.lo = self.lo.max(rate);
        } else {
            self.hi = Some(self.hi.map_or(rate, |h| h.min(rate)));
        }
    }
}

/// The capacity cell of one implementation: the result, the bracket, and every probe as a trial.
pub fn cell(
    implementation: &str,
    (connections, message_bytes): (usize, usize),
    objective_us: f64,
    search: &Search,
    grid: &[(f64, Option<bool>)],
    grid_failure: Option<Failure>,
    probes: Vec<(f64, Result<TrialData, Failure>, Option<bool>)>,
) -> Cell {
    let params = crate::workload::params(&[
        ("mode", json!("capacity")),
        ("connections", json!(connections)),
        ("message_bytes", json!(message_bytes)),
        ("latency_objective_us", json!(objective_us)),
    ]);
    let mut c = Cell::failed(
        "echo",
        implementation,
        params,
        CellStatus::Ok,
        String::new(),
    );
    c.reason = None;
    c.metrics.set("capacity_msgs_per_s", search.lo);
    if let Some(hi) = search.hi {
        c.metrics.set("capacity_upper_msgs_per_s", hi);
    }
    c.metrics.set(
        "capacity_is_lower_bound",
        if search.hi.is_none() { 1.0 } else { 0.0 },
    );
    let verdict = |p: Option<bool>| match p {
        Some(true) => "met",
        Some(false) => "missed",
        None => "no data",
    };
    let mut steps: Vec<String> = grid
        .iter()
        .map(|(r, p)| format!("{r:.0} (grid) {}", verdict(*p)))
        .collect();
    let mut client_limited = false;
    let mut unmeasurable = false;
    // Nothing measured at all (every grid cell and probe failed): the cell fails like they did.
    let measured_none = grid_failure.is_some() && probes.iter().all(|p| p.1.is_err());
    if let (true, Some(f)) = (measured_none, grid_failure) {
        c.status = f.status;
        c.reason = Some(format!("no open-loop trial succeeded: {}", f.reason));
        return c;
    }
    for (rate, outcome, pass) in probes {
        match outcome {
            Ok(t) => {
                let p99 = t
                    .metrics
                    .latency_ns
                    .map(|l| l.p99 / 1e3)
                    .unwrap_or(f64::NAN);
                steps.push(format!(
                    "{rate:.0} (probe) {}, p99 {p99:.0} µs",
                    verdict(pass)
                ));
                if pass == Some(true) {
                    client_limited |= t.metrics.get("client_saturated") == Some(1.0);
                    unmeasurable |= t.metrics.get("latency_measurable") == Some(0.0);
                }
                let mut m = t.metrics.clone();
                m.set("probe_rate_msgs_per_s", rate);
                m.set(
                    "probe_met_objective",
                    if pass == Some(true) { 1.0 } else { 0.0 },
                );
                c.trials.push(Trial {
                    metrics: m,
                    sub_intervals: t.sub_intervals,
                });
            }
            Err(f) => steps.push(format!("{rate:.0} (probe) failed: {}", f.reason)),
        }
    }
    c.findings.push(Finding {
        kind: "capacity_search".into(),
        message: format!(
            "objective p99 ≤ {objective_us:.0} µs with ≥ 99 % of offered completed: {}",
            steps.join("; ")
        ),
    });
    if search.hi.is_none() {
        c.findings.push(Finding {
            kind: "capacity_lower_bound".into(),
            message: format!(
                "met the objective at every rate tried: capacity ≥ {:.0} msgs/s",
                search.lo
            ),
        });
    }
    if search.lo <= 0.0 {
        c.findings.push(Finding {
            kind: "capacity_below_range".into(),
            message: format!(
                "missed the objective at every rate tried: capacity < {:.0} msgs/s",
                search.lowest_tried
            ),
        });
    }
    if client_limited {
        c.findings.push(Finding {
            kind: "client_bottleneck".into(),
            message: "the load generator was saturated at a passing probe: the capacity is a lower bound set by the client".into(),
        });
    }
    if unmeasurable {
        c.findings.push(Finding {
            kind: "capacity_unchecked".into(),
            message: "a passing probe failed its self-checks: the capacity rests on a latency figure marked not measurable".into(),
        });
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_brackets_and_bisection_narrows() {
        let g = [
            (10_000.0, Some(true)),
            (25_000.0, Some(true)),
            (50_000.0, Some(false)),
            (100_000.0, Some(false)),
        ];
        let mut s = Search::from_grid(&g, 100_000.0);
        assert_eq!((s.lo, s.hi), (25_000.0, Some(50_000.0)));
        let p = s.next_probe().unwrap();
        assert_eq!(p, 35_400.0);
        s.record(p, true);
        assert_eq!((s.lo, s.hi), (35_400.0, Some(50_000.0)));
        s.record(42_000.0, false);
        assert_eq!(s.hi, Some(42_000.0));
        s.record(41_000.0, true);
        assert_eq!(s.next_probe(), None, "bracket under 5 %");
    }

    #[test]
    fn a_failure_below_a_pass_ends_the_prefix_and_open_brackets_search_outward() {
        let g = [(10_000.0, Some(false)), (25_000.0, Some(true))];
        let s = Search::from_grid(&g, 25_000.0);
        assert_eq!((s.lo, s.hi), (0.0, Some(10_000.0)));
        assert_eq!(s.next_probe(), Some(5_000.0));
        let all = Search::from_grid(&[(10_000.0, Some(true)), (20_000.0, Some(true))], 20_000.0);
        assert_eq!(all.next_probe(), Some(40_000.0));
        let unknown = Search::from_grid(&[(10_000.0, None)], 10_000.0);
        assert_eq!(unknown.hi, Some(10_000.0));
    }

    #[test]
    fn the_cell_says_when_capacity_is_only_a_bound() {
        let s = Search {
            lo: 100_000.0,
            hi: None,
            lowest_tried: 10_000.0,
        };
        let c = cell(
            "x",
            (64, 64),
            1000.0,
            &s,
            &[(100_000.0, Some(true))],
            None,
            vec![],
        );
        assert_eq!(c.metrics.get("capacity_msgs_per_s"), Some(100_000.0));
        assert_eq!(c.metrics.get("capacity_is_lower_bound"), Some(1.0));
        assert!(c.findings.iter().any(|f| f.kind == "capacity_lower_bound"));
        assert_eq!(c.params["mode"], json!("capacity"));
        let failed = cell(
            "x",
            (64, 64),
            1000.0,
            &s,
            &[(10_000.0, Some(false))],
            Some(Failure::crashed("exit status 3")),
            vec![],
        );
        assert_eq!(failed.status, CellStatus::Crashed);
        assert!(failed.reason.unwrap().contains("exit status 3"));
    }
}
