//! JSON lines on stdout: exactly one `ready` first, then (finite workloads) one `result`.
//!
//! Each event is written with one `write_all` of the whole line and flushed at once, so the
//! harness sees it immediately and never a partial line.

use std::io::Write;

use serde_json::{Map, Value, json};

use crate::args::{Cancel, Fanout};
use crate::cancel::{DeadlineTally, Mass, SafetyTally};
use crate::fanout::Armed;
use crate::stream::Outcome;

/// Prints one event as a single JSON line and flushes stdout; exits 1 if stdout is gone.
pub fn emit(event: &Value) {
    let mut line = serde_json::to_vec(event).expect("events are always serialisable");
    line.push(b'\n');
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(&line).and_then(|()| out.flush()) {
        eprintln!("cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// Prints the `ready` event ([`ready_event`]).
pub fn ready(workload: &str, runtime: &str, threads: usize, future_bytes: usize, extra: Value) {
    emit(&ready_event(
        workload,
        runtime,
        threads,
        Some(future_bytes),
        extra,
    ));
}

/// Prints the `ready` event of a program without futures (`rust-threads`): no `future_bytes`.
pub fn ready_without_futures(workload: &str, runtime: &str, threads: usize, extra: Value) {
    emit(&ready_event(workload, runtime, threads, None, extra));
}

/// The `ready` event. `extra` (a JSON object, or `Value::Null`) adds fields such as `port`.
pub fn ready_event(
    workload: &str,
    runtime: &str,
    threads: usize,
    future_bytes: Option<usize>,
    extra: Value,
) -> Value {
    let mut event = Map::new();
    event.insert("event".into(), "ready".into());
    event.insert("workload".into(), workload.into());
    event.insert("runtime".into(), runtime.into());
    event.insert("threads".into(), threads.into());
    if let Some(future_bytes) = future_bytes {
        event.insert("future_bytes".into(), future_bytes.into());
    }
    if let Value::Object(fields) = extra {
        event.extend(fields);
    }
    Value::Object(event)
}

/// The fan-out `result` event. `spawn_ms` is [`Armed::spawn_ms`] (every timer armed); `loop_ms`,
/// optional, is when the spawn loop returned.
///
/// Exits 1 if not every task armed its timer (a bug, never a measurement).
pub fn fanout_result(args: &Fanout, checksum: u64, armed: &Armed, loop_ms: f64, total_ms: f64) {
    emit(&fanout_event(
        args,
        checksum,
        armed.spawn_ms(),
        loop_ms,
        total_ms,
    ));
}

fn fanout_event(
    args: &Fanout,
    checksum: u64,
    spawn_ms: Option<f64>,
    loop_ms: f64,
    total_ms: f64,
) -> Value {
    let Some(spawn_ms) = spawn_ms else {
        eprintln!("fan-out finished but not every task armed its timer");
        std::process::exit(1);
    };
    json!({
        "event": "result",
        "workload": "fanout",
        "tasks": args.tasks,
        "checksum": checksum,
        "spawn_ms": spawn_ms,
        "loop_ms": loop_ms,
        "total_ms": total_ms,
    })
}

/// The stream `result` event, with every raw latency sample (the harness computes percentiles);
/// exits 1 if the pipeline lost its last item.
pub fn stream_result(outcome: Result<Outcome, String>) {
    match outcome {
        Ok(outcome) => emit(&stream_event(&outcome)),
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(1);
        }
    }
}

fn stream_event(o: &Outcome) -> Value {
    json!({
        "event": "result",
        "workload": "stream",
        "items": o.items,
        "checksum": o.checksum,
        "elapsed_ms": o.elapsed_ms,
        "paused_ms": o.paused_ms,
        "latency_samples_ns": o.latency_samples_ns,
    })
}

/// Announces a phase of `cancel --variant mass` (`{"event":"phase","phase":…}`) and blocks until
/// the harness, having sampled RSS, acknowledges with one line on stdin. At EOF (the harness went
/// away) or a read error: one line on stderr, exit 1.
///
/// A plain blocking read on the calling thread, on purpose: at each phase nothing else needs to
/// run (before the first spawn, every task parked on its timer, every task gone).
pub fn phase(name: &str) {
    emit(&json!({ "event": "phase", "phase": name }));
    let mut line = String::new();
    match std::io::stdin().read_line(&mut line) {
        Ok(0) => {
            eprintln!("stdin closed while waiting for the harness to acknowledge phase '{name}'");
            std::process::exit(1);
        }
        Ok(_) => {}
        Err(e) => {
            eprintln!("cannot read the acknowledgement of phase '{name}' from stdin: {e}");
            std::process::exit(1);
        }
    }
}

/// The `mass` result: `cleanups` and `cleanup_checksum` as counted by the guards, `cancel_ms` from
/// `t0_ns` (just before the cancel request) to the last cleanup. Exits 1 if not every task
/// cleaned up (the program only reports after waiting for all of them: a bug, never a measurement).
pub fn cancel_mass_result(args: &Cancel, mass: &Mass, t0_ns: u64) {
    let Some(cancel_ms) = mass.cancel_ms(t0_ns) else {
        eprintln!(
            "cancel finished but only {} of {} cleanups ran",
            mass.cleanups.count(),
            args.tasks
        );
        std::process::exit(1);
    };
    emit(&mass_event(
        args.tasks,
        mass.cleanups.count(),
        mass.cleanup_checksum(),
        cancel_ms,
    ));
}

fn mass_event(tasks: u64, cleanups: u64, checksum: u64, cancel_ms: f64) -> Value {
    json!({
        "event": "result",
        "workload": "cancel",
        "variant": "mass",
        "tasks": tasks,
        "cleanups": cleanups,
        "cleanup_checksum": checksum,
        "cancel_ms": cancel_ms,
    })
}

/// The `deadline` result.
pub fn cancel_deadline_result(args: &Cancel, tally: DeadlineTally, elapsed_ms: f64) {
    emit(&deadline_event(args.ops, tally, elapsed_ms));
}

fn deadline_event(ops: u64, tally: DeadlineTally, elapsed_ms: f64) -> Value {
    json!({
        "event": "result",
        "workload": "cancel",
        "variant": "deadline",
        "ops": ops,
        "timeouts": tally.timeouts,
        "response_sum": tally.response_sum,
        "elapsed_ms": elapsed_ms,
    })
}

/// The `safety` result; `idiom_note` says why an `unsafe` run used the safe code (a runtime with
/// no such hazard).
pub fn cancel_safety_result(args: &Cancel, tally: SafetyTally, idiom_note: Option<&str>) {
    emit(&safety_event(args, tally, idiom_note));
}

fn safety_event(args: &Cancel, tally: SafetyTally, idiom_note: Option<&str>) -> Value {
    let mut event = json!({
        "event": "result",
        "workload": "cancel",
        "variant": "safety",
        "idiom": args.idiom.name(),
        "items": args.items,
        "received": tally.received,
        "checksum": tally.checksum,
        "ticks": tally.ticks,
    });
    if let Some(note) = idiom_note {
        event["idiom_note"] = note.into();
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::FanoutVariant;

    #[test]
    fn ready_has_the_protocol_fields_then_extras() {
        let event = ready_event(
            "echo",
            "tokio 1.0 multi-thread",
            2,
            Some(64),
            json!({"port": 8080}),
        );
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"event":"ready","workload":"echo","runtime":"tokio 1.0 multi-thread","threads":2,"future_bytes":64,"port":8080}"#
        );
    }

    #[test]
    fn fanout_result_has_spawn_and_loop_ms() {
        let args = Fanout {
            tasks: 3,
            sleep: std::time::Duration::ZERO,
            variant: FanoutVariant::Bare,
        };
        let event = fanout_event(&args, 3, Some(1.5), 0.5, 2.0);
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"event":"result","workload":"fanout","tasks":3,"checksum":3,"spawn_ms":1.5,"loop_ms":0.5,"total_ms":2.0}"#
        );
    }

    #[test]
    fn cancel_results_have_the_protocol_fields() {
        assert_eq!(
            serde_json::to_string(&mass_event(3, 3, 7, 0.5)).unwrap(),
            r#"{"event":"result","workload":"cancel","variant":"mass","tasks":3,"cleanups":3,"cleanup_checksum":7,"cancel_ms":0.5}"#
        );
        let tally = DeadlineTally {
            timeouts: 1,
            response_sum: 2,
        };
        assert_eq!(
            serde_json::to_string(&deadline_event(3, tally, 1.5)).unwrap(),
            r#"{"event":"result","workload":"cancel","variant":"deadline","ops":3,"timeouts":1,"response_sum":2,"elapsed_ms":1.5}"#
        );
        let Ok(crate::args::Workload::Cancel(args)) = crate::args::parse(
            [
                "cancel",
                "--variant",
                "safety",
                "--items",
                "3",
                "--idiom",
                "unsafe",
            ]
            .map(String::from),
        ) else {
            panic!("cancel did not parse");
        };
        let tally = SafetyTally {
            received: 2,
            checksum: 1,
            ticks: 4,
        };
        assert_eq!(
            serde_json::to_string(&safety_event(&args, tally, None)).unwrap(),
            r#"{"event":"result","workload":"cancel","variant":"safety","idiom":"unsafe","items":3,"received":2,"checksum":1,"ticks":4}"#
        );
        let noted = safety_event(&args, tally, Some("why"));
        assert_eq!(noted["idiom_note"], "why");
    }

    #[test]
    fn stream_result_has_items_and_paused_ms() {
        let o = Outcome {
            items: 4096,
            checksum: 7,
            elapsed_ms: 1.5,
            paused_ms: 0.25,
            latency_samples_ns: vec![10, 20],
        };
        assert_eq!(
            serde_json::to_string(&stream_event(&o)).unwrap(),
            r#"{"event":"result","workload":"stream","items":4096,"checksum":7,"elapsed_ms":1.5,"paused_ms":0.25,"latency_samples_ns":[10,20]}"#
        );
    }
}
