//! Samples a live process's memory from `/proc` on a background thread: the RSS timeline (`statm`) and
//! a sampled peak (`VmHWM`, the high-water mark of the process's own address space).
//!
//! Where the reported peak RSS comes from:
//! - Exactly, from `ru_maxrss` as reported by the launcher (`Usage::peak_rss_bytes`), for every
//!   measured program started through it: the program is forked from a process of under 1 MB, so its
//!   `ru_maxrss` is its own peak however briefly it lives (as with GNU `time`). Preferred.
//! - From this sampler's `VmHWM` otherwise (no C compiler at build time; see `child.rs`). Not from
//!   `wait4`'s `ru_maxrss` of a child forked from the harness: on Linux, `exec` carries the high-water
//!   mark of the address space it replaces into the new program's `maxrss` (`exec_mmap` →
//!   `setmax_mm_hiwater_rss`), so such a child reports at least the harness's own RSS at fork time
//!   (~30 MB), which would swamp a 3 MB Rust server. `VmHWM` belongs to the new address space only and
//!   is monotonic, so the last sample before exit is the peak, missing at most the growth of the final
//!   sampling interval; a program that lives only a few ms may be sampled once or never.
//!
//! The timeline is always sampled (it shows how memory evolved, which no single number can).

use crate::results::RssPoint;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// At most this many timeline points are kept; older ones are thinned by half when it fills.
const MAX_POINTS: usize = 256;

/// How often `/proc` is read.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// What the sampler saw.
#[derive(Debug, Clone, Default)]
pub struct MemoryReport {
    pub timeline: Vec<RssPoint>,
    /// The largest `VmHWM` read, in bytes; `None` if the process was gone before the first read.
    pub peak_rss_bytes: Option<u64>,
}

/// The RSS timeline as it is sampled: at most [`MAX_POINTS`] points, thinned by half (and the
/// sampling step doubled) whenever it fills, so a long run keeps an even picture of its whole life.
#[derive(Debug, Default)]
pub(super) struct Timeline {
    pub points: Vec<RssPoint>,
    step: usize,
    seen: usize,
    /// The sampled process is gone (remote probes say so).
    pub gone: bool,
}

impl Timeline {
    pub fn push(&mut self, p: RssPoint) {
        let step = self.step.max(1);
        if self.seen.is_multiple_of(step) {
            self.points.push(p);
            if self.points.len() >= MAX_POINTS {
                self.points = std::mem::take(&mut self.points)
                    .into_iter()
                    .step_by(2)
                    .collect();
                self.step = step * 2;
            }
        }
        self.seen += 1;
    }
}

/// A running sampler of one measured program wherever it runs: this machine's `/proc` on a background
/// thread, or, for a program on another host, a probe there ([`super::probe`]). Besides the timeline
/// and peak ([`RssSampler::stop`], [`RssSampler::finish`]) it answers point questions about the program
/// and its host at a moment the caller chooses (a phase, the edges of a measured window).
pub struct RssSampler {
    pid: i32,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<MemoryReport>>,
    remote: Option<super::probe::RemoteProbe>,
}

/// The host a program ran on, seen at one moment: its CPU counters and whether it is this machine.
#[derive(Debug, Clone, PartialEq)]
pub struct HostMoment {
    pub ticks: super::probe::HostTicks,
    /// The host's boot id (equal ids: one machine).
    pub boot_id: Option<String>,
}

impl RssSampler {
    /// Samples a process on this machine.
    pub fn start(pid: i32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            // SAFETY: sysconf has no preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
            let t0 = Instant::now();
            let mut report = MemoryReport::default();
            let mut timeline = Timeline::default();
            // Stop when asked, or when the process is gone (its /proc entry vanishes once reaped).
            while !flag.load(Ordering::Relaxed) {
                let Some((rss_pages, hwm_bytes)) = read(pid) else {
                    break;
                };
                if hwm_bytes > 0 {
                    report.peak_rss_bytes = Some(report.peak_rss_bytes.unwrap_or(0).max(hwm_bytes));
                }
                timeline.push(RssPoint {
                    t_ms: t0.elapsed().as_secs_f64() * 1e3,
                    rss_bytes: rss_pages * page,
                });
                std::thread::sleep(SAMPLE_EVERY);
            }
            report.timeline = timeline.points;
            report
        });
        RssSampler {
            pid,
            stop,
            handle: Some(handle),
            remote: None,
        }
    }

    /// Samples `child` where it runs: here, or through a probe on its host. A probe that cannot be
    /// started leaves the sampler empty (no timeline, no point samples), never a local stand-in.
    pub fn of(child: &super::Running) -> Self {
        let Some((remote, pid)) = child.remote_target() else {
            return Self::start(child.pid);
        };
        let probe = super::probe::RemoteProbe::start(
            &remote.probe_command(pid),
            remote.describe(),
            Instant::now(),
        );
        if let Err(e) = &probe {
            crate::ui::warn(&format!(
                "cannot start the probe on {}: {e}; the program's memory and CPU go unsampled",
                remote.describe()
            ));
        }
        RssSampler {
            pid: super::REMOTE_PID,
            stop: Arc::new(AtomicBool::new(true)),
            handle: None,
            remote: probe.ok(),
        }
    }

    /// The program's CPU time (user + system) so far, in seconds; `None` once it is gone.
    pub fn cpu_s(&self) -> Option<f64> {
        match &self.remote {
            Some(p) => p.now()?.cpu_s,
            None if self.pid == super::REMOTE_PID => None,
            None => super::proc_cpu_s(self.pid),
        }
    }

    /// The program's resident memory now, in bytes; `None` once it is gone.
    pub fn rss_bytes(&self) -> Option<u64> {
        match &self.remote {
            Some(p) => p.now()?.rss_bytes,
            None if self.pid == super::REMOTE_PID => None,
            None => super::probe::read_process(self.pid).map(|p| p.0),
        }
    }

    /// The program's CPU time and its host's CPU counters at one moment (one round trip for a remote
    /// program); `None` when the host cannot be read.
    pub fn moment(&self) -> Option<(Option<f64>, HostMoment)> {
        let s = match &self.remote {
            Some(p) => p.now()?,
            None => super::probe::sample(self.pid, 0.0, true),
        };
        Some((
            s.cpu_s,
            HostMoment {
                ticks: s.host?,
                boot_id: s.boot_id,
            },
        ))
    }

    /// The program's host when it is not this machine (`user@host:port`).
    pub fn host(&self) -> Option<String> {
        self.remote.as_ref().map(|p| p.host.clone())
    }

    /// Whether the program runs on another host (sampled by a probe there).
    pub fn is_remote(&self) -> bool {
        self.pid == super::REMOTE_PID
    }

    /// Stops sampling (the process may still be running) and returns what was seen.
    pub fn stop(mut self) -> MemoryReport {
        if let Some(p) = self.remote.take() {
            return p.stop();
        }
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }

    /// Waits for the sampler to notice the process is gone, then returns what was seen.
    pub fn finish(mut self) -> MemoryReport {
        if let Some(p) = self.remote.take() {
            return p.finish();
        }
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

/// (resident pages from statm, VmHWM in bytes from status); `None` once the process is gone or a
/// zombie (whose address space is already released).
fn read(pid: i32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let hwm_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())?;
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let rss_pages = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some((rss_pages, hwm_kib * 1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_child_by_its_own_address_space_not_the_parents() {
        // A parent that holds 64 MiB, then a small child: the child's peak must not include the 64 MiB.
        let ballast = vec![1u8; 64 << 20];
        std::hint::black_box(&ballast);
        let mut child = std::process::Command::new("sleep")
            .arg("0.3")
            .spawn()
            .unwrap();
        let report = RssSampler::start(child.id() as i32);
        child.wait().unwrap();
        let report = report.finish();
        let peak = report.peak_rss_bytes.expect("sampled at least once");
        assert!(
            peak > 0 && peak < 32 << 20,
            "sleep's peak RSS should be a few MiB, got {peak}"
        );
        assert!(!report.timeline.is_empty());
        drop(ballast);
    }
}
