//! stream: source → K stages → sink, each a spawned task, every link a bounded
//! `tokio::sync::mpsc::channel(C)` (the idiomatic async bounded queue in tokio; `send` waits
//! while the channel is full, so a slow sink holds the whole pipeline back).
//!
//! The sink stops the clock itself when the N-th item arrives (before any pause), and the latency
//! of every stamped item is `clock::now_ns() - stamp` against the process-wide origin.

use std::io;
use std::time::Instant;

use asyncbench_common::args::Stream;
use asyncbench_common::clock::{self, ms};
use asyncbench_common::output;
use asyncbench_common::stream::{Checksum, Item, transform};
use serde_json::json;
use tokio::sync::mpsc::{Receiver, Sender, channel};

async fn source(tx: Sender<Item>, items: u64, sample_every: u64) {
    for seq in 0..items {
        if tx.send(Item::new(seq, sample_every)).await.is_err() {
            return;
        }
    }
}

async fn stage(mut rx: Receiver<Item>, tx: Sender<Item>) {
    while let Some(mut item) = rx.recv().await {
        item.value = transform(item.value);
        if tx.send(item).await.is_err() {
            return;
        }
    }
}

/// Returns the checksum, the latency samples and when the last item arrived.
async fn sink(mut rx: Receiver<Item>, args: Stream) -> (Checksum, Vec<u64>, Instant) {
    let mut checksum = Checksum::INIT;
    let mut samples =
        Vec::with_capacity(args.items.checked_div(args.sample_every).unwrap_or(0) as usize + 1);
    let mut received = 0;
    while let Some(item) = rx.recv().await {
        checksum = checksum.fold(item.value);
        if let Some(stamp) = item.stamp_ns {
            samples.push(clock::now_ns().saturating_sub(stamp));
        }
        received += 1;
        if received == args.items {
            break;
        }
        if let Some(pause) = args.pause_after(received) {
            tokio::time::sleep(pause).await;
        }
    }
    let finished = Instant::now();
    assert_eq!(received, args.items, "the pipeline lost items");
    (checksum, samples, finished)
}

pub async fn run(args: &Stream, rt: &crate::Rt) -> io::Result<()> {
    let (source_tx, mut rx) = channel(args.capacity);
    let source = source(source_tx, args.items, args.sample_every);
    let stages: Vec<_> = (0..args.stages)
        .map(|_| {
            let (tx, next) = channel(args.capacity);
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

    let sink = tokio::spawn(sink);
    for stage in stages {
        tokio::spawn(stage);
    }
    let start = Instant::now();
    tokio::spawn(source);
    let (checksum, samples, finished) = sink.await.expect("the sink panicked");
    output::stream_result(args, checksum.0, ms(finished - start), &samples);
    Ok(())
}
