//! The fan-out workload: N concurrent tasks each awaiting a timer, measured from outside (peak RSS and
//! CPU from wait4, wall time from spawn to exit) and checked for the right answer and real concurrency.

use super::{Failure, Launch, TrialData, process_metrics, run_finite};
use crate::protocol::{f64_field, u64_field};
use crate::results::Finding;
use std::time::Duration;

/// `bare` tasks hold nothing across the await; `state` tasks hold a 1 KiB buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Bare,
    State,
}

impl Variant {
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Bare => "bare",
            Variant::State => "state",
        }
    }
}

/// One fan-out point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FanoutParams {
    pub tasks: u64,
    pub sleep_ms: u64,
    pub variant: Variant,
}

/// The checksum a correct implementation prints (see docs/PROTOCOL.md).
pub fn expected_checksum(p: FanoutParams) -> u64 {
    let n = p.tasks;
    let base = n * (n - 1) / 2;
    match p.variant {
        Variant::Bare => base,
        // Each task's buffer holds (i + j) mod 256 for j in 0..1024: four full cycles of 0..=255.
        Variant::State => base + n * 4 * (255 * 256 / 2),
    }
}

/// How long a trial may take: generous, since a slow runtime at 1M tasks is data, not an error.
pub fn timeout(p: FanoutParams) -> Duration {
    Duration::from_millis(p.sleep_ms * 3) + Duration::from_secs(10 + p.tasks / 5_000)
}

/// Checks the result fields; `Ok` carries (spawn_ms, total_ms) and any findings.
pub fn check(
    p: FanoutParams,
    fields: &serde_json::Map<String, serde_json::Value>,
) -> Result<(f64, f64, Vec<Finding>), Failure> {
    let bad = |e: crate::protocol::ProtocolError| Failure::failed(e.to_string());
    let tasks = u64_field(fields, "tasks").map_err(bad)?;
    let checksum = u64_field(fields, "checksum").map_err(bad)?;
    let spawn_ms = f64_field(fields, "spawn_ms").map_err(bad)?;
    let total_ms = f64_field(fields, "total_ms").map_err(bad)?;
    if tasks != p.tasks {
        return Err(Failure::failed(format!(
            "reported {tasks} tasks, expected {}",
            p.tasks
        )));
    }
    let want = expected_checksum(p);
    if checksum != want {
        return Err(Failure::failed(format!(
            "checksum {checksum}, expected {want}"
        )));
    }
    let d = p.sleep_ms as f64;
    let after_spawn = total_ms - spawn_ms;
    // The last task sleeps D after it is spawned, so finishing sooner means nobody waited.
    if after_spawn < d * 0.9 - 5.0 {
        return Err(Failure::failed(format!(
            "finished {after_spawn:.0} ms after the last spawn, but every task sleeps {d:.0} ms: the tasks did not wait for their timers"
        )));
    }
    // Concurrent tasks finish about D after the last spawn, plus the time to process N completions
    // (comparable to the time to spawn them); serialised ones take N × D.
    let limit = 2.0 * d + 10_000.0 + 3.0 * spawn_ms;
    if p.tasks > 1 && after_spawn > limit {
        return Err(Failure::failed(format!(
            "finished {after_spawn:.0} ms after the last spawn (limit {limit:.0} ms for a {d:.0} ms sleep and {spawn_ms:.0} ms of spawning): tasks are not running concurrently"
        )));
    }
    let mut findings = Vec::new();
    if p.tasks > 1 && spawn_ms > d {
        findings.push(Finding {
            kind: "not_all_concurrent".into(),
            message: format!(
                "spawning took {spawn_ms:.0} ms, longer than the {d:.0} ms sleep: early tasks finished before the last ones started, so peak RSS undercounts N live tasks"
            ),
        });
    }
    Ok((spawn_ms, total_ms, findings))
}

/// Runs one fan-out trial.
pub fn run_trial(launch: &Launch, p: FanoutParams) -> Result<TrialData, Failure> {
    let flags = [
        ("tasks", p.tasks.to_string()),
        ("sleep-ms", p.sleep_ms.to_string()),
        ("variant", p.variant.as_str().to_string()),
    ];
    let run = run_finite(launch, "fanout", &flags, timeout(p))?;
    let (spawn_ms, total_ms, findings) = check(p, &run.fields)?;
    let mut m = process_metrics(&run.usage, &run.memory, run.startup_ms, &run.ready);
    m.set("spawn_ms", spawn_ms);
    m.set("total_ms", total_ms);
    m.set("wall_ms", run.wall_ms);
    Ok(TrialData {
        metrics: m,
        findings,
        rss_timeline: run.memory.timeline,
        ready: Some(run.ready),
        ..TrialData::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().unwrap().clone()
    }
    const P: FanoutParams = FanoutParams {
        tasks: 1000,
        sleep_ms: 100,
        variant: Variant::Bare,
    };

    #[test]
    fn checksums_match_the_protocol_vectors() {
        assert_eq!(expected_checksum(P), 499_500);
        assert_eq!(
            expected_checksum(FanoutParams {
                variant: Variant::State,
                ..P
            }),
            131_059_500
        );
    }

    #[test]
    fn accepts_a_good_result_and_rejects_bad_ones() {
        let good = fields(json!({"tasks":1000,"checksum":499500,"spawn_ms":2.0,"total_ms":103.0}));
        assert!(check(P, &good).is_ok());
        let wrong = fields(json!({"tasks":1000,"checksum":1,"spawn_ms":2.0,"total_ms":103.0}));
        assert!(check(P, &wrong).unwrap_err().reason.contains("checksum"));
        let no_sleep =
            fields(json!({"tasks":1000,"checksum":499500,"spawn_ms":2.0,"total_ms":3.0}));
        assert!(
            check(P, &no_sleep)
                .unwrap_err()
                .reason
                .contains("did not wait")
        );
        let serial =
            fields(json!({"tasks":1000,"checksum":499500,"spawn_ms":2.0,"total_ms":100000.0}));
        assert!(
            check(P, &serial)
                .unwrap_err()
                .reason
                .contains("not running concurrently")
        );
        let slow_spawn =
            fields(json!({"tasks":1000,"checksum":499500,"spawn_ms":500.0,"total_ms":620.0}));
        assert_eq!(
            check(P, &slow_spawn).unwrap().2[0].kind,
            "not_all_concurrent"
        );
    }
}
