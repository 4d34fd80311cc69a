//! The stream workload: a source, K transform stages and a sink joined by bounded channels. The harness
//! recomputes the order-sensitive checksum, turns the raw latency samples into percentiles with the
//! same code for every language, and compares peak RSS at N and 10·N to judge backpressure.

use super::{Failure, Launch, TrialData, percentiles, process_metrics, run_finite};
use crate::protocol::{f64_field, u64_field};
use crate::results::Finding;
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
    pub items: u64,
    pub stages: u32,
    pub capacity: u32,
    pub variant: Variant,
    pub pause_every: u64,
    pub pause_ms: u64,
    pub sample_every: u64,
}

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

pub fn timeout(p: StreamParams) -> Duration {
    let pauses = match p.variant {
        Variant::Balanced => 0,
        Variant::SlowConsumer => p.items / p.pause_every.max(1) * (p.pause_ms + 2),
    };
    Duration::from_secs(15 + p.items * u64::from(p.stages + 1) / 20_000)
        + Duration::from_millis(pauses)
}

/// Checks a result and returns (elapsed_ms, latency histogram).
pub fn check(
    p: StreamParams,
    fields: &serde_json::Map<String, serde_json::Value>,
) -> Result<(f64, hdrhistogram::Histogram<u64>), Failure> {
    let bad = |e: crate::protocol::ProtocolError| Failure::failed(e.to_string());
    let items = u64_field(fields, "items").map_err(bad)?;
    let checksum = u64_field(fields, "checksum").map_err(bad)?;
    let elapsed_ms = f64_field(fields, "elapsed_ms").map_err(bad)?;
    if items != p.items {
        return Err(Failure::failed(format!(
            "reported {items} items, expected {}",
            p.items
        )));
    }
    let want = expected_checksum(p.items, p.stages);
    if checksum != u64::from(want) {
        return Err(Failure::failed(format!(
            "checksum {checksum}, expected {want}: items were lost, duplicated, reordered or mis-transformed"
        )));
    }
    let samples = fields
        .get("latency_samples_ns")
        .and_then(|v| v.as_array())
        .ok_or_else(|| Failure::failed("result has no latency_samples_ns array"))?;
    let want_samples = p.items.div_ceil(p.sample_every.max(1));
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
    Ok((elapsed_ms, h))
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
    ];
    let run = run_finite(launch, "stream", &flags, timeout(p))?;
    let (elapsed_ms, h) = check(p, &run.fields)?;
    let mut m = process_metrics(&run.usage, &run.memory, run.startup_ms, &run.ready);
    m.latency_ns = Some(percentiles(&h));
    m.set("elapsed_ms", elapsed_ms);
    m.set("wall_ms", run.wall_ms);
    m.set(
        "throughput_items_per_s",
        p.items as f64 / (elapsed_ms.max(1e-3) / 1e3),
    );
    Ok(TrialData {
        metrics: m,
        histogram: Some(h),
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
            kind: "backpressure_violation".into(),
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
            kind: "backpressure_ok".into(),
            message: format!(
                "peak RSS {:.1} MiB at {items_small} items and {:.1} MiB at {items_large} items (within {:.1} MiB): backpressure holds",
                mib(rss_small),
                mib(rss_large),
                mib(tolerance)
            ),
        }
    }
}

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
            "backpressure_ok"
        );
        assert_eq!(
            backpressure_verdict(20.0 * mib, 60.0 * mib, 1, 10).kind,
            "backpressure_violation"
        );
    }

    #[test]
    fn rejects_reordered_output_and_missing_samples() {
        let p = StreamParams {
            items: 10,
            stages: 1,
            capacity: 1,
            variant: Variant::Balanced,
            pause_every: 1,
            pause_ms: 0,
            sample_every: 5,
        };
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
}
