//! The cancel workload's runtime-independent parts (docs/PROTOCOL.md, "cancel"): the countdown
//! [`Latch`] the tasks use to tell the main task "all armed" / "all cleaned up", the `mass`
//! variant's [`CleanupGuard`] and expected checksum, the `deadline` variant's splitmix64 sequence
//! and expected counts, and the `safety` variant's constants and tally.
//!
//! The runtime crates contain only what differs between runtimes: how tasks are spawned and
//! cancelled, which timeout and select primitive races a response or a receive against a timer.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use crate::args::Cancel;
use crate::clock;
use crate::fanout::{STATE_BYTES, fill_state};

/// The timer every `mass` task awaits: far enough that only cancellation ends it.
pub const FAR_TIMER: Duration = Duration::from_secs(3600);

/// Counts arrivals up to a target; the arrival that completes the count stamps the time and
/// wakes the one waiter.
///
/// Runtime-independent on purpose (a `std::task::Waker`, atomics and one mutex taken only by the
/// waiter and by the last arrival), so every Rust program signals "all armed" and "all cleaned
/// up" with the same code and the runtimes differ only in what is measured: spawning, timers and
/// cancellation. [`Latch::wait_blocking`] serves the thread baseline.
#[derive(Debug)]
pub struct Latch {
    target: u64,
    count: AtomicU64,
    /// [`clock::now_ns`] when the count reached `target`; `u64::MAX` until then.
    done_at_ns: AtomicU64,
    waiter: Mutex<Option<Waker>>,
}

impl Latch {
    pub fn new(target: u64) -> Latch {
        Latch {
            target,
            count: AtomicU64::new(0),
            done_at_ns: AtomicU64::new(if target == 0 { 0 } else { u64::MAX }),
            waiter: Mutex::new(None),
        }
    }

    /// Counts one arrival; the one that completes the count records the time and wakes the waiter.
    #[inline]
    pub fn arrive(&self) {
        if self.count.fetch_add(1, Ordering::AcqRel) + 1 == self.target {
            self.done_at_ns.store(clock::now_ns(), Ordering::Release);
            if let Some(waker) = self.waiter.lock().expect("latch mutex").take() {
                waker.wake();
            }
        }
    }

    /// Arrivals so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }

    /// [`clock::now_ns`] of the arrival that completed the count, once it has.
    pub fn done_at_ns(&self) -> Option<u64> {
        match self.done_at_ns.load(Ordering::Acquire) {
            u64::MAX => None,
            ns => Some(ns),
        }
    }

    /// Resolves once the count is complete (one waiter at a time).
    pub fn wait(&self) -> LatchWait<'_> {
        LatchWait { latch: self }
    }

    /// Blocks the calling thread until the count is complete (the thread baseline's wait).
    pub fn wait_blocking(&self) {
        while !self.wait_blocking_for(Duration::from_secs(3600)) {}
    }

    /// Blocks the calling thread until the count is complete or `limit` has passed; true if
    /// complete. (The thread baseline checks between waits that no thread died before arriving.)
    pub fn wait_blocking_for(&self, limit: Duration) -> bool {
        struct Unpark(Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let deadline = Instant::now() + limit;
        let waker = Waker::from(Arc::new(Unpark(thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut wait = pin!(self.wait());
        loop {
            if wait.as_mut().poll(&mut cx).is_ready() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            thread::park_timeout(deadline - now);
        }
    }
}

/// The future of [`Latch::wait`].
#[derive(Debug)]
pub struct LatchWait<'a> {
    latch: &'a Latch,
}

impl Future for LatchWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let latch = self.latch;
        if latch.done_at_ns().is_some() {
            return Poll::Ready(());
        }
        *latch.waiter.lock().expect("latch mutex") = Some(cx.waker().clone());
        // The last arrival may have taken the (empty) slot between the check and the store.
        if latch.done_at_ns().is_some() {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

/// The shared state of one `mass` run: who has armed, who has cleaned up, and the checksum the
/// cleanups add up.
#[derive(Debug)]
pub struct Mass {
    pub armed: Latch,
    pub cleanups: Latch,
    checksum: AtomicU64,
}

impl Mass {
    /// State for `tasks` tasks, leaked on purpose: each task holds a plain `&'static` (no reference
    /// count per spawn), and a process runs one workload.
    pub fn start(tasks: u64) -> &'static Mass {
        Box::leak(Box::new(Mass {
            armed: Latch::new(tasks),
            cleanups: Latch::new(tasks),
            checksum: AtomicU64::new(0),
        }))
    }

    /// Sum of `i + buf[1023]` over every cleanup that has run.
    pub fn cleanup_checksum(&self) -> u64 {
        self.checksum.load(Ordering::Acquire)
    }

    /// `cancel_ms`: from `t0_ns` ([`clock::now_ns`] just before the cancel request) to the moment
    /// the last cleanup ran; `None` if not every cleanup has run.
    pub fn cancel_ms(&self, t0_ns: u64) -> Option<f64> {
        let done = self.cleanups.done_at_ns()?;
        Some(done.saturating_sub(t0_ns) as f64 / 1e6)
    }
}

/// Task `i`'s 1 KiB buffer and cleanup guard in one: its `Drop` is the cleanup, and it reads the
/// buffer, so the buffer must still be alive when the task is cancelled.
///
/// Held in a task's future across its await, the buffer is part of the task's own allocation
/// (the ready line's `future_bytes` shows it); on a thread it lives on the thread's stack.
#[derive(Debug)]
pub struct CleanupGuard {
    i: u64,
    buf: [u8; STATE_BYTES],
    mass: &'static Mass,
}

impl CleanupGuard {
    /// Fills task `i`'s buffer: `buf[j] = (i + j) mod 256`.
    pub fn new(i: u64, mass: &'static Mass) -> CleanupGuard {
        let mut buf = [0u8; STATE_BYTES];
        fill_state(&mut buf, i);
        CleanupGuard { i, buf, mass }
    }
}

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        let contribution = self.i + u64::from(self.buf[STATE_BYTES - 1]);
        self.mass.checksum.fetch_add(contribution, Ordering::AcqRel);
        self.mass.cleanups.arrive();
    }
}

/// The `cleanup_checksum` a correct `mass` run of `n` tasks reports:
/// N(N−1)/2 + Σ_{i<N} ((i + 1023) mod 256).
pub fn expected_cleanup_checksum(n: u64) -> u64 {
    let last = STATE_BYTES as u64 - 1;
    let full_cycles = n / 256;
    // Over any 256 consecutive i, (i + 1023) mod 256 takes every value 0..=255 once.
    let cycle_sum = full_cycles * (255 * 256 / 2);
    let rest: u64 = (full_cycles * 256..n).map(|i| (i + last) % 256).sum();
    n * (n - 1) / 2 + cycle_sum + rest
}

/// The `mass` variant's collection point, Rust's analogue of Go's `debug.FreeOSMemory()`: hands
/// the heap memory already freed back to the OS (glibc `malloc_trim(0)`).
///
/// Rust has no GC, but glibc keeps freed chunks in its arenas, so without this the RSS after
/// cancellation would barely move for every runtime (reclaimed ≈ 0 %) and could not tell freed
/// from still held. After the trim, RSS shows what the runtime really still holds (e.g. glommio
/// 0.9 not freeing cancelled tasks, DataDog/glommio#636). Call it after every task has been
/// joined/dropped. A no-op where the allocator is not glibc's.
pub fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own arenas under their locks; no Rust invariant is
    // involved.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// splitmix64's increment (the golden-ratio gamma).
pub const SPLITMIX64_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The protocol's PRNG: splitmix64 (Steele, Lea, Flood 2014), identical in every language.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }
}

impl Iterator for SplitMix64 {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        self.state = self.state.wrapping_add(SPLITMIX64_GAMMA);
        Some(splitmix64_mix(self.state))
    }
}

/// splitmix64's output function.
pub fn splitmix64_mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// x_i, the i-th output (0-based) after seeding with `seed`, in O(1): the state after i + 1 steps
/// is `seed + (i + 1)·gamma`. Each worker computes its own ops' values, so nothing is drawn up front
/// (M values in a table would add M·8 bytes to the RSS the harness compares across M).
pub fn splitmix64_at(seed: u64, i: u64) -> u64 {
    splitmix64_mix(seed.wrapping_add(SPLITMIX64_GAMMA.wrapping_mul(i.wrapping_add(1))))
}

/// Whether op `i`'s timeout wins (its responder waits 4·T), from x_i.
pub fn times_out(x: u64) -> bool {
    x.is_multiple_of(4)
}

/// How long op `i`'s responder waits before completing the slot: T/4 (whole ms, at least 1) when
/// the response wins, 4·T when the timeout wins.
pub fn response_delay(args: &Cancel, i: u64) -> Duration {
    let ms = if times_out(splitmix64_at(args.seed, i)) {
        4 * args.timeout_ms
    } else {
        (args.timeout_ms / 4).max(1)
    };
    Duration::from_millis(ms)
}

/// The worker tasks of a `deadline` run: `min(P, M)` (a worker without ops is not started).
pub fn deadline_workers(args: &Cancel) -> u64 {
    args.concurrency.min(args.ops)
}

/// The ops worker `w` runs one after another: `w, w + P, w + 2P, … < M`.
pub fn worker_ops(args: &Cancel, w: u64) -> impl Iterator<Item = u64> + use<> {
    (w..args.ops).step_by(args.concurrency as usize)
}

/// What the `deadline` races came to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineTally {
    pub timeouts: u64,
    /// Σ of the values of the responses that won.
    pub response_sum: u64,
}

impl DeadlineTally {
    pub fn response(&mut self, value: u64) {
        self.response_sum += value;
    }

    pub fn timeout(&mut self) {
        self.timeouts += 1;
    }

    pub fn merge(&mut self, other: DeadlineTally) {
        self.timeouts += other.timeouts;
        self.response_sum += other.response_sum;
    }
}

/// The tally a correct `deadline` run of `ops` races with `seed` reports.
pub fn expected_deadline(seed: u64, ops: u64) -> DeadlineTally {
    let mut tally = DeadlineTally::default();
    for (i, x) in SplitMix64::new(seed).take(ops as usize).enumerate() {
        if times_out(x) {
            tally.timeout();
        } else {
            tally.response(i as u64);
        }
    }
    tally
}

/// The `safety` channel's capacity.
pub const SAFETY_CAPACITY: usize = 16;
/// The producer sleeps [`SAFETY_PAUSE`] after every this many sends. Odd on purpose: with an
/// even burst "receive two then process" always ends a burst on a whole pair, so the unsafe idiom
/// would almost never have a pair half-taken when the tick fires.
pub const SAFETY_BURST: u64 = 63;
/// Longer than [`SAFETY_TICK`], so the tick regularly fires while the consumer waits mid-pair
/// (with a pause equal to the tick, a runtime may always wake the producer first).
pub const SAFETY_PAUSE: Duration = Duration::from_millis(2);
/// The consumer's "or a 1 ms tick".
pub const SAFETY_TICK: Duration = Duration::from_millis(1);

/// Whether the producer sleeps after sending value `v` (after every [`SAFETY_BURST`] sends).
pub fn producer_pauses_after(v: u64) -> bool {
    (v + 1).is_multiple_of(SAFETY_BURST)
}

/// What the `safety` consumer saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SafetyTally {
    pub received: u64,
    /// Σ of the received values.
    pub checksum: u64,
    /// Times the tick won the race.
    pub ticks: u64,
}

impl SafetyTally {
    pub fn receive(&mut self, value: u64) {
        self.received += 1;
        self.checksum += value;
    }

    pub fn tick(&mut self) {
        self.ticks += 1;
    }
}

/// The checksum of a `safety` run of `items` values that lost none: K(K−1)/2.
pub fn expected_safety_checksum(items: u64) -> u64 {
    items * items.saturating_sub(1) / 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{CancelVariant, Idiom};

    fn args(seed: u64, ops: u64, timeout_ms: u64, concurrency: u64) -> Cancel {
        Cancel {
            variant: CancelVariant::Deadline,
            tasks: 1,
            ops,
            timeout_ms,
            concurrency,
            seed,
            items: 1,
            idiom: Idiom::Safe,
        }
    }

    #[test]
    fn splitmix64_protocol_vectors() {
        let mut rng = SplitMix64::new(1);
        assert_eq!(rng.next(), Some(0x910A_2DEC_8902_5CC1));
        assert_eq!(rng.next(), Some(0xBEEB_8DA1_658E_EC67));
        for (i, x) in SplitMix64::new(0xDEAD_BEEF).take(1000).enumerate() {
            assert_eq!(splitmix64_at(0xDEAD_BEEF, i as u64), x, "op {i}");
        }
        assert_eq!(
            splitmix64_at(u64::MAX, 0),
            SplitMix64::new(u64::MAX).next().unwrap()
        );
    }

    #[test]
    fn deadline_protocol_vectors() {
        assert_eq!(
            expected_deadline(1, 100_000),
            DeadlineTally {
                timeouts: 25_009,
                response_sum: 3_749_933_481
            }
        );
    }

    #[test]
    fn delays_follow_the_draw() {
        let a = args(1, 10, 20, 3);
        // x_0 = 0x…5CC1 (odd: the response wins); x_1 = 0x…EC67 (odd too).
        assert_eq!(response_delay(&a, 0), Duration::from_millis(5));
        let late = (0..100).find(|&i| times_out(splitmix64_at(1, i))).unwrap();
        assert_eq!(response_delay(&a, late), Duration::from_millis(80));
        let tiny = args(1, 10, 3, 3);
        assert_eq!(
            response_delay(&tiny, 0),
            Duration::from_millis(1),
            "T/4 ≥ 1 ms"
        );
    }

    #[test]
    fn workers_cover_every_op_once() {
        let a = args(1, 10, 20, 3);
        assert_eq!(deadline_workers(&a), 3);
        let mut ops: Vec<u64> = (0..3).flat_map(|w| worker_ops(&a, w)).collect();
        assert_eq!(worker_ops(&a, 1).collect::<Vec<_>>(), [1, 4, 7]);
        ops.sort();
        assert_eq!(ops, (0..10).collect::<Vec<_>>());
        assert_eq!(deadline_workers(&args(1, 2, 20, 1000)), 2);
    }

    #[test]
    fn mass_checksum_matches_its_formula() {
        for n in [1, 2, 255, 256, 257, 1000, 10_000] {
            let direct: u64 = (0..n).map(|i| i + (i + 1023) % 256).sum();
            assert_eq!(expected_cleanup_checksum(n), direct, "n = {n}");
        }
    }

    #[test]
    fn every_guard_cleans_up_once_and_the_last_stamps_the_time() {
        let mass = Mass::start(300);
        let guards: Vec<_> = (0..300).map(|i| CleanupGuard::new(i, mass)).collect();
        let t0 = clock::now_ns();
        assert_eq!(mass.cancel_ms(t0), None);
        drop(guards);
        assert_eq!(mass.cleanups.count(), 300);
        assert_eq!(mass.cleanup_checksum(), expected_cleanup_checksum(300));
        assert!(mass.cancel_ms(t0).is_some_and(|ms| ms >= 0.0));
    }

    #[test]
    fn latch_wakes_its_waiter_across_threads() {
        let latch: &'static Latch = Box::leak(Box::new(Latch::new(64)));
        thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| (0..8).for_each(|_| latch.arrive()));
            }
            latch.wait_blocking();
        });
        assert_eq!(latch.count(), 64);
        assert!(latch.done_at_ns().is_some());
        let never = Latch::new(1);
        assert!(!never.wait_blocking_for(Duration::from_millis(5)));
        never.arrive();
        assert!(never.wait_blocking_for(Duration::ZERO));
    }

    #[test]
    fn latch_is_pending_until_complete() {
        let latch = Latch::new(2);
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut wait = pin!(latch.wait());
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        latch.arrive();
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        latch.arrive();
        assert!(wait.as_mut().poll(&mut cx).is_ready());
        assert!(Latch::new(0).done_at_ns().is_some(), "nothing to wait for");
    }

    #[test]
    fn safety_bookkeeping() {
        assert!(!producer_pauses_after(0));
        assert!(producer_pauses_after(62));
        assert!(producer_pauses_after(125));
        assert!(!producer_pauses_after(63));
        assert_eq!(SAFETY_BURST % 2, 1, "an odd burst splits pairs");
        assert!(SAFETY_PAUSE > SAFETY_TICK);
        let mut t = SafetyTally::default();
        (0..20_000).for_each(|v| t.receive(v));
        t.tick();
        assert_eq!(t.checksum, expected_safety_checksum(20_000));
        assert_eq!((t.received, t.ticks), (20_000, 1));
        assert_eq!(expected_safety_checksum(1), 0);
    }
}
