//! A precise async timer for pacing the open loop: a `timerfd` armed with an absolute CLOCK_MONOTONIC
//! deadline and awaited through tokio's reactor.
//!
//! tokio's own timer wheel has 1 ms granularity: every sender whose message is due within the same
//! millisecond would wake at the same tick, turning a constant-rate schedule into bursts whose queueing
//! shows up as latency that no server caused. A timerfd fires within microseconds of its deadline
//! (timer slack is lowered for the load generator's threads), so messages leave on schedule.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;
use tokio::io::unix::AsyncFd;

/// One timerfd, reused for every wait of one sender.
pub struct PreciseTimer {
    fd: AsyncFd<OwnedFd>,
}

impl PreciseTimer {
    pub fn new() -> io::Result<Self> {
        // SAFETY: timerfd_create returns a new descriptor we own or -1.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh, valid descriptor owned by nobody else.
        let owned = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: an OwnedFd stays open and returns the same descriptor for as long as the AsyncFd
        // owns it.
        let fd = unsafe { AsyncFd::register_with_interest(owned, tokio::io::Interest::READABLE) }
            .map_err(io::Error::from)?;
        Ok(PreciseTimer { fd })
    }

    /// Waits until `deadline` (returns at once if it has passed).
    pub async fn sleep_until(&self, deadline: Instant) -> io::Result<()> {
        let now = Instant::now();
        if deadline <= now {
            return Ok(());
        }
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes into a timespec we own. `Instant` is CLOCK_MONOTONIC on Linux.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        let wait = deadline - now;
        let total_ns = ts.tv_nsec as u128 + wait.as_nanos();
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: ts.tv_sec + (total_ns / 1_000_000_000) as libc::time_t,
                tv_nsec: (total_ns % 1_000_000_000) as libc::c_long,
            },
        };
        // SAFETY: arming our own timerfd with a valid itimerspec.
        let r = unsafe {
            libc::timerfd_settime(
                self.fd.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        loop {
            let mut guard = self.fd.readable().await?;
            let mut expirations = [0u8; 8];
            // SAFETY: reading 8 bytes into a buffer we own from our own descriptor.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), expirations.as_mut_ptr().cast(), 8) };
            if n == 8 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::WouldBlock {
                guard.clear_ready();
                continue;
            }
            return Err(err);
        }
    }
}

/// Lowers the calling thread's timer slack to 1 µs so timer wake-ups are not deferred by the default
/// 50 µs the kernel may add to coalesce them.
pub fn tighten_timer_slack() {
    // SAFETY: prctl with PR_SET_TIMERSLACK only changes this thread's timer slack.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1_000 as libc::c_ulong, 0, 0, 0) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn wakes_close_to_the_deadline_not_at_the_next_millisecond() {
        tighten_timer_slack();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let t = PreciseTimer::new().unwrap();
            let start = Instant::now();
            let deadline = start + Duration::from_micros(300);
            t.sleep_until(deadline).await.unwrap();
            assert!(Instant::now() >= deadline, "woke before the deadline");
            // A passed deadline returns at once.
            t.sleep_until(start).await.unwrap();
        });
    }
}
