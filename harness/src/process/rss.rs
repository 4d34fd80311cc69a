//! Samples a live process's resident set size from `/proc/<pid>/statm` on a background thread, so a
//! run records how memory evolved, not just its peak.

use crate::results::RssPoint;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// At most this many points are kept; older ones are thinned by half when it fills.
const MAX_POINTS: usize = 256;

/// A running sampler; [`RssSampler::stop`] returns the timeline.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Vec<RssPoint>>>,
}

impl RssSampler {
    pub fn start(pid: i32, every: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            // SAFETY: sysconf has no preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
            let t0 = Instant::now();
            let mut points = Vec::new();
            let mut step = 1usize;
            let mut i = 0usize;
            while !flag.load(Ordering::Relaxed) {
                let Some(rss) = read_rss_pages(pid) else {
                    break;
                };
                if i.is_multiple_of(step) {
                    points.push(RssPoint {
                        t_ms: t0.elapsed().as_secs_f64() * 1e3,
                        rss_bytes: rss * page,
                    });
                    if points.len() >= MAX_POINTS {
                        points = points.into_iter().step_by(2).collect();
                        step *= 2;
                    }
                }
                i += 1;
                std::thread::sleep(every);
            }
            points
        });
        RssSampler {
            stop,
            handle: Some(handle),
        }
    }

    pub fn stop(mut self) -> Vec<RssPoint> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn read_rss_pages(pid: i32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    statm.split_whitespace().nth(1)?.parse().ok()
}
