//! JSON lines on stdout: exactly one `ready` first, then (finite workloads) one `result`.
//!
//! Each event is written with one `write_all` of the whole line and flushed at once, so the
//! harness sees it immediately and never a partial line.

use std::io::Write;

use serde_json::{Map, Value, json};

use crate::args::{Fanout, Stream};

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
        future_bytes,
        extra,
    ));
}

/// The `ready` event. `extra` (a JSON object, or `Value::Null`) adds fields such as `port`.
pub fn ready_event(
    workload: &str,
    runtime: &str,
    threads: usize,
    future_bytes: usize,
    extra: Value,
) -> Value {
    let mut event = Map::new();
    event.insert("event".into(), "ready".into());
    event.insert("workload".into(), workload.into());
    event.insert("runtime".into(), runtime.into());
    event.insert("threads".into(), threads.into());
    event.insert("future_bytes".into(), future_bytes.into());
    if let Value::Object(fields) = extra {
        event.extend(fields);
    }
    Value::Object(event)
}

/// The fan-out `result` event.
pub fn fanout_result(args: &Fanout, checksum: u64, spawn_ms: f64, total_ms: f64) {
    emit(&json!({
        "event": "result",
        "workload": "fanout",
        "tasks": args.tasks,
        "checksum": checksum,
        "spawn_ms": spawn_ms,
        "total_ms": total_ms,
    }));
}

/// The stream `result` event, with every raw latency sample (the harness computes percentiles).
pub fn stream_result(args: &Stream, checksum: u32, elapsed_ms: f64, latency_samples_ns: &[u64]) {
    emit(&json!({
        "event": "result",
        "workload": "stream",
        "items": args.items,
        "checksum": checksum,
        "elapsed_ms": elapsed_ms,
        "latency_samples_ns": latency_samples_ns,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_has_the_protocol_fields_then_extras() {
        let event = ready_event(
            "echo",
            "tokio 1.0 multi-thread",
            2,
            64,
            json!({"port": 8080}),
        );
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"event":"ready","workload":"echo","runtime":"tokio 1.0 multi-thread","threads":2,"future_bytes":64,"port":8080}"#
        );
    }
}
