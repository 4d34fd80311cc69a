//! cancel (docs/PROTOCOL.md, "cancel") on glommio (one executor): what giving up costs, and which
//! idiom loses data.
//!
//! - mass: N `glommio::spawn_local`ed tasks, each holding a [`CleanupGuard`] (1 KiB buffer + `Drop`
//!   cleanup) across a 3600 s `glommio::timer::sleep`; cancelled by dropping their `Task` handles
//!   (glommio's `Task` is `#[must_use = "tasks get canceled when dropped"]`; the drop marks each
//!   task closed and schedules it, and the executor drops its future, which runs the guard).
//!   `Task::cancel().await` would also wait for that, but one task at a time; dropping the whole
//!   Vec is the mass form, and `cancel_ms` ends when the last guard ran.
//! - deadline: P workers; per op a `local_channel::new_bounded(1)` slot (glommio has no oneshot)
//!   completed by a detached responder task after its delay, awaited through
//!   `glommio::timer::timeout(T, ..)`. A timed-out worker drops the receiver; the responder's later
//!   `try_send` returns `Err` (harmless). Late responders are left to finish (none is cancelled):
//!   the program waits, untimed, until all M have.
//! - safety: `local_channel::new_bounded(16)`. Safe: `timer::timeout(1 ms, rx.recv())`; glommio's
//!   `recv` takes an item only in the poll that returns it (`State::recv_one` pops and returns in
//!   one step; the waiter's `Drop` only unregisters), so an expired tick loses nothing. That is
//!   read from its source: glommio documents no cancel safety. Unsafe: "receive two, then process"
//!   as one future under `timeout`: when the tick expires after the first `recv` completed, that
//!   item is dropped with the future (the hazard tokio's `select!` docs describe under
//!   "Cancellation safety"; glommio's `timeout` drops the timed-out future the same way).

use std::time::Instant;

use asyncbench_common::args::{Cancel, CancelVariant, Idiom};
use asyncbench_common::cancel::{
    CleanupGuard, DeadlineTally, FAR_TIMER, Latch, Mass, SAFETY_CAPACITY, SAFETY_PAUSE,
    SAFETY_TICK, SafetyTally, deadline_workers, producer_pauses_after, response_delay,
    return_freed_memory, worker_ops,
};
use asyncbench_common::clock::{self, ms_since};
use asyncbench_common::output;
use glommio::channels::local_channel::{LocalReceiver, LocalSender, new_bounded};
use glommio::timer::{sleep, timeout};

/// One `mass` task: its guard (buffer + cleanup) lives in the future across the far timer.
async fn mass_task(i: u64, mass: &'static Mass) {
    let _guard = CleanupGuard::new(i, mass);
    mass.armed.arrive();
    sleep(FAR_TIMER).await;
}

pub async fn run(args: &Cancel, cores: usize) {
    let future_bytes = size_of_val(&mass_task(0, Mass::start(1)));
    output::ready(
        "cancel",
        crate::RUNTIME,
        1,
        future_bytes,
        crate::ready_extra(cores),
    );
    match args.variant {
        CancelVariant::Mass => mass(args).await,
        CancelVariant::Deadline => deadline(args).await,
        CancelVariant::Safety => safety(args).await,
    }
}

async fn mass(args: &Cancel) {
    output::phase("start");
    let mass = Mass::start(args.tasks);
    let tasks: Vec<_> = (0..args.tasks)
        .map(|i| glommio::spawn_local(mass_task(i, mass)))
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
        .map(|w| glommio::spawn_local(deadline_worker(*args, w, responders)))
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
        let (tx, rx) = new_bounded(1);
        let delay = response_delay(&args, i);
        glommio::spawn_local(async move {
            sleep(delay).await;
            let _ = tx.try_send(i); // Err if the worker timed out and dropped `rx`: nobody waits.
            responders.arrive();
        })
        .detach();
        match timeout(args.timeout(), async { Ok(rx.recv().await) }).await {
            Ok(response) => tally.response(response.expect("a responder always sends")),
            Err(_timed_out) => tally.timeout(),
        }
    }
    tally
}

async fn safety(args: &Cancel) {
    let (tx, rx) = new_bounded(SAFETY_CAPACITY);
    let producer = glommio::spawn_local(produce(tx, args.items));
    let tally = match args.idiom {
        Idiom::Safe => consume_safe(&rx).await,
        Idiom::Unsafe => consume_two_at_a_time(&rx).await,
    };
    producer.await;
    output::cancel_safety_result(args, tally, None);
}

async fn produce(tx: LocalSender<u64>, items: u64) {
    for v in 0..items {
        if tx.send(v).await.is_err() {
            return;
        }
        if producer_pauses_after(v) {
            sleep(SAFETY_PAUSE).await;
        }
    }
}

/// `timeout(tick, recv())`: `recv` takes an item only when it returns it (see the top of this
/// file), so an expired tick loses nothing.
async fn consume_safe(rx: &LocalReceiver<u64>) -> SafetyTally {
    let mut tally = SafetyTally::default();
    loop {
        match timeout(SAFETY_TICK, async { Ok(rx.recv().await) }).await {
            Ok(Some(v)) => tally.receive(v),
            Ok(None) => return tally,
            Err(_tick) => tally.tick(),
        }
    }
}

/// UNSAFE ON PURPOSE: a multi-step future under `timeout`. When the tick expires while the pair
/// waits for its second item, the first one, already taken from the channel, is dropped with the
/// future.
async fn consume_two_at_a_time(rx: &LocalReceiver<u64>) -> SafetyTally {
    let mut tally = SafetyTally::default();
    loop {
        let pair = async {
            let Some(first) = rx.recv().await else {
                return Ok(None);
            };
            Ok(Some((first, rx.recv().await)))
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
