//! The "io-uring" client engine: one io_uring per client thread over all of its connections.
//!
//! Each loop iteration makes **one** `io_uring_enter`: it submits every send that came due (open-loop
//! arrivals, closed-loop next messages, the rest of a short send) together with the receives re-armed
//! for the echoes just handled, and waits for the next completion or the next arrival (nanosecond
//! timeout through `IORING_ENTER_EXT_ARG`), whichever comes first. Every connection keeps one receive
//! and at most one send in flight, so a socket's bytes leave and arrive in order. The ring uses
//! `DEFER_TASKRUN` where the kernel has it (completions are handled in this thread's own enter, not by
//! interrupting it); never SQPOLL, whose kernel thread would do the submission work on another CPU and
//! hide it from the client's CPU account.
//!
//! Receives are single-shot into a per-connection buffer: a multishot receive with a provided-buffer
//! ring would save re-arming one SQE per echo, at the cost of returning buffers; not done yet.
//! Everything else — payloads, FIFO matching, the arrival process, scheduling error, sub-intervals,
//! CPU accounting — is the epoll engine's code in `loadgen.rs`.

use super::loadgen::{
    Arrivals, Conn, CpuMeter, ErrKind, LoadSpec, Mode, Plan, ThreadOut, absorb, fail, finished,
    housekeep, next_closed, note_send, open_connections, sleep_until,
};
use io_uring::{IoUring, opcode, types};
use std::io;
use std::os::fd::AsRawFd;
use std::sync::OnceLock;
use std::time::Duration;

/// The low bit of a completion's user data: which operation finished (the rest is the connection).
const OP_RECV: u64 = 0;
const OP_SEND: u64 = 1;

/// `IORING_RECVSEND_POLL_FIRST` (linux/io_uring.h; the crate keeps its `sys` module private).
const IORING_RECVSEND_POLL_FIRST: u16 = 1;

/// Why this kernel cannot run the io_uring engine, or `None` when it can (probed once per process).
pub fn unsupported_reason() -> Option<String> {
    static REASON: OnceLock<Option<String>> = OnceLock::new();
    REASON.get_or_init(probe).clone()
}

fn probe() -> Option<String> {
    let ring = match IoUring::new(8) {
        Ok(r) => r,
        Err(e) => return Some(format!("io_uring_setup failed: {e}")),
    };
    if !ring.params().is_feature_ext_arg() {
        return Some("the kernel lacks IORING_FEAT_EXT_ARG (timed waits need Linux ≥ 5.11)".into());
    }
    let mut probe = io_uring::Probe::new();
    if let Err(e) = ring.submitter().register_probe(&mut probe) {
        return Some(format!("io_uring opcode probe failed: {e}"));
    }
    if !probe.is_supported(opcode::Send::CODE) || !probe.is_supported(opcode::Recv::CODE) {
        return Some("the kernel's io_uring has no SEND/RECV (Linux ≥ 5.6)".into());
    }
    None
}

/// A ring sized for one receive and one send in flight per connection, with deferred task work where
/// the kernel has it (Linux ≥ 6.1), else a plain ring.
fn new_ring(connections: usize) -> io::Result<IoUring> {
    let entries = (2 * connections + 8).next_power_of_two().min(32_768) as u32;
    IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_taskrun_flag()
        .build(entries)
        .or_else(|_| IoUring::new(entries))
}

/// One client thread's ring, connections and receive buffers.
struct Uring<'a> {
    /// Dropped first (fields drop in order), after `drain` saw every operation complete.
    ring: IoUring,
    plan: &'a Plan,
    open_loop: bool,
    conns: Vec<Conn>,
    /// One receive buffer per connection; never resized while a receive into it is in flight.
    rbufs: Vec<Vec<u8>>,
    /// Operations submitted and not yet completed (drained before the buffers are freed).
    inflight: usize,
    last_send_ns: Option<u64>,
    completions: Vec<(u64, i32)>,
    /// `IORING_RECVSEND_POLL_FIRST` where the kernel has it (≥ 5.19): a receive is re-armed right after
    /// its echo was consumed, when the next one cannot have arrived yet, so trying it first is a wasted
    /// `recv` per message; this arms the readiness poll straight away.
    recv_ioprio: u16,
    /// Connections whose arrivals came due this iteration (reused, no allocation per message).
    due: Vec<usize>,
}

/// The io_uring loop of one client thread (same contract as the epoll engine's `thread_main`).
pub(super) fn thread_main(spec: &LoadSpec, t: usize, indices: &[usize], plan: Plan) -> ThreadOut {
    let open_loop = matches!(spec.mode, Mode::Open { .. });
    let mut out = ThreadOut::new(&plan, open_loop);
    out.timer = "io_uring_enter";
    let ring = match new_ring(indices.len()) {
        Ok(r) => r,
        Err(_) => {
            out.count(ErrKind::Timer, 1);
            return out;
        }
    };
    let mut conns = open_connections(spec, indices, &mut out);
    // io_uring honours O_NONBLOCK by failing with EAGAIN; blocking sockets make it wait for readiness.
    for c in conns.iter_mut() {
        if let Some(fd) = &c.fd
            && set_blocking(fd.as_raw_fd()).is_err()
        {
            fail(c, &mut out, ErrKind::IoOther);
        }
    }
    let rbuf_bytes = (spec.message_bytes * 4).clamp(4096, 64 * 1024);
    let mut u = Uring {
        plan: &plan,
        open_loop,
        rbufs: conns.iter().map(|_| vec![0u8; rbuf_bytes]).collect(),
        conns,
        inflight: 0,
        last_send_ns: None,
        completions: Vec::with_capacity(4 * indices.len() + 8),
        due: Vec::with_capacity(64),
        recv_ioprio: if kernel_at_least(5, 19) {
            IORING_RECVSEND_POLL_FIRST
        } else {
            0
        },
        ring,
    };
    sleep_until(plan.base + Duration::from_nanos(plan.t0_ns));
    u.run(spec, t, indices.len(), &mut out);
    out.live = u.conns.iter().filter(|c| c.alive()).count();
    u.drain();
    out
}

impl Uring<'_> {
    fn run(&mut self, spec: &LoadSpec, t: usize, thread_conns: usize, out: &mut ThreadOut) {
        let plan = self.plan;
        let mut arrivals = Arrivals::new(spec, t, thread_conns, plan);
        let mut meter = CpuMeter::default();
        let mut last_housekeeping = 0u64;
        let now = plan.now();
        for i in 0..self.conns.len() {
            if self.conns[i].alive() {
                self.arm_recv(i);
                if !self.open_loop {
                    self.conns[i].queue.push_back(now);
                    self.arm_send(i, out);
                }
            }
        }
        loop {
            let now = plan.now();
            meter.tick(now, plan);
            let due = &mut self.due;
            let sent = arrivals.release(now, plan, &mut self.conns, out, |c, i, _| {
                if !c.want_out {
                    due.push(i);
                }
            });
            for k in 0..self.due.len() {
                self.arm_send(self.due[k], out); // a repeat finds its send in flight and returns
            }
            self.due.clear();
            if finished(&self.conns, now, plan, self.open_loop)
                || housekeep(
                    &mut self.conns,
                    plan,
                    out,
                    now,
                    self.open_loop,
                    &mut last_housekeeping,
                )
            {
                break;
            }
            let before_ns = plan.now();
            let timeout_ns = arrivals.wake_ns(now, plan).saturating_sub(before_ns);
            let spin = arrivals.spin(plan, timeout_ns);
            if self
                .enter(if spin { None } else { Some(timeout_ns) })
                .is_err()
            {
                out.count(ErrKind::Timer, 1);
                break;
            }
            let wait_end_ns = if self.open_loop { plan.now() } else { 0 };
            let received = self.complete(out);
            if self.open_loop {
                meter.iteration(now, (before_ns, wait_end_ns), sent || received, spin);
            }
        }
        meter.finish(plan, self.open_loop, out);
    }

    /// The iteration's one `io_uring_enter`: submits everything queued and waits up to `timeout_ns` for
    /// a completion (`None`: does not wait). A timeout or a signal is not an error.
    fn enter(&mut self, timeout_ns: Option<u64>) -> io::Result<()> {
        let submitter = self.ring.submitter();
        let r = match timeout_ns {
            None => submitter.submit_and_wait(0),
            Some(ns) => {
                let ts = types::Timespec::from(Duration::from_nanos(ns.max(1)));
                submitter.submit_with_args(1, &types::SubmitArgs::new().timespec(&ts))
            }
        };
        match r {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Handles every completion: checks and matches received bytes, re-arms the receive, continues
    /// short or queued sends, and (closed loop) queues the next message. True when there was any.
    fn complete(&mut self, out: &mut ThreadOut) -> bool {
        self.completions.clear();
        self.completions
            .extend(self.ring.completion().map(|e| (e.user_data(), e.result())));
        let n = self.completions.len();
        self.inflight -= n.min(self.inflight);
        for k in 0..n {
            let (data, res) = self.completions[k];
            let i = (data >> 1) as usize;
            if !self.conns[i].alive() {
                continue;
            }
            if data & 1 == OP_RECV {
                self.on_recv(i, res, out);
            } else {
                self.on_send(i, res, out);
            }
        }
        n > 0
    }

    fn on_recv(&mut self, i: usize, res: i32, out: &mut ThreadOut) {
        let c = &mut self.conns[i];
        if res <= 0 {
            let kind = if res == 0 {
                ErrKind::ClosedByServer
            } else {
                ErrKind::of(&io::Error::from_raw_os_error(-res))
            };
            return fail(c, out, kind);
        }
        if !absorb(
            c,
            self.plan,
            out,
            &self.rbufs[i][..res as usize],
            self.open_loop,
        ) {
            return;
        }
        self.arm_recv(i);
        if !self.open_loop && next_closed(&mut self.conns[i], self.plan) {
            self.arm_send(i, out);
        }
    }

    fn on_send(&mut self, i: usize, res: i32, out: &mut ThreadOut) {
        let c = &mut self.conns[i];
        c.want_out = false;
        if res < 0 {
            return fail(c, out, ErrKind::of(&io::Error::from_raw_os_error(-res)));
        }
        c.write_off += res as usize;
        if c.write_off == c.payload.len() {
            c.write_off = 0;
            c.written += 1;
        }
        self.arm_send(i, out);
    }

    /// Queues a receive into the connection's buffer.
    fn arm_recv(&mut self, i: usize) {
        let Some(fd) = self.conns[i].fd.as_ref().map(|f| f.as_raw_fd()) else {
            return;
        };
        let buf = &mut self.rbufs[i];
        let sqe = opcode::Recv::new(types::Fd(fd), buf.as_mut_ptr(), buf.len() as u32)
            .ioprio(self.recv_ioprio)
            .build()
            .user_data(((i as u64) << 1) | OP_RECV);
        self.push(sqe);
    }

    /// Queues a send of the first unsent message (or the rest of it) unless one is in flight; in the
    /// open loop a message's first send records its scheduling error.
    fn arm_send(&mut self, i: usize, out: &mut ThreadOut) {
        let c = &mut self.conns[i];
        let Some(fd) = c.fd.as_ref().map(|f| f.as_raw_fd()) else {
            return;
        };
        if c.want_out || c.written >= c.queue.len() {
            return;
        }
        if c.write_off == 0 && self.open_loop {
            note_send(self.plan, out, c.queue[c.written], &mut self.last_send_ns);
        }
        c.want_out = true;
        let rest = &c.payload[c.write_off..];
        let sqe = opcode::Send::new(types::Fd(fd), rest.as_ptr(), rest.len() as u32)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(((i as u64) << 1) | OP_SEND);
        self.push(sqe);
    }

    fn push(&mut self, sqe: io_uring::squeue::Entry) {
        // SAFETY: the buffers an entry points into (`rbufs[i]`, `conns[i].payload`) are neither moved
        // nor freed until every operation has completed (`drain`).
        while unsafe { self.ring.submission().push(&sqe) }.is_err() {
            // The ring holds two entries per connection, so this only happens if that bound is broken;
            // submitting makes room.
            let _ = self.ring.submit();
        }
        self.inflight += 1;
    }

    /// Shuts every socket down so receives in flight complete, and waits (bounded) until no operation
    /// references a buffer any more.
    fn drain(&mut self) {
        for c in &self.conns {
            if let Some(fd) = &c.fd {
                // SAFETY: shutting down our own open socket.
                unsafe { libc::shutdown(fd.as_raw_fd(), libc::SHUT_RDWR) };
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while self.inflight > 0 && std::time::Instant::now() < deadline {
            if self.enter(Some(10_000_000)).is_err() {
                break;
            }
            let n = self.ring.completion().count();
            self.inflight -= n.min(self.inflight);
        }
        if self.inflight > 0 {
            // Buffers an operation may still write into must outlive the ring's teardown: leak them.
            std::mem::forget(std::mem::take(&mut self.rbufs));
            for c in &mut self.conns {
                std::mem::forget(std::mem::take(&mut c.payload));
            }
        }
    }
}

/// The running kernel's version is at least `major.minor` (from uname; false when unreadable).
fn kernel_at_least(major: u32, minor: u32) -> bool {
    // SAFETY: uname writes into a struct we own.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::uname(&mut u) } != 0 {
        return false;
    }
    let release: String = u
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8 as char)
        .collect();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (a, b) >= (major, minor)
}

fn set_blocking(fd: i32) -> io::Result<()> {
    // SAFETY: reading and setting the status flags of our own open descriptor.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
