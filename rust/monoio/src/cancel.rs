//! cancel (docs/PROTOCOL.md, "cancel") on monoio (one executor): what giving up costs, and which
//! idiom loses data.
//!
//! - mass: monoio has no way to cancel a spawned task: its `JoinHandle` has no `abort`, and
//!   dropping it detaches ("Note if you drop it directly, task will not be terminated",
//!   monoio::task::JoinHandle). So cancellation is cooperative, the way monoio's own examples
//!   stop a loop: each of the N `monoio::spawn`ed tasks holds a [`CleanupGuard`] (1 KiB buffer +
//!   `Drop` cleanup) and awaits `monoio::select!` over a 3600 s `monoio::time::sleep` and its
//!   own `local_sync::oneshot::Receiver` (local-sync: the !Send channel crate by monoio's authors;
//!   monoio has no channel or cancellation token of its own). Cancelling = dropping the N
//!   `Sender`s: each receiver resolves, `select!` drops the sleep, the task returns and the guard
//!   runs. `cancel_ms` ends when the last guard ran; then every `JoinHandle` is awaited.
//! - deadline: P workers; per op a `local_sync::oneshot` slot completed by a detached responder
//!   task after its delay, awaited through `monoio::time::timeout(T, rx)`. A timed-out worker
//!   drops the receiver; the responder's later `send` returns `Err` (harmless). Late responders
//!   are left to finish (none is cancelled): the program waits, untimed, until all M have.
//! - safety: `local_sync::mpsc::bounded::channel(16)`. Safe: `monoio::select!` (tokio's macro,
//!   ported) over `rx.recv()` and a 1 ms `sleep`; local-sync's `recv` takes a message only in the
//!   poll that returns it (`chan::Rx::recv` pops and returns in one step), so dropping it loses
//!   nothing. That is read from its source: local-sync documents no cancel safety. Unsafe: "receive
//!   two, then process" as one future inside `select!`: when the tick wins after the first `recv`
//!   completed, that message is dropped with the future (monoio's `select!` is tokio's, and tokio's
//!   `select!` docs, "Cancellation safety", describe this hazard).

use std::time::Instant;

use asyncbench_common::args::{Cancel, CancelVariant, Idiom};
use asyncbench_common::cancel::{
    CleanupGuard, DeadlineTally, FAR_TIMER, Latch, Mass, SAFETY_CAPACITY, SAFETY_PAUSE,
    SAFETY_TICK, SafetyTally, deadline_workers, producer_pauses_after, response_delay,
    return_freed_memory, worker_ops,
};
use asyncbench_common::clock::{self, ms_since};
use asyncbench_common::output;
use local_sync::mpsc::bounded::{Rx, Tx, channel};
use local_sync::oneshot;
use monoio::time::{sleep, timeout};
use serde_json::json;

/// One `mass` task: its guard (buffer + cleanup) lives in the future across the far timer, which
/// races the task's own cancel signal.
async fn mass_task(i: u64, mass: &'static Mass, cancel: oneshot::Receiver<()>) {
    let _guard = CleanupGuard::new(i, mass);
    mass.armed.arrive();
    monoio::select! {
        () = sleep(FAR_TIMER) => {}
        _cancelled = cancel => {}
    }
}

pub async fn run(args: &Cancel, cores: usize) {
    let future_bytes = size_of_val(&mass_task(0, Mass::start(1), oneshot::channel().1));
    let extra = json!({ "cores_configured": cores });
    output::ready("cancel", crate::RUNTIME, 1, future_bytes, extra);
    match args.variant {
        CancelVariant::Mass => mass(args).await,
        CancelVariant::Deadline => deadline(args).await,
        CancelVariant::Safety => safety(args).await,
    }
}

async fn mass(args: &Cancel) {
    output::phase("start");
    let mass = Mass::start(args.tasks);
    let mut signals = Vec::with_capacity(args.tasks as usize);
    let mut handles = Vec::with_capacity(args.tasks as usize);
    for i in 0..args.tasks {
        let (signal, cancel) = oneshot::channel();
        signals.push(signal);
        handles.push(monoio::spawn(mass_task(i, mass, cancel)));
    }
    mass.armed.wait().await;
    output::phase("armed");
    let t0_ns = clock::now_ns();
    drop(signals);
    mass.cleanups.wait().await;
    for handle in handles {
        handle.await;
    }
    return_freed_memory();
    output::phase("cancelled");
    output::cancel_mass_result(args, mass, t0_ns);
}

async fn deadline(args: &Cancel) {
    let responders: &'static Latch = Box::leak(Box::new(Latch::new(args.ops)));
    let start = Instant::now();
    let workers: Vec<_> = (0..deadline_workers(args))
        .map(|w| monoio::spawn(deadline_worker(*args, w, responders)))
        .collect();
    let mut tally = DeadlineTally::default();
    for worker in workers {
        tally.merge(worker.await);
    }
    let elapsed_ms = ms_since(start);
    responders.wait().await;
    output::cancel_deadline_result(args, tally, elapsed_ms);
}

/// Runs worker `w`'s races one after another.
async fn deadline_worker(args: Cancel, w: u64, responders: &'static Latch) -> DeadlineTally {
    let mut tally = DeadlineTally::default();
    for i in worker_ops(&args, w) {
        let (tx, rx) = oneshot::channel();
        let delay = response_delay(&args, i);
        // Dropping the JoinHandle detaches the responder (it runs to the end).
        monoio::spawn(async move {
            sleep(delay).await;
            let _ = tx.send(i); // Err if the worker timed out and dropped `rx`: nobody waits.
            responders.arrive();
        });
        match timeout(args.timeout(), rx).await {
            Ok(response) => tally.response(response.expect("a responder always sends")),
            Err(_elapsed) => tally.timeout(),
        }
    }
    tally
}

async fn safety(args: &Cancel) {
    let (tx, mut rx) = channel(SAFETY_CAPACITY);
    let producer = monoio::spawn(produce(tx, args.items));
    let tally = match args.idiom {
        Idiom::Safe => consume_safe(&mut rx).await,
        Idiom::Unsafe => consume_two_at_a_time(&mut rx).await,
    };
    producer.await;
    output::cancel_safety_result(args, tally, None);
}

async fn produce(tx: Tx<u64>, items: u64) {
    for v in 0..items {
        if tx.send(v).await.is_err() {
            return;
        }
        if producer_pauses_after(v) {
            sleep(SAFETY_PAUSE).await;
        }
    }
}

/// `recv` in `select!`: it takes a message only when it returns it (see the top of this file).
async fn consume_safe(rx: &mut Rx<u64>) -> SafetyTally {
    let mut tally = SafetyTally::default();
    loop {
        monoio::select! {
            received = rx.recv() => match received {
                Some(v) => tally.receive(v),
                None => return tally,
            },
            () = sleep(SAFETY_TICK) => tally.tick(),
        }
    }
}

/// UNSAFE ON PURPOSE (tokio::select! docs, "Cancellation safety"): a multi-step future in a
/// `select!` branch. When the tick wins while the pair waits for its second message, the first
/// one, already taken from the channel, is dropped with the future.
async fn consume_two_at_a_time(rx: &mut Rx<u64>) -> SafetyTally {
    let mut tally = SafetyTally::default();
    loop {
        let pair = async {
            let first = rx.recv().await?;
            Some((first, rx.recv().await))
        };
        monoio::select! {
            pair = pair => match pair {
                Some((first, Some(second))) => {
                    tally.receive(first);
                    tally.receive(second);
                }
                Some((first, None)) => {
                    tally.receive(first);
                    return tally;
                }
                None => return tally,
            },
            () = sleep(SAFETY_TICK) => tally.tick(),
        }
    }
}
