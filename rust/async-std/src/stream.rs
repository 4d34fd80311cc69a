//! stream: source → K stages → sink, each a spawned task, every link an
//! `async_channel::bounded(C)` (the smol-ecosystem bounded MPMC channel async-std itself builds on;
//! `send` waits while the channel is full, so a slow sink holds the whole pipeline back).
//!
//! The sink stops the clock itself when the N-th item arrives (before any pause), and the latency
//! of every stamped item is `clock::now_ns() - stamp` against the process-wide origin.

use std::io;
use std::time::Instant;

use async_channel::{Receiver, Sender, bounded};
use async_std::task;
use asyncbench_common::args::Stream;
use asyncbench_common::clock::{self, ms};
use asyncbench_common::output;
use asyncbench_common::stream::{Checksum, Item, transform};
use serde_json::json;

async fn source(tx: Sender<Item>, items: u64, sample_every: u64) {
    for seq in 0..items {
        if tx.send(Item::new(seq, sample_every)).await.is_err() {
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

/// Returns the checksum, the latency samples and when the last item arrived.
async fn sink(rx: Receiver<Item>, args: Stream) -> (Checksum, Vec<u64>, Instant) {
    let mut checksum = Checksum::INIT;
    let mut samples =
        Vec::with_capacity(args.items.checked_div(args.sample_every).unwrap_or(0) as usize + 1);
    let mut received = 0;
    while let Ok(item) = rx.recv().await {
        checksum = checksum.fold(item.value);
        if let Some(stamp) = item.stamp_ns {
            samples.push(clock::now_ns().saturating_sub(stamp));
        }
        received += 1;
        if received == args.items {
            break;
        }
        if let Some(pause) = args.pause_after(received) {
            task::sleep(pause).await;
        }
    }
    let finished = Instant::now();
    assert_eq!(received, args.items, "the pipeline lost items");
    (checksum, samples, finished)
}

pub async fn run(args: &Stream, rt: &crate::Rt) -> io::Result<()> {
    let (source_tx, mut rx) = bounded(args.capacity);
    let source = source(source_tx, args.items, args.sample_every);
    let stages: Vec<_> = (0..args.stages)
        .map(|_| {
            let (tx, next) = bounded(args.capacity);
            stage(std::mem::replace(&mut rx, next), tx)
        })
        .collect();
    let sink = sink(rx, args.clone());
    let sizes = json!({ "source_future_bytes": size_of_val(&source), "sink_future_bytes": size_of_val(&sink) });
    output::ready(
        "stream",
        &rt.label,
        rt.threads,
        size_of_val(&stages[0]),
        sizes,
    );

    let sink = task::spawn(sink);
    for stage in stages {
        task::spawn(stage);
    }
    let start = Instant::now();
    task::spawn(source);
    let (checksum, samples, finished) = sink.await;
    output::stream_result(args, checksum.0, ms(finished - start), &samples);
    Ok(())
}
