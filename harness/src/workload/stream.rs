//! The stream workload: a source, K transform stages and a sink joined by bounded channels. The harness
//! recomputes the order-sensitive checksum, turns the raw latency samples into percentiles with the
//! same code for every language, and compares peak RSS at N and 10·N to judge backpressure.

use super::definition::{Definition, Verified};
use super::estimate::{TRIAL_OVERHEAD_S, trials};
use super::session::{RunConfig, Session};
use super::{Failure, Launch, TrialData, params, percentiles, process_metrics, run_finite};
use crate::finding::FindingKind;
use crate::protocol::{f64_field, u64_field};
use crate::results;
use crate::results::Finding;
use crate::suite::StreamSuite;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

/// `balanced` runs flat out; `slow-consumer` makes the sink pause so the source must be held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Balanced,
    SlowConsumer,
}

impl Variant {
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Balanced => "balanced",
            Variant::SlowConsumer => "slow-consumer",
        }
    }
}

/// One stream point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamParams {
    /// Items the source produces; with `min_ms > 0`, the least it produces.
    pub items: u64,
    pub stages: u32,
    pub capacity: u32,
    pub variant: Variant,
    pub pause_every: u64,
    pub pause_ms: u64,
    pub sample_every: u64,
    /// Items of the untimed warm-up pipeline run before the timed one (0: none).
    pub warmup_items: u64,
    /// The source keeps producing, in blocks of [`ITEM_BLOCK`], until at least this long has passed
    /// (0: exactly `items`).
    pub min_ms: u64,
}

/// With `--min-ms`, the source stops only at a multiple of this many items (docs/PROTOCOL.md), so it
/// reads the clock once per block rather than once per item.
pub const ITEM_BLOCK: u64 = 4096;

/// One pipeline stage's transform (docs/PROTOCOL.md).
pub fn transform(v: u32) -> u32 {
    v.wrapping_mul(1_664_525).wrapping_add(1_013_904_223)
}

/// The sink's checksum for a correct pipeline.
pub fn expected_checksum(items: u64, stages: u32) -> u32 {
    let mut h: u32 = 2_166_136_261;
    for seq in 0..items {
        let mut v = seq as u32;
        for _ in 0..stages {
            v = transform(v);
        }
        h = (h ^ v).wrapping_mul(16_777_619);
    }
    h
}

/// How long a trial may take: the warm-up and the timed items at a pessimistic 20k item-stages per
/// second, the minimum duration, and every pause at twice its length.
pub fn timeout(p: StreamParams) -> Duration {
    let pauses = match p.variant {
        Variant::Balanced => 0,
        Variant::SlowConsumer => p.items / p.pause_every.max(1) * (2 * p.pause_ms + 5),
    };
    let items = p.warmup_items + p.items + ITEM_BLOCK;
    Duration::from_secs(15 + items * u64::from(p.stages + 1) / 20_000)
        + Duration::from_millis(p.min_ms + pauses)
}

/// Whether `items` is what the source must produce: exactly N without a minimum duration, else at
/// least N and a whole number of blocks.
pub fn check_items(p: StreamParams, items: u64) -> Result<(), Failure> {
    let ok = if p.min_ms == 0 {
        items == p.items
    } else {
        items >= p.items && items.is_multiple_of(ITEM_BLOCK)
    };
    if ok {
        return Ok(());
    }
    Err(Failure::failed(if p.min_ms == 0 {
        format!("reported {items} items, expected {}", p.items)
    } else {
        format!(
            "reported {items} items, expected at least {} and a multiple of {ITEM_BLOCK} (--min-ms {})",
            p.items, p.min_ms
        )
    }))
}

/// The pauses a correct sink times over `items`: one after every `pause_every`-th item except the
/// last (docs/PROTOCOL.md), so all of them fall inside `elapsed_ms`.
pub fn pauses(p: StreamParams, items: u64) -> u64 {
    match p.variant {
        Variant::SlowConsumer if p.pause_every > 0 => items.saturating_sub(1) / p.pause_every,
        _ => 0,
    }
}

/// Items per second over the time the pipeline was not paused: with a slow consumer, what its pauses
/// leave to the pipeline itself. `None` when nothing is left (a clock or protocol problem).
pub fn net_throughput_items_per_s(items: u64, elapsed_ms: f64, paused_ms: f64) -> Option<f64> {
    let busy_ms = elapsed_ms - paused_ms;
    (busy_ms > 0.0).then(|| items as f64 / (busy_ms / 1e3))
}

/// Time paused over the time asked for: 1.0 is exact; a runtime whose timers round up to its tick
/// shows it here rather than in the throughput.
pub fn pause_overshoot(paused_ms: f64, pauses: u64, pause_ms: u64) -> Option<f64> {
    let asked = pauses as f64 * pause_ms as f64;
    (asked > 0.0).then(|| paused_ms / asked)
}

/// What a checked stream result says.
#[derive(Debug)]
pub struct Checked {
    pub items: u64,
    pub elapsed_ms: f64,
    /// Time the sink spent in its pauses (slow-consumer; `None` if the program did not report it).
    pub paused_ms: Option<f64>,
    pub histogram: hdrhistogram::Histogram<u64>,
}

/// Checks a result: item count, checksum over exactly the items reported, one latency sample per
/// `sample_every` items, and for the slow consumer a `paused_ms` that fits its pauses and its elapsed
/// time.
pub fn check(
    p: StreamParams,
    fields: &serde_json::Map<String, serde_json::Value>,
) -> Result<Checked, Failure> {
    let bad = |e: crate::protocol::ProtocolError| Failure::failed(e.to_string());
    let items = u64_field(fields, "items").map_err(bad)?;
    let checksum = u64_field(fields, "checksum").map_err(bad)?;
    let elapsed_ms = f64_field(fields, "elapsed_ms").map_err(bad)?;
    check_items(p, items)?;
    let want = expected_checksum(items, p.stages);
    if checksum != u64::from(want) {
        return Err(Failure::failed(format!(
            "checksum {checksum}, expected {want} for {items} items: items were lost, duplicated, reordered or mis-transformed"
        )));
    }
    let samples = fields
        .get("latency_samples_ns")
        .and_then(|v| v.as_array())
        .ok_or_else(|| Failure::failed("result has no latency_samples_ns array"))?;
    let want_samples = items.div_ceil(p.sample_every.max(1));
    if samples.len() as u64 != want_samples {
        return Err(Failure::failed(format!(
            "{} latency samples, expected {want_samples} (one per {} items)",
            samples.len(),
            p.sample_every
        )));
    }
    let mut h =
        hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).expect("bounds");
    for s in samples {
        let ns = s
            .as_f64()
            .filter(|v| *v >= 0.0)
            .ok_or_else(|| Failure::failed("a latency sample is not a non-negative number"))?;
        h.saturating_record((ns as u64).max(1));
    }
    let paused_ms = match (p.variant, fields.get("paused_ms")) {
        (Variant::SlowConsumer, Some(_)) => {
            let paused = f64_field(fields, "paused_ms").map_err(bad)?;
            check_paused(p, items, elapsed_ms, paused)?;
            Some(paused)
        }
        _ => None,
    };
    Ok(Checked {
        items,
        elapsed_ms,
        paused_ms,
        histogram: h,
    })
}

/// A slow consumer's `paused_ms` must cover its pauses (timers may run a little early on some
/// clocks, never by half) and fit in its elapsed time, which contains every timed pause (slack for
/// programs that time pauses with a coarser clock than the run).
fn check_paused(
    p: StreamParams,
    items: u64,
    elapsed_ms: f64,
    paused_ms: f64,
) -> Result<(), Failure> {
    let asked = pauses(p, items) as f64 * p.pause_ms as f64;
    if !paused_ms.is_finite() || paused_ms < 0.0 || paused_ms < 0.5 * asked {
        return Err(Failure::failed(format!(
            "paused_ms {paused_ms:.1} for {} pauses of {} ms: the sink did not pause as asked",
            pauses(p, items),
            p.pause_ms
        )));
    }
    let slack = 2.0 * p.pause_ms as f64 + 5.0;
    if paused_ms > elapsed_ms + slack {
        return Err(Failure::failed(format!(
            "paused_ms {paused_ms:.1} exceeds elapsed_ms {elapsed_ms:.1}: pauses must be timed inside the run"
        )));
    }
    Ok(())
}

/// Runs one stream trial.
pub fn run_trial(launch: &Launch, p: StreamParams) -> Result<TrialData, Failure> {
    let flags = [
        ("items", p.items.to_string()),
        ("stages", p.stages.to_string()),
        ("capacity", p.capacity.to_string()),
        ("variant", p.variant.as_str().to_string()),
        ("pause-every", p.pause_every.to_string()),
        ("pause-ms", p.pause_ms.to_string()),
        ("sample-every", p.sample_every.to_string()),
        ("warmup-items", p.warmup_items.to_string()),
        ("min-ms", p.min_ms.to_string()),
    ];
    let run = run_finite(launch, "stream", &flags, timeout(p))?;
    let c = check(p, &run.fields)?;
    let mut m = process_metrics(&run.usage, &run.memory, run.startup_ms, &run.ready);
    m.latency_ns = Some(percentiles(&c.histogram));
    m.set("items", c.items as f64);
    m.set("elapsed_ms", c.elapsed_ms);
    m.set("wall_ms", run.wall_ms);
    m.set(
        "throughput_items_per_s",
        c.items as f64 / (c.elapsed_ms.max(1e-3) / 1e3),
    );
    let mut findings = Vec::new();
    match c.paused_ms {
        Some(paused) => {
            m.set("paused_ms", paused);
            if let Some(t) = net_throughput_items_per_s(c.items, c.elapsed_ms, paused) {
                m.set("throughput_net_items_per_s", t);
            }
            if let Some(o) = pause_overshoot(paused, pauses(p, c.items), p.pause_ms) {
                m.set("pause_overshoot", o);
            }
        }
        None if p.variant == Variant::SlowConsumer => findings.push(Finding {
            kind: FindingKind::NoPausedMs,
            message: "the result has no paused_ms, so there is no throughput net of the consumer's pauses (docs/PROTOCOL.md)".into(),
        }),
        None => {}
    }
    Ok(TrialData {
        metrics: m,
        histogram: Some(c.histogram),
        findings,
        rss_timeline: run.memory.timeline,
        ready: Some(run.ready),
        ..TrialData::default()
    })
}

/// Backpressure verdict from peak RSS at N and at 10·N items of the slow-consumer variant: with
/// bounded channels memory must not grow with N.
pub fn backpressure_verdict(
    rss_small: f64,
    rss_large: f64,
    items_small: u64,
    items_large: u64,
) -> Finding {
    let growth = rss_large - rss_small;
    let tolerance = (0.10 * rss_small).max(4.0 * 1024.0 * 1024.0);
    let mib = |b: f64| b / (1024.0 * 1024.0);
    if growth > tolerance {
        Finding {
            kind: FindingKind::BackpressureViolation,
            message: format!(
                "peak RSS grew from {:.1} MiB at {items_small} items to {:.1} MiB at {items_large} items (+{:.1} MiB, tolerance {:.1} MiB): the producer is not held back",
                mib(rss_small),
                mib(rss_large),
                mib(growth),
                mib(tolerance)
            ),
        }
    } else {
        Finding {
            kind: FindingKind::BackpressureOk,
            message: format!(
                "peak RSS {:.1} MiB at {items_small} items and {:.1} MiB at {items_large} items (within {:.1} MiB): backpressure holds",
                mib(rss_small),
                mib(rss_large),
                mib(tolerance)
            ),
        }
    }
}

/// Measures stream points: balanced ones for at least the suite's minimum duration, then slow-consumer
/// ones at N and 10 × N, whose peak RSS gives the backpressure verdict attached to the larger cell.
/// Balanced cells headline gross throughput; slow-consumer cells throughput net of the pauses.
pub fn measure(run: &mut dyn Session) -> anyhow::Result<()> {
    let s = run.config().suite.stream.clone();
    let impls: Vec<String> = run.runnable("stream").into_iter().map(|(n, _)| n).collect();
    let points = |variant: Variant, shapes: &[(u64, u32, u32)]| {
        let mut out = Vec::new();
        for &(n, k, c) in shapes {
            let sizes: &[u64] = match variant {
                Variant::Balanced => &[n],
                Variant::SlowConsumer => &[n, n * 10],
            };
            for &items in sizes {
                let p = StreamParams {
                    items,
                    stages: k,
                    capacity: c,
                    variant,
                    pause_every: s.pause_every,
                    pause_ms: s.pause_ms,
                    sample_every: s.sample_every,
                    warmup_items: s.warmup_items,
                    min_ms: match variant {
                        Variant::Balanced => s.balanced_min_ms,
                        Variant::SlowConsumer => 0,
                    },
                };
                for imp in &impls {
                    out.push((imp.clone(), stream_params(&p), p));
                }
            }
        }
        out
    };
    let trial = |l: &Launch, p: &StreamParams, _r: usize| run_trial(l, *p);
    let repeat = run.config().suite.repeat;
    let balanced = points(Variant::Balanced, &s.balanced);
    run.measure(
        "stream",
        "stream balanced",
        balanced,
        "throughput_items_per_s",
        repeat,
        &trial,
    )?;
    let slow = points(Variant::SlowConsumer, &s.slow_consumer);
    let cells = run.measure(
        "stream",
        "stream slow consumer",
        slow,
        "throughput_net_items_per_s",
        repeat,
        &trial,
    )?;
    attach_backpressure_verdicts(run.cells(), &cells);
    Ok(())
}

/// A stream cell's parameters: the shape and, because they change what is measured, the minimum
/// duration (balanced) or the pauses (slow consumer). The warm-up and the sampling rate are suite
/// settings recorded in the run's configuration.
pub fn stream_params(p: &StreamParams) -> BTreeMap<String, serde_json::Value> {
    let mut pr = params(&[
        ("variant", json!(p.variant.as_str())),
        ("items", json!(p.items)),
        ("stages", json!(p.stages)),
        ("capacity", json!(p.capacity)),
    ]);
    match p.variant {
        Variant::Balanced if p.min_ms > 0 => {
            pr.insert("min_ms".into(), json!(p.min_ms));
        }
        Variant::Balanced => {}
        Variant::SlowConsumer => {
            pr.insert("pause_every".into(), json!(p.pause_every));
            pr.insert("pause_ms".into(), json!(p.pause_ms));
        }
    }
    pr
}

/// Pairs slow-consumer cells at N and 10·N (same implementation, stages, capacity) and records the verdict.
pub fn attach_backpressure_verdicts(cells: &mut [results::Cell], indices: &[usize]) {
    // Everything but the item count must match (older results have no pause parameters: both None).
    let key = |c: &results::Cell| {
        let p = |k: &str| c.params.get(k).map(|v| v.to_string());
        (
            c.implementation.clone(),
            p("stages"),
            p("capacity"),
            p("pause_every"),
            p("pause_ms"),
        )
    };
    let slow: Vec<usize> = indices
        .iter()
        .copied()
        .filter(|&i| {
            cells[i].params.get("variant") == Some(&json!("slow-consumer"))
                && cells[i].status == results::CellStatus::Ok
        })
        .collect();
    for &small in &slow {
        let n = cells[small].params["items"].as_u64().unwrap_or(0);
        let Some(&large) = slow.iter().find(|&&j| {
            key(&cells[j]) == key(&cells[small])
                && cells[j].params["items"].as_u64() == Some(n * 10)
        }) else {
            continue;
        };
        let (Some(a), Some(b)) = (
            cells[small].metrics.get("peak_rss_bytes"),
            cells[large].metrics.get("peak_rss_bytes"),
        ) else {
            continue;
        };
        let verdict: Finding = backpressure_verdict(a, b, n, n * 10);
        cells[large]
            .findings
            .retain(|f| !f.kind.is_backpressure_verdict());
        cells[large].findings.push(verdict);
    }
}

/// The verification runs: exact counts, a warm-up pipeline with a minimum duration (whole blocks past
/// N), and a slow consumer pausing 10 times, never after the last item.
fn verify_cases() -> [StreamParams; 3] {
    // (items, stages, capacity, variant, warm-up items, min ms)
    [
        (10_000, 4, 16, Variant::Balanced, 0, 0),
        (10_000, 1, 1, Variant::Balanced, 1_000, 50),
        (5_250, 2, 8, Variant::SlowConsumer, 1_000, 0),
    ]
    .map(
        |(items, stages, capacity, variant, warmup_items, min_ms)| StreamParams {
            items,
            stages,
            capacity,
            variant,
            pause_every: 500,
            pause_ms: 2,
            sample_every: 7,
            warmup_items,
            min_ms,
        },
    )
}

/// The check before measuring: exact counts, order, checksum, samples and pauses.
pub fn verify(launch: &Launch, _ready_timeout: Duration) -> Verified {
    let mut ready = None;
    for p in verify_cases() {
        let StreamParams {
            items,
            stages,
            capacity,
            variant,
            warmup_items,
            min_ms,
            ..
        } = p;
        match run_trial(launch, p) {
            Ok(t) => ready = ready.or(t.ready),
            Err(f) => {
                return (
                    Err(format!(
                        "{items} items, {stages} stages, capacity {capacity}, {}, warm-up {warmup_items}, min {min_ms} ms: {}",
                        variant.as_str(),
                        f.reason
                    )),
                    ready,
                );
            }
        }
    }
    (Ok("10k items through 4 stages (C=16) and 1 stage (C=1, warm-up, minimum duration), slow consumer: counts, order, checksum, samples and pauses right".into()), ready)
}

/// Mean start-up of a stream program in the reference run (0.27 s for Python, ≈ 1 ms for Rust).
const STARTUP_S: f64 = 0.055;

/// Mean seconds per item through a pipeline over the reference run's implementations (≈ 1.7M items/s;
/// fitted to the slow-consumer cells net of their pauses, whose time is known exactly).
const ITEM_S: f64 = 0.6e-6;

/// One trial's expected seconds: start-up, the warm-up pipeline, then the items (at least `min_ms`)
/// and the consumer's pauses.
fn trial_s(p: StreamParams) -> f64 {
    let run_s = (p.items as f64 * ITEM_S).max(p.min_ms as f64 / 1e3);
    let paused_s = (pauses(p, p.items) * p.pause_ms) as f64 / 1e3;
    STARTUP_S + p.warmup_items as f64 * ITEM_S + run_s + paused_s + TRIAL_OVERHEAD_S
}

/// Every trial parameter set of a suite's stream points (balanced, then slow consumer at N and 10·N).
fn plan_points(s: &StreamSuite) -> Vec<StreamParams> {
    let shape = |(items, stages, capacity): (u64, u32, u32), variant, min_ms| StreamParams {
        items,
        stages,
        capacity,
        variant,
        pause_every: s.pause_every,
        pause_ms: s.pause_ms,
        sample_every: s.sample_every,
        warmup_items: s.warmup_items,
        min_ms,
    };
    let balanced = s
        .balanced
        .iter()
        .map(|&b| shape(b, Variant::Balanced, s.balanced_min_ms));
    let slow = s.slow_consumer.iter().flat_map(|&(n, k, c)| {
        [n, 10 * n].map(|items| shape((items, k, c), Variant::SlowConsumer, 0))
    });
    balanced.chain(slow).collect()
}

/// Expected seconds of verifying and measuring stream on `implementations` implementations: per
/// implementation the three verification runs, then per point its trials × [`trial_s`].
pub fn plan_seconds(
    s: &StreamSuite,
    repeat: usize,
    long_trial_s: f64,
    implementations: usize,
) -> f64 {
    let verify: f64 = verify_cases().into_iter().map(trial_s).sum();
    let measure: f64 = plan_points(s)
        .into_iter()
        .map(|p| trials(trial_s(p), repeat, long_trial_s) as f64 * trial_s(p))
        .sum();
    implementations as f64 * (verify + measure)
}

/// The plan line's figure (see [`plan_seconds`]).
fn estimate_s(cfg: &RunConfig, implementations: usize) -> Option<f64> {
    let suite = &cfg.suite;
    Some(plan_seconds(
        &suite.stream,
        suite.repeat,
        suite.long_trial_s,
        implementations,
    ))
}

/// The stream workload's facts (see [`Definition`]).
pub const DEFINITION: Definition = Definition {
    name: "stream",
    title: "Bounded streaming pipeline",
    parameters: &[
        "variant",
        "items",
        "stages",
        "capacity",
        "min_ms",
        "pause_every",
        "pause_ms",
    ],
    headlines: &["throughput_items_per_s", "throughput_net_items_per_s"],
    columns: &[
        "throughput_items_per_s",
        "throughput_net_items_per_s",
        "latency_ns.p50",
        "latency_ns.p99",
        "latency_ns.max",
        "elapsed_ms",
        "paused_ms",
        "pause_overshoot",
        "peak_rss_bytes",
        "cpu_user_s",
    ],
    charts: &["stream_throughput"],
    verify: Some(verify),
    measure,
    estimate_s,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_the_protocol_vectors() {
        assert_eq!(expected_checksum(10, 1), 1_162_576_678);
        assert_eq!(expected_checksum(1000, 4), 3_828_873_421);
        assert_eq!(expected_checksum(100_000, 4), 772_495_653);
    }

    #[test]
    fn verdicts() {
        let mib = 1024.0 * 1024.0;
        assert_eq!(
            backpressure_verdict(20.0 * mib, 21.0 * mib, 1, 10).kind,
            FindingKind::BackpressureOk
        );
        assert_eq!(
            backpressure_verdict(20.0 * mib, 60.0 * mib, 1, 10).kind,
            FindingKind::BackpressureViolation
        );
    }

    const P: StreamParams = StreamParams {
        items: 10,
        stages: 1,
        capacity: 1,
        variant: Variant::Balanced,
        pause_every: 1,
        pause_ms: 0,
        sample_every: 5,
        warmup_items: 0,
        min_ms: 0,
    };

    /// A result for `items` items through `p.stages` stages with the right checksum and samples.
    fn result(p: StreamParams, items: u64, extra: serde_json::Value) -> serde_json::Value {
        let mut v = serde_json::json!({
            "items": items,
            "checksum": expected_checksum(items, p.stages),
            "elapsed_ms": 1000.0,
            "latency_samples_ns": vec![5; items.div_ceil(p.sample_every) as usize],
        });
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    }

    #[test]
    fn item_count_is_exact_without_a_minimum_duration() {
        assert!(check_items(P, 10).is_ok());
        assert!(
            check_items(P, 11)
                .unwrap_err()
                .reason
                .contains("expected 10")
        );
        assert!(check_items(P, 4096).is_err());
    }

    #[test]
    fn item_count_is_whole_blocks_past_n_with_a_minimum_duration() {
        let p = StreamParams {
            items: 10_000,
            min_ms: 1000,
            ..P
        };
        assert!(check_items(p, 12_288).is_ok(), "3 blocks ≥ 10k");
        assert!(check_items(p, 4096 * 1000).is_ok());
        assert!(check_items(p, 8_192).is_err(), "fewer than N");
        assert!(check_items(p, 10_000).is_err(), "not a whole block");
        assert!(
            check_items(p, 12_289)
                .unwrap_err()
                .reason
                .contains("multiple of 4096")
        );
    }

    #[test]
    fn checksum_and_samples_cover_exactly_the_items_reported() {
        let p = StreamParams {
            items: 10_000,
            stages: 2,
            sample_every: 100,
            min_ms: 1000,
            ..P
        };
        let ok = result(p, 12_288, serde_json::json!({}));
        let c = check(p, ok.as_object().unwrap()).unwrap();
        assert_eq!(c.items, 12_288);
        assert_eq!(c.histogram.len(), 123);
        // The checksum of the first N items is wrong when more were produced.
        let mut short = ok.clone();
        short["checksum"] = expected_checksum(10_000, 2).into();
        assert!(
            check(p, short.as_object().unwrap())
                .unwrap_err()
                .reason
                .contains("checksum")
        );
    }

    #[test]
    fn net_throughput_takes_the_pauses_out() {
        // 100k items in 1.2 s of which 1 s paused: 500k items/s net, 83k gross.
        let t = net_throughput_items_per_s(100_000, 1200.0, 1000.0).unwrap();
        assert!((t - 500_000.0).abs() < 1e-6, "{t}");
        assert_eq!(net_throughput_items_per_s(100, 10.0, 10.0), None);
        assert_eq!(net_throughput_items_per_s(100, 10.0, 11.0), None);
    }

    #[test]
    fn pause_overshoot_compares_with_the_pauses_asked_for() {
        let p = StreamParams {
            items: 100_500,
            variant: Variant::SlowConsumer,
            pause_every: 10_000,
            pause_ms: 10,
            ..P
        };
        assert_eq!(pauses(p, 100_500), 10);
        // No pause after the last item: exactly 10 × M items make 9 timed pauses.
        assert_eq!(pauses(p, 100_000), 9);
        assert_eq!(pauses(p, 0), 0);
        assert_eq!(
            pauses(
                StreamParams {
                    variant: Variant::Balanced,
                    ..p
                },
                100_500
            ),
            0
        );
        let o = pause_overshoot(120.0, pauses(p, 100_500), p.pause_ms).unwrap();
        assert!((o - 1.2).abs() < 1e-12, "{o}");
        assert_eq!(pause_overshoot(5.0, 0, 10), None);
    }

    #[test]
    fn slow_consumer_paused_ms_must_fit_its_pauses() {
        let p = StreamParams {
            items: 10_500,
            variant: Variant::SlowConsumer,
            pause_every: 1_000,
            pause_ms: 10,
            sample_every: 100,
            ..P
        };
        let with = |paused: f64| {
            let r = result(
                p,
                10_500,
                serde_json::json!({"elapsed_ms": 150.0, "paused_ms": paused}),
            );
            check(p, r.as_object().unwrap()).map(|c| c.paused_ms)
        };
        assert_eq!(with(104.0).unwrap(), Some(104.0));
        assert!(with(0.0).unwrap_err().reason.contains("did not pause"));
        assert!(
            with(400.0)
                .unwrap_err()
                .reason
                .contains("exceeds elapsed_ms")
        );
        // Older programs without the field still check; the runner records the gap as a finding.
        let r = result(p, 10_500, serde_json::json!({}));
        assert_eq!(check(p, r.as_object().unwrap()).unwrap().paused_ms, None);
    }

    #[test]
    fn timeouts_allow_for_the_warm_up_the_minimum_duration_and_the_pauses() {
        let base = StreamParams {
            items: 100_000,
            stages: 4,
            ..P
        };
        let t = timeout(base);
        assert!(
            timeout(StreamParams {
                min_ms: 1000,
                ..base
            }) >= t + Duration::from_secs(1)
        );
        assert!(
            timeout(StreamParams {
                warmup_items: 1_000_000,
                ..base
            }) > t
        );
        let slow = StreamParams {
            variant: Variant::SlowConsumer,
            pause_every: 10_000,
            pause_ms: 10,
            ..base
        };
        assert!(timeout(slow) >= t + Duration::from_millis(10 * 10 * 2));
    }

    #[test]
    fn rejects_reordered_output_and_missing_samples() {
        let p = P;
        let ok = serde_json::json!({"items":10,"checksum":1162576678u64,"elapsed_ms":1.0,"latency_samples_ns":[5,6]});
        assert!(check(p, ok.as_object().unwrap()).is_ok());
        let wrong = serde_json::json!({"items":10,"checksum":7,"elapsed_ms":1.0,"latency_samples_ns":[5,6]});
        assert!(check(p, wrong.as_object().unwrap()).is_err());
        let few = serde_json::json!({"items":10,"checksum":1162576678u64,"elapsed_ms":1.0,"latency_samples_ns":[5]});
        assert!(
            check(p, few.as_object().unwrap())
                .unwrap_err()
                .reason
                .contains("latency samples")
        );
    }

    /// The reference run's stream plan (results/reference: default suite of commit 64d3782).
    fn reference_suite() -> StreamSuite {
        StreamSuite {
            balanced: vec![(100_000, 4, 64), (100_000, 1, 1024), (20_000, 4, 1)],
            ..crate::suite::Suite::new(crate::suite::SuiteKind::Default).stream
        }
    }

    #[test]
    fn the_estimate_reproduces_the_reference_run() {
        // 12 implementations; their 180 trials lasted 186 s (summed wall time), verification ≈ 4 s,
        // the harness ≈ 4 s: ≈ 194 s.
        let s = plan_seconds(&reference_suite(), 3, 12.0, 12);
        assert!((175.0..215.0).contains(&s), "{s:.0} s");
    }

    #[test]
    fn the_estimate_follows_the_plan() {
        let reference = reference_suite();
        // A balanced trial lasts its minimum duration plus start-up; a slow one its pauses and items.
        let balanced = trial_s(plan_points(&reference)[0]);
        assert!((1.0..1.2).contains(&balanced), "{balanced}");
        let slow_10n = trial_s(*plan_points(&reference).last().unwrap());
        assert!((1.0 + 0.6..1.0 + 0.8).contains(&slow_10n), "{slow_10n}");
        assert!(
            (plan_seconds(&reference, 3, 12.0, 12) - 12.0 * plan_seconds(&reference, 3, 12.0, 1))
                .abs()
                < 1e-6
        );
        // Dropping one balanced shape saves its 3 trials per implementation.
        let default = crate::suite::Suite::new(crate::suite::SuiteKind::Default).stream;
        let saved = plan_seconds(&reference, 3, 12.0, 12) - plan_seconds(&default, 3, 12.0, 12);
        assert!(
            (12.0 * 3.0 * 1.0..12.0 * 3.0 * 1.2).contains(&saved),
            "{saved}"
        );
    }
}
