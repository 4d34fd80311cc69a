//! The suites: which points each workload measures, how long, and how often. Pure data. The default
//! suite (every workload, every implementation, the default repeats) must fit in 30 minutes on a
//! 2-core machine *including* provisioning and builds on a fresh one, so it aims at ≤ 24 minutes on a
//! warm cache. Where the last default run's 30 minutes went (results/reference, warm cache): build
//! ≈ 1 min; echo ≈ 8.5 (its own plan, workload::echo::capacity::plan_seconds); fan-out ≈ 5.5 (310 s of
//! trials, 174 of them the 1M-task cells, the two Python ones 41 s each); stream ≈ 3.3; cancel ≈ 3.6;
//! futures seconds; micro-benchmarks ≈ 8.5. Each workload's definition estimates its plan
//! (`estimate_s`, verification included) from constants fitted to that run, and the run prints the
//! estimates up front and the actual times at the end. `--quick` is a smoke test; `--full` is the
//! complete sweep.

use serde::Serialize;
use std::time::Duration;

/// The fan-out variants: `bare` tasks hold nothing across the await; `state` tasks hold a 1 KiB buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FanoutVariant {
    Bare,
    State,
}

impl FanoutVariant {
    pub fn as_str(self) -> &'static str {
        match self {
            FanoutVariant::Bare => "bare",
            FanoutVariant::State => "state",
        }
    }
}

/// Which suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum SuiteKind {
    Quick,
    Default,
    Full,
}

/// Everything a run measures.
#[derive(Debug, Clone, Serialize)]
pub struct Suite {
    pub kind: SuiteKind,
    /// Trials per cell, interleaved across implementations.
    pub repeat: usize,
    pub echo: EchoSuite,
    pub fanout: FanoutSuite,
    pub stream: StreamSuite,
    /// A cell whose first trial took longer than this many seconds is not repeated (it says so): a 1M-task
    /// fan-out in a slow runtime can take a minute, and its memory figure is not what noise threatens.
    pub long_trial_s: f64,
}

/// The echo plan. The headline is the open loop at rates common to every implementation (so rankings
/// compare equal offered loads) and each implementation's capacity at the latency objective; the closed
/// loop is secondary: the maximum under this client engine.
#[derive(Debug, Clone, Serialize)]
pub struct EchoSuite {
    /// Closed-loop points: (connections, message bytes).
    pub closed: Vec<(usize, usize)>,
    /// Trials per closed-loop cell (secondary evidence, so fewer than the headline's).
    pub closed_repeat: usize,
    /// (connections, message bytes) of the open-loop grid and the capacity search.
    pub open_at: (usize, usize),
    /// Offered rates common to every implementation (msgs/s), ascending. An implementation clearly over
    /// capacity at one rate (achieved < 90 % of offered) is not driven at the higher ones.
    pub open_rates: Vec<f64>,
    /// Bisection probes of the capacity search after the grid has bracketed it.
    pub capacity_probes: usize,
    #[serde(with = "secs")]
    pub probe_duration: Duration,
    /// How often a trial whose self-checks fail is re-run with a doubled window.
    pub max_extensions: u32,
    /// Whether a trial measured under interference is re-run (once).
    pub interference_rerun: bool,
    #[serde(with = "secs")]
    pub warmup: Duration,
    #[serde(with = "secs")]
    pub duration: Duration,
    #[serde(with = "secs")]
    pub sub_interval: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct FanoutSuite {
    /// Per variant, the task counts in increasing order: 1 first (the baseline for bytes per task),
    /// and each count's sleep is extrapolated from the spawn time at the previous one.
    pub points: Vec<(FanoutVariant, Vec<u64>)>,
    /// The shortest sleep (ms); each implementation's sleep at N is at least twice its spawn time
    /// there (see `workload::fanout::SleepPlanner`), so this only decides small N.
    pub sleep_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StreamSuite {
    /// (minimum items, stages, capacity) of the balanced variant; each runs for at least
    /// `balanced_min_ms` too, after an untimed warm-up pipeline of `warmup_items`.
    pub balanced: Vec<(u64, u32, u32)>,
    /// Balanced runs last at least this long (`--min-ms`), so JIT tiering, first-touch page faults
    /// and thread wake-ups do not decide them.
    pub balanced_min_ms: u64,
    /// Slow-consumer points (items, stages, capacity); for each, the run also measures 10 × items
    /// to judge backpressure. The sink times ⌊(items − 1) / pause_every⌋ pauses (none after the last
    /// item, docs/PROTOCOL.md); items that are not a multiple of `pause_every` (nor is 10 × items)
    /// give round counts (100.5k items: 10 pauses, 1.005M: 100) and no pause at the very end at all.
    pub slow_consumer: Vec<(u64, u32, u32)>,
    /// Items of the untimed warm-up pipeline every trial runs first (`--warmup-items`).
    pub warmup_items: u64,
    /// The slow consumer pauses `pause_ms` after every `pause_every` items: long against the 1 ms
    /// timer granularity of several runtimes, so the pauses' rounding does not rank them.
    pub pause_every: u64,
    pub pause_ms: u64,
    pub sample_every: u64,
}

impl Suite {
    /// The suite of `kind`: its repeat rules, then each workload's points.
    pub fn new(kind: SuiteKind) -> Suite {
        let (repeat, long_trial_s) = Suite::repeat_rules(kind);
        Suite {
            kind,
            repeat,
            echo: EchoSuite::for_kind(kind),
            fanout: FanoutSuite::for_kind(kind),
            stream: StreamSuite::for_kind(kind),
            long_trial_s,
        }
    }

    /// (trials per cell, the long-trial threshold in s). The default suite
    /// runs a cell whose first trial took over 12 s once: the 1M-task fan-out of the Python runtimes
    /// (≈ 35–41 s each), whose headline is memory, not the time noise threatens. Not lower: an echo
    /// trial extended once and re-run for interference takes ≈ 8 s and must keep its repeats.
    fn repeat_rules(kind: SuiteKind) -> (usize, f64) {
        match kind {
            SuiteKind::Quick => (1, f64::INFINITY),
            SuiteKind::Default => (3, 12.0),
            SuiteKind::Full => (5, f64::INFINITY),
        }
    }
}

impl EchoSuite {
    /// The echo plan of `kind`. The default is ≈ 10 minutes for 14 implementations
    /// (workload::echo::capacity::plan_seconds, from the measured costs of the last default run: 880 s
    /// with four rates, two closed-loop points and 1.5 s windows). Points were traded, never checks or
    /// repeats: 25k left the grid (10k still shows idle wake-ups, the search brackets the capacity
    /// between the grid's rates), the 1-connection closed loop left (secondary), windows are 1.3 s (13k
    /// samples at 10k msgs/s; the p99-interval check extends a trial that needs more) and probes 0.8 s
    /// (≥ 80k samples above the grid's 100k).
    pub fn for_kind(kind: SuiteKind) -> EchoSuite {
        match kind {
            SuiteKind::Quick => EchoSuite {
                closed: vec![(64, 64)],
                closed_repeat: 1,
                open_at: (64, 64),
                open_rates: vec![10_000.0],
                capacity_probes: 1,
                probe_duration: Duration::from_millis(600),
                max_extensions: 0,
                interference_rerun: false,
                warmup: Duration::from_millis(300),
                duration: Duration::from_millis(1200),
                sub_interval: Duration::from_millis(200),
            },
            SuiteKind::Default => EchoSuite {
                closed: vec![(64, 64)],
                closed_repeat: 1,
                open_at: (64, 64),
                open_rates: vec![10_000.0, 50_000.0, 100_000.0],
                capacity_probes: 3,
                probe_duration: Duration::from_millis(800),
                max_extensions: 1,
                interference_rerun: true,
                warmup: Duration::from_millis(300),
                duration: Duration::from_millis(1300),
                sub_interval: Duration::from_millis(130),
            },
            SuiteKind::Full => EchoSuite {
                closed: [1, 16, 64, 256, 1024]
                    .iter()
                    .flat_map(|&c| [64, 4096, 65536].map(move |s| (c, s)))
                    .collect(),
                closed_repeat: 5,
                open_at: (64, 64),
                open_rates: vec![10_000.0, 25_000.0, 50_000.0, 100_000.0, 200_000.0],
                capacity_probes: 5,
                probe_duration: Duration::from_secs(2),
                max_extensions: 2,
                interference_rerun: true,
                warmup: Duration::from_secs(1),
                duration: Duration::from_secs(5),
                sub_interval: Duration::from_millis(500),
            },
        }
    }
}

impl FanoutSuite {
    /// The fan-out points of `kind`. The default measures the bare variant at 1, 10k, 100k and 1M
    /// tasks and the state variant up to 100k: its 1M cells cost ≈ 4 minutes in the slow runtimes
    /// once every task must be alive at once; `--full` measures them. Every count above 1 stays, since
    /// each is where the next one's sleep is extrapolated from (without the 10k state point, 100k
    /// state would start at the 200 ms floor and re-run the slow runtimes, costing what it saved).
    pub fn for_kind(kind: SuiteKind) -> FanoutSuite {
        match kind {
            SuiteKind::Quick => FanoutSuite {
                points: vec![
                    (FanoutVariant::Bare, vec![1, 1_000, 10_000]),
                    (FanoutVariant::State, vec![1, 1_000, 10_000]),
                ],
                sleep_ms: 200,
            },
            SuiteKind::Default => FanoutSuite {
                points: vec![
                    (FanoutVariant::Bare, vec![1, 10_000, 100_000, 1_000_000]),
                    (FanoutVariant::State, vec![1, 10_000, 100_000]),
                ],
                sleep_ms: 200,
            },
            SuiteKind::Full => FanoutSuite {
                points: [FanoutVariant::Bare, FanoutVariant::State]
                    .map(|v| (v, vec![1, 1_000, 10_000, 100_000, 1_000_000]))
                    .to_vec(),
                sleep_ms: 500,
            },
        }
    }
}

impl StreamSuite {
    /// The stream points of `kind`. The default keeps two balanced shapes, the 4-stage pipeline at
    /// capacity 64 (the headline) and the 4-stage rendezvous at capacity 1 (hand-off cost), each for
    /// at least 1 s after its warm-up; the single-stage capacity-1024 shape (41 s of the reference
    /// run) is in `--full`, whose grid crosses 1 and 4 stages with capacities 1, 64 and 1024.
    pub fn for_kind(kind: SuiteKind) -> StreamSuite {
        match kind {
            SuiteKind::Quick => StreamSuite {
                balanced: vec![(20_000, 4, 64)],
                balanced_min_ms: 200,
                // 10 pauses (10.05k items; 100 at 100.5k), none after the last item.
                slow_consumer: vec![(10_050, 1, 64)],
                warmup_items: 2_000,
                pause_every: 1_000,
                pause_ms: 10,
                sample_every: 100,
            },
            SuiteKind::Default => StreamSuite {
                balanced: vec![(100_000, 4, 64), (20_000, 4, 1)],
                balanced_min_ms: 1_000,
                // 10 pauses of 10 ms (100 at 1.005M items), none after the last item.
                slow_consumer: vec![(100_500, 1, 64)],
                warmup_items: 10_000,
                pause_every: 10_000,
                pause_ms: 10,
                sample_every: 100,
            },
            SuiteKind::Full => StreamSuite {
                balanced: [1u32, 4]
                    .iter()
                    .flat_map(|&k| [1u32, 64, 1024].map(move |c| (1_000_000, k, c)))
                    .collect(),
                balanced_min_ms: 2_000,
                slow_consumer: vec![(100_500, 1, 64), (100_500, 4, 64)],
                warmup_items: 100_000,
                pause_every: 10_000,
                pause_ms: 10,
                sample_every: 1_000,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [SuiteKind; 3] = [SuiteKind::Quick, SuiteKind::Default, SuiteKind::Full];

    #[test]
    fn fanout_counts_start_at_the_baseline_and_increase() {
        for kind in ALL {
            for (v, tasks) in &Suite::new(kind).fanout.points {
                assert_eq!(tasks.first(), Some(&1), "{kind:?} {v:?}");
                assert!(tasks.windows(2).all(|w| w[0] < w[1]), "{kind:?} {v:?}");
            }
        }
    }

    #[test]
    fn slow_consumer_points_pause_often_but_never_after_the_last_item() {
        for kind in ALL {
            let s = Suite::new(kind).stream;
            for &(n, _, _) in &s.slow_consumer {
                for items in [n, 10 * n] {
                    assert!(items / s.pause_every >= 10, "{kind:?}: {items} items");
                    assert_ne!(items % s.pause_every, 0, "{kind:?}: {items} items");
                }
            }
            assert!(s.pause_ms >= 10, "pauses long against a 1 ms timer tick");
        }
    }
}

mod secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}
