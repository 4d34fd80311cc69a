//! cancel (docs/PROTOCOL.md, "cancel") on async-std: what giving up costs, and which idiom loses
//! data.
//!
//! - mass: N tasks from `task::spawn`, each holding a [`CleanupGuard`] (its 1 KiB buffer and a
//!   `Drop` cleanup) across a 3600 s `task::sleep`. Unlike smol's `Task`, dropping an async-std
//!   `JoinHandle` *detaches* the task (it would sleep on); the only cancellation is the async
//!   `JoinHandle::cancel(self) -> Option<T>`, one handle at a time. So all N are cancelled at once
//!   with `futures::future::join_all(handles.map(JoinHandle::cancel))`: its first poll marks every
//!   task closed and schedules it, an executor thread drops each future (running the guard), and
//!   join_all resolves once every task has stopped. `cancel_ms` ends when the last guard ran.
//! - deadline: P workers; per op an `async_channel::bounded(1)` slot (async-std has no oneshot)
//!   completed by a detached responder task after its delay, awaited through
//!   `async_std::future::timeout(T, rx.recv())`. A timed-out worker drops the receiver; the
//!   responder's later `try_send` returns `Err` (harmless). Late responders are left to finish
//!   (none is cancelled): the program waits, untimed, until all M have, then prints the result.
//! - safety: `async_channel::bounded(16)`. Safe: `future::timeout(1 ms, rx.recv())` (async-std's
//!   own "receive or give up"); `Recv` is cancel safe: it takes a message only in the poll that
//!   returns it (async-rs/async-std#1061: "The future returned by `recv` does not hold any
//!   future-local state, so it should be cancellation-safe"; smol-rs/async-channel#56 and #111,
//!   maintainer: "`Recv` is cancel safe. It's not currently a guarantee"). Unsafe: "receive two,
//!   then process" as one future under `timeout`: when the tick expires after the first `recv`
//!   completed, that message is dropped with the future (the hazard tokio's `select!` docs describe
//!   under "Cancellation safety"; `timeout` drops the timed-out future the same way).

use std::io;
use std::time::Instant;

use async_channel::{Receiver, Sender, bounded};
use async_std::future::timeout;
use async_std::task;
use asyncbench_common::args::{Cancel, CancelVariant, Idiom};
use asyncbench_common::cancel::{
    CleanupGuard, DeadlineTally, FAR_TIMER, Latch, Mass, SAFETY_CAPACITY, SAFETY_PAUSE,
    SAFETY_TICK, SafetyTally, deadline_workers, producer_pauses_after, response_delay,
    return_freed_memory, worker_ops,
};
use asyncbench_common::clock::{self, ms_since};
use asyncbench_common::output;
use serde_json::Value;

use crate::Rt;

/// One `mass` task: its guard (buffer + cleanup) lives in the future across the far timer.
async fn mass_task(i: u64, mass: &'static Mass) {
    let _guard = CleanupGuard::new(i, mass);
    mass.armed.arrive();
    task::sleep(FAR_TIMER).await;
}

pub async fn run(args: &Cancel, rt: &Rt) -> io::Result<()> {
    let future_bytes = size_of_val(&mass_task(0, Mass::start(1)));
    output::ready("cancel", &rt.label, rt.threads, future_bytes, Value::Null);
    match args.variant {
        CancelVariant::Mass => mass(args).await,
        CancelVariant::Deadline => deadline(args).await,
        CancelVariant::Safety => safety(args).await,
    }
    Ok(())
}

async fn mass(args: &Cancel) {
    output::phase("start");
    let mass = Mass::start(args.tasks);
    let handles: Vec<_> = (0..args.tasks)
        .map(|i| task::spawn(mass_task(i, mass)))
        .collect();
    mass.armed.wait().await;
    output::phase("armed");
    let t0_ns = clock::now_ns();
    let cancelled = futures::future::join_all(handles.into_iter().map(|h| h.cancel()));
    let outputs = cancelled.await;
    mass.cleanups.wait().await;
    drop(outputs);
    return_freed_memory();
    output::phase("cancelled");
    output::cancel_mass_result(args, mass, t0_ns);
}

async fn deadline(args: &Cancel) {
    let responders: &'static Latch = Box::leak(Box::new(Latch::new(args.ops)));
    let start = Instant::now();
    let workers: Vec<_> = (0..deadline_workers(args))
        .map(|w| task::spawn(deadline_worker(*args, w, responders)))
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
        let (tx, rx) = bounded(1);
        let delay = response_delay(&args, i);
        // Dropping the JoinHandle detaches the responder (it runs to the end).
        task::spawn(async move {
            task::sleep(delay).await;
            let _ = tx.try_send(i); // Err if the worker timed out and dropped `rx`: nobody waits.
            responders.arrive();
        });
        match timeout(args.timeout(), rx.recv()).await {
            Ok(response) => tally.response(response.expect("a responder always sends")),
            Err(_elapsed) => tally.timeout(),
        }
    }
    tally
}

async fn safety(args: &Cancel) {
    let (tx, rx) = bounded(SAFETY_CAPACITY);
    let producer = task::spawn(produce(tx, args.items));
    let tally = match args.idiom {
        Idiom::Safe => consume_safe(&rx).await,
        Idiom::Unsafe => consume_two_at_a_time(&rx).await,
    };
    producer.await;
    output::cancel_safety_result(args, tally, None);
}

async fn produce(tx: Sender<u64>, items: u64) {
    for v in 0..items {
        if tx.send(v).await.is_err() {
            return;
        }
        if producer_pauses_after(v) {
            task::sleep(SAFETY_PAUSE).await;
        }
    }
}

/// `timeout(tick, recv())`: `Recv` is cancel safe (see the top of this file), so an expired
/// tick loses nothing.
async fn consume_safe(rx: &Receiver<u64>) -> SafetyTally {
    let mut tally = SafetyTally::default();
    loop {
        match timeout(SAFETY_TICK, rx.recv()).await {
            Ok(Ok(v)) => tally.receive(v),
            Ok(Err(_closed)) => return tally,
            Err(_tick) => tally.tick(),
        }
    }
}

/// UNSAFE ON PURPOSE: a multi-step future under `timeout`. When the tick expires while the pair
/// waits for its second message, the first one, already taken from the channel, is dropped with
/// the future.
async fn consume_two_at_a_time(rx: &Receiver<u64>) -> SafetyTally {
    let mut tally = SafetyTally::default();
    loop {
        let pair = async {
            let first = rx.recv().await.ok()?;
            Some((first, rx.recv().await.ok()))
        };
        match timeout(SAFETY_TICK, pair).await {
            Ok(Some((first, Some(second)))) => {
                tally.receive(first);
                tally.receive(second);
            }
            Ok(Some((first, None))) => {
                tally.receive(first);
                return tally;
            }
            Ok(None) => return tally,
            Err(_tick) => tally.tick(),
        }
    }
}
