//! stream: source -> K stages -> sink over bounded `local_sync::mpsc` channels of capacity C, all on
//! one executor; source and stages are spawned tasks, the sink is the executor's main future.

use asyncbench_common::args::Stream;
use asyncbench_common::clock::{self, ms_since};
use asyncbench_common::stream::{Checksum, Item, transform};
use asyncbench_common::{output, uring};
use local_sync::mpsc::bounded::{Rx, Tx, channel};
use serde_json::json;
use std::time::Instant;

async fn source(items: u64, sample_every: u64, tx: Tx<Item>) {
    for seq in 0..items {
        if tx.send(Item::new(seq, sample_every)).await.is_err() {
            return;
        }
    }
}

async fn stage(mut rx: Rx<Item>, tx: Tx<Item>) {
    while let Some(mut item) = rx.recv().await {
        item.value = transform(item.value);
        if tx.send(item).await.is_err() {
            return;
        }
    }
}

pub async fn run(a: &Stream, cores: usize) {
    let future_bytes = {
        let (tx, rx) = channel::<Item>(1);
        size_of_val(&stage(rx, tx))
    };
    let extra = json!({ "cores_configured": cores });
    output::ready("stream", crate::RUNTIME, 1, future_bytes, extra);

    let mut samples =
        Vec::with_capacity(a.items.checked_div(a.sample_every).unwrap_or(0) as usize + 1);
    let t0 = Instant::now();
    let (tx, mut rx) = channel::<Item>(a.capacity);
    monoio::spawn(source(a.items, a.sample_every, tx));
    for _ in 0..a.stages {
        let (tx, next) = channel::<Item>(a.capacity);
        monoio::spawn(stage(rx, tx));
        rx = next;
    }
    let (mut h, mut received) = (Checksum::INIT, 0u64);
    while let Some(item) = rx.recv().await {
        h = h.fold(item.value);
        if let Some(stamp) = item.stamp_ns {
            samples.push(clock::now_ns() - stamp);
        }
        received += 1;
        if received == a.items {
            break;
        }
        if let Some(pause) = a.pause_after(received) {
            monoio::time::sleep(pause).await;
        }
    }
    let elapsed_ms = ms_since(t0);
    if received != a.items {
        uring::fatal(&format!(
            "stream ended after {received} of {} items",
            a.items
        ));
    }
    output::stream_result(a, h.0, elapsed_ms, &samples);
}
