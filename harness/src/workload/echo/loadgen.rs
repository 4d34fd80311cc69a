//! The echo load generator ("epoll-loop" client engine): one thread per client CPU, each running one
//! level-triggered epoll loop over all of its nonblocking connections. No async runtime, no task per
//! connection, no wake-up per message: a readiness event leads straight to `recv`/`send` on that socket.
//! Buffers, payloads, send-time queues and histograms are allocated before the first message; nothing is
//! allocated per message, so the client costs far less CPU per message than any server it measures.
//!
//! * **Closed loop**: each connection sends a message, reads the whole echo, sends the next.
//! * **Open loop**: each thread draws one Poisson arrival stream (exponential inter-arrival times,
//!   seeded) at its share of the offered rate and gives each arrival to a uniformly random connection of
//!   the thread, so every connection sees a Poisson stream too (random thinning keeps the process
//!   Poisson). Sends are pipelined: a connection does not wait for its previous echo; echoes are matched
//!   to sends first-in first-out by byte count. Latency counts from the *intended* send time, so a
//!   stalled server cannot hide its stall (no coordinated omission), and the client's own lateness is
//!   measured separately as the scheduling error (actual − intended send time).
//!
//! Waiting uses `epoll_pwait2` (nanosecond timeout) where the kernel has it, else a `timerfd` in the
//! epoll set; the client threads' timer slack is 1 ns so arrivals are not deferred to coalesce wake-ups.
//! In the open loop a thread whose next arrival is less than [`SPIN_NS`] away busy-polls instead of
//! sleeping (its CPU is its own); only the loop iterations that sent or received count as client work
//! (see `iteration_work_ns`), so the polling and its bookkeeping never look like load.
//! Every received byte is compared with what that connection sent.

use super::timer::Waiter;
use hdrhistogram::Histogram;
use rand::{Rng, RngCore, SeedableRng, rngs::SmallRng};
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// The name results and reports give this client engine.
pub const ENGINE: &str = "epoll-loop";

/// Unanswered messages one open-loop connection may hold (sent or waiting to be sent). Bounds memory;
/// an arrival beyond it is counted as `backlog_full` and never completes, so it lowers achieved/offered.
const MAX_QUEUED_PER_CONNECTION: usize = 4096;

/// Inter-send gaps each thread keeps for the arrival-process check (first gaps of the window).
const GAP_SAMPLE_CAP: usize = 20_000;

/// How often the loop looks at timeouts and Ctrl-C when no I/O wakes it.
const HOUSEKEEPING_NS: u64 = 10_000_000;

/// Open loop: when the next arrival is this close, the thread polls instead of sleeping. A timer
/// wake-up on a virtual machine costs tens of µs and arrives late by as much, which would show up as
/// scheduling error (and as latency no server caused); the client threads own their CPUs, so they
/// busy-poll, as precise load generators do (Lancet, mutilate). Iterations that neither sent nor
/// received (empty polls and the bookkeeping between them) are not client work.
const SPIN_NS: u64 = 2_000_000;

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
    /// A connection with unanswered bytes that makes no progress for this long is an `io_timeout`.
    pub io_timeout: Duration,
    /// Width of the sub-intervals inside the measured window (throughput and latency per slice).
    pub sub_interval: Duration,
    pub client_threads: usize,
    /// CPUs for the client threads (thread t on `cpus[t % len]`); `None` leaves them unpinned.
    pub client_cpus: Option<Vec<usize>>,
    pub seed: u64,
}

/// What the load generator observed in the measured window.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// Messages whose latency was recorded (closed: sent and answered inside the window; open: intended
    /// inside the window and answered, however late).
    pub messages: u64,
    /// Echoes completed inside the window, whenever they were sent: the achieved throughput.
    pub completed_in_window: u64,
    pub window_s: f64,
    /// Round-trip latency, ns (open loop: from the intended send time).
    pub histogram: Histogram<u64>,
    /// Open loop: actual − intended send time, ns.
    pub sched_error: Histogram<u64>,
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Messages completed per sub-interval, as rates (msgs/s).
    pub sub_interval_rates: Vec<f64>,
    /// Latency p99 (ns) per sub-interval (0 when a slice completed nothing).
    pub sub_interval_p99_ns: Vec<f64>,
    /// Open loop: arrivals intended inside the window, and how far the sends fell behind at worst.
    pub scheduled: u64,
    pub max_send_lag_ms: f64,
    /// Open loop: gaps between consecutive actual sends of each thread's arrival stream, ns, and the
    /// mean gap the schedule asked for (so the sample can be tested against the exponential law).
    pub send_gaps_ns: Vec<f64>,
    pub requested_mean_gap_ns: f64,
    /// CPU time the client threads used inside the window (their own thread clocks), s.
    pub client_cpu_s: f64,
    /// CPU the client threads spent neither sending nor receiving in the open loop: empty busy-polls
    /// and the loop's bookkeeping between them (not in `client_cpu_s`; still their CPU).
    pub client_spin_s: f64,
    pub client_threads: usize,
    /// Connections that were still healthy at the end.
    pub live_connections: usize,
    /// How the loop slept: "epoll_pwait2" or "timerfd".
    pub timer: &'static str,
}

/// Errors a connection can end with, counted by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrKind {
    ConnectRefused,
    ConnectTimeout,
    Reset,
    ClosedByServer,
    IoTimeout,
    IoOther,
    Mismatch,
    UnansweredAtEnd,
    BacklogFull,
    Timer,
}

const ERR_KINDS: [ErrKind; 10] = [
    ErrKind::ConnectRefused,
    ErrKind::ConnectTimeout,
    ErrKind::Reset,
    ErrKind::ClosedByServer,
    ErrKind::IoTimeout,
    ErrKind::IoOther,
    ErrKind::Mismatch,
    ErrKind::UnansweredAtEnd,
    ErrKind::BacklogFull,
    ErrKind::Timer,
];

impl ErrKind {
    fn name(self) -> &'static str {
        match self {
            ErrKind::ConnectRefused => "connect_refused",
            ErrKind::ConnectTimeout => "connect_timeout",
            ErrKind::Reset => "reset",
            ErrKind::ClosedByServer => "closed_by_server",
            ErrKind::IoTimeout => "io_timeout",
            ErrKind::IoOther => "io_other",
            ErrKind::Mismatch => "mismatch",
            ErrKind::UnansweredAtEnd => "unanswered_at_end",
            ErrKind::BacklogFull => "backlog_full",
            ErrKind::Timer => "timer",
        }
    }

    fn of(e: &io::Error) -> ErrKind {
        use io::ErrorKind::*;
        match e.kind() {
            ConnectionRefused => ErrKind::ConnectRefused,
            ConnectionReset | BrokenPipe => ErrKind::Reset,
            UnexpectedEof => ErrKind::ClosedByServer,
            TimedOut => ErrKind::IoTimeout,
            _ => ErrKind::IoOther,
        }
    }
}

/// Times of one run as nanoseconds since `base` (cheap to compare and store).
#[derive(Clone, Copy)]
struct Plan {
    base: Instant,
    t0_ns: u64,
    start_ns: u64,
    end_ns: u64,
    sub_ns: u64,
    slots: usize,
    io_timeout_ns: u64,
}

impl Plan {
    fn now(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }
    fn in_window(&self, t: u64) -> bool {
        t >= self.start_ns && t < self.end_ns
    }
}

/// Runs the load and returns what it measured. `on_window` is called once at the start and once at the
/// end of the measured window (the caller samples server CPU and machine counters there).
pub fn run(spec: &LoadSpec, on_window: &(dyn Fn(bool) + Sync)) -> LoadResult {
    let threads = spec.client_threads.clamp(1, spec.connections.max(1));
    let base = Instant::now();
    // Connecting 1024 sockets takes a moment; the schedule starts after it.
    let t0_ns = 50_000_000 + spec.connections as u64 * 200_000;
    let start_ns = t0_ns + spec.warmup.as_nanos() as u64;
    let plan = Plan {
        base,
        t0_ns,
        start_ns,
        end_ns: start_ns + spec.duration.as_nanos() as u64,
        sub_ns: spec.sub_interval.as_nanos().max(1) as u64,
        slots: (spec.duration.as_secs_f64() / spec.sub_interval.as_secs_f64()).ceil() as usize,
        io_timeout_ns: spec.io_timeout.as_nanos() as u64,
    };
    let outs: Vec<ThreadOut> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let conns: Vec<usize> =
                    (0..spec.connections).filter(|c| c % threads == t).collect();
                s.spawn(move || {
                    if let Some(cpus) = spec.client_cpus.as_ref().filter(|c| !c.is_empty()) {
                        pin_current_thread(&[cpus[t % cpus.len()]]);
                    }
                    super::timer::tighten_timer_slack();
                    thread_main(spec, t, &conns, plan)
                })
            })
            .collect();
        sleep_until(base + Duration::from_nanos(plan.start_ns));
        on_window(true);
        sleep_until(base + Duration::from_nanos(plan.end_ns));
        on_window(false);
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| ThreadOut::new(&plan, false)))
            .collect()
    });
    merge(outs, spec, &plan, threads)
}

/// One thread's measurements.
struct ThreadOut {
    hist: Histogram<u64>,
    sched: Histogram<u64>,
    slot_counts: Vec<u64>,
    slot_hists: Vec<Histogram<u64>>,
    messages: u64,
    completed_in_window: u64,
    scheduled: u64,
    max_lag_ns: u64,
    errors: [u64; ERR_KINDS.len()],
    live: usize,
    gaps_ns: Vec<u32>,
    cpu_s: f64,
    spin_s: f64,
    timer: &'static str,
}

impl ThreadOut {
    fn new(plan: &Plan, open: bool) -> Self {
        ThreadOut {
            hist: new_histogram(3),
            sched: new_histogram(3),
            slot_counts: vec![0; plan.slots + 1],
            slot_hists: (0..plan.slots + 1).map(|_| new_histogram(2)).collect(),
            messages: 0,
            completed_in_window: 0,
            scheduled: 0,
            max_lag_ns: 0,
            errors: [0; ERR_KINDS.len()],
            live: 0,
            gaps_ns: Vec::with_capacity(if open { GAP_SAMPLE_CAP } else { 0 }),
            cpu_s: 0.0,
            spin_s: 0.0,
            timer: "",
        }
    }
    fn count(&mut self, kind: ErrKind, n: u64) {
        let i = ERR_KINDS.iter().position(|k| *k == kind).unwrap_or(0);
        self.errors[i] += n;
    }
    fn record(&mut self, plan: &Plan, done_ns: u64, latency_ns: u64) {
        let latency_ns = latency_ns.max(1);
        self.messages += 1;
        self.hist.saturating_record(latency_ns);
        if done_ns >= plan.start_ns {
            let slot = ((done_ns - plan.start_ns) / plan.sub_ns) as usize;
            if let (Some(c), Some(h)) = (
                self.slot_counts.get_mut(slot),
                self.slot_hists.get_mut(slot),
            ) {
                *c += 1;
                h.saturating_record(latency_ns);
            }
        }
    }
}

fn merge(outs: Vec<ThreadOut>, spec: &LoadSpec, plan: &Plan, threads: usize) -> LoadResult {
    let mut histogram = new_histogram(3);
    let mut sched_error = new_histogram(3);
    let mut errors = [0u64; ERR_KINDS.len()];
    let mut slot_counts = vec![0u64; plan.slots + 1];
    let mut slot_hists: Vec<Histogram<u64>> =
        (0..plan.slots + 1).map(|_| new_histogram(2)).collect();
    let mut r = LoadResult {
        messages: 0,
        completed_in_window: 0,
        window_s: spec.duration.as_secs_f64(),
        histogram: new_histogram(3),
        sched_error: new_histogram(3),
        errors_by_kind: BTreeMap::new(),
        sub_interval_rates: Vec::new(),
        sub_interval_p99_ns: Vec::new(),
        scheduled: 0,
        max_send_lag_ms: 0.0,
        send_gaps_ns: Vec::new(),
        requested_mean_gap_ns: 0.0,
        client_cpu_s: 0.0,
        client_spin_s: 0.0,
        client_threads: threads,
        live_connections: 0,
        timer: "",
    };
    for o in outs {
        let _ = histogram.add(&o.hist);
        let _ = sched_error.add(&o.sched);
        r.messages += o.messages;
        r.completed_in_window += o.completed_in_window;
        r.scheduled += o.scheduled;
        r.max_send_lag_ms = r.max_send_lag_ms.max(o.max_lag_ns as f64 / 1e6);
        r.live_connections += o.live;
        r.client_cpu_s += o.cpu_s;
        r.client_spin_s += o.spin_s;
        if !o.timer.is_empty() {
            r.timer = o.timer;
        }
        for (i, v) in o.errors.iter().enumerate() {
            errors[i] += v;
        }
        for (i, v) in o.slot_counts.iter().enumerate() {
            slot_counts[i] += v;
        }
        for (i, h) in o.slot_hists.iter().enumerate() {
            let _ = slot_hists[i].add(h);
        }
        r.send_gaps_ns.extend(o.gaps_ns.iter().map(|&g| g as f64));
    }
    for (i, k) in ERR_KINDS.iter().enumerate() {
        if errors[i] > 0 {
            r.errors_by_kind.insert(k.name().to_string(), errors[i]);
        }
    }
    let sub_s = spec.sub_interval.as_secs_f64();
    let full_slots = (spec.duration.as_secs_f64() / sub_s + 1e-9).floor() as usize;
    r.sub_interval_rates = slot_counts
        .iter()
        .take(full_slots)
        .map(|&n| n as f64 / sub_s)
        .collect();
    r.sub_interval_p99_ns = slot_hists
        .iter()
        .take(full_slots)
        .map(|h| {
            if h.is_empty() {
                0.0
            } else {
                h.value_at_quantile(0.99) as f64
            }
        })
        .collect();
    if let Mode::Open { rate_msgs_per_s } = spec.mode {
        // Each thread's stream runs at its share of the rate: R × conns_t / N. With an even split the
        // mean gap is threads / R; the uneven remainder is small and ignored by the check.
        r.requested_mean_gap_ns = threads as f64 * 1e9 / rate_msgs_per_s;
    }
    r.histogram = histogram;
    r.sched_error = sched_error;
    r
}

fn new_histogram(sigfig: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, sigfig).expect("valid histogram bounds")
}

/// One connection's state. Both loops use the same queue: `queue` holds the time each unanswered message
/// counts from (closed: when it was sent; open: when it was intended), the first `written` of them fully
/// sent, `write_off` bytes of the next one.
struct Conn {
    fd: Option<OwnedFd>,
    payload: Vec<u8>,
    queue: VecDeque<u64>,
    written: usize,
    write_off: usize,
    /// Bytes of the front message's echo received so far.
    recv_off: usize,
    /// EPOLLOUT registered (a send would block).
    want_out: bool,
    /// Closed loop: stopped sending because the window ended.
    done: bool,
    last_progress_ns: u64,
}

impl Conn {
    fn alive(&self) -> bool {
        self.fd.is_some()
    }
    fn outstanding(&self) -> bool {
        !self.queue.is_empty()
    }
}

/// The event loop of one client thread.
fn thread_main(spec: &LoadSpec, t: usize, indices: &[usize], plan: Plan) -> ThreadOut {
    let open_rate = match spec.mode {
        Mode::Open { rate_msgs_per_s } => Some(rate_msgs_per_s),
        Mode::Closed => None,
    };
    let mut out = ThreadOut::new(&plan, open_rate.is_some());
    let epfd = match epoll_create() {
        Ok(fd) => fd,
        Err(_) => {
            out.count(ErrKind::Timer, 1);
            return out;
        }
    };
    let waiter = match Waiter::new(epfd.as_raw_fd()) {
        Ok(w) => w,
        Err(_) => {
            out.count(ErrKind::Timer, 1);
            return out;
        }
    };
    out.timer = waiter.kind();
    let queue_cap = if open_rate.is_some() {
        MAX_QUEUED_PER_CONNECTION
    } else {
        1
    };
    let mut conns: Vec<Conn> = Vec::with_capacity(indices.len());
    for &index in indices {
        let mut payload = vec![0u8; spec.message_bytes];
        SmallRng::seed_from_u64(spec.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .fill_bytes(&mut payload);
        let fd = match connect(spec.addr, spec.io_timeout) {
            Ok(fd) => Some(fd),
            Err(e) => {
                out.count(
                    if e.kind() == io::ErrorKind::TimedOut {
                        ErrKind::ConnectTimeout
                    } else {
                        ErrKind::of(&e)
                    },
                    1,
                );
                None
            }
        };
        if let Some(fd) = &fd
            && epoll_set(
                epfd.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd.as_raw_fd(),
                conns.len(),
                false,
            )
            .is_err()
        {
            out.count(ErrKind::IoOther, 1);
            continue;
        }
        conns.push(Conn {
            fd,
            payload,
            queue: VecDeque::with_capacity(queue_cap),
            written: 0,
            write_off: 0,
            recv_off: 0,
            want_out: false,
            done: false,
            last_progress_ns: 0,
        });
    }
    let mut rbuf = vec![0u8; 64 * 1024];
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; conns.len().clamp(1, 1024)];
    sleep_until(plan.base + Duration::from_nanos(plan.t0_ns));

    // The arrival stream of this thread (open loop only).
    let mut rng = SmallRng::seed_from_u64(spec.seed.wrapping_add(0x0a11_5eed ^ t as u64));
    let thread_rate = open_rate.map(|r| r * indices.len() as f64 / spec.connections.max(1) as f64);
    let mut next_arrival_ns = plan.t0_ns;
    if let Some(rate) = thread_rate {
        next_arrival_ns += exp_gap_ns(&mut rng, rate);
    }
    let mut last_send_ns: Option<u64> = None;
    let mut cpu_start: Option<f64> = None;
    let mut cpu_end: Option<f64> = None;
    let mut last_housekeeping = 0u64;
    // Open loop: time of the iterations that sent or received inside the window, ns (client work;
    // see SPIN_NS), and the previous iteration's timestamps (its end is the next one's start).
    let mut work_ns = 0u64;
    let mut prev: Option<Iteration> = None;

    let mut now = plan.now();
    if open_rate.is_none() {
        for (i, c) in conns.iter_mut().enumerate() {
            if c.alive() {
                c.queue.push_back(now);
                c.last_progress_ns = now;
                flush(c, i, &epfd, &plan, &mut out, false, &mut last_send_ns);
            }
        }
    }
    loop {
        now = plan.now();
        if let Some(mut it) = prev.take() {
            it.end_ns = now;
            work_ns += iteration_work_ns(&it, (plan.start_ns, plan.end_ns));
        }
        let mut sent = false;
        if cpu_start.is_none() && now >= plan.start_ns {
            cpu_start = Some(thread_cpu_s());
        }
        if cpu_end.is_none() && now >= plan.end_ns {
            cpu_end = Some(thread_cpu_s());
        }
        // Release every arrival that has come due.
        if let Some(rate) = thread_rate {
            while next_arrival_ns <= now && next_arrival_ns < plan.end_ns && !conns.is_empty() {
                let intended = next_arrival_ns;
                next_arrival_ns += exp_gap_ns(&mut rng, rate);
                let in_window = plan.in_window(intended);
                if in_window {
                    out.scheduled += 1;
                }
                let i = rng.random_range(0..conns.len());
                let c = &mut conns[i];
                if !c.alive() {
                    continue;
                }
                if c.queue.len() >= MAX_QUEUED_PER_CONNECTION {
                    out.count(ErrKind::BacklogFull, 1);
                    continue;
                }
                if !c.outstanding() {
                    c.last_progress_ns = now;
                }
                c.queue.push_back(intended);
                sent = true;
                if !c.want_out {
                    flush(c, i, &epfd, &plan, &mut out, true, &mut last_send_ns);
                }
            }
        }
        // Finished? Closed: every connection stopped and answered. Open: arrivals over and all answered.
        let arrivals_over = thread_rate.is_none() || next_arrival_ns >= plan.end_ns;
        // Only after the window can the loop be finished, so the O(connections) scan waits until then.
        if now >= plan.end_ns || conns.is_empty() {
            let busy = conns
                .iter()
                .any(|c| c.alive() && (c.outstanding() || (thread_rate.is_none() && !c.done)));
            if !busy {
                break;
            }
        }
        if now.saturating_sub(last_housekeeping) >= HOUSEKEEPING_NS {
            last_housekeeping = now;
            if crate::process::interrupted() {
                break;
            }
            let drain_deadline = plan.end_ns + plan.io_timeout_ns;
            for c in conns.iter_mut().filter(|c| c.alive() && c.outstanding()) {
                let stuck = now.saturating_sub(c.last_progress_ns) > plan.io_timeout_ns;
                if stuck || now > drain_deadline {
                    let unanswered = c.queue.iter().filter(|&&q| plan.in_window(q)).count() as u64;
                    if thread_rate.is_some() && unanswered > 0 {
                        out.count(ErrKind::UnansweredAtEnd, unanswered);
                    }
                    out.count(ErrKind::IoTimeout, 1);
                    c.fd = None;
                    c.queue.clear();
                }
            }
        }
        // Sleep until the next arrival, the window's edges or housekeeping, whichever comes first.
        let mut wake = now + HOUSEKEEPING_NS;
        if thread_rate.is_some() && !arrivals_over {
            wake = wake.min(next_arrival_ns);
        }
        for edge in [plan.start_ns, plan.end_ns] {
            if edge > now {
                wake = wake.min(edge);
            }
        }
        let before_ns = plan.now();
        let timeout_ns = wake.saturating_sub(before_ns);
        let spin = thread_rate.is_some() && !arrivals_over && timeout_ns <= SPIN_NS;
        let n = match waiter.wait(&mut events, if spin { 0 } else { timeout_ns }) {
            Ok(n) => n,
            Err(_) => {
                out.count(ErrKind::Timer, 1);
                break;
            }
        };
        let mut received = false;
        let wait_end_ns = if thread_rate.is_some() { plan.now() } else { 0 };
        for ev in &events[..n] {
            let i = ev.u64 as usize;
            if i >= conns.len() {
                continue; // the timerfd
            }
            received = true;
            let flags = ev.events;
            if flags & (libc::EPOLLIN | libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0 {
                on_readable(
                    &mut conns[i],
                    &plan,
                    &mut out,
                    &mut rbuf,
                    thread_rate.is_some(),
                );
                if thread_rate.is_none() {
                    next_closed(&mut conns[i], i, &epfd, &plan, &mut out, &mut last_send_ns);
                }
            }
            if flags & libc::EPOLLOUT as u32 != 0 && conns[i].alive() {
                let open = thread_rate.is_some();
                flush(
                    &mut conns[i],
                    i,
                    &epfd,
                    &plan,
                    &mut out,
                    open,
                    &mut last_send_ns,
                );
            }
        }
        if thread_rate.is_some() {
            prev = Some(Iteration {
                start_ns: now,
                wait_start_ns: before_ns,
                wait_end_ns,
                end_ns: wait_end_ns,
                productive: sent || received,
                polled: spin,
            });
        }
    }
    if let Some(mut it) = prev.take() {
        it.end_ns = plan.now();
        work_ns += iteration_work_ns(&it, (plan.start_ns, plan.end_ns));
    }
    let cpu_s = cpu_end.unwrap_or_else(thread_cpu_s) - cpu_start.unwrap_or_else(thread_cpu_s);
    (out.cpu_s, out.spin_s) = split_client_cpu(cpu_s, thread_rate.map(|_| work_ns));
    out.live = conns.iter().filter(|c| c.alive()).count();
    out
}

/// Timestamps of one open-loop iteration on the plan clock, ns: it starts at the top of the loop, waits
/// (`wait_start_ns`..`wait_end_ns`), handles the ready sockets and ends where the next one starts.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Iteration {
    start_ns: u64,
    wait_start_ns: u64,
    wait_end_ns: u64,
    end_ns: u64,
    /// It released an arrival (queued or sent a message) or handled a ready socket.
    productive: bool,
    /// Its wait was a zero-timeout poll (CPU), not a sleep.
    polled: bool,
}

/// Client work in one iteration, ns inside `window`: nothing for an iteration that neither sent nor
/// received (an empty busy-poll and the bookkeeping around it are the price of a precise schedule,
/// not of the messages); otherwise its whole span except time asleep in a blocking wait.
fn iteration_work_ns(it: &Iteration, (from, to): (u64, u64)) -> u64 {
    if !it.productive {
        return 0;
    }
    let clip = |a: u64, b: u64| b.min(to).saturating_sub(a.max(from));
    let waited = if it.polled {
        clip(it.wait_start_ns, it.wait_end_ns)
    } else {
        0
    };
    clip(it.start_ns, it.wait_start_ns) + waited + clip(it.wait_end_ns, it.end_ns)
}

/// Splits a thread's CPU time over the window into (client work, other) seconds. The closed loop never
/// polls, so all of its CPU is work (`work_ns` = `None`); the open loop's work is the time of its
/// productive iterations, at most its CPU time (wall time includes any preemption).
fn split_client_cpu(thread_cpu_s: f64, work_ns: Option<u64>) -> (f64, f64) {
    let cpu_s = thread_cpu_s.max(0.0);
    match work_ns {
        None => (cpu_s, 0.0),
        Some(w) => {
            let work_s = (w as f64 / 1e9).min(cpu_s);
            (work_s, cpu_s - work_s)
        }
    }
}

/// Closed loop: after an echo completed, send the next message unless the window has ended.
fn next_closed(
    c: &mut Conn,
    i: usize,
    epfd: &OwnedFd,
    plan: &Plan,
    out: &mut ThreadOut,
    last_send_ns: &mut Option<u64>,
) {
    if !c.alive() || c.outstanding() || c.done {
        return;
    }
    let now = plan.now();
    if now >= plan.end_ns || crate::process::interrupted() {
        c.done = true;
        return;
    }
    c.queue.push_back(now);
    c.last_progress_ns = now;
    flush(c, i, epfd, plan, out, false, last_send_ns);
}

/// Sends queued messages until done or the socket would block (then waits for EPOLLOUT).
/// In the open loop (`open`) each send records its scheduling error and the gap since the previous one.
fn flush(
    c: &mut Conn,
    i: usize,
    epfd: &OwnedFd,
    plan: &Plan,
    out: &mut ThreadOut,
    open: bool,
    last_send_ns: &mut Option<u64>,
) {
    let Some(fd) = c.fd.as_ref().map(|f| f.as_raw_fd()) else {
        return;
    };
    let len = c.payload.len();
    while c.written < c.queue.len() {
        if c.write_off == 0 && open {
            let intended = c.queue[c.written];
            let now = plan.now();
            if plan.in_window(intended) {
                let lag = now.saturating_sub(intended);
                out.sched.saturating_record(lag.max(1));
                out.max_lag_ns = out.max_lag_ns.max(lag);
                if let Some(prev) = *last_send_ns
                    && out.gaps_ns.len() < GAP_SAMPLE_CAP
                {
                    out.gaps_ns
                        .push(now.saturating_sub(prev).min(u32::MAX as u64) as u32);
                }
                *last_send_ns = Some(now);
            }
        }
        match send(fd, &c.payload[c.write_off..]) {
            Ok(n) => {
                c.write_off += n;
                c.last_progress_ns = plan.now();
                if c.write_off == len {
                    c.write_off = 0;
                    c.written += 1;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if !c.want_out {
                    c.want_out = true;
                    if epoll_set(epfd.as_raw_fd(), libc::EPOLL_CTL_MOD, fd, i, true).is_err() {
                        fail(c, out, ErrKind::IoOther);
                    }
                }
                return;
            }
            Err(e) => return fail(c, out, ErrKind::of(&e)),
        }
    }
    if c.want_out {
        c.want_out = false;
        if epoll_set(epfd.as_raw_fd(), libc::EPOLL_CTL_MOD, fd, i, false).is_err() {
            fail(c, out, ErrKind::IoOther);
        }
    }
}

/// Reads what the socket has, checks every byte against the payload and completes whole echoes.
fn on_readable(c: &mut Conn, plan: &Plan, out: &mut ThreadOut, rbuf: &mut [u8], open: bool) {
    let Some(fd) = c.fd.as_ref().map(|f| f.as_raw_fd()) else {
        return;
    };
    let len = c.payload.len();
    loop {
        let n = match recv(fd, rbuf) {
            Ok(0) => return fail(c, out, ErrKind::ClosedByServer),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => return fail(c, out, ErrKind::of(&e)),
        };
        let now = plan.now();
        c.last_progress_ns = now;
        // Bytes must match the payload, cyclically, and never exceed what was sent.
        let sent_bytes = c.written * len + c.write_off;
        if c.recv_off + n > sent_bytes {
            return fail(c, out, ErrKind::Mismatch);
        }
        let mut pos = c.recv_off;
        let mut i = 0;
        while i < n {
            let k = (len - pos % len).min(n - i);
            let at = pos % len;
            if rbuf[i..i + k] != c.payload[at..at + k] {
                return fail(c, out, ErrKind::Mismatch);
            }
            i += k;
            pos += k;
        }
        c.recv_off += n;
        while c.recv_off >= len {
            c.recv_off -= len;
            let Some(from) = c.queue.pop_front() else {
                return fail(c, out, ErrKind::Mismatch);
            };
            c.written -= 1;
            if plan.in_window(now) {
                out.completed_in_window += 1;
            }
            let recorded = if open {
                plan.in_window(from)
            } else {
                from >= plan.start_ns && now <= plan.end_ns
            };
            if recorded {
                out.record(plan, now, now.saturating_sub(from));
            }
        }
        if n < rbuf.len() {
            return;
        }
    }
}

fn fail(c: &mut Conn, out: &mut ThreadOut, kind: ErrKind) {
    out.count(kind, 1);
    c.fd = None;
    c.queue.clear();
    c.written = 0;
    c.write_off = 0;
}

/// An exponential inter-arrival gap for `rate_per_s`, ns (at least 1).
fn exp_gap_ns(rng: &mut SmallRng, rate_per_s: f64) -> u64 {
    // 1 − U lies in (0, 1], so the logarithm is finite.
    let u: f64 = 1.0 - rng.random::<f64>();
    ((-u.ln() / rate_per_s) * 1e9).max(1.0) as u64
}

fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<OwnedFd> {
    let s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_nodelay(true)?;
    s.set_nonblocking(true)?;
    Ok(OwnedFd::from(s))
}

fn epoll_create() -> io::Result<OwnedFd> {
    // SAFETY: epoll_create1 returns a new descriptor or -1.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor owned by nobody else.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

fn epoll_set(epfd: RawFd, op: libc::c_int, fd: RawFd, token: usize, out: bool) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | if out { libc::EPOLLOUT } else { 0 }) as u32,
        u64: token as u64,
    };
    // SAFETY: both descriptors are open; the event struct is ours.
    if unsafe { libc::epoll_ctl(epfd, op, fd, &mut ev) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: sending from a buffer we own on an open socket; MSG_NOSIGNAL turns SIGPIPE into EPIPE.
    let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: receiving into a buffer we own from an open socket.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// CPU time of the calling thread, s.
fn thread_cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into a timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A thread-per-connection echo server on loopback. `stall`: every second, answer nothing for the
    /// first 50 ms. `corrupt`: flip the first byte of every read.
    fn server(stall: bool, corrupt: bool) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let epoch = Instant::now();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { return };
                std::thread::spawn(move || {
                    let _ = s.set_nodelay(true);
                    let mut buf = vec![0u8; 65536];
                    loop {
                        let n = match s.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if stall {
                            let into = epoch.elapsed().as_millis() % 1000;
                            if into < 50 {
                                std::thread::sleep(Duration::from_millis((50 - into) as u64));
                            }
                        }
                        if corrupt {
                            buf[0] ^= 0xff;
                        }
                        if s.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    fn spec(addr: SocketAddr, mode: Mode, connections: usize, message_bytes: usize) -> LoadSpec {
        LoadSpec {
            addr,
            connections,
            message_bytes,
            mode,
            warmup: Duration::from_millis(100),
            duration: Duration::from_millis(600),
            io_timeout: Duration::from_secs(5),
            sub_interval: Duration::from_millis(100),
            client_threads: 2,
            client_cpus: None,
            seed: 7,
        }
    }

    #[test]
    fn closed_loop_echoes_on_every_connection_with_small_and_large_messages() {
        let addr = server(false, false);
        for bytes in [1, 64, 65536] {
            let r = run(&spec(addr, Mode::Closed, 16, bytes), &|_| {});
            assert!(
                r.errors_by_kind.is_empty(),
                "{bytes} B: {:?}",
                r.errors_by_kind
            );
            assert!(r.messages > 0 && !r.histogram.is_empty());
            assert_eq!(r.live_connections, 16);
            assert_eq!(r.sub_interval_rates.len(), 6);
            assert!(r.client_cpu_s > 0.0);
        }
    }

    fn iteration(start_ns: u64, productive: bool, polled: bool) -> Iteration {
        // 1 µs of bookkeeping, a 10 µs wait, 2 µs of handling.
        Iteration {
            start_ns,
            wait_start_ns: start_ns + 1_000,
            wait_end_ns: start_ns + 11_000,
            end_ns: start_ns + 13_000,
            productive,
            polled,
        }
    }

    #[test]
    fn only_iterations_that_sent_or_received_count_as_client_work() {
        let window = (0, 1_000_000);
        assert_eq!(iteration_work_ns(&iteration(0, false, true), window), 0);
        // A productive poll: everything, the zero-timeout poll included.
        assert_eq!(iteration_work_ns(&iteration(0, true, true), window), 13_000);
        // A productive iteration that slept: the sleep is not work.
        assert_eq!(iteration_work_ns(&iteration(0, true, false), window), 3_000);
        // Clipped to the window at both ends.
        assert_eq!(
            iteration_work_ns(&iteration(995_000, true, true), window),
            5_000
        );
        assert_eq!(
            iteration_work_ns(&iteration(0, true, false), (5_000, 12_000)),
            1_000
        );
        // 10k msgs/s for 1 s, one busy-polling thread: 10k productive iterations of 13 µs among
        // 50k empty polls; the work is 0.13 s of the thread's 0.9 s, the rest is polling.
        let mut work_ns = 0;
        for k in 0..60_000u64 {
            work_ns += iteration_work_ns(
                &iteration(k * 15_000, k % 6 == 0, true),
                (0, 10_000_000_000),
            );
        }
        let (work_s, other_s) = split_client_cpu(0.9, Some(work_ns));
        assert!((work_s - 0.13).abs() < 1e-9, "{work_s}");
        assert!((other_s - 0.77).abs() < 1e-9, "{other_s}");
        // Work never exceeds the thread's CPU (wall time includes preemption); the closed loop's CPU
        // is all work.
        assert_eq!(split_client_cpu(0.1, Some(200_000_000)), (0.1, 0.0));
        assert_eq!(split_client_cpu(0.4, None), (0.4, 0.0));
        assert_eq!(split_client_cpu(-0.1, None), (0.0, 0.0));
    }

    #[test]
    fn open_loop_offers_poisson_arrivals_at_the_requested_rate() {
        let addr = server(false, false);
        let r = run(
            &spec(
                addr,
                Mode::Open {
                    rate_msgs_per_s: 4000.0,
                },
                8,
                64,
            ),
            &|_| {},
        );
        assert!(r.errors_by_kind.is_empty(), "{:?}", r.errors_by_kind);
        // 4000/s over 0.6 s: 2400 expected; a Poisson count is within ±5 σ (±245) of it.
        assert!((2155..=2645).contains(&r.scheduled), "{}", r.scheduled);
        assert_eq!(r.messages, r.scheduled, "every intended message answered");
        assert!(!r.sched_error.is_empty());
        let mean = r.send_gaps_ns.iter().sum::<f64>() / r.send_gaps_ns.len() as f64;
        assert!(
            (mean / r.requested_mean_gap_ns - 1.0).abs() < 0.25,
            "gap mean {mean} vs {}",
            r.requested_mean_gap_ns
        );
    }

    #[test]
    fn a_server_that_stalls_50_ms_every_second_shows_in_open_loop_p99() {
        let addr = server(true, false);
        let mut s = spec(
            addr,
            Mode::Open {
                rate_msgs_per_s: 2000.0,
            },
            8,
            64,
        );
        s.duration = Duration::from_secs(2);
        s.sub_interval = Duration::from_millis(500);
        let r = run(&s, &|_| {});
        // 5 % of the time the server answers nothing: about 5 % of the messages wait up to 50 ms,
        // counted from when they were meant to be sent, so p99 lands well inside the stall.
        let p99 = r.histogram.value_at_quantile(0.99);
        assert!(p99 >= 20_000_000, "p99 {p99} ns hides the stall");
        assert!(r.histogram.max() >= 40_000_000);
    }

    #[test]
    fn a_corrupted_echo_is_a_mismatch() {
        let addr = server(false, true);
        let r = run(&spec(addr, Mode::Closed, 4, 64), &|_| {});
        assert_eq!(r.errors_by_kind.get("mismatch"), Some(&4));
        assert_eq!(r.messages, 0);
    }

    #[test]
    fn a_refused_connection_is_counted() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let r = run(&spec(addr, Mode::Closed, 3, 64), &|_| {});
        assert_eq!(r.errors_by_kind.get("connect_refused"), Some(&3));
    }
}
