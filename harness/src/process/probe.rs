//! Observing a process on another host: the local end of `asyncbench probe`, which the harness starts
//! over ssh on the host that runs a measured program (`run --server-host`) to read that host's `/proc`
//! for it. Without it, samplers here would read this machine's `/proc`, where a remote program does not
//! exist.
//!
//! The protocol on the ssh channel is line based. The probe writes `asyncbench-probe tick {json}` every
//! [`super::rss::SAMPLE_EVERY`] (the RSS timeline and peak) and answers each `now` line on its stdin at
//! once with `asyncbench-probe now {json}` (a point sample: CPU, RSS, threads and the host's CPU
//! counters, for the moments the harness must pin down, such as a phase of `cancel --variant mass` or
//! the edges of an echo window); once the program is gone it writes `asyncbench-probe gone` and keeps
//! answering `now` with the host's counters only. It exits on stdin EOF, when its channel closes, at
//! its deadline or when its sshd session dies: nothing survives the channel.

use crate::results::RssPoint;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The prefix of every line the probe writes (a login banner may share stdout).
pub const PREFIX: &str = "asyncbench-probe ";
/// How long a point sample may take over the channel before it counts as missing.
const NOW_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`RemoteProbe::finish`] waits for the probe to see the program gone.
const FINISH_TIMEOUT: Duration = Duration::from_secs(15);

/// A host's CPU counters from `/proc/stat` (all CPUs; ticks of `USER_HZ`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostTicks {
    /// user + nice + system + irq + softirq.
    pub busy: u64,
    pub steal: u64,
    pub idle: u64,
}

/// One observation of a process (fields `None` once it is gone) and of its host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Since the probe started, on the probe's clock.
    pub t_ms: f64,
    pub rss_bytes: Option<u64>,
    /// `VmHWM`: the process's own peak so far.
    pub hwm_bytes: Option<u64>,
    /// User + system CPU of the process so far.
    pub cpu_s: Option<f64>,
    pub threads: Option<u64>,
    /// Only in `now` answers: the host's CPU counters.
    pub host: Option<HostTicks>,
    /// Only in `now` answers: `/proc/sys/kernel/random/boot_id`, which tells whether two hosts are one
    /// machine (then their CPU counters are the same counters).
    pub boot_id: Option<String>,
}

/// This machine's boot id (see [`Sample::boot_id`]).
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Reads this host's `/proc/stat` totals (the `cpu` line).
pub fn host_ticks() -> Option<HostTicks> {
    parse_host_ticks(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// The aggregate `cpu` line of a `/proc/stat` text.
pub fn parse_host_ticks(text: &str) -> Option<HostTicks> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    let at = |i: usize| f.get(i).copied().unwrap_or(0);
    Some(HostTicks {
        busy: at(0) + at(1) + at(2) + at(5) + at(6),
        idle: at(3) + at(4),
        steal: at(7),
    })
}

/// Reads `pid`'s RSS, peak, CPU and threads from this host's `/proc`; `None` once it is gone (or a
/// zombie, whose memory is already released).
pub fn read_process(pid: i32) -> Option<(u64, u64, f64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    let hwm_bytes = field("VmHWM:")? * 1024;
    let rss_bytes = field("VmRSS:")? * 1024;
    let threads = field("Threads:").unwrap_or(0);
    let cpu_s = super::proc_cpu_s(pid)?;
    Some((rss_bytes, hwm_bytes, cpu_s, threads))
}

/// A sample of `pid` at `t_ms`; with `host`, the host's counters and boot id too.
pub fn sample(pid: i32, t_ms: f64, host: bool) -> Sample {
    let p = (pid > 0).then(|| read_process(pid)).flatten();
    Sample {
        t_ms,
        rss_bytes: p.map(|p| p.0),
        hwm_bytes: p.map(|p| p.1),
        cpu_s: p.map(|p| p.2),
        threads: p.map(|p| p.3),
        host: if host { host_ticks() } else { None },
        boot_id: if host { boot_id() } else { None },
    }
}

/// What the timeline reader collects from the ticks.
#[derive(Debug, Default)]
struct Collected {
    timeline: super::rss::Timeline,
    peak_rss_bytes: Option<u64>,
    /// Local time minus probe time of the first tick: the probe's `t_ms` mapped to the sampler's.
    offset_ms: Option<f64>,
}

/// The local end of a probe running on another host (see the module docs).
pub struct RemoteProbe {
    child: Child,
    pgid: i32,
    stdin: Mutex<Option<ChildStdin>>,
    answers: Mutex<Receiver<Sample>>,
    collected: Arc<Mutex<Collected>>,
    reader: Option<JoinHandle<()>>,
    /// `describe()` of the host, for reasons.
    pub host: String,
}

impl RemoteProbe {
    /// Starts `argv` (ssh … `asyncbench probe …`, from [`super::Remote::probe_command`]) in its own
    /// process group, registered so that Ctrl-C stops it; `t0` is the sampler's zero.
    pub fn start(argv: &[String], host: String, t0: Instant) -> std::io::Result<RemoteProbe> {
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| std::io::Error::other("empty probe command"))?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0);
        // SAFETY: prctl has no memory-safety preconditions (async-signal-safe between fork and exec).
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        let pgid = child.id() as i32;
        super::registry::register(pgid, false);
        let stdout = child.stdout.take().expect("piped");
        let stdin = child.stdin.take();
        let (tx, rx) = channel();
        let collected = Arc::new(Mutex::new(Collected::default()));
        let c = collected.clone();
        let reader = std::thread::spawn(move || read_lines(stdout, tx, c, t0));
        Ok(RemoteProbe {
            child,
            pgid,
            stdin: Mutex::new(stdin),
            answers: Mutex::new(rx),
            collected,
            reader: Some(reader),
            host,
        })
    }

    /// A point sample taken now on the host (one round trip over the channel); `None` when the channel
    /// is gone or the answer did not come within [`NOW_TIMEOUT`].
    pub fn now(&self) -> Option<Sample> {
        let answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        // Answers left over from an earlier timed-out question are stale.
        while answers.try_recv().is_ok() {}
        {
            let mut stdin = self.stdin.lock().unwrap_or_else(|e| e.into_inner());
            let w = stdin.as_mut()?;
            if w.write_all(b"now\n").and_then(|_| w.flush()).is_err() {
                return None;
            }
        }
        answers.recv_timeout(NOW_TIMEOUT).ok()
    }

    /// Stops the probe now and returns the timeline and peak it streamed.
    pub fn stop(mut self) -> super::MemoryReport {
        self.shut();
        self.report()
    }

    /// Waits (up to [`FINISH_TIMEOUT`]) for the probe to see the program gone, then stops it.
    pub fn finish(mut self) -> super::MemoryReport {
        let t0 = Instant::now();
        while t0.elapsed() < FINISH_TIMEOUT {
            if self.reader.as_ref().is_none_or(|r| r.is_finished()) {
                break;
            }
            if self
                .collected
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .timeline
                .gone
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.shut();
        self.report()
    }

    fn report(&self) -> super::MemoryReport {
        let c = self.collected.lock().unwrap_or_else(|e| e.into_inner());
        super::MemoryReport {
            timeline: c.timeline.points.clone(),
            peak_rss_bytes: c.peak_rss_bytes,
        }
    }

    /// Closes stdin (the probe exits on EOF), kills the local ssh group, reaps it.
    fn shut(&mut self) {
        drop(self.stdin.lock().unwrap_or_else(|e| e.into_inner()).take());
        // SAFETY: killpg on the group of our own child.
        unsafe { libc::killpg(self.pgid, libc::SIGKILL) };
        let _ = self.child.wait();
        super::registry::unregister(self.pgid);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

impl Drop for RemoteProbe {
    fn drop(&mut self) {
        if self.reader.is_some() {
            self.shut();
        }
    }
}

/// Sorts the probe's lines: ticks into the timeline, answers to [`RemoteProbe::now`].
fn read_lines(
    stdout: std::process::ChildStdout,
    answers: Sender<Sample>,
    collected: Arc<Mutex<Collected>>,
    t0: Instant,
) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let Some(rest) = line.strip_prefix(PREFIX) else {
            continue;
        };
        let (kind, json) = rest.split_once(' ').unwrap_or((rest, ""));
        let mut c = collected.lock().unwrap_or_else(|e| e.into_inner());
        match kind {
            "tick" => {
                let Ok(s) = serde_json::from_str::<Sample>(json) else {
                    continue;
                };
                let local_ms = t0.elapsed().as_secs_f64() * 1e3;
                let offset = *c.offset_ms.get_or_insert(local_ms - s.t_ms);
                if let Some(h) = s.hwm_bytes {
                    c.peak_rss_bytes = Some(c.peak_rss_bytes.unwrap_or(0).max(h));
                }
                if let Some(rss) = s.rss_bytes {
                    c.timeline.push(RssPoint {
                        t_ms: s.t_ms + offset,
                        rss_bytes: rss,
                    });
                }
            }
            "now" => {
                if let Ok(s) = serde_json::from_str::<Sample>(json) {
                    let _ = answers.send(s);
                }
            }
            "gone" => c.timeline.gone = true,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ticks_come_from_the_aggregate_cpu_line() {
        let text = "cpu  10 1 5 100 4 2 3 7 0 0\ncpu0 9 9 9 9 9 9 9 9 0 0\nintr 1\n";
        assert_eq!(
            parse_host_ticks(text),
            Some(HostTicks {
                busy: 10 + 1 + 5 + 2 + 3,
                idle: 104,
                steal: 7
            })
        );
        assert_eq!(parse_host_ticks("intr 1\n"), None);
        assert!(host_ticks().is_some_and(|t| t.busy + t.idle > 0));
    }

    #[test]
    fn samples_this_process_and_nothing_for_a_missing_one() {
        let me = sample(std::process::id() as i32, 1.0, true);
        assert!(me.rss_bytes.is_some_and(|r| r > 0), "{me:?}");
        assert!(me.hwm_bytes >= me.rss_bytes);
        assert!(me.threads.is_some_and(|t| t >= 1));
        assert!(me.cpu_s.is_some() && me.host.is_some());
        assert_eq!(me.boot_id, boot_id());
        let gone = sample(super::super::REMOTE_PID, 2.0, false);
        assert_eq!(gone.rss_bytes, None);
        assert_eq!(gone.host, None);
        let json = serde_json::to_string(&me).unwrap();
        assert_eq!(serde_json::from_str::<Sample>(&json).unwrap(), me);
    }
}
