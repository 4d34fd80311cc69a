//! The echo load generator: what both client engines share (spec, result, connection state, arrival
//! process, payload checks, FIFO matching, histograms, CPU accounting) and the portable "epoll-loop"
//! engine. The io_uring engine is `loadgen_uring.rs`; `loadgen_engine.rs` picks one.
//!
//! The epoll engine: one thread per client CPU, each running one
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

pub use super::loadgen_engine::Engine;

/// Unanswered messages one open-loop connection may hold (sent or waiting to be sent). Bounds memory;
/// an arrival beyond it is counted as `backlog_full` and never completes, so it lowers achieved/offered.
pub(super) const MAX_QUEUED_PER_CONNECTION: usize = 4096;

/// Inter-send gaps each thread keeps for the arrival-process check (first gaps of the window).
pub(super) const GAP_SAMPLE_CAP: usize = 20_000;

/// How often the loop looks at timeouts and Ctrl-C when no I/O wakes it.
pub(super) const HOUSEKEEPING_NS: u64 = 10_000_000;

/// Open loop: when the next arrival is this close, the thread polls instead of sleeping. A timer
/// wake-up on a virtual machine costs tens of µs and arrives late by as much, which would show up as
/// scheduling error (and as latency no server caused); the client threads own their CPUs, so they
/// busy-poll, as precise load generators do (Lancet, mutilate). Iterations that neither sent nor
/// received (empty polls and the bookkeeping between them) are not client work.
pub(super) const SPIN_NS: u64 = 2_000_000;

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
    /// The client engine that runs the load (resolved: see `loadgen_engine`).
    pub engine: Engine,
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
    /// How the loop slept: "epoll_pwait2", "timerfd" or "io_uring_enter".
    pub timer: &'static str,
    /// System (kernel) part of the client threads' CPU in the window, s, of `client_cpu_s +
    /// client_spin_s`. On loopback the sender's `send` also runs the receiver's TCP processing, so this
    /// is the part no user-space design removes.
    pub client_sys_s: f64,
    /// The client engine that produced this result ([`Engine::name`]).
    pub engine: &'static str,
}

/// Errors a connection can end with, counted by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ErrKind {
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

    pub(super) fn of(e: &io::Error) -> ErrKind {
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
pub(super) struct Plan {
    pub(super) base: Instant,
    pub(super) t0_ns: u64,
    pub(super) start_ns: u64,
    pub(super) end_ns: u64,
    sub_ns: u64,
    slots: usize,
    pub(super) io_timeout_ns: u64,
}

impl Plan {
    pub(super) fn now(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }
    pub(super) fn in_window(&self, t: u64) -> bool {
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
                    match spec.engine {
                        Engine::Epoll => thread_main(spec, t, &conns, plan),
                        Engine::IoUring => super::loadgen_uring::thread_main(spec, t, &conns, plan),
                    }
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
pub(super) struct ThreadOut {
    hist: Histogram<u64>,
    sched: Histogram<u64>,
    slot_counts: Vec<u64>,
    slot_hists: Vec<Histogram<u64>>,
    messages: u64,
    completed_in_window: u64,
    scheduled: u64,
    max_lag_ns: u64,
    errors: [u64; ERR_KINDS.len()],
    pub(super) live: usize,
    gaps_ns: Vec<u32>,
    cpu_s: f64,
    spin_s: f64,
    sys_s: f64,
    pub(super) timer: &'static str,
}

impl ThreadOut {
    pub(super) fn new(plan: &Plan, open: bool) -> Self {
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
            sys_s: 0.0,
            timer: "",
        }
    }
    pub(super) fn count(&mut self, kind: ErrKind, n: u64) {
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
        client_sys_s: 0.0,
        engine: spec.engine.name(),
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
        r.client_sys_s += o.sys_s;
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
pub(super) struct Conn {
    pub(super) fd: Option<OwnedFd>,
    pub(super) payload: Vec<u8>,
    pub(super) queue: VecDeque<u64>,
    pub(super) written: usize,
    pub(super) write_off: usize,
    /// Bytes of the front message's echo received so far.
    recv_off: usize,
    /// A send is pending: epoll: EPOLLOUT registered (a send would block); io_uring: a send in flight.
    pub(super) want_out: bool,
    /// Closed loop: stopped sending because the window ended.
    pub(super) done: bool,
    last_progress_ns: u64,
}

impl Conn {
    pub(super) fn alive(&self) -> bool {
        self.fd.is_some()
    }
    pub(super) fn outstanding(&self) -> bool {
        !self.queue.is_empty()
    }
}

/// Opens this thread's connections (payloads seeded per connection index), counting failures. A
/// connection that cannot connect stays in the list without a socket so indices stay stable.
pub(super) fn open_connections(
    spec: &LoadSpec,
    indices: &[usize],
    out: &mut ThreadOut,
) -> Vec<Conn> {
    let queue_cap = match spec.mode {
        Mode::Open { .. } => MAX_QUEUED_PER_CONNECTION,
        Mode::Closed => 1,
    };
    let mut conns: Vec<Conn> = Vec::with_capacity(indices.len());
    for &index in indices {
        let mut payload = vec![0u8; spec.message_bytes];
        SmallRng::seed_from_u64(spec.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .fill_bytes(&mut payload);
        let fd = match connect(spec.addr, spec.io_timeout) {
            Ok(fd) => Some(fd),
            Err(e) => {
                let kind = if e.kind() == io::ErrorKind::TimedOut {
                    ErrKind::ConnectTimeout
                } else {
                    ErrKind::of(&e)
                };
                out.count(kind, 1);
                None
            }
        };
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
    conns
}

/// The open-loop arrival stream of one thread: Poisson at its share of the offered rate, each arrival
/// given to a uniformly random connection of the thread. `None` rate: closed loop, no arrivals.
pub(super) struct Arrivals {
    rng: SmallRng,
    rate_per_s: Option<f64>,
    pub(super) next_ns: u64,
}

impl Arrivals {
    pub(super) fn new(spec: &LoadSpec, t: usize, thread_conns: usize, plan: &Plan) -> Arrivals {
        let mut rng = SmallRng::seed_from_u64(spec.seed.wrapping_add(0x0a11_5eed ^ t as u64));
        let rate_per_s = match spec.mode {
            Mode::Open { rate_msgs_per_s } => {
                Some(rate_msgs_per_s * thread_conns as f64 / spec.connections.max(1) as f64)
            }
            Mode::Closed => None,
        };
        let mut next_ns = plan.t0_ns;
        if let Some(rate) = rate_per_s {
            next_ns += exp_gap_ns(&mut rng, rate);
        }
        Arrivals {
            rng,
            rate_per_s,
            next_ns,
        }
    }

    pub(super) fn open(&self) -> bool {
        self.rate_per_s.is_some()
    }

    /// Closed loop, or the last arrival before the window's end has been released.
    pub(super) fn over(&self, plan: &Plan) -> bool {
        self.rate_per_s.is_none() || self.next_ns >= plan.end_ns
    }

    /// Queues every arrival that has come due on its connection and calls `kick(conn, index, out)` for
    /// it (the engine starts sending); true when it released any.
    pub(super) fn release(
        &mut self,
        now: u64,
        plan: &Plan,
        conns: &mut [Conn],
        out: &mut ThreadOut,
        mut kick: impl FnMut(&mut Conn, usize, &mut ThreadOut),
    ) -> bool {
        let Some(rate) = self.rate_per_s else {
            return false;
        };
        let mut released = false;
        while self.next_ns <= now && self.next_ns < plan.end_ns && !conns.is_empty() {
            let intended = self.next_ns;
            self.next_ns += exp_gap_ns(&mut self.rng, rate);
            if plan.in_window(intended) {
                out.scheduled += 1;
            }
            let i = self.rng.random_range(0..conns.len());
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
            released = true;
            kick(c, i, out);
        }
        released
    }

    /// When the loop should wake next: the next arrival, the window's edges or housekeeping.
    pub(super) fn wake_ns(&self, now: u64, plan: &Plan) -> u64 {
        let mut wake = now + HOUSEKEEPING_NS;
        if !self.over(plan) {
            wake = wake.min(self.next_ns);
        }
        for edge in [plan.start_ns, plan.end_ns] {
            if edge > now {
                wake = wake.min(edge);
            }
        }
        wake
    }

    /// Busy-poll rather than sleep: an open loop whose next arrival is within [`SPIN_NS`].
    pub(super) fn spin(&self, plan: &Plan, timeout_ns: u64) -> bool {
        self.open() && !self.over(plan) && timeout_ns <= SPIN_NS
    }
}

/// The loop may end: only after the window, when no connection has anything unanswered (closed loop:
/// and every connection has stopped sending). Before the window ends this skips the O(connections) scan.
pub(super) fn finished(conns: &[Conn], now: u64, plan: &Plan, open: bool) -> bool {
    if now < plan.end_ns && !conns.is_empty() {
        return false;
    }
    !conns
        .iter()
        .any(|c| c.alive() && (c.outstanding() || (!open && !c.done)))
}

/// Every [`HOUSEKEEPING_NS`]: fails connections stuck longer than the I/O timeout or past the drain
/// deadline. Returns true when the run was interrupted (Ctrl-C).
pub(super) fn housekeep(
    conns: &mut [Conn],
    plan: &Plan,
    out: &mut ThreadOut,
    now: u64,
    open: bool,
    last_ns: &mut u64,
) -> bool {
    if now.saturating_sub(*last_ns) < HOUSEKEEPING_NS {
        return false;
    }
    *last_ns = now;
    if crate::process::interrupted() {
        return true;
    }
    let drain_deadline = plan.end_ns + plan.io_timeout_ns;
    for c in conns.iter_mut().filter(|c| c.alive() && c.outstanding()) {
        let stuck = now.saturating_sub(c.last_progress_ns) > plan.io_timeout_ns;
        if stuck || now > drain_deadline {
            let unanswered = c.queue.iter().filter(|&&q| plan.in_window(q)).count() as u64;
            if open && unanswered > 0 {
                out.count(ErrKind::UnansweredAtEnd, unanswered);
            }
            fail(c, out, ErrKind::IoTimeout);
        }
    }
    false
}

/// A thread's CPU inside the window: total (thread clock) and system time (getrusage), read at the
/// window's edges, and the open loop's productive-iteration time (see [`iteration_work_ns`]).
#[derive(Default)]
pub(super) struct CpuMeter {
    start: Option<(f64, f64)>,
    end: Option<(f64, f64)>,
    work_ns: u64,
    prev: Option<Iteration>,
}

impl CpuMeter {
    /// Called at the top of every loop iteration: closes the previous iteration and reads the clocks
    /// when the window starts or ends.
    pub(super) fn tick(&mut self, now: u64, plan: &Plan) {
        if let Some(mut it) = self.prev.take() {
            it.end_ns = now;
            self.work_ns += iteration_work_ns(&it, (plan.start_ns, plan.end_ns));
        }
        if self.start.is_none() && now >= plan.start_ns {
            self.start = Some(thread_times_s());
        }
        if self.end.is_none() && now >= plan.end_ns {
            self.end = Some(thread_times_s());
        }
    }

    /// The open loop records each iteration: it started at `start_ns`, waited from `wait_start_ns` to
    /// `wait_end_ns` (`polled`: a zero-timeout poll) and ends where the next tick starts.
    pub(super) fn iteration(
        &mut self,
        start_ns: u64,
        (wait_start_ns, wait_end_ns): (u64, u64),
        productive: bool,
        polled: bool,
    ) {
        self.prev = Some(Iteration {
            start_ns,
            wait_start_ns,
            wait_end_ns,
            end_ns: wait_end_ns,
            productive,
            polled,
        });
    }

    /// Fills the thread's `cpu_s`, `spin_s` and `sys_s`.
    pub(super) fn finish(mut self, plan: &Plan, open: bool, out: &mut ThreadOut) {
        self.tick(plan.now().max(plan.end_ns), plan);
        let now = thread_times_s();
        let (c0, s0) = self.start.unwrap_or(now);
        let (c1, s1) = self.end.unwrap_or(now);
        (out.cpu_s, out.spin_s) = split_client_cpu(c1 - c0, open.then_some(self.work_ns));
        out.sys_s = (s1 - s0).max(0.0);
    }
}

/// The event loop of one client thread.
fn thread_main(spec: &LoadSpec, t: usize, indices: &[usize], plan: Plan) -> ThreadOut {
    let open_loop = matches!(spec.mode, Mode::Open { .. });
    let mut out = ThreadOut::new(&plan, open_loop);
    let Ok(epfd) = epoll_create() else {
        out.count(ErrKind::Timer, 1);
        return out;
    };
    let Ok(waiter) = Waiter::new(epfd.as_raw_fd()) else {
        out.count(ErrKind::Timer, 1);
        return out;
    };
    out.timer = waiter.kind();
    let mut conns = open_connections(spec, indices, &mut out);
    for (i, c) in conns.iter_mut().enumerate() {
        let Some(fd) = c.fd.as_ref().map(|f| f.as_raw_fd()) else {
            continue;
        };
        if epoll_set(epfd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, i, false).is_err() {
            fail(c, &mut out, ErrKind::IoOther);
        }
    }
    let mut rbuf = vec![0u8; 64 * 1024];
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; conns.len().clamp(1, 1024)];
    sleep_until(plan.base + Duration::from_nanos(plan.t0_ns));

    let mut arrivals = Arrivals::new(spec, t, indices.len(), &plan);
    let mut last_send_ns: Option<u64> = None;
    let mut meter = CpuMeter::default();
    let mut last_housekeeping = 0u64;
    if !open_loop {
        let now = plan.now();
        for (i, c) in conns.iter_mut().enumerate().filter(|(_, c)| c.alive()) {
            c.queue.push_back(now);
            c.last_progress_ns = now;
            flush(c, i, &epfd, &plan, &mut out, false, &mut last_send_ns);
        }
    }
    loop {
        let now = plan.now();
        meter.tick(now, &plan);
        let sent = arrivals.release(now, &plan, &mut conns, &mut out, |c, i, out| {
            if !c.want_out {
                flush(c, i, &epfd, &plan, out, true, &mut last_send_ns);
            }
        });
        if finished(&conns, now, &plan, open_loop)
            || housekeep(
                &mut conns,
                &plan,
                &mut out,
                now,
                open_loop,
                &mut last_housekeeping,
            )
        {
            break;
        }
        let before_ns = plan.now();
        let timeout_ns = arrivals.wake_ns(now, &plan).saturating_sub(before_ns);
        let spin = arrivals.spin(&plan, timeout_ns);
        let Ok(n) = waiter.wait(&mut events, if spin { 0 } else { timeout_ns }) else {
            out.count(ErrKind::Timer, 1);
            break;
        };
        let wait_end_ns = if open_loop { plan.now() } else { 0 };
        let mut received = false;
        for ev in &events[..n] {
            let i = ev.u64 as usize;
            if i >= conns.len() {
                continue; // the timerfd
            }
            received = true;
            let c = &mut conns[i];
            if ev.events & (libc::EPOLLIN | libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0 {
                on_readable(c, &plan, &mut out, &mut rbuf, open_loop);
                if !open_loop && next_closed(c, &plan) {
                    flush(c, i, &epfd, &plan, &mut out, false, &mut last_send_ns);
                }
            }
            if ev.events & libc::EPOLLOUT as u32 != 0 && c.alive() {
                flush(c, i, &epfd, &plan, &mut out, open_loop, &mut last_send_ns);
            }
        }
        if open_loop {
            meter.iteration(now, (before_ns, wait_end_ns), sent || received, spin);
        }
    }
    meter.finish(&plan, open_loop, &mut out);
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

/// Closed loop: after an echo completed, queue the next message unless the window has ended; true when
/// one was queued (the engine sends it).
pub(super) fn next_closed(c: &mut Conn, plan: &Plan) -> bool {
    if !c.alive() || c.outstanding() || c.done {
        return false;
    }
    let now = plan.now();
    if now >= plan.end_ns || crate::process::interrupted() {
        c.done = true;
        return false;
    }
    c.queue.push_back(now);
    c.last_progress_ns = now;
    true
}

/// Open loop: a message intended at `intended` starts leaving now; records its scheduling error and the
/// gap since the thread's previous send (for the arrival-process check).
pub(super) fn note_send(
    plan: &Plan,
    out: &mut ThreadOut,
    intended: u64,
    last_send_ns: &mut Option<u64>,
) {
    let now = plan.now();
    if !plan.in_window(intended) {
        return;
    }
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
            note_send(plan, out, c.queue[c.written], last_send_ns);
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
    loop {
        let n = match recv(fd, rbuf) {
            Ok(0) => return fail(c, out, ErrKind::ClosedByServer),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => return fail(c, out, ErrKind::of(&e)),
        };
        if !absorb(c, plan, out, &rbuf[..n], open) {
            return;
        }
        if n < rbuf.len() {
            return;
        }
    }
}

/// Checks received echo bytes against what the connection sent (cyclically, never more than was sent)
/// and completes whole echoes: FIFO matching, latency recorded from the queued time. False when the
/// connection failed (a mismatch).
pub(super) fn absorb(
    c: &mut Conn,
    plan: &Plan,
    out: &mut ThreadOut,
    data: &[u8],
    open: bool,
) -> bool {
    let now = plan.now();
    c.last_progress_ns = now;
    let len = c.payload.len();
    let n = data.len();
    let sent_bytes = c.written * len + c.write_off;
    if c.recv_off + n > sent_bytes {
        fail(c, out, ErrKind::Mismatch);
        return false;
    }
    let mut pos = c.recv_off;
    let mut i = 0;
    while i < n {
        let k = (len - pos % len).min(n - i);
        let at = pos % len;
        if data[i..i + k] != c.payload[at..at + k] {
            fail(c, out, ErrKind::Mismatch);
            return false;
        }
        i += k;
        pos += k;
    }
    c.recv_off += n;
    while c.recv_off >= len {
        c.recv_off -= len;
        let Some(from) = c.queue.pop_front() else {
            fail(c, out, ErrKind::Mismatch);
            return false;
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
    true
}

/// Ends a connection with `kind`. The socket is shut down before it is closed so that an operation
/// still in flight on it (io_uring) completes instead of holding the socket open.
pub(super) fn fail(c: &mut Conn, out: &mut ThreadOut, kind: ErrKind) {
    out.count(kind, 1);
    if let Some(fd) = &c.fd {
        // SAFETY: shutting down our own open socket.
        unsafe { libc::shutdown(fd.as_raw_fd(), libc::SHUT_RDWR) };
    }
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

pub(super) fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<OwnedFd> {
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

/// CPU time of the calling thread and the system part of it, s (thread clock; getrusage for the split).
fn thread_times_s() -> (f64, f64) {
    // SAFETY: getrusage writes into a struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_THREAD reads the calling thread's usage.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    let sys_s = ru.ru_stime.tv_sec as f64 + ru.ru_stime.tv_usec as f64 / 1e6;
    (thread_cpu_s(), sys_s)
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

pub(super) fn sleep_until(t: Instant) {
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

    /// Every engine this kernel runs: the tests below hold for each.
    fn engines() -> Vec<Engine> {
        let mut e = vec![Engine::Epoll];
        match super::super::loadgen_uring::unsupported_reason() {
            None => e.push(Engine::IoUring),
            Some(r) => eprintln!("io_uring engine not tested here: {r}"),
        }
        e
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
            engine: Engine::Epoll,
        }
    }

    #[test]
    fn closed_loop_echoes_on_every_connection_with_small_and_large_messages() {
        let addr = server(false, false);
        for engine in engines() {
            for (bytes, conns) in [(1, 64), (64, 16), (65536, 16)] {
                let mut s = spec(addr, Mode::Closed, conns, bytes);
                s.engine = engine;
                let r = run(&s, &|_| {});
                let e = engine.name();
                assert!(
                    r.errors_by_kind.is_empty(),
                    "{e} {bytes} B: {:?}",
                    r.errors_by_kind
                );
                assert!(r.messages > 0 && !r.histogram.is_empty(), "{e}");
                assert_eq!(r.live_connections, conns, "{e}");
                assert_eq!(r.sub_interval_rates.len(), 6, "{e}");
                assert!(r.client_cpu_s > 0.0, "{e}");
                assert!(
                    r.client_sys_s <= r.client_cpu_s + r.client_spin_s + 0.02,
                    "{e}"
                );
                assert_eq!(r.engine, e);
            }
        }
    }

    #[test]
    fn open_loop_pipelines_large_messages_on_many_connections_intact() {
        let addr = server(false, false);
        for engine in engines() {
            let mut s = spec(
                addr,
                Mode::Open {
                    rate_msgs_per_s: 3000.0,
                },
                64,
                65536,
            );
            s.engine = engine;
            let r = run(&s, &|_| {});
            let e = engine.name();
            assert!(r.errors_by_kind.is_empty(), "{e}: {:?}", r.errors_by_kind);
            assert_eq!(
                r.messages, r.scheduled,
                "{e}: every intended message answered"
            );
            assert_eq!(r.live_connections, 64, "{e}");
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
        for engine in engines() {
            open_loop_offers_poisson_arrivals_with(addr, engine);
        }
    }

    /// 8 connections × 64 B at `rate_msgs_per_s`, on `engine`.
    fn open_spec(addr: SocketAddr, rate_msgs_per_s: f64, engine: Engine) -> LoadSpec {
        let mut s = spec(addr, Mode::Open { rate_msgs_per_s }, 8, 64);
        s.engine = engine;
        s
    }

    fn open_loop_offers_poisson_arrivals_with(addr: SocketAddr, engine: Engine) {
        let r = run(&open_spec(addr, 4000.0, engine), &|_| {});
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
        for engine in engines() {
            stall_shows_with(addr, engine);
        }
    }

    fn stall_shows_with(addr: SocketAddr, engine: Engine) {
        let mut s = open_spec(addr, 2000.0, engine);
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
        for engine in engines() {
            let mut s = spec(addr, Mode::Closed, 4, 64);
            s.engine = engine;
            let r = run(&s, &|_| {});
            assert_eq!(r.errors_by_kind.get("mismatch"), Some(&4), "{engine:?}");
            assert_eq!(r.messages, 0);
        }
    }

    #[test]
    fn a_refused_connection_is_counted() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        for engine in engines() {
            let mut s = spec(addr, Mode::Closed, 3, 64);
            s.engine = engine;
            let r = run(&s, &|_| {});
            assert_eq!(r.errors_by_kind.get("connect_refused"), Some(&3));
        }
    }
}
