//! The fan-out workload's arithmetic (the `state` buffer, the expected checksums) and its clock:
//! [`Armed`], which times `spawn_ms` as "every task has armed its timer" (docs/PROTOCOL.md).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::args::FanoutVariant;
use crate::clock;

/// Counts tasks that have armed their timer and times the moment the last one does.
///
/// `spawn_ms` measured when the spawn loop returns would mean "handles created" on runtimes that
/// start a task lazily and "timers running" on others; counting inside the tasks, immediately
/// before each awaits its timer, means the same everywhere (and includes the first poll of every
/// task on the runtimes that only poll after the spawn loop yields). One uncontended atomic add per
/// task on single-threaded executors, the same code on every Rust runtime and on `rust-threads`.
#[derive(Debug)]
pub struct Armed {
    tasks: u64,
    count: AtomicU64,
    /// Nanoseconds from `start` to the last task's [`Armed::arm`]; `u64::MAX` until then.
    all_armed_ns: AtomicU64,
    start: Instant,
}

impl Armed {
    /// Starts the clock for `tasks` tasks. The counter is leaked on purpose: each task holds a
    /// plain `&'static` (no reference counting per spawn), and a process runs one fan-out.
    pub fn start(tasks: u64) -> &'static Armed {
        Box::leak(Box::new(Armed {
            tasks,
            count: AtomicU64::new(0),
            all_armed_ns: AtomicU64::new(u64::MAX),
            start: Instant::now(),
        }))
    }

    /// When the clock started (just before the first spawn).
    pub fn started(&self) -> Instant {
        self.start
    }

    /// Called by every task immediately before it awaits its timer; the task that completes the
    /// count records the time.
    #[inline]
    pub fn arm(&self) {
        if self.count.fetch_add(1, Ordering::AcqRel) + 1 == self.tasks {
            let ns = self.start.elapsed().as_nanos() as u64;
            self.all_armed_ns.store(ns, Ordering::Release);
        }
    }

    /// `spawn_ms`: read after every task has been joined; `None` if not every task armed its timer.
    pub fn spawn_ms(&self) -> Option<f64> {
        match self.all_armed_ns.load(Ordering::Acquire) {
            u64::MAX => None,
            ns => Some(clock::ms(std::time::Duration::from_nanos(ns))),
        }
    }
}

/// Size of each `state` task's own buffer.
pub const STATE_BYTES: usize = 1024;

/// Sum of any filled buffer: 1024 bytes cycle through 0..=255 four times (4 · 32640).
pub const STATE_SUM: u64 = 130_560;

/// Fills task `i`'s buffer: `buf[j] = (i + j) mod 256`.
pub fn fill_state(buf: &mut [u8; STATE_BYTES], i: u64) {
    for (j, b) in buf.iter_mut().enumerate() {
        *b = (i as usize).wrapping_add(j) as u8;
    }
}

/// Sums the bytes of a buffer (done after the timer, so the buffer must live across the await).
pub fn sum_state(buf: &[u8; STATE_BYTES]) -> u64 {
    buf.iter().map(|&b| u64::from(b)).sum()
}

/// What task `i` of a `state` fan-out contributes, given its buffer.
pub fn state_contribution(i: u64, buf: &[u8; STATE_BYTES]) -> u64 {
    i + sum_state(buf)
}

/// The checksum a correct run of `n` tasks reports.
pub fn expected_checksum(n: u64, variant: FanoutVariant) -> u64 {
    let bare = n * (n - 1) / 2;
    match variant {
        FanoutVariant::Bare => bare,
        FanoutVariant::State => bare + n * STATE_SUM,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_test_vectors() {
        assert_eq!(expected_checksum(1000, FanoutVariant::Bare), 499_500);
        assert_eq!(expected_checksum(1000, FanoutVariant::State), 131_059_500);
    }

    #[test]
    fn task_contributions_add_up() {
        let mut buf = [0u8; STATE_BYTES];
        let mut bare = 0;
        let mut state = 0;
        for i in 0..1000 {
            fill_state(&mut buf, i);
            assert_eq!(sum_state(&buf), STATE_SUM);
            bare += i;
            state += state_contribution(i, &buf);
        }
        assert_eq!(bare, expected_checksum(1000, FanoutVariant::Bare));
        assert_eq!(state, expected_checksum(1000, FanoutVariant::State));
        fill_state(&mut buf, 300);
        assert_eq!((buf[0], buf[1], buf[255]), (44, 45, 43));
    }

    #[test]
    fn the_task_completing_the_count_records_the_time() {
        let armed = Armed::start(3);
        armed.arm();
        armed.arm();
        assert_eq!(armed.spawn_ms(), None, "one task has not armed yet");
        std::thread::sleep(std::time::Duration::from_millis(5));
        armed.arm();
        let ms = armed.spawn_ms().expect("all armed");
        assert!((5.0..1000.0).contains(&ms), "{ms}");
        assert!(ms <= clock::ms_since(armed.started()));
    }

    #[test]
    fn armed_counts_across_threads() {
        let armed = Armed::start(64);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| (0..8).for_each(|_| armed.arm()));
            }
        });
        assert!(armed.spawn_ms().is_some());
    }
}
