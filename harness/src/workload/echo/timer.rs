//! Precise sleeping for the client's epoll loop: wait for socket readiness *or* the next intended send
//! time, whichever comes first, with nanosecond deadlines.
//!
//! `epoll_wait` takes milliseconds: arrivals due within the same millisecond would leave in bursts and
//! their queueing would show up as latency no server caused. `epoll_pwait2` (Linux ≥ 5.11) takes a
//! timespec; older kernels get a `timerfd` armed for the deadline inside the same epoll set. With the
//! thread's timer slack at 1 ns the kernel does not defer the wake-up to coalesce timers.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The epoll token of the fallback timerfd (connection tokens are small indices).
pub const TIMER_TOKEN: u64 = u64::MAX;

/// Waits on one epoll set with a nanosecond timeout.
pub struct Waiter {
    epfd: RawFd,
    /// `None`: epoll_pwait2 works. `Some`: a timerfd registered in the epoll set.
    timerfd: Option<OwnedFd>,
}

impl Waiter {
    /// Probes `epoll_pwait2` once; falls back to a timerfd when the kernel lacks it.
    pub fn new(epfd: RawFd) -> io::Result<Self> {
        let mut w = Waiter {
            epfd,
            timerfd: None,
        };
        let mut ev = [libc::epoll_event { events: 0, u64: 0 }];
        match w.pwait2(&mut ev, 0) {
            Ok(_) => Ok(w),
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
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
                // SAFETY: a fresh descriptor owned by nobody else.
                let fd = unsafe { OwnedFd::from_raw_fd(raw) };
                let mut reg = libc::epoll_event {
                    events: libc::EPOLLIN as u32,
                    u64: TIMER_TOKEN,
                };
                // SAFETY: registering our own open descriptor with our own epoll set.
                if unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd.as_raw_fd(), &mut reg) }
                    < 0
                {
                    return Err(io::Error::last_os_error());
                }
                w.timerfd = Some(fd);
                Ok(w)
            }
            Err(e) => Err(e),
        }
    }

    /// Which mechanism sleeps: recorded with the results.
    pub fn kind(&self) -> &'static str {
        if self.timerfd.is_some() {
            "timerfd"
        } else {
            "epoll_pwait2"
        }
    }

    /// Waits up to `timeout_ns` for events; returns how many were written to `events` (a fallback
    /// timer expiry may appear as an event with [`TIMER_TOKEN`]). EINTR counts as zero events.
    pub fn wait(&self, events: &mut [libc::epoll_event], timeout_ns: u64) -> io::Result<usize> {
        let Some(tfd) = &self.timerfd else {
            return self.pwait2(events, timeout_ns);
        };
        let ms = if timeout_ns == 0 {
            0
        } else {
            let spec = libc::itimerspec {
                it_interval: libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: timespec(timeout_ns),
            };
            // SAFETY: arming our own timerfd (relative time) with a valid itimerspec. Re-arming resets
            // its expiration count, so a stale expiry cannot wake a later wait early.
            if unsafe { libc::timerfd_settime(tfd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) } < 0
            {
                return Err(io::Error::last_os_error());
            }
            -1
        };
        // SAFETY: epoll_wait writes at most `events.len()` entries into our buffer.
        let n = unsafe {
            libc::epoll_wait(
                self.epfd,
                events.as_mut_ptr(),
                events.len().min(i32::MAX as usize) as i32,
                ms,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(0)
            } else {
                Err(e)
            };
        }
        let n = n as usize;
        if events[..n].iter().any(|e| e.u64 == TIMER_TOKEN) {
            let mut expirations = [0u8; 8];
            // SAFETY: reading 8 bytes into a buffer we own from our own nonblocking descriptor.
            unsafe { libc::read(tfd.as_raw_fd(), expirations.as_mut_ptr().cast(), 8) };
        }
        Ok(n)
    }

    fn pwait2(&self, events: &mut [libc::epoll_event], timeout_ns: u64) -> io::Result<usize> {
        let ts = timespec(timeout_ns);
        // SAFETY: the raw syscall (glibc's wrapper needs 2.35) with our epoll fd, a buffer of
        // `events.len()` entries, a valid timespec and no signal mask.
        let n = unsafe {
            libc::syscall(
                libc::SYS_epoll_pwait2,
                self.epfd,
                events.as_mut_ptr(),
                events.len().min(i32::MAX as usize) as libc::c_int,
                &ts as *const libc::timespec,
                std::ptr::null::<libc::sigset_t>(),
                0usize,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(0)
            } else {
                Err(e)
            };
        }
        Ok(n as usize)
    }
}

fn timespec(ns: u64) -> libc::timespec {
    libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    }
}

/// Lowers the calling thread's timer slack to 1 ns so timed wake-ups are not deferred by the default
/// 50 µs the kernel may add to coalesce them.
pub fn tighten_timer_slack() {
    // SAFETY: prctl with PR_SET_TIMERSLACK only changes this thread's timer slack.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn an_empty_wait_returns_at_its_deadline_not_a_millisecond_later() {
        tighten_timer_slack();
        // SAFETY: a fresh epoll set, closed when `ep` drops.
        let ep = unsafe { OwnedFd::from_raw_fd(libc::epoll_create1(libc::EPOLL_CLOEXEC)) };
        let w = Waiter::new(ep.as_raw_fd()).unwrap();
        let mut ev = [libc::epoll_event { events: 0, u64: 0 }; 4];
        let start = Instant::now();
        w.wait(&mut ev, 300_000).unwrap();
        assert!(
            start.elapsed() >= Duration::from_micros(300),
            "woke before the deadline"
        );
        // A zero timeout returns at once.
        assert_eq!(w.wait(&mut ev, 0).unwrap(), 0);
    }
}
