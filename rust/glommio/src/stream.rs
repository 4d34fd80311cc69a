//! stream: source -> K stages -> sink over bounded glommio `local_channel`s of capacity C, all on
//! one executor; source and stages are spawned tasks, the sink is the executor's main future.
//!
//! With `--warmup-items W` a complete, separate pipeline over W items runs first, untimed, and
//! every one of its tasks has ended before the timed pipeline is set up. The source's length rule
//! (`--items`, `--min-ms`), the sink's checksum, latency samples and pause time are
//! runtime-independent (`asyncbench_common::stream`): the sink stops the clock on the item marked
//! last, before any pause, and `paused_ms` is measured around each pause's await.

use asyncbench_common::args::Stream;
use asyncbench_common::stream::{Item, Outcome, Sink, Source, transform};
use asyncbench_common::{output, uring};
use glommio::channels::local_channel::{LocalReceiver, LocalSender, new_bounded};

use std::time::Instant;

async fn source(args: Stream, tx: LocalSender<Item>) {
    for item in Source::new(&args) {
        if tx.send(item).await.is_err() {
            return;
        }
    }
}

async fn stage(rx: LocalReceiver<Item>, tx: LocalSender<Item>) {
    while let Some(mut item) = rx.recv().await {
        item.value = transform(item.value);
        if tx.send(item).await.is_err() {
            return;
        }
    }
}

/// Sets up and runs one pipeline; returns once every task has ended. Timed from just before the
/// source is spawned (the stages are spawned first; all start running when the sink first awaits).
async fn pipeline(a: &Stream) -> Result<Outcome, String> {
    let (source_tx, mut rx) = new_bounded::<Item>(a.capacity);
    let mut tasks = Vec::with_capacity(a.stages + 1);
    for _ in 0..a.stages {
        let (tx, next) = new_bounded::<Item>(a.capacity);
        tasks.push(glommio::spawn_local(stage(
            std::mem::replace(&mut rx, next),
            tx,
        )));
    }
    let mut sink = Sink::new(a);
    let start = Instant::now();
    tasks.push(glommio::spawn_local(source(a.clone(), source_tx)));
    while let Some(item) = rx.recv().await {
        if sink.receive(item) {
            break;
        }
        if let Some(pause) = sink.pause_due() {
            let paused = Instant::now();
            glommio::timer::sleep(pause).await;
            sink.paused(paused.elapsed());
        }
    }
    drop(rx);
    for task in tasks {
        task.await;
    }
    sink.finish(start)
}

pub async fn run(a: &Stream, cores: usize) {
    let future_bytes = {
        let (tx, rx) = new_bounded::<Item>(1);
        size_of_val(&stage(rx, tx))
    };
    let extra = crate::ready_extra(cores);
    output::ready("stream", crate::RUNTIME, 1, future_bytes, extra);
    if let Some(warmup) = a.warmup() {
        pipeline(&warmup).await.unwrap_or_else(|m| uring::fatal(&m));
    }
    output::stream_result(pipeline(a).await);
}
