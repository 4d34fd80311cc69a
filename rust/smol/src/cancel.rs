//! cancel (docs/PROTOCOL.md, "cancel") on smol: what giving up costs, and which idiom loses data.
//!
//! - mass: N tasks from `EX.spawn`, each holding a [`CleanupGuard`] (its 1 KiB buffer and a
//!   `Drop` cleanup) across a 3600 s `smol::Timer`; cancelled by dropping their `Task` handles
//!   ("Dropping a Task cancels the task", async-task's `Task` docs): the drop marks each task
//!   closed and schedules it, and an executor thread then drops its future, which runs the guard.
//!   `Task::cancel().await` would also wait for that, but one task at a time; dropping the whole
//!   Vec is the mass form, and `cancel_ms` ends when the last guard ran.
//! - deadline: P workers; per op an `async_channel::bounded(1)` slot (smol::channel; smol has no
//!   oneshot) completed by a detached responder task after its delay, raced with futures-lite's
//!   `or` against `Timer::after(T)` (smol has no `timeout` function; async-io's `Timer` docs show
//!   this `or` as the timeout idiom). A timed-out worker drops the receiver; the responder's later
//!   `try_send` returns `Err` (harmless). Late responders are left to finish (none is cancelled):
//!   the program waits, untimed, until all M have, then prints the result.
//! - safety: `smol::channel::bounded(16)`. Safe: `rx.recv().or(tick)`; async-channel's `Recv` is
//!   cancel safe: it takes a message only in the poll that returns it (maintainer answers in
//!   smol-rs/async-channel#56, "The futures in this crate are cancel safe", and #111, "`Recv` is
//!   cancel safe. It's not currently a guarantee"). Unsafe: "receive two, then process" as one
//!   future raced with `or`: when the tick wins after the first `recv` completed, that message is
//!   dropped with the future (the hazard tokio's `select!` docs describe under "Cancellation
//!   safety"; futures-lite's `or` drops the loser the same way).

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
use smol::Timer;
use smol::channel::{Receiver, Sender, bounded};
use smol::future::FutureExt;

use crate::Rt;

/// One `mass` task: its guard (buffer + cleanup) lives in the future across the far timer.
async fn mass_task(i: u64, mass: &'static Mass) {
    let _guard = CleanupGuard::new(i, mass);
    mass.armed.arrive();
    Timer::after(FAR_TIMER).await;
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
    let tasks: Vec<_> = (0..args.tasks)
        .map(|i| crate::spawn(mass_task(i, mass)))
        .collect();
    mass.armed.wait().await;
    output::phase("armed");
    let t0_ns = clock::now_ns();
    drop(tasks);
    mass.cleanups.wait().await;
    return_freed_memory();
    output::phase("cancelled");
    output::cancel_mass_result(args, mass, t0_ns);
}

async fn deadline(args: &Cancel) {
    let responders: &'static Latch = Box::leak(Box::new(Latch::new(args.ops)));
    let start = Instant::now();
    let workers: Vec<_> = (0..deadline_workers(args))
        .map(|w| crate::spawn(deadline_worker(*args, w, responders)))
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
        crate::spawn(async move {
            Timer::after(delay).await;
            let _ = tx.try_send(i); // Err if the worker timed out and dropped `rx`: nobody waits.
            responders.arrive();
        })
        .detach();
        let response = async { Some(rx.recv().await) }
            .or(async {
                Timer::after(args.timeout()).await;
                None
            })
            .await;
        match response {
            Some(response) => tally.response(response.expect("a responder always sends")),
            None => tally.timeout(),
        }
    }
    tally
}

async fn safety(args: &Cancel) {
    let (tx, rx) = bounded(SAFETY_CAPACITY);
    let producer = crate::spawn(produce(tx, args.items));
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
            Timer::after(SAFETY_PAUSE).await;
        }
    }
}

/// What won a consumer's race.
enum Step<T> {
    Received(T),
    Tick,
}

async fn tick<T>() -> Step<T> {
    Timer::after(SAFETY_TICK).await;
    Step::Tick
}

/// `recv().or(tick)`: `Recv` is cancel safe (see the top of this file), a lost race loses nothing.
async fn consume_safe(rx: &Receiver<u64>) -> SafetyTally {
    let mut tally = SafetyTally::default();
    loop {
        match async { Step::Received(rx.recv().await) }.or(tick()).await {
            Step::Received(Ok(v)) => tally.receive(v),
            Step::Received(Err(_closed)) => return tally,
            Step::Tick => tally.tick(),
        }
    }
}

/// UNSAFE ON PURPOSE: a multi-step future raced with `or`. When the tick wins while the pair
/// waits for its second message, the first one, already taken from the channel, is dropped with
/// the future.
async fn consume_two_at_a_time(rx: &Receiver<u64>) -> SafetyTally {
    let mut tally = SafetyTally::default();
    loop {
        let pair = async {
            let Ok(first) = rx.recv().await else {
                return Step::Received(None);
            };
            Step::Received(Some((first, rx.recv().await.ok())))
        };
        match pair.or(tick()).await {
            Step::Received(Some((first, Some(second)))) => {
                tally.receive(first);
                tally.receive(second);
            }
            Step::Received(Some((first, None))) => {
                tally.receive(first);
                return tally;
            }
            Step::Received(None) => return tally,
            Step::Tick => tally.tick(),
        }
    }
}
