//! stream: source -> K stages -> sink over bounded `local_sync::mpsc` channels of capacity C, all on
//! one executor; source and stages are spawned tasks, the sink is the executor's main future.

use crate::cli::{self, Item, StreamArgs, StreamVariant};
use local_sync::mpsc::bounded::{Rx, Tx, channel};
use std::time::{Duration, Instant};

async fn source(items: u64, sample_every: u64, tx: Tx<Item>) {
    for seq in 0..items {
        let stamp_ns = (seq % sample_every == 0).then(cli::now_ns);
        let item = Item {
            value: seq as u32,
            stamp_ns,
        };
        if tx.send(item).await.is_err() {
            return;
        }
    }
}

async fn stage(mut rx: Rx<Item>, tx: Tx<Item>) {
    while let Some(mut item) = rx.recv().await {
        item.value = cli::transform(item.value);
        if tx.send(item).await.is_err() {
            return;
        }
    }
}

pub async fn run(a: StreamArgs, cores: usize) {
    let future_bytes = {
        let (tx, rx) = channel::<Item>(1);
        std::mem::size_of_val(&stage(rx, tx))
    };
    let extra = format!(",\"cores_configured\":{cores}");
    cli::ready("stream", None, crate::RUNTIME, 1, future_bytes, &extra);

    let pause = Duration::from_millis(a.pause_ms);
    let mut samples = Vec::with_capacity((a.items / a.sample_every + 1) as usize);
    let t0 = Instant::now();
    let (tx, mut rx) = channel::<Item>(a.capacity);
    monoio::spawn(source(a.items, a.sample_every, tx));
    for _ in 0..a.stages {
        let (tx, next) = channel::<Item>(a.capacity);
        monoio::spawn(stage(rx, tx));
        rx = next;
    }
    let (mut h, mut received) = (cli::FNV_INIT, 0u64);
    while let Some(item) = rx.recv().await {
        h = cli::fnv(h, item.value);
        if let Some(stamp) = item.stamp_ns {
            samples.push(cli::now_ns() - stamp);
        }
        received += 1;
        if received == a.items {
            break;
        }
        if a.variant == StreamVariant::SlowConsumer && received % a.pause_every == 0 {
            monoio::time::sleep(pause).await;
        }
    }
    let elapsed_ms = cli::ms_since(t0);
    if received != a.items {
        cli::fatal(&format!(
            "stream ended after {received} of {} items",
            a.items
        ));
    }
    cli::stream_result(a.items, h, elapsed_ms, &samples);
}
