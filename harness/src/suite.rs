//! The suites: which points each workload measures, how long, and how often. Pure data, chosen so the
//! default suite (every workload, every implementation, the default repeats) fits in about 30 minutes on
//! a 2-core machine: echo ≈ 10, fan-out ≈ 8, stream ≈ 6, the rest for builds, verification, futures and
//! micro-benchmarks. `--quick` is a smoke test; `--full` is the complete sweep.

use crate::workload::fanout::Variant as FanoutVariant;
use serde::Serialize;
use std::time::Duration;

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
    /// Run criterion in its `--quick` mode.
    pub micro_quick: bool,
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
    /// Task counts; 1 is the baseline for bytes per task and must be first.
    pub tasks: Vec<u64>,
    #[serde(skip)]
    pub variants: Vec<FanoutVariant>,
    pub sleep_ms: u64,
    /// Sleep for N ≥ 1M, long enough that every task is alive at once even in slow runtimes.
    pub sleep_ms_large: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StreamSuite {
    /// (items, stages, capacity) of the balanced variant.
    pub balanced: Vec<(u64, u32, u32)>,
    /// Slow-consumer points (items, stages, capacity); for each, the run also measures 10 × items
    /// to judge backpressure.
    pub slow_consumer: Vec<(u64, u32, u32)>,
    pub pause_every: u64,
    pub pause_ms: u64,
    pub sample_every: u64,
}

impl FanoutSuite {
    pub fn sleep_for(&self, tasks: u64) -> u64 {
        if tasks >= 1_000_000 {
            self.sleep_ms_large
        } else {
            self.sleep_ms
        }
    }
}

impl Suite {
    pub fn new(kind: SuiteKind) -> Suite {
        match kind {
            SuiteKind::Quick => Suite {
                kind,
                repeat: 1,
                echo: EchoSuite {
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
                fanout: FanoutSuite {
                    tasks: vec![1, 1_000, 10_000],
                    variants: vec![FanoutVariant::Bare, FanoutVariant::State],
                    sleep_ms: 500,
                    sleep_ms_large: 5_000,
                },
                stream: StreamSuite {
                    balanced: vec![(20_000, 4, 64)],
                    slow_consumer: vec![(10_000, 1, 64)],
                    pause_every: 1_000,
                    pause_ms: 1,
                    sample_every: 100,
                },
                micro_quick: true,
                long_trial_s: f64::INFINITY,
            },
            SuiteKind::Default => Suite {
                kind,
                repeat: 3,
                echo: EchoSuite {
                    closed: vec![(1, 64), (64, 64)],
                    closed_repeat: 1,
                    open_at: (64, 64),
                    open_rates: vec![10_000.0, 25_000.0, 50_000.0, 100_000.0],
                    capacity_probes: 3,
                    probe_duration: Duration::from_secs(1),
                    max_extensions: 1,
                    interference_rerun: true,
                    warmup: Duration::from_millis(300),
                    duration: Duration::from_millis(1500),
                    sub_interval: Duration::from_millis(150),
                },
                fanout: FanoutSuite {
                    tasks: vec![1, 10_000, 100_000, 1_000_000],
                    variants: vec![FanoutVariant::Bare, FanoutVariant::State],
                    sleep_ms: 500,
                    sleep_ms_large: 5_000,
                },
                stream: StreamSuite {
                    balanced: vec![(100_000, 4, 64), (100_000, 1, 1024), (20_000, 4, 1)],
                    slow_consumer: vec![(100_000, 1, 64)],
                    pause_every: 1_000,
                    pause_ms: 1,
                    sample_every: 100,
                },
                micro_quick: false,
                long_trial_s: 12.0,
            },
            SuiteKind::Full => Suite {
                kind,
                repeat: 5,
                echo: EchoSuite {
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
                fanout: FanoutSuite {
                    tasks: vec![1, 1_000, 10_000, 100_000, 1_000_000],
                    variants: vec![FanoutVariant::Bare, FanoutVariant::State],
                    sleep_ms: 1_000,
                    sleep_ms_large: 10_000,
                },
                stream: StreamSuite {
                    balanced: [1u32, 4]
                        .iter()
                        .flat_map(|&k| [1u32, 64, 1024].map(move |c| (1_000_000, k, c)))
                        .collect(),
                    slow_consumer: vec![(100_000, 1, 64), (100_000, 4, 64)],
                    pause_every: 1_000,
                    pause_ms: 1,
                    sample_every: 1_000,
                },
                micro_quick: false,
                long_trial_s: f64::INFINITY,
            },
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
