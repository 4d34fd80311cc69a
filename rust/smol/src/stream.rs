//! stream: source → K stages → sink, each a spawned task, every link an
//! `smol::channel::bounded(C)` (async-channel, smol's bounded MPMC channel;
//! `send` waits while the channel is full, so a slow sink holds the whole pipeline back).
//!
//! With `--warmup-items W` a complete, separate pipeline over W items runs first, untimed, and
//! every one of its tasks has ended before the timed pipeline is set up. The source's length rule
//! (`--items`, `--min-ms`), the sink's checksum, latency samples and pause time are
//! runtime-independent (`asyncbench_common::stream`): the sink stops the clock on the item marked
//! last, before any pause, and `paused_ms` is measured around each pause's await.

use std::io;
use std::time::Instant;

use asyncbench_common::args::Stream;
use asyncbench_common::output;
use asyncbench_common::stream::{Item, Outcome, Sink, Source, transform};
use serde_json::json;
use smol::Timer;
use smol::channel::{Receiver, Sender, bounded};

async fn source(tx: Sender<Item>, args: Stream) {
    for item in Source::new(&args) {
        if tx.send(item).await.is_err() {
            return;
        }
    }
}

async fn stage(rx: Receiver<Item>, tx: Sender<Item>) {
    while let Ok(mut item) = rx.recv().await {
        item.value = transform(item.value);
        if tx.send(item).await.is_err() {
            return;
        }
    }
}

async fn sink(rx: Receiver<Item>, args: Stream) -> Sink {
    let mut sink = Sink::new(&args);
    while let Ok(item) = rx.recv().await {
        if sink.receive(item) {
            break;
        }
        if let Some(pause) = sink.pause_due() {
            let paused = Instant::now();
            Timer::after(pause).await;
            sink.paused(paused.elapsed());
        }
    }
    sink
}

/// Sets up and runs one pipeline; returns once every task has ended. Timed from just before the
/// source is spawned (stages and sink are running by then).
async fn pipeline(args: &Stream) -> Result<Outcome, String> {
    let (source_tx, mut rx) = bounded(args.capacity);
    let mut tasks = Vec::with_capacity(args.stages + 1);
    for _ in 0..args.stages {
        let (tx, next) = bounded(args.capacity);
        tasks.push(crate::spawn(stage(std::mem::replace(&mut rx, next), tx)));
    }
    let sink = crate::spawn(sink(rx, args.clone()));
    let start = Instant::now();
    tasks.push(crate::spawn(source(source_tx, args.clone())));
    let sink = sink.await;
    for task in tasks {
        task.await;
    }
    sink.finish(start)
}

pub async fn run(args: &Stream, rt: &crate::Rt) -> io::Result<()> {
    let (tx, rx) = bounded(1);
    let sizes = json!({
        "source_future_bytes": size_of_val(&source(tx.clone(), args.clone())),
        "sink_future_bytes": size_of_val(&sink(rx.clone(), args.clone())),
    });
    let stage_bytes = size_of_val(&stage(rx, tx));
    output::ready("stream", &rt.label, rt.threads, stage_bytes, sizes);
    if let Some(warmup) = args.warmup() {
        pipeline(&warmup).await.map_err(io::Error::other)?;
    }
    output::stream_result(pipeline(args).await);
    Ok(())
}
