//! The echo workload: start a server, verify it, drive it with the load generator, and measure the
//! server from outside (wait4 rusage, /proc CPU and RSS).

pub mod loadgen;
mod timer;

use super::{Failure, Launch, TrialData, await_ready, percentiles, process_metrics};
use crate::process::{RssSampler, proc_cpu_s, self_cpu_s};
use crate::results::Finding;
use loadgen::{LoadSpec, Mode};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One echo measurement point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EchoParams {
    pub mode: Mode,
    pub connections: usize,
    pub message_bytes: usize,
}

/// Timing and client settings shared by every echo trial.
#[derive(Debug, Clone)]
pub struct EchoConfig {
    pub warmup: Duration,
    pub duration: Duration,
    pub sub_interval: Duration,
    pub io_timeout: Duration,
    pub ready_timeout: Duration,
    pub client_threads: usize,
    pub client_cpus: Option<Vec<usize>>,
}

/// Grace period for a server to exit after SIGTERM or stdin EOF.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Runs one trial: a fresh server process, warm-up, measured window, shutdown.
pub fn run_trial(
    launch: &Launch,
    p: EchoParams,
    cfg: &EchoConfig,
    seed: u64,
) -> Result<TrialData, Failure> {
    let mut server = launch.spawn("echo", &[("port", "0".into())])?;
    let ready = await_ready(&mut server, "echo", cfg.ready_timeout)?;
    let startup_ms = server.started.elapsed().as_secs_f64() * 1e3;
    let port = ready
        .port
        .filter(|p| *p != 0)
        .ok_or_else(|| Failure::failed("ready event has no port"))?;
    let sampler = RssSampler::start(server.pid);
    let spec = LoadSpec {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        connections: p.connections,
        message_bytes: p.message_bytes,
        mode: p.mode,
        warmup: cfg.warmup,
        duration: cfg.duration,
        io_timeout: cfg.io_timeout,
        sub_interval: cfg.sub_interval,
        client_threads: cfg.client_threads,
        client_cpus: cfg.client_cpus.clone(),
        seed,
    };
    let pid = server.pid;
    let marks: Mutex<Vec<(Instant, Option<f64>, f64)>> = Mutex::new(Vec::new());
    let load = loadgen::run(&spec, &|_| {
        marks.lock().unwrap_or_else(|e| e.into_inner()).push((
            Instant::now(),
            proc_cpu_s(pid),
            self_cpu_s(),
        ));
    });
    let memory = sampler.stop();
    if let Some((exit, _)) = server.wait(Instant::now()) {
        if let Some(reason) = server.out_of_memory() {
            return Err(Failure::out_of_memory(format!(
                "the server ran out of memory during the measurement: {reason}"
            )));
        }
        return Err(Failure::crashed(format!(
            "the server exited during the measurement ({exit}){}",
            server.tail_suffix()
        )));
    }
    let (exit, usage, graceful) = server.terminate(STOP_GRACE);
    let mut findings = Vec::new();
    if !graceful {
        findings.push(Finding {
            kind: "ignored_sigterm".into(),
            message: format!("did not exit within {STOP_GRACE:?} of SIGTERM; killed"),
        });
    } else if !exit.success() {
        findings.push(Finding {
            kind: "bad_exit".into(),
            message: format!("{exit} after SIGTERM{}", server.tail_suffix()),
        });
    }
    if crate::process::interrupted() {
        return Err(Failure::failed("interrupted by the user"));
    }
    // docs/PROTOCOL.md: nothing but the ready line on stdout; anything more fails the trial.
    if let Some(extra) = server.extra_stdout_reason() {
        return Err(Failure::failed(format!("protocol error: {extra}")));
    }
    if let Some(n) = load.errors_by_kind.get("mismatch") {
        return Err(Failure::failed(format!(
            "{n} echoed message(s) differed from what was sent"
        )));
    }
    if load.messages == 0 {
        let errs: Vec<String> = load
            .errors_by_kind
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        return Err(Failure::failed(format!(
            "no message completed in the measured window (errors: {})",
            errs.join(", ")
        )));
    }
    let marks = marks.into_inner().unwrap_or_else(|e| e.into_inner());
    let (server_cpu_s, client_cpu_s) = match marks.as_slice() {
        [(_, Some(s0), c0), (_, Some(s1), c1)] => (s1 - s0, c1 - c0),
        [(_, _, c0), (_, _, c1)] => (f64::NAN, c1 - c0),
        _ => (f64::NAN, f64::NAN),
    };
    let msgs = load.messages as f64;
    let mut m = process_metrics(&usage, &memory, startup_ms, &ready);
    m.latency_ns = Some(percentiles(&load.histogram));
    m.set("throughput_msgs_per_s", msgs / load.window_s);
    m.set(
        "throughput_bytes_per_s",
        msgs * p.message_bytes as f64 / load.window_s,
    );
    m.set("errors", load.errors_by_kind.values().sum::<u64>() as f64);
    if server_cpu_s.is_finite() {
        m.set("server_cpu_us_per_msg", server_cpu_s * 1e6 / msgs);
        m.set("server_cpu_util", server_cpu_s / load.window_s);
    }
    if client_cpu_s.is_finite() {
        m.set("client_cpu_us_per_msg", client_cpu_s * 1e6 / msgs);
        m.set("client_cpu_util", client_cpu_s / load.window_s);
        // The client was the limit when its threads were (nearly) saturated.
        let capacity = cfg.client_threads as f64;
        if client_cpu_s / load.window_s >= 0.85 * capacity {
            let consequence = match p.mode {
                Mode::Closed => "throughput is a lower bound for this server",
                Mode::Open { .. } => {
                    "the client may not have kept to the schedule, so latencies may reflect the client, not the server"
                }
            };
            findings.push(Finding {
                kind: "client_bottleneck".into(),
                message: format!(
                    "the load generator used {:.2} of its {} core(s): {consequence}",
                    client_cpu_s / load.window_s,
                    cfg.client_threads
                ),
            });
        }
    }
    if let Mode::Open { rate_msgs_per_s } = p.mode {
        m.set("offered_rate_msgs_per_s", rate_msgs_per_s);
        m.set("max_send_lag_ms", load.max_send_lag_ms);
        let achieved = msgs / load.window_s;
        if load.messages + 1 < (load.scheduled as f64 * 0.97) as u64 || load.max_send_lag_ms > 100.0
        {
            findings.push(Finding {
                kind: "over_capacity".into(),
                message: format!(
                    "offered {rate_msgs_per_s:.0} msgs/s, completed {achieved:.0} msgs/s, senders fell up to {:.0} ms behind: latencies grow without bound at this rate",
                    load.max_send_lag_ms
                ),
            });
        }
    }
    Ok(TrialData {
        metrics: m,
        sub_intervals: load.sub_interval_rates.clone(),
        errors_by_kind: load.errors_by_kind.clone(),
        findings,
        histogram: Some(load.histogram),
        rss_timeline: memory.timeline,
        ready: Some(ready),
    })
}

/// Verifies an echo implementation: conformance under concurrency, then clean exits on SIGTERM and on
/// stdin EOF. `Ok` carries a one-line summary.
pub fn verify(launch: &Launch, ready_timeout: Duration) -> Result<String, String> {
    let mut server = launch
        .spawn("echo", &[("port", "0".into())])
        .map_err(|f| f.reason)?;
    let ready = await_ready(&mut server, "echo", ready_timeout).map_err(|f| f.reason)?;
    let port = ready
        .port
        .filter(|p| *p != 0)
        .ok_or("ready event has no port")?;
    let cfg = crate::verify::echo::EchoCheck::default();
    crate::verify::echo::check(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), cfg)?;
    if let Some(extra) = server.extra_stdout() {
        return Err(format!("protocol error: unexpected stdout line {extra:?}"));
    }
    let (exit, _, graceful) = server.terminate(STOP_GRACE);
    if !graceful {
        return Err(format!("did not exit within {STOP_GRACE:?} of SIGTERM"));
    }
    if !exit.success() {
        return Err(format!(
            "{exit} after SIGTERM, expected exit status 0{}",
            server.tail_suffix()
        ));
    }
    // A second server must stop when its stdin closes (the harness's fallback when signals are lost).
    let mut server = launch
        .spawn("echo", &[("port", "0".into())])
        .map_err(|f| f.reason)?;
    await_ready(&mut server, "echo", ready_timeout).map_err(|f| f.reason)?;
    server.close_stdin();
    match server.wait(Instant::now() + STOP_GRACE) {
        Some((exit, _)) if exit.success() => {}
        Some((exit, _)) => {
            return Err(format!(
                "{exit} after stdin closed, expected exit status 0{}",
                server.tail_suffix()
            ));
        }
        None => {
            return Err(format!(
                "did not exit within {STOP_GRACE:?} of stdin closing"
            ));
        }
    }
    Ok(format!(
        "{} connections × {} payloads of 1 B–{} KiB, split and coalesced writes, half-close: every byte matched; exits 0 on SIGTERM and on stdin EOF",
        cfg.connections,
        cfg.messages_per_connection,
        cfg.max_message_bytes / 1024
    ))
}
