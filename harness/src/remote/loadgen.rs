//! Load generation on other hosts (`run --client-host HOST`, repeatable): a client host that cannot be
//! the bottleneck drives the server from the network, as serious network benchmarks do.
//!
//! Each client host has its own [`Session`] (the harness ships its binary there). Per trial the harness
//! starts the hidden `asyncbench loadgen --spec <JSON>` over ssh on every client host at once, with a
//! deadline; the subcommand runs the same load generator ([`crate::workload::echo::loadgen::run`]) and
//! prints one JSON [`Report`] line: counters, error kinds, client CPU and the HDR histograms as
//! exact bucket lists. The harness merges the reports ([`merge`]): histograms add, counts and
//! throughput sum. The connections and the open-loop rate are split evenly across the hosts, each host
//! with its own seed, so the sum of the independent Poisson streams is again Poisson at the full rate.
//!
//! The first host's window marks (`asyncbench-window start|end` lines, printed as they happen) stand in
//! for the measured window when the harness samples the server's CPU.

use super::{Session, shell_quote};
use crate::process::probe::{self, HostTicks};
use crate::workload::echo::driver::{self, HostLoad};
use crate::workload::echo::loadgen::{self, LoadResult, LoadSpec, Mode};
use crate::workload::echo::loadgen_engine;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The prefix of the report line (build noise or a login banner may share stdout).
pub const REPORT_PREFIX: &str = "asyncbench-loadgen ";
/// The prefix of the window marks.
pub const WINDOW_PREFIX: &str = "asyncbench-window ";
/// Time allowed beyond warm-up and window: connecting, draining, ssh channel setup.
const SLACK: Duration = Duration::from_secs(60);

/// The client hosts of the running `run` (empty: the load generator runs here). A registry rather than
/// a parameter so that the echo workload's signature stays as it is; [`ClientHosts`] clears it.
static CLIENTS: Mutex<Vec<Arc<Session>>> = Mutex::new(Vec::new());

/// Owns the registered client sessions for one run; dropping it unregisters them (and so, once the
/// last reference goes, cleans up each host).
pub struct ClientHosts(pub Vec<Arc<Session>>);

impl ClientHosts {
    /// Registers the sessions for the topology record and, when there are any, installs them as the
    /// echo workload's load driver.
    pub fn register(sessions: Vec<Arc<Session>>) -> ClientHosts {
        *CLIENTS.lock().unwrap_or_else(|e| e.into_inner()) = sessions.clone();
        if !sessions.is_empty() {
            driver::set(Some(Arc::new(Driver(sessions.clone()))));
        }
        ClientHosts(sessions)
    }
}

impl Drop for ClientHosts {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            driver::set(None);
        }
        CLIENTS.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// The echo workload's view of the client hosts.
struct Driver(Vec<Arc<Session>>);

impl driver::LoadDriver for Driver {
    fn drive(
        &self,
        spec: &LoadSpec,
        on_window: &(dyn Fn(bool) + Sync),
    ) -> Result<(LoadResult, Vec<HostLoad>), String> {
        drive(&self.0, spec, on_window)
    }
}

/// The registered client hosts (empty when the load generator runs here).
pub fn clients() -> Vec<Arc<Session>> {
    CLIENTS.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// [`LoadSpec`] as it travels to a client host (durations in ms; no CPU pinning: the host's CPUs are
/// its own).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RemoteSpec {
    pub addr: SocketAddr,
    pub connections: usize,
    pub message_bytes: usize,
    /// `None`: closed loop.
    pub rate_msgs_per_s: Option<f64>,
    pub warmup_ms: u64,
    pub duration_ms: u64,
    pub io_timeout_ms: u64,
    pub sub_interval_ms: u64,
    pub client_threads: usize,
    pub seed: u64,
    /// The controller's client engine ("io-uring" or "epoll-loop"); a host whose kernel cannot run
    /// io_uring falls back to epoll and its report says so.
    #[serde(default)]
    pub client_engine: String,
}

impl RemoteSpec {
    /// Host `i` of `n`'s share: connections and open-loop rate split evenly (the first hosts take the
    /// remainder of the connections), its own seed.
    pub fn share(spec: &LoadSpec, i: usize, n: usize) -> RemoteSpec {
        let n = n.max(1);
        let connections = (spec.connections / n + usize::from(i < spec.connections % n)).max(1);
        RemoteSpec {
            addr: spec.addr,
            connections,
            message_bytes: spec.message_bytes,
            rate_msgs_per_s: match spec.mode {
                Mode::Closed => None,
                Mode::Open { rate_msgs_per_s } => Some(rate_msgs_per_s / n as f64),
            },
            warmup_ms: spec.warmup.as_millis() as u64,
            duration_ms: spec.duration.as_millis() as u64,
            io_timeout_ms: spec.io_timeout.as_millis() as u64,
            sub_interval_ms: spec.sub_interval.as_millis() as u64,
            client_threads: spec.client_threads,
            seed: spec
                .seed
                .wrapping_add((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            client_engine: spec.engine.name().to_string(),
        }
    }

    pub fn to_load_spec(&self) -> LoadSpec {
        LoadSpec {
            addr: self.addr,
            connections: self.connections,
            message_bytes: self.message_bytes,
            mode: match self.rate_msgs_per_s {
                None => Mode::Closed,
                Some(r) => Mode::Open { rate_msgs_per_s: r },
            },
            warmup: Duration::from_millis(self.warmup_ms),
            duration: Duration::from_millis(self.duration_ms),
            io_timeout: Duration::from_millis(self.io_timeout_ms),
            sub_interval: Duration::from_millis(self.sub_interval_ms),
            client_threads: self.client_threads,
            client_cpus: None,
            seed: self.seed,
            engine: loadgen_engine::on_client_host(&self.client_engine),
        }
    }
}

/// An HDR histogram as its recorded buckets: each bucket's highest equivalent value and count, and the
/// histogram's bounds, so re-recording reproduces it exactly.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Buckets {
    pub low: u64,
    pub high: u64,
    pub sigfig: u8,
    pub counts: Vec<(u64, u64)>,
}

impl Buckets {
    pub fn of(h: &Histogram<u64>) -> Buckets {
        Buckets {
            low: h.low(),
            high: h.high(),
            sigfig: h.sigfig(),
            counts: h
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect(),
        }
    }

    pub fn histogram(&self) -> anyhow::Result<Histogram<u64>> {
        let mut h = Histogram::new_with_bounds(self.low, self.high, self.sigfig)?;
        for &(v, c) in &self.counts {
            h.record_n(v, c)?;
        }
        Ok(h)
    }
}

/// One client host's [`LoadResult`] as a JSON line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub messages: u64,
    pub completed_in_window: u64,
    pub window_s: f64,
    pub histogram: Buckets,
    pub sched_error: Buckets,
    pub errors_by_kind: BTreeMap<String, u64>,
    pub sub_interval_rates: Vec<f64>,
    pub sub_interval_p99_ns: Vec<f64>,
    pub scheduled: u64,
    pub max_send_lag_ms: f64,
    pub send_gaps_ns: Vec<f64>,
    pub requested_mean_gap_ns: f64,
    pub client_cpu_s: f64,
    pub client_spin_s: f64,
    pub client_threads: usize,
    pub live_connections: usize,
    pub timer: String,
    #[serde(default)]
    pub client_sys_s: f64,
    #[serde(default)]
    pub engine: String,
    /// The host's `/proc/stat` totals at the window's start and end (interference on this host).
    #[serde(default)]
    pub window_ticks: Option<(HostTicks, HostTicks)>,
    #[serde(default)]
    pub boot_id: Option<String>,
}

impl Report {
    pub fn of(r: &LoadResult) -> Report {
        Report {
            messages: r.messages,
            completed_in_window: r.completed_in_window,
            window_s: r.window_s,
            histogram: Buckets::of(&r.histogram),
            sched_error: Buckets::of(&r.sched_error),
            errors_by_kind: r.errors_by_kind.clone(),
            sub_interval_rates: r.sub_interval_rates.clone(),
            sub_interval_p99_ns: r.sub_interval_p99_ns.clone(),
            scheduled: r.scheduled,
            max_send_lag_ms: r.max_send_lag_ms,
            send_gaps_ns: r.send_gaps_ns.clone(),
            requested_mean_gap_ns: r.requested_mean_gap_ns,
            client_cpu_s: r.client_cpu_s,
            client_spin_s: r.client_spin_s,
            client_threads: r.client_threads,
            live_connections: r.live_connections,
            timer: r.timer.to_string(),
            client_sys_s: r.client_sys_s,
            engine: r.engine.to_string(),
            window_ticks: None,
            boot_id: None,
        }
    }

    pub fn into_result(self) -> anyhow::Result<LoadResult> {
        Ok(LoadResult {
            messages: self.messages,
            completed_in_window: self.completed_in_window,
            window_s: self.window_s,
            histogram: self.histogram.histogram()?,
            sched_error: self.sched_error.histogram()?,
            errors_by_kind: self.errors_by_kind,
            sub_interval_rates: self.sub_interval_rates,
            sub_interval_p99_ns: self.sub_interval_p99_ns,
            scheduled: self.scheduled,
            max_send_lag_ms: self.max_send_lag_ms,
            send_gaps_ns: self.send_gaps_ns,
            requested_mean_gap_ns: self.requested_mean_gap_ns,
            client_cpu_s: self.client_cpu_s,
            client_spin_s: self.client_spin_s,
            client_threads: self.client_threads,
            live_connections: self.live_connections,
            timer: match self.timer.as_str() {
                "epoll_pwait2" => "epoll_pwait2",
                "timerfd" => "timerfd",
                "io_uring_enter" => "io_uring_enter",
                _ => "",
            },
            client_sys_s: self.client_sys_s,
            engine: if self.engine == loadgen::Engine::IoUring.name() {
                loadgen::Engine::IoUring.name()
            } else {
                loadgen::Engine::Epoll.name()
            },
        })
    }
}

/// Merges the client hosts' results into one: histograms add; messages, completions, errors, CPU,
/// threads and connections sum; sub-interval rates add slice by slice; the window is the longest; a
/// sub-interval's p99 is the highest of the hosts' (the p99 of the union lies between the lowest and
/// the highest, the per-slice histograms do not travel); send gaps are pooled (every host runs the same
/// number of threads at the same share of the rate, so they share the requested mean gap).
pub fn merge(mut results: Vec<LoadResult>) -> Option<LoadResult> {
    let mut m = results.pop()?;
    for r in results.into_iter().rev() {
        let _ = m.histogram.add(&r.histogram);
        let _ = m.sched_error.add(&r.sched_error);
        m.messages += r.messages;
        m.completed_in_window += r.completed_in_window;
        m.window_s = m.window_s.max(r.window_s);
        for (k, v) in r.errors_by_kind {
            *m.errors_by_kind.entry(k).or_default() += v;
        }
        let slots = m.sub_interval_rates.len().max(r.sub_interval_rates.len());
        m.sub_interval_rates.resize(slots, 0.0);
        m.sub_interval_p99_ns.resize(slots, 0.0);
        for (i, v) in r.sub_interval_rates.iter().enumerate() {
            m.sub_interval_rates[i] += v;
        }
        for (i, v) in r.sub_interval_p99_ns.iter().enumerate() {
            m.sub_interval_p99_ns[i] = m.sub_interval_p99_ns[i].max(*v);
        }
        m.scheduled += r.scheduled;
        m.max_send_lag_ms = m.max_send_lag_ms.max(r.max_send_lag_ms);
        m.send_gaps_ns.extend(r.send_gaps_ns);
        m.requested_mean_gap_ns = r.requested_mean_gap_ns.max(m.requested_mean_gap_ns);
        m.client_cpu_s += r.client_cpu_s;
        m.client_spin_s += r.client_spin_s;
        m.client_sys_s += r.client_sys_s;
        m.client_threads += r.client_threads;
        m.live_connections += r.live_connections;
        if m.timer.is_empty() {
            m.timer = r.timer;
        }
    }
    Some(m)
}

/// `asyncbench loadgen --spec JSON` on a client host: runs the load, marks the window on stdout as it
/// happens, then prints the [`Report`]. Dies with the ssh channel (SIGTERM when its parent goes).
pub fn serve(spec_json: &str) -> anyhow::Result<i32> {
    // SAFETY: prctl/getppid have no memory-safety preconditions.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
        if libc::getppid() == 1 {
            return Ok(255);
        }
    }
    let spec: RemoteSpec = serde_json::from_str(spec_json).map_err(|e| {
        anyhow::anyhow!("--spec is not a load spec ({e}); it comes from `run --client-host`")
    })?;
    let ticks: Mutex<Vec<HostTicks>> = Mutex::new(Vec::new());
    let r = loadgen::run(&spec.to_load_spec(), &|start| {
        if let Some(t) = probe::host_ticks() {
            ticks.lock().unwrap_or_else(|e| e.into_inner()).push(t);
        }
        println!("{WINDOW_PREFIX}{}", if start { "start" } else { "end" });
    });
    let mut report = Report::of(&r);
    if let [a, b] = ticks.into_inner().unwrap_or_else(|e| e.into_inner())[..] {
        report.window_ticks = Some((a, b));
    }
    report.boot_id = probe::boot_id();
    println!("{REPORT_PREFIX}{}", serde_json::to_string(&report)?);
    Ok(0)
}

/// One client host's outcome: its result, or why it has none.
fn drive_one(
    s: &Session,
    spec: &RemoteSpec,
    on_window: Option<&(dyn Fn(bool) + Sync)>,
) -> Result<(LoadResult, HostLoad), String> {
    let json = serde_json::to_string(spec).map_err(|e| e.to_string())?;
    let argv = s.ssh_argv(&format!(
        "exec {} loadgen --spec {}",
        shell_quote(&s.bin()),
        shell_quote(&json)
    ));
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start ssh to {}: {e}", s.spec))?;
    let pgid = child.id() as i32;
    let deadline =
        Duration::from_millis(spec.warmup_ms + spec.duration_ms + spec.io_timeout_ms) + SLACK;
    let done = Arc::new(AtomicBool::new(false));
    let timed_out = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let (done, timed_out) = (done.clone(), timed_out.clone());
        std::thread::spawn(move || {
            let t0 = Instant::now();
            while !done.load(Ordering::Relaxed) {
                if t0.elapsed() >= deadline || crate::process::interrupted() {
                    timed_out.store(true, Ordering::Relaxed);
                    // SAFETY: killpg on the group of our own child.
                    unsafe { libc::killpg(pgid, libc::SIGKILL) };
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let mut stderr = child.stderr.take().expect("piped");
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut report = None;
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let Ok(line) = line else { break };
        if let Some(w) = line.strip_prefix(WINDOW_PREFIX) {
            if let Some(f) = on_window {
                f(w.trim() == "start");
            }
        } else if let Some(j) = line.strip_prefix(REPORT_PREFIX) {
            report =
                Some(serde_json::from_str::<Report>(j).map_err(|e| {
                    format!("the load generator on {} sent a bad report: {e}", s.spec)
                })?);
        }
    }
    let status = child.wait();
    done.store(true, Ordering::Relaxed);
    let _ = watchdog.join();
    let stderr = super::last_line(&err.join().unwrap_or_default());
    if timed_out.load(Ordering::Relaxed) {
        return Err(format!(
            "the load generator on {} did not finish within {deadline:?}; killed",
            s.spec
        ));
    }
    let code = status.ok().and_then(|st| st.code()).unwrap_or(-1);
    match report {
        Some(r) if code == 0 => {
            let part = HostLoad {
                host: s.spec.to_string(),
                cpu_s: r.client_cpu_s,
                spin_s: r.client_spin_s,
                window_ticks: r.window_ticks,
                boot_id: r.boot_id.clone(),
            };
            Ok((r.into_result().map_err(|e| e.to_string())?, part))
        }
        _ if code == 255 => Err(format!(
            "ssh connection to {} ended during the load (exit 255): {stderr}",
            s.spec
        )),
        _ => Err(format!(
            "the load generator on {} failed (exit {code}) without a report: {stderr}",
            s.spec
        )),
    }
}

/// Runs `spec` split across `hosts` at once and merges what they measured; also each host's part (its
/// client CPU and CPU counters over the window). Any host that fails fails the whole load (a partial
/// load is another load).
pub fn drive(
    hosts: &[Arc<Session>],
    spec: &LoadSpec,
    on_window: &(dyn Fn(bool) + Sync),
) -> Result<(LoadResult, Vec<HostLoad>), String> {
    let n = hosts.len();
    let outcomes: Vec<Result<(LoadResult, HostLoad), String>> = std::thread::scope(|sc| {
        let handles: Vec<_> = hosts
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let share = RemoteSpec::share(spec, i, n);
                sc.spawn(move || drive_one(h, &share, (i == 0).then_some(on_window)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("the load generator thread panicked".into()))
            })
            .collect()
    });
    let mut results = Vec::with_capacity(n);
    let mut parts = Vec::with_capacity(n);
    let mut errors = Vec::new();
    for o in outcomes {
        match o {
            Ok((r, part)) => {
                results.push(r);
                parts.push(part);
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    let merged = merge(results).ok_or("no client host")?;
    Ok((merged, parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(values: &[u64]) -> Histogram<u64> {
        let mut h = Histogram::new_with_bounds(1, 3_600_000_000_000, 3).unwrap();
        for v in values {
            h.record(*v).unwrap();
        }
        h
    }

    fn result(values: &[u64], cpu_s: f64) -> LoadResult {
        LoadResult {
            messages: values.len() as u64,
            completed_in_window: values.len() as u64,
            window_s: 1.0,
            histogram: hist(values),
            sched_error: hist(&[10]),
            errors_by_kind: [("reset".to_string(), 1)].into(),
            sub_interval_rates: vec![values.len() as f64],
            sub_interval_p99_ns: vec![*values.iter().max().unwrap() as f64],
            scheduled: 0,
            max_send_lag_ms: 0.0,
            send_gaps_ns: vec![],
            requested_mean_gap_ns: 0.0,
            client_cpu_s: cpu_s,
            client_spin_s: 0.0,
            client_threads: 1,
            live_connections: 2,
            timer: "timerfd",
            client_sys_s: 0.0,
            engine: "epoll-loop",
        }
    }

    #[test]
    fn buckets_round_trip_exactly_through_json() {
        let h = hist(&[1, 2, 2, 999, 1_000_001, 123_456_789, 3_000_000_000]);
        let json = serde_json::to_string(&Buckets::of(&h)).unwrap();
        let back = serde_json::from_str::<Buckets>(&json)
            .unwrap()
            .histogram()
            .unwrap();
        assert_eq!(back, h);
        assert_eq!(back.len(), 7);
        for q in [0.0, 0.5, 0.9, 0.99, 1.0] {
            assert_eq!(back.value_at_quantile(q), h.value_at_quantile(q));
        }
    }

    #[test]
    fn merge_adds_histograms_and_counts_and_keeps_cpu_per_host() {
        // Host a: 90 fast echoes; host b: 10 slow ones. The union's p50 is fast, its p95 slow.
        let a: Vec<u64> = vec![1_000; 90];
        let b: Vec<u64> = vec![5_000_000; 10];
        let m = merge(vec![result(&a, 0.25), result(&b, 0.5)]).unwrap();
        assert_eq!(m.histogram.len(), 100);
        assert_eq!(m.messages, 100);
        assert_eq!(m.completed_in_window, 100);
        assert_eq!(m.errors_by_kind["reset"], 2);
        assert_eq!(m.client_threads, 2);
        assert_eq!(m.live_connections, 4);
        assert!((m.client_cpu_s - 0.75).abs() < 1e-12);
        assert_eq!(m.sub_interval_rates, vec![100.0]);
        assert_eq!(m.sched_error.len(), 2);
        let union = hist(&[a.clone(), b.clone()].concat());
        for q in [0.5, 0.9, 0.95, 0.99] {
            assert_eq!(
                m.histogram.value_at_quantile(q),
                union.value_at_quantile(q),
                "q={q}"
            );
        }
        assert!(m.histogram.value_at_quantile(0.5) < 2_000);
        assert!(m.histogram.value_at_quantile(0.95) > 4_000_000);
        assert!(merge(vec![]).is_none());
    }

    #[test]
    fn shares_split_rate_and_connections_with_distinct_seeds() {
        let spec = LoadSpec {
            addr: "127.0.0.1:1".parse().unwrap(),
            connections: 5,
            message_bytes: 64,
            mode: Mode::Open {
                rate_msgs_per_s: 9000.0,
            },
            warmup: Duration::from_millis(500),
            duration: Duration::from_secs(2),
            io_timeout: Duration::from_secs(1),
            sub_interval: Duration::from_millis(250),
            client_threads: 2,
            client_cpus: Some(vec![1]),
            seed: 7,
            engine: loadgen::Engine::Epoll,
        };
        let shares: Vec<RemoteSpec> = (0..3).map(|i| RemoteSpec::share(&spec, i, 3)).collect();
        assert_eq!(
            shares.iter().map(|s| s.connections).collect::<Vec<_>>(),
            [2, 2, 1]
        );
        assert!(shares.iter().all(|s| s.rate_msgs_per_s == Some(3000.0)));
        assert_eq!(shares[0].seed, 7);
        assert!(shares[1].seed != shares[0].seed && shares[2].seed != shares[1].seed);
        let back = shares[0].to_load_spec();
        assert_eq!(back.client_cpus, None);
        assert_eq!(back.warmup, spec.warmup);
        let json = serde_json::to_string(&shares[1]).unwrap();
        assert_eq!(
            serde_json::from_str::<RemoteSpec>(&json).unwrap(),
            shares[1]
        );
    }
}
