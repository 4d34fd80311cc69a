//! The echo workload: start a server, verify it, drive it with the load generator, and measure the
//! server from outside (wait4 rusage, /proc CPU and RSS). Every trial checks its own evidence
//! (arrival process, stationarity, scheduling error, sample count, interference; see
//! [`crate::stats::echo_checks`]): a trial run under interference is re-run once, a trial whose checks
//! fail is extended (longer window) up to a cap, and what still fails is recorded as not measurable.

pub mod capacity;
pub mod driver;
mod hosts;
pub mod loadgen;
pub mod loadgen_engine;
pub mod loadgen_uring;
pub mod placement;
pub mod plan;
mod timer;

use super::definition::Definition;
use super::{Failure, Launch, TrialData, await_ready, percentiles, process_metrics};
use crate::finding::FindingKind;
use crate::process::{HostMoment, RssSampler};
use crate::results::Finding;
use crate::stats::echo_checks::{self, CpuTicks, Evidence, Interference, Limits};
use loadgen::{LoadSpec, Mode};
use std::net::SocketAddr;
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
    /// The server's CPU set (`None`: unpinned); with the client's, the CPUs watched for interference.
    pub server_cpus: Option<Vec<usize>>,
    pub limits: Limits,
    /// How many times a trial whose checks fail may be re-run with a doubled window.
    pub max_extensions: u32,
    /// Re-run a trial (once) that ran under interference; when off it is only recorded.
    pub interference_rerun: bool,
}

/// Grace period for a server to exit after SIGTERM or stdin EOF.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// One measured trial with its evidence, before the checks decide what to do with it.
struct Attempt {
    data: TrialData,
    failed_checks: Vec<echo_checks::Failed>,
    interference: Option<String>,
}

/// Runs one trial of a cell with its self-checks: re-runs once under interference, extends the window
/// (doubling, up to `max_extensions` times) while a check fails that a longer window can cure, and
/// records what still failed.
pub fn run_trial(
    launch: &Launch,
    p: EchoParams,
    cfg: &EchoConfig,
    seed: u64,
) -> Result<TrialData, Failure> {
    let mut duration = cfg.duration;
    let mut extensions = 0u32;
    let mut rerun_for_interference: Option<String> = None;
    let mut history: Vec<String> = Vec::new();
    loop {
        let a = attempt(launch, p, cfg, seed, duration)?;
        if let Some(why) = &a.interference
            && rerun_for_interference.is_none()
            && cfg.interference_rerun
        {
            history.push(format!("re-run once: {why}"));
            rerun_for_interference = Some(why.clone());
            continue;
        }
        // Extend only when a longer window can cure a failure (see `Failed::window_curable`).
        if a.failed_checks.iter().any(|f| f.window_curable) && extensions < cfg.max_extensions {
            let names: Vec<&str> = a.failed_checks.iter().map(|f| f.check).collect();
            history.push(format!(
                "{:.1} s window failed {}; extended to {:.1} s",
                duration.as_secs_f64(),
                names.join(", "),
                duration.as_secs_f64() * 2.0
            ));
            duration *= 2;
            extensions += 1;
            continue;
        }
        return Ok(finish(a, extensions, rerun_for_interference, history));
    }
}

/// Turns the last attempt into the trial's data: findings for interference, extensions and checks.
fn finish(a: Attempt, extensions: u32, rerun: Option<String>, history: Vec<String>) -> TrialData {
    let mut t = a.data;
    t.metrics.set("extensions", extensions as f64);
    t.metrics.set(
        "interference_rerun",
        if rerun.is_some() { 1.0 } else { 0.0 },
    );
    if let Some(why) = &a.interference {
        t.findings.push(Finding {
            kind: FindingKind::Interference,
            message: format!(
                "measured under interference{}: {why}{}",
                if rerun.is_some() {
                    " even after one re-run"
                } else {
                    ""
                },
                if history.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", history.join("; "))
                }
            ),
        });
    } else if let Some(why) = rerun {
        t.findings.push(Finding {
            kind: FindingKind::InterferenceRerun,
            message: format!("the first attempt ran under interference ({why}); re-run once, the re-run was clean"),
        });
    }
    if extensions > 0 {
        t.findings.push(Finding {
            kind: FindingKind::CellExtended,
            message: history
                .iter()
                .filter(|h| !h.starts_with("re-run"))
                .cloned()
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
    let measurable = a.failed_checks.is_empty();
    t.metrics
        .set("latency_measurable", if measurable { 1.0 } else { 0.0 });
    // Only the client's own checks failed: the latency (from intended send times) overstates, never
    // understates, what the server caused (see `capacity::Verdict::of`).
    let overestimate_only = !measurable
        && a.failed_checks
            .iter()
            .all(|f| matches!(f.check, "scheduling_error" | "arrivals"));
    t.metrics.set(
        "latency_overestimate_only",
        if overestimate_only { 1.0 } else { 0.0 },
    );
    for f in a.failed_checks {
        t.findings.push(Finding {
            kind: FindingKind::failed_check(f.check),
            message: format!("not measurable: {}", f.reason),
        });
    }
    t
}

/// Reads /proc/stat for the given CPUs (all when empty); zero counters when unreadable.
fn cpu_ticks(cpus: &[usize]) -> CpuTicks {
    std::fs::read_to_string("/proc/stat")
        .map(|t| echo_checks::parse_proc_stat(&t, cpus))
        .unwrap_or_default()
}

/// CPU readings at the start and end of the measured window: (when, the server's CPU seconds, the
/// watched CPUs' tick counters).
type Mark = (Instant, Option<f64>, CpuTicks, Option<HostMoment>);

/// One trial: a fresh server process, warm-up, measured window, shutdown.
fn attempt(
    launch: &Launch,
    p: EchoParams,
    cfg: &EchoConfig,
    seed: u64,
    duration: Duration,
) -> Result<Attempt, Failure> {
    let flags = [("port", "0".into()), ("bind", launch.echo_ip().to_string())];
    let mut server = launch.spawn("echo", &flags)?;
    let ready = await_ready(&mut server, "echo", cfg.ready_timeout)?;
    let startup_ms = server.started.elapsed().as_secs_f64() * 1e3;
    let port = ready
        .port
        .filter(|p| *p != 0)
        .ok_or_else(|| Failure::failed("ready event has no port"))?;
    // Where the server runs: a remote server is sampled by a probe on its host.
    let sampler = RssSampler::of(&server);
    let spec = load_spec(
        SocketAddr::from((launch.echo_ip(), port)),
        p,
        cfg,
        seed,
        duration,
    );
    // The CPUs whose spare time decides interference: server and client sets, or all when unpinned.
    let watched: Vec<usize> = match (&cfg.server_cpus, &cfg.client_cpus) {
        (Some(s), Some(c)) => s.iter().chain(c).copied().collect(),
        _ => Vec::new(),
    };
    let marks: Mutex<Vec<Mark>> = Mutex::new(Vec::new());
    let (load, client_hosts) = driver::drive_load(&spec, &|_| {
        // A remote server's CPU and its host's counters come in one round trip to its probe.
        let (cpu_s, host) = match sampler.is_remote() {
            true => sampler.moment().map_or((None, None), |(c, h)| (c, Some(h))),
            false => (sampler.cpu_s(), None),
        };
        marks.lock().unwrap_or_else(|e| e.into_inner()).push((
            Instant::now(),
            cpu_s,
            cpu_ticks(&watched),
            host,
        ));
    })?;
    let server_label = sampler.host();
    let remote_server = sampler.is_remote();
    let memory = sampler.stop();
    let (usage, mut findings) = shut_down(&mut server, &ready, cfg)?;
    check_answers(&mut server, &load)?;
    let marks = marks.into_inner().unwrap_or_else(|e| e.into_inner());
    let (server_cpu_s, window_wall_s, ticks) = window_readings(&marks, &load, server_label);
    let mut m = process_metrics(&usage, &memory, startup_ms, &ready);
    m.latency_ns = Some(percentiles(&load.histogram));
    let throughput = set_throughput_and_cpu(
        &mut m,
        &mut findings,
        &load,
        p,
        server_cpu_s,
        &client_hosts.iter().map(|h| h.cpu_s).collect::<Vec<f64>>(),
    );
    if let Mode::Open { rate_msgs_per_s } = p.mode {
        set_schedule(&mut m, &mut findings, &load, rate_msgs_per_s, throughput);
    }
    let server = if server_cpu_s.is_finite() {
        server_cpu_s
    } else {
        0.0
    };
    // The client's busy-polls are its own CPU, not interference.
    let client_all_s = load.client_cpu_s + load.client_spin_s;
    let interference = ticks.map(|edges| {
        if remote_server || !client_hosts.is_empty() {
            // Several hosts: each machine's counters minus the measured processes on it.
            return hosts::judge(
                &edges,
                server,
                client_all_s,
                &client_hosts,
                window_wall_s,
                &cfg.limits,
            );
        }
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let (k0, k1) = edges.local;
        let i = Interference::between(k0, k1, hz, window_wall_s.max(1e-3), server, client_all_s);
        (i, i.verdict(&cfg.limits))
    });
    if let Some((i, _)) = &interference {
        m.set("interference_other_cores", i.other_cores);
        m.set("interference_steal_cores", i.steal_cores);
    }
    let failed_checks = self_checks(&load, p, &cfg.limits);
    Ok(Attempt {
        data: TrialData {
            metrics: m,
            sub_intervals: load.sub_interval_rates.clone(),
            errors_by_kind: load.errors_by_kind.clone(),
            findings,
            histogram: Some(load.histogram),
            rss_timeline: memory.timeline,
            ready: Some(ready),
        },
        failed_checks,
        interference: interference.and_then(|(_, v)| v),
    })
}

/// What the load generator runs against the server at `addr` for one trial.
fn load_spec(
    addr: SocketAddr,
    p: EchoParams,
    cfg: &EchoConfig,
    seed: u64,
    duration: Duration,
) -> LoadSpec {
    LoadSpec {
        addr,
        connections: p.connections,
        message_bytes: p.message_bytes,
        mode: p.mode,
        warmup: cfg.warmup,
        duration,
        io_timeout: cfg.io_timeout,
        sub_interval: cfg.sub_interval,
        client_threads: cfg.client_threads,
        client_cpus: cfg.client_cpus.clone(),
        seed,
        engine: loadgen_engine::selected().engine,
    }
}

/// Stops the server after the window: a server that already exited failed the trial (out of memory
/// or crashed); otherwise SIGTERM, with findings for a wrong thread count, an ignored SIGTERM or a
/// bad exit.
fn shut_down(
    server: &mut crate::process::Running,
    ready: &crate::protocol::Ready,
    cfg: &EchoConfig,
) -> Result<(crate::process::Usage, Vec<Finding>), Failure> {
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
    if let Some(msg) = placement::threads_mismatch(ready.threads, cfg.server_cpus.as_deref()) {
        findings.push(Finding {
            kind: FindingKind::ThreadsMismatch,
            message: msg,
        });
    }
    if !graceful {
        findings.push(Finding {
            kind: FindingKind::IgnoredSigterm,
            message: format!("did not exit within {STOP_GRACE:?} of SIGTERM; killed"),
        });
    } else if !exit.success() {
        findings.push(Finding {
            kind: FindingKind::BadExit,
            message: format!("{exit} after SIGTERM{}", server.tail_suffix()),
        });
    }
    Ok((usage, findings))
}

/// Fails the trial when it was interrupted, the server broke the protocol, an echo differed from
/// what was sent, or nothing completed in the window.
fn check_answers(
    server: &mut crate::process::Running,
    load: &loadgen::LoadResult,
) -> Result<(), Failure> {
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
    Ok(())
}

/// The server's CPU seconds and the wall seconds between the window's two marks, and the tick
/// counters at both (NaN / the load generator's window / `None` without both marks).
fn window_readings(
    marks: &[Mark],
    load: &loadgen::LoadResult,
    server_label: Option<String>,
) -> (f64, f64, Option<hosts::Edges>) {
    match marks {
        [(t0, s0, k0, h0), (t1, s1, k1, h1)] => (
            match (s0, s1) {
                (Some(a), Some(b)) => b - a,
                _ => f64::NAN,
            },
            (*t1 - *t0).as_secs_f64(),
            Some(hosts::Edges {
                local: (*k0, *k1),
                server_host: h0.clone().zip(h1.clone()),
                server_label,
            }),
        ),
        _ => (f64::NAN, load.window_s, None),
    }
}

/// Throughput, errors and CPU per message on both sides; a finding when the client was the limit.
/// Returns the throughput (messages per second).
fn set_throughput_and_cpu(
    m: &mut crate::results::Metrics,
    findings: &mut Vec<Finding>,
    load: &loadgen::LoadResult,
    p: EchoParams,
    server_cpu_s: f64,
    client_hosts_cpu_s: &[f64],
) -> f64 {
    let window_s = load.window_s;
    let completed = load.completed_in_window as f64;
    let throughput = match p.mode {
        Mode::Closed => load.messages as f64 / window_s,
        Mode::Open { .. } => completed / window_s,
    };
    m.set("throughput_msgs_per_s", throughput);
    m.set(
        "throughput_bytes_per_s",
        throughput * p.message_bytes as f64,
    );
    m.set("errors", load.errors_by_kind.values().sum::<u64>() as f64);
    m.set("window_s", window_s);
    m.set("latency_samples", load.messages as f64);
    let per_msg = (throughput * window_s).max(1.0);
    if server_cpu_s.is_finite() {
        m.set("server_cpu_us_per_msg", server_cpu_s * 1e6 / per_msg);
        m.set("server_cpu_util", server_cpu_s / window_s);
    }
    let client_cpu_s = load.client_cpu_s;
    m.set("client_cpu_us_per_msg", client_cpu_s * 1e6 / per_msg);
    m.set("client_cpu_util", client_cpu_s / window_s);
    // Kernel part of the client's CPU (all its thread time, busy-polls included): on loopback the
    // sender's send runs the receiver's TCP processing, a floor no client design removes.
    m.set("client_sys_us_per_msg", load.client_sys_s * 1e6 / per_msg);
    m.set("client_threads", load.client_threads as f64);
    for (i, cpu_s) in client_hosts_cpu_s.iter().enumerate() {
        m.set(&format!("client_cpu_util_host{i}"), cpu_s / window_s);
    }
    // The client was the limit when its threads were (nearly) saturated.
    let capacity = load.client_threads as f64;
    let client_saturated = client_cpu_s / window_s >= 0.85 * capacity;
    m.set("client_saturated", if client_saturated { 1.0 } else { 0.0 });
    if client_saturated {
        let consequence = match p.mode {
            Mode::Closed => "throughput is a lower bound for this server (≥ this value)",
            Mode::Open { .. } => {
                "the client may not have kept to the schedule, so latencies may reflect the client, not the server"
            }
        };
        findings.push(Finding {
            kind: FindingKind::ClientBottleneck,
            message: format!(
                "the load generator ({}) used {:.2} of its {} core(s): {consequence}",
                load.engine,
                client_cpu_s / window_s,
                load.client_threads
            ),
        });
    }
    throughput
}

/// Completions in the window over the arrivals the Poisson schedule drew for it. Not over rate ×
/// window: the number of arrivals in a window is itself Poisson (standard deviation √(rate × window),
/// 2.2 % at 2,500 msgs/s over 0.8 s), so against the nominal rate a server that answered every
/// message would "miss 99 %" in a third of short low-rate trials. Falls back to the nominal rate when
/// nothing was scheduled (a result from before `scheduled` was counted, or a closed loop).
pub(crate) fn achieved_ratio(completed: u64, scheduled: u64, throughput: f64, rate: f64) -> f64 {
    if scheduled > 0 {
        completed as f64 / scheduled as f64
    } else {
        throughput / rate
    }
}

/// The open loop's schedule: offered rate, achieved ratio, send lag and scheduling error; a finding
/// when the server did not keep up with the offered rate.
fn set_schedule(
    m: &mut crate::results::Metrics,
    findings: &mut Vec<Finding>,
    load: &loadgen::LoadResult,
    rate_msgs_per_s: f64,
    throughput: f64,
) {
    m.set("offered_rate_msgs_per_s", rate_msgs_per_s);
    let achieved = achieved_ratio(
        load.completed_in_window,
        load.scheduled,
        throughput,
        rate_msgs_per_s,
    );
    m.set("achieved_ratio", achieved);
    m.set("max_send_lag_ms", load.max_send_lag_ms);
    m.set(
        "sched_error_ns_p50",
        load.sched_error.value_at_quantile(0.5) as f64,
    );
    m.set(
        "sched_error_ns_p99",
        load.sched_error.value_at_quantile(0.99) as f64,
    );
    m.set("sched_error_ns_max", load.sched_error.max() as f64);
    if achieved < 0.99 || load.max_send_lag_ms > 100.0 {
        findings.push(Finding {
            kind: FindingKind::OverCapacity,
            message: format!(
                "offered {rate_msgs_per_s:.0} msgs/s, completed {throughput:.0} msgs/s in the window ({:.1} %), sends fell up to {:.0} ms behind{}",
                achieved * 100.0,
                load.max_send_lag_ms,
                if achieved < 0.99 {
                    ": latencies grow without bound at this rate"
                } else {
                    " although the rate was kept: the server held sends back, or the client was starved of CPU (see the scheduling-error check)"
                }
            ),
        });
    }
}

/// The echo self-checks on this trial's evidence (arrivals, stationarity, percentile interval,
/// scheduling error).
fn self_checks(
    load: &loadgen::LoadResult,
    p: EchoParams,
    limits: &Limits,
) -> Vec<echo_checks::Failed> {
    let p99_ci = echo_checks::quantile_ci_positions(load.histogram.len(), 0.99).map(|(lo, hi)| {
        (
            load.histogram.value_at_quantile(lo) as f64,
            load.histogram.value_at_quantile(hi) as f64,
        )
    });
    let evidence = Evidence {
        open_loop: matches!(p.mode, Mode::Open { .. }),
        send_gaps_ns: &load.send_gaps_ns,
        requested_mean_gap_ns: load.requested_mean_gap_ns,
        sub_rates: &load.sub_interval_rates,
        sub_p99_ns: &load.sub_interval_p99_ns,
        sched_error_p99_ns: load.sched_error.value_at_quantile(0.99) as f64,
        latency_p99_ns: load.histogram.value_at_quantile(0.99) as f64,
        p99_ci_ns: p99_ci,
        samples: load.histogram.len(),
    };
    echo_checks::evaluate(&evidence, limits)
}

/// Verifies an echo implementation: started with `--bind 127.0.0.2` it listens there only, then
/// conformance under concurrency, then clean exits on SIGTERM and on stdin EOF. `Ok` carries a
/// one-line summary.
pub fn verify(launch: &Launch, ready_timeout: Duration) -> Result<String, String> {
    // The first server binds 127.0.0.2 and must listen there only (verify/echo.rs).
    // A remote server binds the address this host reaches it at; 127.0.0.2 there is out of reach.
    let (bind, bind_note) = if launch.remote.is_some() {
        let ip = launch.echo_ip();
        (
            ip,
            Some(format!(
                "remote server bound to --bind {ip} (the listens-only check runs on local servers)"
            )),
        )
    } else {
        match crate::verify::echo::verify_bind_address() {
            Ok(ip) => (ip, None),
            Err((ip, note)) => (ip, Some(note)),
        }
    };
    let mut server = launch
        .spawn("echo", &[("port", "0".into()), ("bind", bind.to_string())])
        .map_err(|f| f.reason)?;
    let ready = await_ready(&mut server, "echo", ready_timeout).map_err(|f| f.reason)?;
    let port = ready
        .port
        .filter(|p| *p != 0)
        .ok_or("ready event has no port")?;
    if bind_note.is_none() {
        crate::verify::echo::check_listens_only_on(bind, port)?;
    }
    let cfg = crate::verify::echo::EchoCheck::default();
    crate::verify::echo::check(SocketAddr::new(bind, port), cfg)?;
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
    let flags = [("port", "0".into()), ("bind", launch.echo_ip().to_string())];
    let mut server = launch.spawn("echo", &flags).map_err(|f| f.reason)?;
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
        "{} connections × {} payloads of 1 B–{} KiB, split and coalesced writes, half-close: every byte matched; {}; exits 0 on SIGTERM and on stdin EOF",
        cfg.connections,
        cfg.messages_per_connection,
        cfg.max_message_bytes / 1024,
        bind_note.unwrap_or_else(|| format!("with --bind {bind} it listens there only"))
    ))
}

/// The echo workload's facts (see [`Definition`]).
pub const DEFINITION: Definition = Definition {
    name: "echo",
    title: "TCP echo",
    parameters: &[
        "mode",
        "connections",
        "message_bytes",
        "rate_msgs_per_s",
        "rate_fraction",
    ],
    headlines: &[
        "throughput_msgs_per_s",
        "latency_ns.p99",
        "capacity_msgs_per_s",
    ],
    columns: &[
        "throughput_msgs_per_s",
        "latency_ns.p50",
        "latency_ns.p99",
        "latency_ns.p999",
        "latency_ns.max",
        "server_cpu_us_per_msg",
        "client_cpu_util",
        "peak_rss_bytes",
        "startup_ms",
        "errors",
    ],
    charts: &[
        "echo_throughput",
        "echo_latency_spectrum",
        "echo_latency_vs_load",
    ],
    verify: Some(|launch, ready_timeout| (verify(launch, ready_timeout), None)),
    measure: plan::measure,
    estimate_s: plan::estimate_s,
};
