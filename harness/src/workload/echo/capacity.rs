//! Capacity at a latency objective: the highest offered open-loop rate at which an implementation meets
//! the objective — at least 99 % of the offered messages completed and p99 at or below the bound — while
//! the load generator was not saturated.
//!
//! Latency is **not** assumed to be monotonic in the offered load: servers whose runtime parks and wakes
//! per message (Go, Node, Mono) miss a 1 ms p99 at 10k msgs/s and meet it at 25–50k. So the search
//! never treats a low-rate miss as the end of the range: the capacity is the highest rate that met the
//! objective among everything tried (the common grid, then probes). Above it the search sweeps upward
//! (doubling, up to a cap) until a rate fails, then bisects geometrically only between the highest pass
//! and the first failure above it. Misses below the capacity are kept and reported as a finding
//! (`slo_missed_below_capacity`: p99 above the objective below the capacity), never
//! hidden and never used to lower the capacity.

use crate::finding::FindingKind;
use crate::results::{Cell, CellStatus, Finding, Trial};
use crate::workload::{Failure, TrialData};
use serde_json::json;

/// Bisection stops when the bracket is narrower than this ratio.
const MIN_BRACKET_RATIO: f64 = 1.05;

/// The upward sweep goes no higher than this multiple of the grid's highest rate: one client core
/// offers a few hundred thousand msgs/s, so far above that a "pass" would be the client's, not the
/// server's.
pub const MAX_RATE_OVER_GRID: f64 = 4.0;

/// Probe rates are rounded to this many msgs/s.
const RATE_STEP: f64 = 100.0;

/// What one offered rate showed against the objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// ≥ 99 % of offered completed and p99 ≤ objective, client not saturated.
    Met,
    /// The server missed the objective (too slow, or too few completions).
    Missed,
    /// The load generator was saturated: whatever the latency, the rate says nothing about the server,
    /// so it bounds the search from above and the capacity becomes a lower bound.
    ClientSaturated,
    /// No usable measurement (the cell failed or has no latency).
    NoData,
}

impl Verdict {
    /// The verdict of one measurement: its completed rate, p99 and whether the client saturated.
    pub fn of(
        rate: f64,
        achieved_msgs_per_s: Option<f64>,
        p99_ns: Option<f64>,
        client_saturated: bool,
        objective_ns: f64,
    ) -> Verdict {
        let (Some(achieved), Some(p99)) = (achieved_msgs_per_s, p99_ns) else {
            return Verdict::NoData;
        };
        if client_saturated {
            Verdict::ClientSaturated
        } else if achieved >= 0.99 * rate && p99 <= objective_ns {
            Verdict::Met
        } else {
            Verdict::Missed
        }
    }

    fn text(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "missed",
            Verdict::ClientSaturated => "client saturated",
            Verdict::NoData => "no data",
        }
    }
}

/// One rate tried: from the grid (a cell, medians of its trials) or a probe (one trial).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub rate: f64,
    pub verdict: Verdict,
    pub p99_us: Option<f64>,
}

impl Point {
    /// A grid cell's point (its aggregated metrics); a cell that did not complete has no data.
    pub fn of_cell(c: &Cell, rate: f64, objective_ns: f64) -> Point {
        let p99_ns = c.metrics.latency_ns.map(|l| l.p99);
        let verdict = if c.status != CellStatus::Ok {
            Verdict::NoData
        } else {
            Verdict::of(
                rate,
                c.metrics.get("throughput_msgs_per_s"),
                p99_ns,
                c.metrics.get("client_saturated").is_some_and(|s| s >= 0.5),
                objective_ns,
            )
        };
        Point {
            rate,
            verdict,
            p99_us: p99_ns.map(|p| p / 1e3),
        }
    }

    /// A probe's point: its one trial, or no data when the trial failed.
    pub fn of_trial(t: Result<&TrialData, &Failure>, rate: f64, objective_ns: f64) -> Point {
        let Ok(t) = t else {
            return Point {
                rate,
                verdict: Verdict::NoData,
                p99_us: None,
            };
        };
        let p99_ns = t.metrics.latency_ns.map(|l| l.p99);
        Point {
            rate,
            verdict: Verdict::of(
                rate,
                t.metrics.get("throughput_msgs_per_s"),
                p99_ns,
                t.metrics.get("client_saturated") == Some(1.0),
                objective_ns,
            ),
            p99_us: p99_ns.map(|p| p / 1e3),
        }
    }
}

/// The search: every rate tried (grid first, then probes) and the cap of the upward sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub grid: Vec<Point>,
    pub probes: Vec<Point>,
    pub max_rate: f64,
}

impl Search {
    /// Starts from the grid's verdicts; the upward sweep stops at `max_rate`.
    pub fn from_grid(grid: &[Point], max_rate: f64) -> Search {
        Search {
            grid: grid.to_vec(),
            probes: Vec::new(),
            max_rate,
        }
    }

    /// The cap of the upward sweep for a grid whose highest rate is `max_grid`.
    pub fn cap_for(max_grid: f64) -> f64 {
        max_grid * MAX_RATE_OVER_GRID
    }

    fn points(&self) -> impl Iterator<Item = &Point> {
        self.grid.iter().chain(&self.probes)
    }

    /// The capacity: the highest rate that met the objective (0 when none did).
    pub fn capacity(&self) -> f64 {
        self.points()
            .filter(|p| p.verdict == Verdict::Met)
            .map(|p| p.rate)
            .fold(0.0, f64::max)
    }

    /// The first rate above the capacity that did not meet the objective: the bracket's upper end.
    pub fn first_failure_above(&self) -> Option<Point> {
        let cap = self.capacity();
        self.points()
            .filter(|p| p.verdict != Verdict::Met && p.rate > cap)
            .min_by(|a, b| a.rate.total_cmp(&b.rate))
            .copied()
    }

    /// Whether the capacity is only a lower bound: nothing above it failed because of the server (every
    /// rate tried met the objective up to the cap, or the first failure above was the client's).
    pub fn is_lower_bound(&self) -> bool {
        self.first_failure_above()
            .is_none_or(|p| p.verdict == Verdict::ClientSaturated)
    }

    /// Whether the client's saturation bounded the search.
    pub fn client_limited(&self) -> bool {
        self.first_failure_above()
            .is_some_and(|p| p.verdict == Verdict::ClientSaturated)
    }

    /// Rates below the capacity that missed the objective (ascending): not the capacity's limit, but a
    /// finding (idle wake-ups at low rates can do this, and so can a transient stall).
    pub fn missed_below(&self) -> Vec<Point> {
        let cap = self.capacity();
        let mut v: Vec<Point> = self
            .points()
            .filter(|p| p.rate < cap && p.verdict != Verdict::Met)
            .copied()
            .collect();
        v.sort_by(|a, b| a.rate.total_cmp(&b.rate));
        v
    }

    /// The lowest rate tried, for "below X" when nothing passed.
    pub fn lowest_tried(&self) -> Option<f64> {
        self.points().map(|p| p.rate).min_by(f64::total_cmp)
    }

    /// The next rate to probe, or `None` when the search is done: sweep upward (doubling, capped) while
    /// nothing above the capacity failed, else bisect between the capacity and the first failure above
    /// it; when nothing met the objective, halve below the lowest failure.
    pub fn next_probe(&self) -> Option<f64> {
        let cap = self.capacity();
        let rate = match self.first_failure_above() {
            None if cap <= 0.0 => 1_000.0,
            None if cap >= self.max_rate => return None,
            None => (cap * 2.0).min(self.max_rate),
            Some(hi) if cap <= 0.0 => hi.rate / 2.0,
            Some(hi) if hi.rate / cap < MIN_BRACKET_RATIO => return None,
            Some(hi) => (cap * hi.rate).sqrt(),
        };
        let rate = (rate / RATE_STEP).round() * RATE_STEP;
        let fresh = rate >= RATE_STEP && rate > cap && self.points().all(|p| p.rate != rate);
        fresh.then_some(rate)
    }

    pub fn record(&mut self, p: Point) {
        self.probes.push(p);
    }

    /// Runs the search: at most `budget` probes, each measured by `probe`.
    pub fn run(&mut self, budget: usize, mut probe: impl FnMut(f64) -> Point) {
        for _ in 0..budget {
            let Some(rate) = self.next_probe() else {
                break;
            };
            let p = probe(rate);
            self.record(p);
        }
    }
}

/// The capacity cell of one implementation: the result, the bracket, every probe as a trial, and the
/// findings (misses below the capacity, bounds, client saturation, unchecked probes).
pub fn cell(
    implementation: &str,
    (connections, message_bytes): (usize, usize),
    objective_us: f64,
    search: &Search,
    grid_failure: Option<Failure>,
    probes: Vec<(Point, Result<TrialData, Failure>)>,
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
    // Nothing measured at all (every grid cell and probe failed): the cell fails like they did.
    let measured_none = grid_failure.is_some() && probes.iter().all(|p| p.1.is_err());
    if let (true, Some(f)) = (measured_none, grid_failure) {
        c.status = f.status;
        c.reason = Some(format!("no open-loop trial succeeded: {}", f.reason));
        return c;
    }
    let capacity = search.capacity();
    let upper = search.first_failure_above();
    c.metrics.set("capacity_msgs_per_s", capacity);
    if let Some(hi) = upper {
        c.metrics.set("capacity_upper_msgs_per_s", hi.rate);
    } else if capacity <= 0.0
        && let Some(low) = search.lowest_tried()
    {
        c.metrics.set("capacity_upper_msgs_per_s", low);
    }
    c.metrics.set(
        "capacity_is_lower_bound",
        if search.is_lower_bound() && capacity > 0.0 {
            1.0
        } else {
            0.0
        },
    );
    let describe = |p: &Point, what: &str| match p.p99_us {
        Some(p99) => format!(
            "{:.0} ({what}) {}, p99 {p99:.0} µs",
            p.rate,
            p.verdict.text()
        ),
        None => format!("{:.0} ({what}) {}", p.rate, p.verdict.text()),
    };
    let mut steps: Vec<String> = search.grid.iter().map(|p| describe(p, "grid")).collect();
    let mut unmeasurable = false;
    for (point, outcome) in probes {
        match outcome {
            Ok(t) => {
                steps.push(describe(&point, "probe"));
                if point.verdict == Verdict::Met && point.rate >= capacity {
                    unmeasurable |= t.metrics.get("latency_measurable") == Some(0.0);
                }
                let mut m = t.metrics.clone();
                m.set("probe_rate_msgs_per_s", point.rate);
                m.set(
                    "probe_met_objective",
                    if point.verdict == Verdict::Met {
                        1.0
                    } else {
                        0.0
                    },
                );
                c.trials.push(Trial {
                    metrics: m,
                    sub_intervals: t.sub_intervals,
                });
            }
            Err(f) => steps.push(format!("{:.0} (probe) failed: {}", point.rate, f.reason)),
        }
    }
    c.findings.push(Finding {
        kind: FindingKind::CapacitySearch,
        message: format!(
            "objective p99 ≤ {objective_us:.0} µs with ≥ 99 % of offered completed, client not saturated: {}",
            steps.join("; ")
        ),
    });
    let below = search.missed_below();
    if !below.is_empty() {
        let rates: Vec<String> = below
            .iter()
            .map(|p| match p.p99_us {
                Some(p99) if p.verdict == Verdict::Missed => {
                    format!("{:.0} msgs/s (p99 {p99:.0} µs)", p.rate)
                }
                _ => format!("{:.0} msgs/s ({})", p.rate, p.verdict.text()),
            })
            .collect();
        c.findings.push(Finding {
            kind: FindingKind::SloMissedBelowCapacity,
            message: format!(
                "p99 above the objective below capacity at {}, although it met the objective at {capacity:.0} msgs/s: latency is not monotonic in load here (a runtime that parks and wakes between messages at low rates does this; so does a transient stall), so the capacity is the highest passing rate, not the end of a passing prefix",
                rates.join(", ")
            ),
        });
    }
    if search.is_lower_bound() && capacity > 0.0 && !search.client_limited() {
        c.findings.push(Finding {
            kind: FindingKind::CapacityLowerBound,
            message: format!(
                "no rate above {capacity:.0} msgs/s missed the objective (the upward sweep stops at {:.0} msgs/s or when its probes run out): capacity ≥ {capacity:.0} msgs/s",
                search.max_rate
            ),
        });
    }
    if capacity <= 0.0 {
        c.findings.push(Finding {
            kind: FindingKind::CapacityBelowRange,
            message: format!(
                "missed the objective at every rate tried: capacity < {:.0} msgs/s",
                search.lowest_tried().unwrap_or(0.0)
            ),
        });
    }
    if search.client_limited() {
        c.findings.push(Finding {
            kind: FindingKind::ClientBottleneck,
            message: format!(
                "the load generator was saturated at {:.0} msgs/s, the first rate above the capacity that did not pass: the capacity is a lower bound set by the client",
                upper.map_or(0.0, |p| p.rate)
            ),
        });
    }
    if unmeasurable {
        c.findings.push(Finding {
            kind: FindingKind::CapacityUnchecked,
            message: "the probe that set the capacity failed its self-checks: the capacity rests on a latency figure marked not measurable".into(),
        });
    }
    c
}

/// Measured costs behind the echo plan's time estimate: the default echo run of 2026-11-30 on the
/// 2-CPU VM (14 implementations, 238 trials in 371 attempts, 880 s; the old estimate said 598 s
/// because it left out extensions, re-runs and verification).
#[derive(Debug, Clone, Copy)]
pub struct PlanCosts {
    /// Per attempt besides warm-up and window: server start-up (≈ 90 ms), connecting, draining,
    /// SIGTERM and the /proc samples.
    pub attempt_overhead_s: f64,
    /// Per implementation: verification (two server starts, 64 connections) and its phase steps.
    pub per_implementation_s: f64,
    /// Probability that a trial's self-checks fail with a failure a longer window can cure and it is
    /// extended: 0.53 of trials were extended in that run, 14 of its 49 extensions for the scheduling
    /// error alone, which is no longer extended (`Failed::window_curable`), so 0.53 × 35/49 ≈ 0.38.
    pub extension_rate: f64,
    /// Probability that a trial ran under interference and is re-run (0.03 on a quiet machine).
    pub rerun_rate: f64,
}

impl Default for PlanCosts {
    fn default() -> Self {
        PlanCosts {
            attempt_overhead_s: 0.15,
            per_implementation_s: 2.0,
            extension_rate: 0.38,
            rerun_rate: 0.03,
        }
    }
}

/// What the echo part of a suite runs, for its time estimate.
#[derive(Debug, Clone, Copy)]
pub struct PlanShape {
    pub implementations: usize,
    /// Open-loop grid cells per implementation and trials per cell.
    pub open_cells: usize,
    pub repeat: usize,
    /// At most this many capacity probes per implementation (the search may stop earlier).
    pub capacity_probes: usize,
    pub closed_cells: usize,
    pub closed_repeat: usize,
    pub warmup_s: f64,
    pub duration_s: f64,
    pub probe_duration_s: f64,
    pub max_extensions: u32,
    pub interference_rerun: bool,
}

/// The echo plan's expected and worst-case seconds. A trial is one attempt of warm-up + window plus
/// overhead, re-run with probability `rerun_rate` (when re-runs are on), and extended — a fresh
/// attempt with twice the window, up to `max_extensions` times — with probability `extension_rate`
/// each time; the worst case re-runs and extends every trial to the cap.
pub fn plan_seconds(p: &PlanShape, c: &PlanCosts) -> (f64, f64) {
    let attempt = |window_s: f64| c.attempt_overhead_s + p.warmup_s + window_s;
    let rerun = if p.interference_rerun { 1.0 } else { 0.0 };
    let trial = |window_s: f64, ext_p: f64, rerun_p: f64| {
        let extended: f64 = (1..=p.max_extensions)
            .map(|k| ext_p.powi(k as i32) * attempt(window_s * 2f64.powi(k as i32)))
            .sum();
        (1.0 + rerun_p * rerun) * attempt(window_s) + extended
    };
    let per_impl = |ext_p: f64, rerun_p: f64| {
        c.per_implementation_s
            + (p.open_cells * p.repeat + p.closed_cells * p.closed_repeat) as f64
                * trial(p.duration_s, ext_p, rerun_p)
            + p.capacity_probes as f64 * trial(p.probe_duration_s, ext_p, rerun_p)
    };
    let n = p.implementations as f64;
    (
        n * per_impl(c.extension_rate, c.rerun_rate),
        n * per_impl(1.0, 1.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::SmallRng};

    const OBJECTIVE_NS: f64 = 1_000_000.0;
    const GRID: [f64; 4] = [10_000.0, 25_000.0, 50_000.0, 100_000.0];

    /// A queueing-like server: p99 = 50 µs / (1 − rate / 150k), so p99 ≤ 1 ms up to 142.5k msgs/s.
    fn queueing_p99_ns(rate: f64) -> f64 {
        let u = rate / 150_000.0;
        if u >= 1.0 {
            f64::INFINITY
        } else {
            50_000.0 / (1.0 - u)
        }
    }
    const QUEUEING_CAPACITY: f64 = 142_500.0;

    /// Idle wake-ups: 2.5 ms p99 below 20k msgs/s, the queueing curve above.
    fn u_shaped_p99_ns(rate: f64) -> f64 {
        if rate < 20_000.0 {
            2_500_000.0
        } else {
            queueing_p99_ns(rate)
        }
    }

    fn point(rate: f64, p99_ns: f64, client_saturated: bool) -> Point {
        let achieved = if p99_ns.is_finite() { rate } else { rate * 0.5 };
        Point {
            rate,
            verdict: Verdict::of(
                rate,
                Some(achieved),
                Some(p99_ns),
                client_saturated,
                OBJECTIVE_NS,
            ),
            p99_us: Some(p99_ns / 1e3),
        }
    }

    /// Grid, then `budget` probes, all measured by `f`.
    fn search_with(budget: usize, mut f: impl FnMut(f64) -> Point) -> Search {
        let grid: Vec<Point> = GRID.iter().map(|&r| f(r)).collect();
        let mut s = Search::from_grid(&grid, Search::cap_for(100_000.0));
        s.run(budget, f);
        s
    }

    #[test]
    fn monotonic_latency_is_bracketed_and_bisected_below_the_true_capacity() {
        let s = search_with(6, |r| point(r, queueing_p99_ns(r), false));
        let c = s.capacity();
        assert!(
            (QUEUEING_CAPACITY / 1.1..=QUEUEING_CAPACITY).contains(&c),
            "capacity {c}"
        );
        assert!(!s.is_lower_bound());
        assert!(s.missed_below().is_empty());
        let hi = s.first_failure_above().unwrap().rate;
        assert!(hi > QUEUEING_CAPACITY && hi / c < 1.1, "bracket {c}..{hi}");
        // The first probe doubles the highest grid pass; later ones stay inside the bracket.
        assert_eq!(s.probes[0].rate, 200_000.0);
        assert!(
            s.probes[1..]
                .iter()
                .all(|p| p.rate > 100_000.0 && p.rate < 200_000.0)
        );
    }

    #[test]
    fn a_miss_at_low_load_does_not_set_the_capacity_and_is_reported() {
        let s = search_with(6, |r| point(r, u_shaped_p99_ns(r), false));
        let c = s.capacity();
        assert!(
            (QUEUEING_CAPACITY / 1.1..=QUEUEING_CAPACITY).contains(&c),
            "a U-shaped curve gave capacity {c}"
        );
        let below: Vec<f64> = s.missed_below().iter().map(|p| p.rate).collect();
        assert_eq!(below, vec![10_000.0]);
        // No probe went below the grid's lowest pass.
        assert!(s.probes.iter().all(|p| p.rate > 100_000.0));
        let cell = cell("go", (64, 64), 1000.0, &s, None, vec![]);
        let f = cell
            .findings
            .iter()
            .find(|f| f.kind == FindingKind::SloMissedBelowCapacity)
            .expect("the low-load miss is a finding");
        assert!(
            f.message.contains("10000 msgs/s (p99 2500 µs)"),
            "{}",
            f.message
        );
        assert_eq!(cell.metrics.get("capacity_msgs_per_s"), Some(c));
        assert_eq!(cell.metrics.get("capacity_is_lower_bound"), Some(0.0));
    }

    #[test]
    fn noisy_latency_never_gives_a_capacity_where_the_objective_surely_fails() {
        // p99 × a factor in [0.7, 1.3]: surely met below 131k (p99·1.3 ≤ 1 ms at 134k), surely missed
        // above 146.4k (p99·0.7 > 1 ms), whatever the noise at the low-load end.
        let surely_missed_above = 150_000.0 * (1.0 - 0.05 * 0.7);
        for seed in 0..50 {
            let mut rng = SmallRng::seed_from_u64(seed);
            let s = search_with(5, |r| {
                let noise = rng.random_range(0.7..1.3);
                point(r, u_shaped_p99_ns(r) * noise, false)
            });
            let c = s.capacity();
            assert!(
                (100_000.0..=surely_missed_above).contains(&c),
                "seed {seed}: capacity {c}"
            );
            assert!(!s.is_lower_bound(), "seed {seed}");
            assert_eq!(s.missed_below()[0].rate, 10_000.0, "seed {seed}");
        }
    }

    #[test]
    fn a_spurious_miss_inside_the_grid_does_not_lower_the_capacity() {
        let s = search_with(6, |r| {
            let p99 = if r == 50_000.0 {
                1_500_000.0
            } else {
                queueing_p99_ns(r)
            };
            point(r, p99, false)
        });
        assert!(s.capacity() > 100_000.0, "capacity {}", s.capacity());
        assert_eq!(s.missed_below()[0].rate, 50_000.0);
    }

    #[test]
    fn a_saturated_client_bounds_the_search_and_makes_the_capacity_a_lower_bound() {
        let s = search_with(6, |r| point(r, 100_000.0, r > 120_000.0));
        assert!(s.client_limited());
        assert!(s.is_lower_bound());
        let c = s.capacity();
        assert!(c > 100_000.0 && c <= 120_000.0, "capacity {c}");
        let cell = cell("x", (64, 64), 1000.0, &s, None, vec![]);
        assert_eq!(cell.metrics.get("capacity_is_lower_bound"), Some(1.0));
        assert!(
            cell.findings
                .iter()
                .any(|f| f.kind == FindingKind::ClientBottleneck)
        );
        assert!(
            !cell
                .findings
                .iter()
                .any(|f| f.kind == FindingKind::CapacityLowerBound)
        );
    }

    #[test]
    fn the_upward_sweep_stops_at_the_cap() {
        let s = search_with(10, |r| point(r, 100_000.0, false));
        assert_eq!(s.capacity(), 400_000.0);
        assert!(s.is_lower_bound() && !s.client_limited());
        assert_eq!(s.next_probe(), None);
        let rates: Vec<f64> = s.probes.iter().map(|p| p.rate).collect();
        assert_eq!(rates, vec![200_000.0, 400_000.0]);
        let cell = cell("x", (64, 64), 1000.0, &s, None, vec![]);
        assert!(
            cell.findings
                .iter()
                .any(|f| f.kind == FindingKind::CapacityLowerBound)
        );
    }

    #[test]
    fn nothing_met_halves_below_the_lowest_rate_and_says_below() {
        let s = search_with(2, |r| point(r, 5_000_000.0, false));
        assert_eq!(s.capacity(), 0.0);
        let rates: Vec<f64> = s.probes.iter().map(|p| p.rate).collect();
        assert_eq!(rates, vec![5_000.0, 2_500.0]);
        let cell = cell("x", (64, 64), 1000.0, &s, None, vec![]);
        assert!(
            cell.findings
                .iter()
                .any(|f| f.kind == FindingKind::CapacityBelowRange)
        );
        assert_eq!(cell.metrics.get("capacity_upper_msgs_per_s"), Some(2_500.0));
        assert_eq!(cell.metrics.get("capacity_is_lower_bound"), Some(0.0));
    }

    #[test]
    fn verdicts_need_completions_latency_and_an_unsaturated_client() {
        let v = |a, p, s| Verdict::of(10_000.0, a, p, s, OBJECTIVE_NS);
        assert_eq!(v(Some(9_950.0), Some(900_000.0), false), Verdict::Met);
        assert_eq!(v(Some(9_800.0), Some(900_000.0), false), Verdict::Missed);
        assert_eq!(v(Some(10_000.0), Some(1_100_000.0), false), Verdict::Missed);
        assert_eq!(
            v(Some(10_000.0), Some(100.0), true),
            Verdict::ClientSaturated
        );
        assert_eq!(v(None, Some(100.0), false), Verdict::NoData);
    }

    fn last_default_run() -> PlanShape {
        PlanShape {
            implementations: 14,
            open_cells: 4,
            repeat: 3,
            capacity_probes: 3,
            closed_cells: 2,
            closed_repeat: 1,
            warmup_s: 0.3,
            duration_s: 1.5,
            probe_duration_s: 1.0,
            max_extensions: 1,
            interference_rerun: true,
        }
    }

    #[test]
    fn the_plan_estimate_reproduces_the_run_it_was_measured_on() {
        // That run took 880 s in all (its estimate then said 598 s).
        // That run still extended for the scheduling error: 0.53 of its trials were extended.
        let then = PlanCosts {
            extension_rate: 0.53,
            ..PlanCosts::default()
        };
        let (expected, worst) = plan_seconds(&last_default_run(), &then);
        assert!((800.0..960.0).contains(&expected), "expected {expected}");
        assert!(worst > 1.5 * expected, "worst {worst}");
        // No extensions and no re-runs: every trial is one attempt.
        let quick = PlanShape {
            max_extensions: 0,
            interference_rerun: false,
            ..last_default_run()
        };
        let (e, w) = plan_seconds(&quick, &PlanCosts::default());
        assert_eq!(e, w);
        let attempts = 14.0 * (12.0 + 2.0 + 3.0);
        let windows = 14.0 * (14.0 * 1.5 + 3.0 * 1.0);
        let want = 14.0 * 2.0 + attempts * (0.15 + 0.3) + windows;
        assert!((e - want).abs() < 1e-6, "{e} vs {want}");
    }

    #[test]
    fn a_cell_whose_every_measurement_failed_fails_like_them() {
        let s = Search::from_grid(&[], 400_000.0);
        let failed = cell(
            "x",
            (64, 64),
            1000.0,
            &s,
            Some(Failure::crashed("exit status 3")),
            vec![],
        );
        assert_eq!(failed.status, CellStatus::Crashed);
        assert!(failed.reason.unwrap().contains("exit status 3"));
        assert_eq!(failed.params["mode"], json!("capacity"));
    }
}
