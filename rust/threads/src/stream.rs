//! stream: source → K stages → sink, each on its own OS thread (the sink on the main thread),
//! every link a `std::sync::mpsc::sync_channel(C)`: a bounded queue whose `send` blocks while it
//! is full, so a slow sink holds the whole pipeline back.
//!
//! With `--warmup-items W` a complete, separate pipeline over W items runs first, untimed, and
//! all its threads are joined before the timed pipeline is set up. The source's length rule
//! (`--items`, `--min-ms`), the sink's checksum, latency samples and pause time are shared with
//! the async programs (`asyncbench_common::stream`); the sink's pause is a `thread::sleep`,
//! measured around each call for `paused_ms`.

use std::io;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use asyncbench_common::args::Stream;
use asyncbench_common::output;
use asyncbench_common::stream::{Item, Outcome, Sink, Source, transform};
use serde_json::json;

use crate::{RUNTIME, STACK_BYTES, limits};

fn source(tx: SyncSender<Item>, args: Stream) {
    for item in Source::new(&args) {
        if tx.send(item).is_err() {
            return;
        }
    }
}

fn stage(rx: Receiver<Item>, tx: SyncSender<Item>) {
    for mut item in rx {
        item.value = transform(item.value);
        if tx.send(item).is_err() {
            return;
        }
    }
}

fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(name)
        .stack_size(STACK_BYTES)
        .spawn(f)
        .map_err(|e| io::Error::other(limits::spawn_failed_named("a pipeline thread", &e)))
}

/// Sets up and runs one pipeline on this thread (the sink) and K + 1 others; returns once they
/// are joined. Timed from just before the source thread is spawned (the stages are running).
fn pipeline(args: &Stream) -> io::Result<Result<Outcome, String>> {
    let (source_tx, mut rx) = sync_channel(args.capacity);
    let mut threads = Vec::with_capacity(args.stages + 1);
    for k in 0..args.stages {
        let (tx, next) = sync_channel(args.capacity);
        let from = std::mem::replace(&mut rx, next);
        threads.push(spawn(format!("stage-{k}"), move || stage(from, tx))?);
    }
    let mut sink = Sink::new(args);
    let start = Instant::now();
    let source_args = args.clone();
    threads.push(spawn("source".into(), move || {
        source(source_tx, source_args)
    })?);
    for item in rx.iter() {
        if sink.receive(item) {
            break;
        }
        if let Some(pause) = sink.pause_due() {
            let paused = Instant::now();
            thread::sleep(pause);
            sink.paused(paused.elapsed());
        }
    }
    drop(rx);
    for thread in threads {
        thread.join().expect("a pipeline thread panicked");
    }
    Ok(sink.finish(start))
}

pub fn run(args: &Stream) -> io::Result<()> {
    let extra = json!({ "stack_bytes": STACK_BYTES });
    output::ready_without_futures("stream", RUNTIME, args.stages + 2, extra);
    if let Some(warmup) = args.warmup() {
        pipeline(&warmup)?.map_err(io::Error::other)?;
    }
    output::stream_result(pipeline(args)?);
    Ok(())
}
