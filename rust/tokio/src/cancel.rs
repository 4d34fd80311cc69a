//! cancel (docs/PROTOCOL.md, "cancel") on tokio: what giving up costs, and which idiom loses data.
//!
//! - mass: N tasks spawned into a `tokio::task::JoinSet`, each holding a [`CleanupGuard`] (its
//!   1 KiB buffer and a `Drop` cleanup) across a 3600 s `tokio::time::sleep`; cancelled with
//!   `JoinSet::abort_all()`. An aborted task's future is dropped by the scheduler the next time
//!   it would run it, and dropping the future runs the guard's `Drop` (cleanup cannot await: it
//!   is synchronous). `cancel_ms` ends when the last guard ran; then every `JoinHandle` is drained
//!   with `join_next` (each must report `is_cancelled`) and the set dropped. (A
//!   `tokio_util::sync::CancellationToken` in `select!` would be the other idiom; tokio-util is not
//!   a dependency, and `abort_all` is what tokio itself provides.)
//! - deadline: P workers; per op a `tokio::sync::oneshot` slot completed by a detached
//!   `tokio::spawn`ed responder after its delay, awaited through `tokio::time::timeout(T, rx)`.
//!   A timed-out worker drops the receiver; its responder's later `send` returns `Err` (harmless).
//!   Late responders are left to finish (none is cancelled): the program waits, untimed, until
//!   all M have, then prints the result.
//! - safety: `tokio::sync::mpsc::channel(16)`. Safe: `tokio::select!` over `rx.recv()` and a 1 ms
//!   `sleep`; `recv` is documented cancel safe ("If `recv` is used as the event in a
//!   `tokio::select!` statement and some other branch completes first, it is guaranteed that no
//!   messages were received on this channel", tokio::sync::mpsc::Receiver::recv, "Cancel
//!   safety"). Unsafe: "receive two, then process" as one future inside `select!`: when the tick
//!   wins after the first `recv` completed, that value is dropped with the future. tokio's
//!   `select!` docs ("Cancellation safety") warn of exactly this: a future that has made progress
//!   (here: taken one message) loses it when another branch completes first.

use std::io;
use std::time::Instant;

use asyncbench_common::args::{Cancel, CancelVariant, Idiom};
use asyncbench_common::cancel::{
    CleanupGuard, DeadlineTally, FAR_TIMER, Latch, Mass, SAFETY_CAPACITY, SAFETY_PAUSE,
    SAFETY_TICK, SafetyTally, deadline_workers, producer_pauses_after, response_delay,
    return_freed_memory, worker_ops,
};
use asyncbench_common::clock::{self, ms_since};
use asyncbench_common::output;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::{sleep, timeout};

use crate::Rt;

/// One `mass` task: its guard (buffer + cleanup) lives in the future across the far timer.
async fn mass_task(i: u64, mass: &'static Mass) {
    let _guard = CleanupGuard::new(i, mass);
    mass.armed.arrive();
    sleep(FAR_TIMER).await;
}

pub async fn run(args: &Cancel, rt: &Rt) -> io::Result<()> {
    let future_bytes = size_of_val(&mass_task(0, Mass::start(1)));
    output::ready("cancel", &rt.label, rt.threads, future_bytes, Value::Null);
    match args.variant {
        CancelVariant::Mass => mass(args).await,
        CancelVariant::Deadline => deadline(args).await,
        CancelVariant::Safety => safety(args).await,
    }
}

async fn mass(args: &Cancel) -> io::Result<()> {
    output::phase("start");
    let mass = Mass::start(args.tasks);
    let mut set = JoinSet::new();
    for i in 0..args.tasks {
        set.spawn(mass_task(i, mass));
    }
    mass.armed.wait().await;
    output::phase("armed");
    let t0_ns = clock::now_ns();
    set.abort_all();
    mass.cleanups.wait().await;
    while let Some(joined) = set.join_next().await {
        if !joined.as_ref().is_err_and(|e| e.is_cancelled()) {
            return Err(io::Error::other(
                "a mass task ended without being cancelled",
            ));
        }
    }
    drop(set);
    return_freed_memory();
    output::phase("cancelled");
    output::cancel_mass_result(args, mass, t0_ns);
    Ok(())
}

async fn deadline(args: &Cancel) -> io::Result<()> {
    let responders: &'static Latch = Box::leak(Box::new(Latch::new(args.ops)));
    let start = Instant::now();
    let workers: Vec<_> = (0..deadline_workers(args))
        .map(|w| tokio::spawn(deadline_worker(*args, w, responders)))
        .collect();
    let mut tally = DeadlineTally::default();
    for worker in workers {
        tally.merge(worker.await.map_err(io::Error::other)?);
    }
    let elapsed_ms = ms_since(start);
    responders.wait().await;
    output::cancel_deadline_result(args, tally, elapsed_ms);
    Ok(())
}

/// Runs worker `w`'s races one after another.
async fn deadline_worker(args: Cancel, w: u64, responders: &'static Latch) -> DeadlineTally {
    let mut tally = DeadlineTally::default();
    for i in worker_ops(&args, w) {
        let (tx, rx) = oneshot::channel();
        let delay = response_delay(&args, i);
        tokio::spawn(async move {
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

async fn safety(args: &Cancel) -> io::Result<()> {
    let (tx, mut rx) = mpsc::channel(SAFETY_CAPACITY);
    let producer = tokio::spawn(produce(tx, args.items));
    let tally = match args.idiom {
        Idiom::Safe => consume_safe(&mut rx).await,
        Idiom::Unsafe => consume_two_at_a_time(&mut rx).await,
    };
    producer.await.map_err(io::Error::other)?;
    output::cancel_safety_result(args, tally, None);
    Ok(())
}

async fn produce(tx: mpsc::Sender<u64>, items: u64) {
    for v in 0..items {
        if tx.send(v).await.is_err() {
            return;
        }
        if producer_pauses_after(v) {
            sleep(SAFETY_PAUSE).await;
        }
    }
}

/// `recv` in `select!`: cancel safe (see the top of this file), so a lost race loses nothing.
async fn consume_safe(rx: &mut mpsc::Receiver<u64>) -> SafetyTally {
    let mut tally = SafetyTally::default();
    loop {
        tokio::select! {
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
async fn consume_two_at_a_time(rx: &mut mpsc::Receiver<u64>) -> SafetyTally {
    let mut tally = SafetyTally::default();
    loop {
        let pair = async {
            let first = rx.recv().await?;
            Some((first, rx.recv().await))
        };
        tokio::select! {
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
