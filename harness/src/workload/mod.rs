//! Workloads: what a trial of each one starts, what it measures and how it checks the answer. Each
//! returns plain data (a [`TrialData`] or a failure) to the runner; none of them writes files.

pub mod cancel;
pub mod definition;
pub mod echo;
pub mod estimate;
pub mod fanout;
pub mod futures;
pub mod instructions;
pub mod micro;
pub mod session;
pub mod stream;

pub use definition::{Definition, Workload};
pub use session::{RunConfig, Session};

/// Every workload the harness runs, in the order a run measures them and reports present them.
/// Adding a workload: its module with a `DEFINITION`, one line here (see docs/ARCHITECTURE.md).
pub static ALL: &[&Definition] = &[
    &echo::DEFINITION,
    &fanout::DEFINITION,
    &stream::DEFINITION,
    &cancel::DEFINITION,
    &futures::DEFINITION,
    &micro::DEFINITION,
];

/// The definition of the workload called `name`, if the harness knows it.
pub fn find(name: &str) -> Option<&'static Definition> {
    ALL.iter().copied().find(|d| d.name == name)
}

use crate::process::{Exit, Running, Spec, Usage, WaitError};
use crate::protocol::{Event, Ready};
use crate::results::{CellStatus, Finding, Metrics, RssPoint};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How to start one implementation (from its manifest entry, placeholders expanded).
#[derive(Debug, Clone)]
pub struct Launch {
    pub implementation: String,
    pub start: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub cpus: Option<Vec<usize>>,
    /// The host it runs on when not this one (`run --server-host`).
    pub remote: Option<std::sync::Arc<dyn crate::process::Remote>>,
}

impl Launch {
    /// The address a load generator reaches this program's echo server at.
    pub fn echo_ip(&self) -> std::net::IpAddr {
        self.remote
            .as_ref()
            .map_or(std::net::Ipv4Addr::LOCALHOST.into(), |r| r.bind_ip())
    }

    /// Starts `<start> <workload> --flag value ...`.
    pub fn spawn(&self, workload: &str, flags: &[(&str, String)]) -> Result<Running, Failure> {
        let mut argv = self.start.clone();
        argv.push(workload.to_string());
        for (k, v) in flags {
            argv.push(format!("--{k}"));
            argv.push(v.clone());
        }
        // `--bind` defaults to 127.0.0.1 (docs/PROTOCOL.md); only a remote server needs another.
        let ip = self.echo_ip();
        if workload == "echo" && !ip.is_loopback() && !flags.iter().any(|(k, _)| *k == "bind") {
            argv.push("--bind".into());
            argv.push(ip.to_string());
        }
        let spec = Spec {
            argv,
            env: self.env.clone(),
            cwd: self.cwd.clone(),
            cpus: self.cpus.clone(),
            protocol_stdout: true,
            remote: self.remote.clone(),
        };
        Running::spawn(&spec).map_err(|e| {
            Failure::crashed(format!("could not start `{}`: {e}", self.start.join(" ")))
        })
    }
}

/// A trial that produced no measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub status: CellStatus,
    pub reason: String,
}

impl Failure {
    pub fn failed(reason: impl Into<String>) -> Self {
        Failure {
            status: CellStatus::Failed,
            reason: reason.into(),
        }
    }
    pub fn crashed(reason: impl Into<String>) -> Self {
        Failure {
            status: CellStatus::Crashed,
            reason: reason.into(),
        }
    }
    pub fn timeout(reason: impl Into<String>) -> Self {
        Failure {
            status: CellStatus::Timeout,
            reason: reason.into(),
        }
    }
    pub fn out_of_memory(reason: impl Into<String>) -> Self {
        Failure {
            status: CellStatus::OutOfMemory,
            reason: reason.into(),
        }
    }

    /// Maps a failed wait for an event to the cell status it deserves.
    pub fn from_wait(what: &str, e: WaitError) -> Self {
        match e {
            WaitError::Timeout(d) => Failure::timeout(format!("no {what} within {d:.1?}")),
            WaitError::Exited { exit, tail } => {
                Failure::crashed(format!("exited before {what} ({exit}){tail}"))
            }
            WaitError::Protocol(p) => {
                Failure::failed(format!("protocol error while waiting for {what}: {p}"))
            }
            WaitError::Interrupted => Failure::failed("interrupted by the user"),
            WaitError::OutOfMemory(reason) => {
                Failure::out_of_memory(format!("out of memory before {what}: {reason}"))
            }
            WaitError::StdoutClosed => Failure::failed(format!(
                "protocol error: closed its stdout before printing its {what} event but kept running; killed"
            )),
        }
    }
}

/// The measurements of one successful trial.
#[derive(Debug, Clone, Default)]
pub struct TrialData {
    pub metrics: Metrics,
    pub sub_intervals: Vec<f64>,
    pub errors_by_kind: BTreeMap<String, u64>,
    pub findings: Vec<Finding>,
    pub histogram: Option<hdrhistogram::Histogram<u64>>,
    pub rss_timeline: Vec<RssPoint>,
    pub ready: Option<Ready>,
}

/// Waits for the `ready` event and checks it names the workload.
pub fn await_ready(
    child: &mut Running,
    workload: &str,
    timeout: Duration,
) -> Result<Ready, Failure> {
    match child.next_event(child.started + timeout) {
        Ok(Event::Ready(r)) if r.workload == workload => Ok(r),
        Ok(Event::Ready(r)) => Err(Failure::failed(format!(
            "ready event names workload {:?}, expected {workload:?}",
            r.workload
        ))),
        Ok(Event::Result(_)) => Err(Failure::failed("result event before ready")),
        Ok(Event::Phase(p)) => Err(unexpected_phase(&p)),
        Err(e) => Err(Failure::from_wait("ready", e)),
    }
}

/// What a finite workload's process reported and how it behaved from outside.
#[derive(Debug)]
pub struct FiniteRun {
    pub fields: Map<String, Value>,
    pub ready: Ready,
    pub usage: Usage,
    pub startup_ms: f64,
    /// From spawn to exit, measured by the harness.
    pub wall_ms: f64,
    pub memory: crate::process::MemoryReport,
}

/// Runs a finite workload to its `result` event and exit, with a deadline for the whole run.
pub fn run_finite(
    launch: &Launch,
    workload: &str,
    flags: &[(&str, String)],
    timeout: Duration,
) -> Result<FiniteRun, Failure> {
    let mut child = launch.spawn(workload, flags)?;
    let sampler = crate::process::RssSampler::of(&child);
    let deadline = child.started + timeout;
    let ready = await_ready(&mut child, workload, timeout)?;
    let startup_ms = child.started.elapsed().as_secs_f64() * 1e3;
    let fields = match child.next_event(deadline) {
        Ok(Event::Result(f)) => f,
        Ok(Event::Ready(_)) => return Err(Failure::failed("a second ready event")),
        Ok(Event::Phase(p)) => return Err(unexpected_phase(&p)),
        Err(WaitError::Timeout(_)) => {
            child.kill();
            return Err(Failure::timeout(format!(
                "no result within {timeout:.0?}; killed"
            )));
        }
        Err(e) => return Err(Failure::from_wait("result", e)),
    };
    let (usage, wall_ms, memory) = finish_after_result(&mut child, sampler)?;
    Ok(FiniteRun {
        fields,
        ready,
        usage,
        startup_ms,
        wall_ms,
        memory,
    })
}

/// After a finite workload's `result`: a clean exit 0 within 10 s, nothing more on stdout, no OOM kill.
/// Returns the usage, the wall time from spawn to exit (ms) and what the memory sampler saw.
pub fn finish_after_result(
    child: &mut Running,
    sampler: crate::process::RssSampler,
) -> Result<(Usage, f64, crate::process::MemoryReport), Failure> {
    let exit_deadline = Instant::now() + Duration::from_secs(10);
    let Some((exit, usage)) = child.wait(exit_deadline) else {
        child.kill();
        return Err(Failure::timeout(
            "printed its result but did not exit within 10 s",
        ));
    };
    let wall_ms = child.started.elapsed().as_secs_f64() * 1e3;
    let memory = sampler.finish();
    if let Some(extra) = child.extra_stdout_reason() {
        return Err(Failure::failed(format!(
            "protocol error after the result: {extra}"
        )));
    }
    if let Some(reason) = child.out_of_memory() {
        return Err(Failure::out_of_memory(format!(
            "out of memory after printing its result: {reason}"
        )));
    }
    if exit != Exit::Code(0) {
        return Err(Failure::crashed(format!(
            "{exit} after printing its result{}",
            child.tail_suffix()
        )));
    }
    Ok((usage, wall_ms, memory))
}

/// A `phase` event where the protocol has none (only `cancel --variant mass` announces phases).
pub fn unexpected_phase(phase: &str) -> Failure {
    Failure::failed(format!(
        "protocol error: unexpected phase event {phase:?} (only cancel --variant mass sends phases)"
    ))
}

/// Metrics every trial of a measured process reports.
pub fn process_metrics(
    usage: &Usage,
    memory: &crate::process::MemoryReport,
    startup_ms: f64,
    ready: &Ready,
) -> Metrics {
    let mut m = Metrics::default();
    // Exact (`ru_maxrss` via the launcher) when available, else the sampled `VmHWM`.
    if let Some(peak) = usage.peak_rss_bytes.or(memory.peak_rss_bytes) {
        m.set("peak_rss_bytes", peak as f64);
    }
    m.set("cpu_user_s", usage.cpu_user_s);
    m.set("cpu_sys_s", usage.cpu_sys_s);
    m.set("startup_ms", startup_ms);
    if let Some(fb) = ready.future_bytes {
        m.set("future_bytes", fb as f64);
    }
    m
}

/// Percentiles of a histogram (ns).
pub fn percentiles(h: &hdrhistogram::Histogram<u64>) -> crate::results::Percentiles {
    crate::results::Percentiles {
        p50: h.value_at_quantile(0.5) as f64,
        p90: h.value_at_quantile(0.9) as f64,
        p99: h.value_at_quantile(0.99) as f64,
        p999: h.value_at_quantile(0.999) as f64,
        p9999: h.value_at_quantile(0.9999) as f64,
        max: h.max() as f64,
    }
}

/// An HdrHistogram-style spectrum: percentiles at 0, 50, 75, 87.5 … up to 99.999 and the max.
pub fn spectrum(h: &hdrhistogram::Histogram<u64>) -> Vec<crate::results::SpectrumPoint> {
    let mut out = Vec::new();
    if h.is_empty() {
        return out;
    }
    let mut q = 0.0f64;
    for _ in 0..18 {
        out.push(crate::results::SpectrumPoint {
            percentile: q * 100.0,
            latency_ns: h.value_at_quantile(q) as f64,
        });
        q = 1.0 - (1.0 - q) / 2.0;
    }
    out.push(crate::results::SpectrumPoint {
        percentile: 100.0,
        latency_ns: h.max() as f64,
    });
    out
}

/// Metrics with a single value set, for small constructions in tests and importers.
pub fn metrics_of(pairs: &[(&str, f64)]) -> Metrics {
    let mut m = Metrics::default();
    for (k, v) in pairs {
        m.set(k, *v);
    }
    m
}

/// A cell's parameters from `(name, value)` pairs.
pub fn params(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}
