//! The echo load generator: closed loop (send, wait for the echo, repeat) and open loop (a constant
//! aggregate rate, latency from each message's *scheduled* send time, so a stalled server cannot hide
//! its stall: no coordinated omission).
//!
//! Frugal by design, because on a 2-core machine the client competes with the server: a few threads,
//! each a current-thread tokio runtime owning a share of the connections; one task per connection;
//! buffers, payloads and histograms allocated up front; nothing allocated per message. Memory is bounded
//! however long it runs: an HDR histogram per thread and a bounded queue of send times per connection.

use hdrhistogram::Histogram;
use rand::{RngCore, SeedableRng, rngs::SmallRng};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Messages one open-loop connection may have in flight before its sender waits: bounds memory; beyond
/// it the sender falls behind schedule and latencies keep counting from the scheduled time.
const MAX_IN_FLIGHT: usize = 4096;

/// Closed or open loop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Closed,
    Open { rate_msgs_per_s: f64 },
}

/// What load to offer.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub addr: SocketAddr,
    pub connections: usize,
    pub message_bytes: usize,
    pub mode: Mode,
    pub warmup: Duration,
    pub duration: Duration,
    /// A read or write that makes no progress for this long is an `io_timeout` error.
    pub io_timeout: Duration,
    /// Width of the throughput sub-intervals inside the measured window.
    pub sub_interval: Duration,
    pub client_threads: usize,
    pub client_cpus: Option<Vec<usize>>,
    pub seed: u64,
}

/// What the load generator observed in the measured window.
#[derive(Debug, Clone)]
pub struct LoadResult {
    pub messages: u64,
    pub window_s: f64,
    /// Round-trip latency, ns (open loop: from the scheduled send time).
    pub histogram: Histogram<u64>,
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Messages completed per sub-interval, as rates (msgs/s).
    pub sub_interval_rates: Vec<f64>,
    /// Open loop: messages scheduled in the window, and how far the senders fell behind at worst.
    pub scheduled: u64,
    pub max_send_lag_ms: f64,
    /// Connections that were still healthy at the end.
    pub live_connections: usize,
}

#[derive(Default)]
struct ThreadOut {
    hist: Option<Histogram<u64>>,
    messages: u64,
    scheduled: u64,
    max_lag: Duration,
    errors: BTreeMap<String, u64>,
    slots: Vec<u64>,
    live: usize,
}

/// Timing shared by every connection: when recording starts and when everything stops.
#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
    sub: Duration,
}

/// Runs the load and returns what it measured. `on_window` is called once at the start and once at the
/// end of the measured window (the caller samples CPU counters there).
pub fn run(spec: &LoadSpec, on_window: &(dyn Fn(bool) + Sync)) -> LoadResult {
    let threads = spec.client_threads.clamp(1, spec.connections.max(1));
    let t0 = Instant::now() + Duration::from_millis(50);
    let window = Window {
        start: t0 + spec.warmup,
        end: t0 + spec.warmup + spec.duration,
        sub: spec.sub_interval,
    };
    let slots = (spec.duration.as_secs_f64() / spec.sub_interval.as_secs_f64()).ceil() as usize;
    let outs: Vec<ThreadOut> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let conns: Vec<usize> =
                    (0..spec.connections).filter(|c| c % threads == t).collect();
                s.spawn(move || {
                    if let Some(cpus) = &spec.client_cpus {
                        pin_current_thread(cpus);
                    }
                    super::timer::tighten_timer_slack();
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("tokio runtime");
                    rt.block_on(thread_main(spec, conns, t0, window, slots))
                })
            })
            .collect();
        // The window callbacks run on this thread at the right instants.
        sleep_until(window.start);
        on_window(true);
        sleep_until(window.end);
        on_window(false);
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    merge(outs, spec)
}

fn merge(outs: Vec<ThreadOut>, spec: &LoadSpec) -> LoadResult {
    let mut histogram = new_histogram();
    let mut r = LoadResult {
        messages: 0,
        window_s: spec.duration.as_secs_f64(),
        histogram: new_histogram(),
        errors_by_kind: BTreeMap::new(),
        sub_interval_rates: Vec::new(),
        scheduled: 0,
        max_send_lag_ms: 0.0,
        live_connections: 0,
    };
    let mut slots: Vec<u64> = Vec::new();
    for o in outs {
        if let Some(h) = &o.hist {
            let _ = histogram.add(h);
        }
        r.messages += o.messages;
        r.scheduled += o.scheduled;
        r.max_send_lag_ms = r.max_send_lag_ms.max(o.max_lag.as_secs_f64() * 1e3);
        r.live_connections += o.live;
        for (k, v) in o.errors {
            *r.errors_by_kind.entry(k).or_default() += v;
        }
        if slots.len() < o.slots.len() {
            slots.resize(o.slots.len(), 0);
        }
        for (i, v) in o.slots.iter().enumerate() {
            slots[i] += v;
        }
    }
    let sub_s = spec.sub_interval.as_secs_f64();
    let full_slots = (spec.duration.as_secs_f64() / sub_s).floor() as usize;
    r.sub_interval_rates = slots
        .iter()
        .take(full_slots)
        .map(|&n| n as f64 / sub_s)
        .collect();
    r.histogram = histogram;
    r
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds")
}

async fn thread_main(
    spec: &LoadSpec,
    conns: Vec<usize>,
    t0: Instant,
    window: Window,
    slots: usize,
) -> ThreadOut {
    let out = RefCell::new(ThreadOut {
        hist: Some(new_histogram()),
        slots: vec![0; slots + 1],
        ..Default::default()
    });
    match spec.mode {
        Mode::Closed => {
            let tasks = conns
                .into_iter()
                .map(|c| connection(spec, c, t0, window, &out, None));
            crate::join::join_all(tasks).await;
        }
        Mode::Open { rate_msgs_per_s } => {
            // This thread's share of the aggregate rate, one schedule for all its connections.
            let lanes: Vec<Lane> = conns.iter().map(|_| Lane::default()).collect();
            let share = conns.len() as f64 / spec.connections as f64;
            let interval = Duration::from_secs_f64(1.0 / (rate_msgs_per_s * share));
            let threads = spec.client_threads.clamp(1, spec.connections.max(1));
            let thread_index = conns.first().copied().unwrap_or(0) % threads;
            let first = t0 + interval.mul_f64(thread_index as f64 / threads as f64);
            let tasks = conns
                .iter()
                .zip(&lanes)
                .map(|(&c, lane)| connection(spec, c, t0, window, &out, Some(lane)));
            let (paced, ()) = tokio::join!(pace(&lanes, first, interval, window, &out), async {
                crate::join::join_all(tasks).await;
            });
            if paced.is_err() {
                count(&out, "timer");
            }
        }
    }
    out.into_inner()
}

fn count(out: &RefCell<ThreadOut>, kind: &str) {
    *out.borrow_mut().errors.entry(kind.to_string()).or_default() += 1;
}

fn error_kind(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connect_refused",
        ConnectionReset | BrokenPipe => "reset",
        UnexpectedEof => "closed_by_server",
        TimedOut => "io_timeout",
        _ => "io_other",
    }
}

async fn connection(
    spec: &LoadSpec,
    index: usize,
    t0: Instant,
    window: Window,
    out: &RefCell<ThreadOut>,
    lane: Option<&Lane>,
) {
    let mut payload = vec![0u8; spec.message_bytes];
    SmallRng::seed_from_u64(spec.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .fill_bytes(&mut payload);
    let stream = match tokio::time::timeout(spec.io_timeout, TcpStream::connect(spec.addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return count(out, error_kind(&e)),
        Err(_) => return count(out, "connect_timeout"),
    };
    let _ = stream.set_nodelay(true);
    tokio::time::sleep_until(t0.into()).await;
    let result = match lane {
        None => closed_loop(spec, stream, &payload, window, out).await,
        Some(lane) => open_loop(spec, stream, &payload, window, lane, out).await,
    };
    match result {
        Ok(()) => out.borrow_mut().live += 1,
        Err(kind) => count(out, kind),
    }
}

fn record(out: &RefCell<ThreadOut>, window: Window, done: Instant, latency: Duration) {
    let mut o = out.borrow_mut();
    o.messages += 1;
    let ns = latency.as_nanos().clamp(1, u64::MAX as u128) as u64;
    if let Some(h) = o.hist.as_mut() {
        h.saturating_record(ns);
    }
    let slot = ((done - window.start).as_secs_f64() / window.sub.as_secs_f64()) as usize;
    if let Some(s) = o.slots.get_mut(slot) {
        *s += 1;
    }
}

async fn closed_loop(
    spec: &LoadSpec,
    mut stream: TcpStream,
    payload: &[u8],
    window: Window,
    out: &RefCell<ThreadOut>,
) -> Result<(), &'static str> {
    let mut buf = vec![0u8; payload.len()];
    let t = spec.io_timeout;
    loop {
        let sent = Instant::now();
        if sent >= window.end || crate::process::interrupted() {
            return Ok(());
        }
        match tokio::time::timeout(t, stream.write_all(payload)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(error_kind(&e)),
            Err(_) => return Err("io_timeout"),
        }
        match tokio::time::timeout(t, stream.read_exact(&mut buf)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(error_kind(&e)),
            Err(_) => return Err("io_timeout"),
        }
        let done = Instant::now();
        if buf != payload {
            return Err("mismatch");
        }
        if sent >= window.start && done <= window.end {
            record(out, window, done, done - sent);
        }
    }
}

/// One connection's share of the open-loop schedule: messages the pacer has released and the writer
/// has not sent yet, each with the instant its latency counts from.
#[derive(Default)]
struct Lane {
    due: RefCell<VecDeque<(Instant, Instant)>>,
    wake: tokio::sync::Notify,
    busy: Cell<bool>,
    done: Cell<bool>,
}

/// The pacer of one client thread: releases message j at `first + j * interval` to connection
/// `j mod n`, waking on a precise timer (one timer per thread, however high the rate: at high rates one
/// wake-up releases every message that has come due).
///
/// Latency counts from the *scheduled* time whenever the connection was behind (its writer still busy or
/// messages still queued: the server held it back, exactly the delay a closed loop would omit). When the
/// connection was idle, it counts from the release instant, so the pacer's own wake-up latency (a few
/// microseconds) is not blamed on the server.
async fn pace(
    lanes: &[Lane],
    first: Instant,
    interval: Duration,
    window: Window,
    out: &RefCell<ThreadOut>,
) -> std::io::Result<()> {
    let timer = super::timer::PreciseTimer::new();
    let result = async {
        let timer = timer?;
        let mut j: u64 = 0;
        loop {
            let next = first + interval.mul_f64(j as f64);
            if next >= window.end || crate::process::interrupted() {
                return Ok(());
            }
            timer.sleep_until(next).await?;
            let now = Instant::now();
            loop {
                let scheduled = first + interval.mul_f64(j as f64);
                if scheduled > now || scheduled >= window.end {
                    break;
                }
                let lane = &lanes[(j % lanes.len() as u64) as usize];
                let behind = lane.busy.get() || !lane.due.borrow().is_empty();
                let count_from = if behind { scheduled } else { now };
                lane.due.borrow_mut().push_back((count_from, scheduled));
                lane.wake.notify_one();
                if scheduled >= window.start {
                    out.borrow_mut().scheduled += 1;
                }
                j += 1;
            }
        }
    }
    .await;
    for lane in lanes {
        lane.done.set(true);
        lane.wake.notify_one();
    }
    result
}

/// One connection of the open loop: the writer sends what the pacer releases; the reader matches echoes
/// in order and records each latency from the instant chosen at release.
async fn open_loop(
    spec: &LoadSpec,
    mut stream: TcpStream,
    payload: &[u8],
    window: Window,
    lane: &Lane,
    out: &RefCell<ThreadOut>,
) -> Result<(), &'static str> {
    let (mut rd, mut wr) = stream.split();
    let in_flight: RefCell<VecDeque<(Instant, bool)>> =
        RefCell::new(VecDeque::with_capacity(MAX_IN_FLIGHT));
    let space = tokio::sync::Notify::new();
    let arrived = tokio::sync::Notify::new();
    let writer_done = Cell::new(false);
    let t = spec.io_timeout;
    let drain_deadline = window.end + t;

    let writer = async {
        loop {
            let next = lane.due.borrow_mut().pop_front();
            let Some((count_from, scheduled)) = next else {
                if lane.done.get() {
                    break;
                }
                lane.wake.notified().await;
                continue;
            };
            let in_window = scheduled >= window.start;
            if in_window {
                let lag = Instant::now().saturating_duration_since(scheduled);
                let mut o = out.borrow_mut();
                o.max_lag = o.max_lag.max(lag);
            }
            while in_flight.borrow().len() >= MAX_IN_FLIGHT {
                space.notified().await;
            }
            in_flight.borrow_mut().push_back((count_from, in_window));
            arrived.notify_one();
            lane.busy.set(true);
            let written = tokio::time::timeout(t, wr.write_all(payload)).await;
            lane.busy.set(false);
            match written {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(error_kind(&e)),
                Err(_) => return Err("io_timeout"),
            }
        }
        writer_done.set(true);
        arrived.notify_one();
        Ok(())
    };
    let reader = async {
        let mut buf = vec![0u8; payload.len()];
        loop {
            let front = in_flight.borrow().front().copied();
            let Some((count_from, in_window)) = front else {
                if writer_done.get() {
                    return Ok(());
                }
                arrived.notified().await;
                continue;
            };
            let remaining = drain_deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(remaining.min(t), rd.read_exact(&mut buf)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(error_kind(&e)),
                Err(_) => {
                    let left = in_flight.borrow().len() as u64;
                    *out.borrow_mut()
                        .errors
                        .entry("unanswered_at_end".into())
                        .or_default() += left;
                    return Err("io_timeout");
                }
            }
            let done = Instant::now();
            in_flight.borrow_mut().pop_front();
            space.notify_one();
            if buf != payload {
                return Err("mismatch");
            }
            if in_window {
                record(out, window, done, done - count_from);
            }
        }
    };
    let (w, r) = tokio::join!(writer, reader);
    w.and(r)
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

/// Pins the calling thread to `cpus`.
pub fn pin_current_thread(cpus: &[usize]) {
    // SAFETY: building a cpu_set_t we own and applying it to this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}
