//! Monotonic time: a process-wide origin for stream latency stamps, and millisecond helpers.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

static ORIGIN: OnceLock<Instant> = OnceLock::new();

/// Fixes the process-wide origin (call once at start-up, before any stamp is taken).
pub fn init() {
    origin();
}

/// The process-wide monotonic origin ([`Instant`], i.e. CLOCK_MONOTONIC on Linux).
pub fn origin() -> Instant {
    *ORIGIN.get_or_init(Instant::now)
}

/// Nanoseconds since [`origin`]; comparable across threads.
pub fn now_ns() -> u64 {
    origin().elapsed().as_nanos() as u64
}

/// A duration in (fractional) milliseconds, as the protocol reports times.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Milliseconds elapsed since `start`.
pub fn ms_since(start: Instant) -> f64 {
    ms(start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_monotonic() {
        init();
        let a = now_ns();
        let b = now_ns();
        assert!(b >= a);
        assert_eq!(ms(Duration::from_micros(1500)), 1.5);
    }
}
