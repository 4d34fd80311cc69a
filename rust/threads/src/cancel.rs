//! cancel (docs/PROTOCOL.md, "cancel") without async: what giving up costs with threads.
//!
//! - mass: N threads (64 KiB stacks), each with a [`CleanupGuard`] (1 KiB buffer on its stack +
//!   `Drop` cleanup) blocked in `Condvar::wait_timeout_while` for 3600 s on a shared
//!   `Mutex<bool>`. A blocked thread cannot be cancelled from outside; the cancellation is
//!   cooperative: set the flag under the mutex and `notify_all`; every thread wakes, sees the
//!   flag, returns, and its guard runs. `cancel_ms` ends when the last guard ran; then all are
//!   joined. An OS limit on threads is reported like fanout's (one stderr line naming the limits,
//!   exit 1), not worked around.
//! - deadline: P worker threads; per op a `sync_channel(1)` slot completed by a responder thread
//!   of its own after its delay (`thread::sleep`), awaited with `Receiver::recv_timeout(T)`. A
//!   timed-out worker drops the receiver; the responder's later `send` returns `Err` (harmless).
//!   Late responders are left to finish (a sleeping thread cannot be cancelled): the program
//!   waits, untimed, until all M have.
//! - safety: `sync_channel(16)`, producer on its own thread, the consumer (main thread) loops on
//!   `recv_timeout(1 ms)`. A blocking receive either returns a message or has taken none, so there
//!   is no unsafe idiom to run: `--idiom unsafe` runs the same code and says so in `idiom_note`.

use std::io;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use asyncbench_common::args::{Cancel, CancelVariant, Idiom};
use asyncbench_common::cancel::{
    CleanupGuard, DeadlineTally, FAR_TIMER, Latch, Mass, SAFETY_CAPACITY, SAFETY_PAUSE,
    SAFETY_TICK, SafetyTally, deadline_workers, producer_pauses_after, response_delay,
    return_freed_memory, worker_ops,
};
use asyncbench_common::clock::{self, ms_since};
use asyncbench_common::output;
use serde_json::json;

use crate::{RUNTIME, STACK_BYTES, limits};

/// Why `--idiom unsafe` runs the safe code here.
const IDIOM_NOTE: &str = "std::sync::mpsc::Receiver::recv_timeout either returns a message or has \
    taken none: a blocking call has no half-done state that a timeout could drop, so threads have \
    no unsafe receive idiom; the safe code ran";

/// Responder threads alive per worker at most: the current race's, plus those of timed-out races
/// still sleeping out their 4·T. A timed-out race takes T of its worker's time, so at most 4 of
/// them fall in any 4·T window. (Bounds the pid headroom check.)
const RESPONDERS_PER_WORKER: u64 = 5;

/// The cancel flag every `mass` thread waits on.
struct Signal {
    cancelled: Mutex<bool>,
    wake: Condvar,
}

fn mass_thread(i: u64, mass: &'static Mass, signal: &'static Signal) {
    let _guard = CleanupGuard::new(i, mass);
    mass.armed.arrive();
    let cancelled = signal.cancelled.lock().expect("cancel flag");
    let _woken = signal
        .wake
        .wait_timeout_while(cancelled, FAR_TIMER, |cancelled| !*cancelled)
        .expect("cancel flag");
}

pub fn run(args: &Cancel) -> io::Result<()> {
    let threads = match args.variant {
        CancelVariant::Mass => args.tasks,
        CancelVariant::Deadline => deadline_workers(args),
        CancelVariant::Safety => 1,
    };
    let extra = json!({ "stack_bytes": STACK_BYTES });
    output::ready_without_futures("cancel", RUNTIME, threads as usize + 1, extra);
    match args.variant {
        CancelVariant::Mass => mass(args),
        CancelVariant::Deadline => deadline(args),
        CancelVariant::Safety => safety(args),
    }
}

/// Spawns a thread with the program's stack size; at an OS limit prints one line naming the
/// limits and exits 1 (the limit is the finding).
fn spawn<T: Send + 'static>(
    what: impl FnOnce() -> String,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    match thread::Builder::new().stack_size(STACK_BYTES).spawn(f) {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("{}", limits::spawn_failed_named(&what(), &e));
            std::process::exit(1);
        }
    }
}

/// A thread that started but died before doing its part (refused its signal stack by the same
/// limits, std then panics in it) is reported like a refused spawn.
fn died(what: &str) -> ! {
    let e = io::Error::other("the thread died at start-up");
    eprintln!("{}", limits::spawn_failed_named(what, &e));
    std::process::exit(1);
}

fn mass(args: &Cancel) -> io::Result<()> {
    if let Err(msg) = limits::check_pid_headroom(args.tasks) {
        eprintln!("{msg}");
        std::process::exit(1);
    }
    output::phase("start");
    let mass = Mass::start(args.tasks);
    let signal: &'static Signal = Box::leak(Box::new(Signal {
        cancelled: Mutex::new(false),
        wake: Condvar::new(),
    }));
    let n = args.tasks;
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let what = || format!("thread {i} of {n} (0-based)");
            spawn(what, move || mass_thread(i, mass, signal))
        })
        .collect();
    while !mass.armed.wait_blocking_for(Duration::from_millis(50)) {
        if let Some(i) = handles.iter().position(JoinHandle::is_finished) {
            died(&format!("thread {i} of {n} (0-based)"));
        }
    }
    output::phase("armed");
    let t0_ns = clock::now_ns();
    *signal.cancelled.lock().expect("cancel flag") = true;
    signal.wake.notify_all();
    mass.cleanups.wait_blocking();
    for (i, handle) in handles.into_iter().enumerate() {
        if handle.join().is_err() {
            died(&format!("thread {i} of {n} (0-based)"));
        }
    }
    return_freed_memory();
    output::phase("cancelled");
    output::cancel_mass_result(args, mass, t0_ns);
    Ok(())
}

fn deadline(args: &Cancel) -> io::Result<()> {
    let workers = deadline_workers(args);
    if let Err(msg) = limits::check_pid_headroom(workers * (1 + RESPONDERS_PER_WORKER)) {
        eprintln!("{msg}");
        std::process::exit(1);
    }
    let responders: &'static Latch = Box::leak(Box::new(Latch::new(args.ops)));
    let start = Instant::now();
    let args = *args;
    let handles: Vec<_> = (0..workers)
        .map(|w| {
            let what = || format!("worker thread {w} of {workers} (0-based)");
            spawn(what, move || deadline_worker(args, w, responders))
        })
        .collect();
    let mut tally = DeadlineTally::default();
    for (w, handle) in handles.into_iter().enumerate() {
        match handle.join() {
            Ok(worker) => tally.merge(worker),
            Err(_) => died(&format!("worker thread {w} of {workers} (0-based)")),
        }
    }
    let elapsed_ms = ms_since(start);
    responders.wait_blocking();
    output::cancel_deadline_result(&args, tally, elapsed_ms);
    Ok(())
}

/// Runs worker `w`'s races one after another, a responder thread per race.
fn deadline_worker(args: Cancel, w: u64, responders: &'static Latch) -> DeadlineTally {
    let mut tally = DeadlineTally::default();
    for i in worker_ops(&args, w) {
        let (tx, rx) = sync_channel(1);
        let delay = response_delay(&args, i);
        let what = || format!("responder thread for op {i}");
        // Dropping the JoinHandle detaches the responder (it runs to the end).
        spawn(what, move || {
            thread::sleep(delay);
            let _ = tx.send(i); // Err if the worker timed out and dropped `rx`: nobody waits.
            responders.arrive();
        });
        match rx.recv_timeout(args.timeout()) {
            Ok(v) => tally.response(v),
            Err(RecvTimeoutError::Timeout) => tally.timeout(),
            Err(RecvTimeoutError::Disconnected) => died(&format!("responder thread for op {i}")),
        }
    }
    tally
}

fn safety(args: &Cancel) -> io::Result<()> {
    let (tx, rx) = sync_channel(SAFETY_CAPACITY);
    let items = args.items;
    let producer = spawn(|| "the producer thread".into(), move || produce(tx, items));
    let tally = consume(&rx);
    if producer.join().is_err() {
        died("the producer thread");
    }
    let note = (args.idiom == Idiom::Unsafe).then_some(IDIOM_NOTE);
    output::cancel_safety_result(args, tally, note);
    Ok(())
}

fn produce(tx: SyncSender<u64>, items: u64) {
    for v in 0..items {
        if tx.send(v).is_err() {
            return;
        }
        if producer_pauses_after(v) {
            thread::sleep(SAFETY_PAUSE);
        }
    }
}

fn consume(rx: &Receiver<u64>) -> SafetyTally {
    let mut tally = SafetyTally::default();
    loop {
        match rx.recv_timeout(SAFETY_TICK) {
            Ok(v) => tally.receive(v),
            Err(RecvTimeoutError::Timeout) => tally.tick(),
            Err(RecvTimeoutError::Disconnected) => return tally,
        }
    }
}
