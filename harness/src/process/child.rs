//! Spawning one child in its own process group and talking to it: protocol lines from stdout, a bounded
//! stderr tail, exit status and rusage from `wait4` on a waiter thread, deadlines everywhere.
//!
//! Measured programs (`Spec::protocol_stdout`) are started through `asyncbench-launcher`
//! (`harness/launcher/launcher.c`, built by `build.rs`): a tiny static program that forks and execs the
//! program, `wait4`s it and reports its exit status and rusage on a pipe. Its point is `ru_maxrss`: on
//! Linux `exec` carries the RSS high-water mark of the replaced address space into the new program's
//! `maxrss`, so a program forked straight from the harness (tens of MB resident) would report at least
//! the harness's RSS. Forked from the launcher (under 1 MB), the program's `ru_maxrss` is its own
//! exact peak, as with GNU `time`, however briefly it lives.
//!
//! With the launcher, the process tree is harness → launcher (process group leader) → program:
//! [`Running::pid`] is the program's pid (for `/proc` sampling and SIGTERM) and the process group id is
//! the launcher's pid (so killing the group kills both). Builds, probes and installs go through the
//! launcher too, for containment: the launcher is a child subreaper, so descendants that leave the
//! group (`setsid`, double-forked daemons) are re-parented to it and killed when the program ends (see
//! `launcher.c`). Without the launcher, children are started directly and only their process group is
//! killed; [`containment`] says which applies, and the run records it.
//!
//! stdout is bounded: protocol lines wait in a queue of at most [`STDOUT_QUEUE_LINES`] lines and
//! [`STDOUT_QUEUE_BYTES`] bytes; a flood beyond that is drained, dropped and counted, so a misbehaving
//! program can neither exhaust the harness's memory nor block on a full pipe.

use super::{Usage, registry};
use crate::protocol::{self, Event, ProtocolError};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const STDERR_TAIL_BYTES: usize = 16 * 1024;

/// At most this many stdout lines wait for the harness to read them (a conforming program prints two).
pub const STDOUT_QUEUE_LINES: usize = 64;
/// At most this many stdout bytes wait for the harness to read them.
pub const STDOUT_QUEUE_BYTES: usize = 64 << 20;

/// How long a program may keep running after closing its stdout before the harness gives up on the
/// event it was waiting for: closing stdout means it can never print one.
const STDOUT_CLOSED_GRACE: Duration = Duration::from_secs(2);

/// The launcher built by `build.rs`; empty when no C compiler was available. The environment variable
/// `ASYNCBENCH_LAUNCHER` overrides it at run time (a relocated installation; tests of the fallback).
const LAUNCHER: &str = env!("ASYNCBENCH_LAUNCHER");

/// How long the launcher may take to exec the program and report its pid.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);

/// How long `kill` waits for the launcher to report a program it SIGKILLed before killing the group
/// (launcher included, which loses the program's rusage).
const KILL_REPORT_WAIT: Duration = Duration::from_secs(2);

/// The launcher's path, if it was built and is still there. Without it measured programs are started
/// directly, and their peak memory comes from `/proc` sampling only.
fn launcher() -> Option<&'static Path> {
    static FOUND: OnceLock<Option<&'static Path>> = OnceLock::new();
    *FOUND.get_or_init(|| {
        let configured: &'static str = match std::env::var("ASYNCBENCH_LAUNCHER") {
            Ok(v) => Box::leak(v.into_boxed_str()),
            Err(_) => LAUNCHER,
        };
        if configured.is_empty() {
            return None;
        }
        let path = Path::new(configured);
        if path.is_file() {
            Some(path)
        } else {
            eprintln!(
                "warning: the launcher {} is missing (was the build directory removed?); starting \
                 programs directly: peak memory is sampled and may miss short-lived peaks, and \
                 descendants that call setsid are not contained",
                crate::text::escape_for_terminal(&path.to_string_lossy())
            );
            None
        }
    })
}

/// The launcher's path on this machine, if it exists (the remote module ships it to other hosts).
pub fn launcher_path() -> Option<&'static Path> {
    launcher()
}

/// Whether the launcher could make itself a child subreaper (from its first report).
static SUBREAPER: OnceLock<bool> = OnceLock::new();

/// How children are contained on this machine, in one line for the results: with the launcher as a
/// child subreaper (every descendant found and killed), or only by process group (a descendant that
/// calls `setsid` could escape), with the reason.
pub fn containment() -> String {
    let Some(path) = launcher() else {
        return if LAUNCHER.is_empty() && std::env::var_os("ASYNCBENCH_LAUNCHER").is_none() {
            "process group only: the launcher was not built (no C compiler); descendants that call setsid are not contained".into()
        } else {
            "process group only: the launcher is missing; descendants that call setsid are not contained".into()
        };
    };
    if SUBREAPER.get().is_none() {
        // Learn it from one launch of a trivial program.
        let spec = Spec {
            argv: vec!["true".into()],
            cwd: std::env::temp_dir(),
            ..Spec::default()
        };
        if let Ok(mut c) = Running::spawn(&spec) {
            c.close_stdin();
            c.wait(Instant::now() + Duration::from_secs(10));
        }
    }
    match SUBREAPER.get() {
        Some(true) => format!(
            "launcher subreaper ({}): every descendant is killed when a program ends; programs run with oom_score_adj 1000",
            // The name only: results are shared, and this machine's build path means nothing elsewhere.
            path.file_name().map_or(path.as_os_str(), |n| n).to_string_lossy()
        ),
        Some(false) => "process group only: PR_SET_CHILD_SUBREAPER failed in the launcher; descendants that call setsid are not contained".into(),
        None => "process group only: the launcher could not start a program".into(),
    }
}

/// What to start and how.
#[derive(Debug, Clone, Default)]
pub struct Spec {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    /// Pin the child (and its threads) to these CPUs.
    pub cpus: Option<Vec<usize>>,
    /// Treat stdout as protocol lines (true) or as more output for the tail (false, e.g. builds).
    pub protocol_stdout: bool,
    /// Start the program on another host (`run --server-host`) instead of here; see `remote/`.
    pub remote: Option<Arc<dyn Remote>>,
}

/// Where a measured program runs when it is not this machine: the `remote` module's ssh session. The
/// program starts there through the remote launcher, whose report lines come back over the ssh
/// channel's stdout prefixed with a per-spawn marker, so its exit status and rusage (peak RSS, CPU) are
/// measured on the host that ran it.
pub trait Remote: Send + Sync + std::fmt::Debug {
    /// The local command (ssh ...) that starts `spec` remotely under the relay, which prefixes the
    /// launcher's report lines with `marker`.
    fn command(&self, spec: &Spec, marker: &str) -> Vec<String>;
    /// Sends `signal` to the remote program `pid`; false when the host cannot be reached.
    fn signal(&self, pid: i32, signal: i32) -> bool;
    /// `user@host:port`, for reasons.
    fn describe(&self) -> String;
    /// The address echo servers there bind (`--bind`) and load generators connect to.
    fn bind_ip(&self) -> std::net::IpAddr;
    /// The local command (ssh ...) that starts `asyncbench probe` for `pid` on the host (see
    /// [`super::probe`]): samplers read the host's `/proc` through it.
    fn probe_command(&self, pid: i32) -> Vec<String>;
}

/// The local stand-in pid of a remote program: no process on this machine has it (pid_max is at most
/// 2^22), so `/proc` samplers find nothing rather than an unrelated local process.
pub const REMOTE_PID: i32 = i32::MAX;

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit status {c}"),
            Exit::Signal(s) => write!(f, "killed by signal {s}{}", signal_name(*s)),
        }
    }
}

fn signal_name(s: i32) -> &'static str {
    match s {
        libc::SIGKILL => " (SIGKILL; out of memory or killed by the harness)",
        libc::SIGSEGV => " (SIGSEGV)",
        libc::SIGABRT => " (SIGABRT)",
        libc::SIGTERM => " (SIGTERM)",
        _ => "",
    }
}

/// Why waiting for an event did not produce one.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("timed out after {0:.1?}")]
    Timeout(Duration),
    #[error("exited before it was done ({exit}){tail}")]
    Exited { exit: Exit, tail: String },
    /// Killed by the kernel's OOM killer (SIGKILL that the harness did not send, with memory evidence).
    #[error("killed by the kernel's OOM killer: {0}")]
    OutOfMemory(String),
    /// stdout was closed while the program kept running: it can never print the awaited event.
    #[error("closed its stdout and kept running")]
    StdoutClosed,
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    #[error("interrupted")]
    Interrupted,
}

enum StdoutMsg {
    Line(Result<String, ProtocolError>),
    Eof,
}

/// The reader thread's side of the bounded stdout queue.
struct StdoutQueue {
    tx: SyncSender<StdoutMsg>,
    counters: Arc<StdoutCounters>,
}

/// Shared between the reader thread and [`Running`].
#[derive(Default)]
struct StdoutCounters {
    /// Bytes of lines queued and not yet received.
    queued_bytes: AtomicUsize,
    /// Lines dropped because the queue was full (a flood).
    dropped_lines: AtomicU64,
    dropped_bytes: AtomicU64,
}

impl StdoutQueue {
    /// Queues a line, or drops and counts it when the queue is full. `false` when nobody listens.
    fn push(&self, line: Result<String, ProtocolError>) -> bool {
        let len = line.as_ref().map(|l| l.len()).unwrap_or(0);
        let c = &self.counters;
        if c.queued_bytes.load(Ordering::SeqCst) + len > STDOUT_QUEUE_BYTES {
            c.dropped_lines.fetch_add(1, Ordering::SeqCst);
            c.dropped_bytes.fetch_add(len as u64, Ordering::SeqCst);
            return true;
        }
        c.queued_bytes.fetch_add(len, Ordering::SeqCst);
        match self.tx.try_send(StdoutMsg::Line(line)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                c.queued_bytes.fetch_sub(len, Ordering::SeqCst);
                c.dropped_lines.fetch_add(1, Ordering::SeqCst);
                c.dropped_bytes.fetch_add(len as u64, Ordering::SeqCst);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// End of stream; blocks briefly if the queue is full, since EOF must not be lost.
    fn eof(&self) {
        let _ = self.tx.send(StdoutMsg::Eof);
    }
}

/// Reads protocol lines from a child's stdout into `queue` until EOF, a protocol error or a reader
/// that went away; after the last two it drains the pipe so the child never blocks on it. A remote
/// program's launcher report lines (behind `demux`'s marker) go to the report pipe instead.
fn read_protocol_stdout(stdout: ChildStdout, queue: StdoutQueue, mut demux: Option<Demux>) {
    let mut reader = BufReader::new(stdout);
    loop {
        match protocol::read_line_bounded(&mut reader) {
            Ok(Ok(Some(line))) if demux.as_mut().is_some_and(|d| d.take(&line)) => {}
            Ok(Ok(Some(line))) => {
                if !queue.push(Ok(line)) {
                    // Nobody reads any more: drain so the child never blocks.
                    let _ = std::io::copy(&mut reader, &mut std::io::sink());
                    break;
                }
            }
            Ok(Err(e)) => {
                queue.push(Err(e));
                // Keep draining so the child never blocks on a full pipe.
                let _ = std::io::copy(&mut reader, &mut std::io::sink());
                break;
            }
            Ok(Ok(None)) | Err(_) => break,
        }
    }
    // Closing the report pipe's write end lets the waiter read the report to its end.
    drop(demux);
    queue.eof();
}

/// Starts the thread that reaps the group leader `pgid` (the launcher, ssh, or the program itself),
/// kills whatever is left of its group, and sends the program's exit and usage: from the launcher's
/// `report` when there is one, else from the leader's own rusage. `remote_tail` (remote programs)
/// gets a line when ssh ended before the remote launcher reported.
fn spawn_waiter(
    pgid: i32,
    report: Option<Report>,
    remote_tail: Option<Arc<Tail>>,
) -> Receiver<(Exit, Usage)> {
    let (wtx, wrx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut status = 0;
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        let r = loop {
            // SAFETY: wait4 on our own child, writing into locals we own.
            let r = unsafe { libc::wait4(pgid, &mut status, 0, &mut ru) };
            if r == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
            {
                continue;
            }
            break r;
        };
        let exit = if r == -1 {
            Exit::Code(-1)
        } else if libc::WIFSIGNALED(status) {
            Exit::Signal(libc::WTERMSIG(status))
        } else {
            Exit::Code(libc::WEXITSTATUS(status))
        };
        // The leader is gone; make sure nothing it started outlives it.
        // SAFETY: killpg has no memory-safety preconditions.
        unsafe { libc::killpg(pgid, libc::SIGKILL) };
        registry::unregister(pgid);
        let done = match report {
            // The launcher is gone, so its final line (if it lived to write one) is in the pipe.
            Some(mut report) => report.program_exit().unwrap_or_else(|| {
                if let Some(tail) = &remote_tail {
                    // The relay never reported: ssh itself ended (connection lost, host gone).
                    tail.push_line(&format!(
                        "the ssh connection ended ({exit}) before the remote launcher reported the program's exit"
                    ));
                }
                // The launcher was killed before it could report (Ctrl-C, or `kill` gave up
                // waiting): the program's own usage is unknown.
                let exit = match exit {
                    Exit::Signal(s) => Exit::Signal(s),
                    Exit::Code(_) => Exit::Code(-1),
                };
                (exit, Usage::default())
            }),
            None => (exit, Usage::from_rusage(&ru)),
        };
        let _ = wtx.send(done);
    });
    wrx
}

/// A started child.
pub struct Running {
    /// The program's pid (not the launcher's).
    pub pid: i32,
    /// From the moment the program was exec'd.
    pub started: Instant,
    /// Its process group: the launcher's pid, or `pid` when started directly.
    pgid: i32,
    stdin: Option<ChildStdin>,
    stdout: Receiver<StdoutMsg>,
    stdout_done: bool,
    /// When stdout reached EOF, if it did.
    stdout_closed_at: Option<Instant>,
    stdout_counters: Arc<StdoutCounters>,
    tail: Arc<Tail>,
    /// The harness sent SIGKILL itself (so a SIGKILL exit is not the OOM killer's).
    killed_by_harness: bool,
    /// Where OOM kills that could hit the program are counted, and the count when it started.
    oom_counter: OomCounter,
    oom_kills_at_start: Option<u64>,
    waiter: Receiver<(Exit, Usage)>,
    exited: Option<(Exit, Usage)>,
    /// For a program on another host: the session and its pid there (`pid` is then [`REMOTE_PID`]).
    remote: Option<(Arc<dyn Remote>, i32)>,
}

impl Running {
    /// Starts the child in a new process group, pinned if asked, killed if the harness dies. Every child
    /// goes through the launcher when it is available (exact rusage; containment of descendants).
    pub fn spawn(spec: &Spec) -> std::io::Result<Running> {
        let Some((program, args)) = spec.argv.split_first() else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "empty command",
            ));
        };
        if let Some(remote) = &spec.remote {
            return Self::spawn_remote(spec, remote.clone());
        }
        let launcher = launcher();
        // The pipe the launcher reports on: close-on-exec here, inherited only by the launcher.
        let report_pipe = launcher.map(|_| cloexec_pipe()).transpose()?;
        let report_fd = report_pipe.as_ref().map(|(_, w)| w.as_raw_fd());
        let mut cmd = match (launcher, report_fd) {
            (Some(launcher), Some(fd)) => {
                let mut cmd = Command::new(launcher);
                cmd.arg(fd.to_string()).arg(program);
                cmd
            }
            _ => Command::new(program),
        };
        cmd.args(args)
            .current_dir(&spec.cwd)
            .envs(spec.env.iter().map(|(k, v)| (k, v)));
        Self::spawn_command(cmd, spec, report_pipe, None)
    }

    /// Starts `spec` on its remote host: the local child is `ssh` (its own process group, killed with
    /// it), the remote relay starts the launcher, and the launcher's report lines arrive on stdout behind
    /// a random marker and are fed into the same report pipe a local launcher would write to.
    fn spawn_remote(spec: &Spec, remote: Arc<dyn Remote>) -> std::io::Result<Running> {
        let marker: String = format!("\u{1e}asyncbench-report-{:016x}", rand::random::<u64>());
        let argv = remote.command(spec, &marker);
        let Some((program, args)) = argv.split_first() else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "empty command",
            ));
        };
        let mut cmd = Command::new(program);
        cmd.args(args);
        let (read_end, write_end) = cloexec_pipe()?;
        let sink = Demux {
            marker,
            report: File::from(write_end),
        };
        let host = remote.describe();
        let mut running = Self::spawn_command(
            cmd,
            &Spec {
                cpus: None,
                ..spec.clone()
            },
            Some((read_end, sink.report.try_clone()?.into())),
            Some(sink),
        )
        .map_err(|e| match e.kind() {
            // exec's own errno from the remote launcher (e.g. the program does not exist there).
            std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => e,
            kind => std::io::Error::new(
                kind,
                format!(
                    "{e}: the ssh connection to {host} ended before the remote launcher reported the start"
                ),
            ),
        })?;
        running.remote = Some((remote, running.pid));
        running.pid = REMOTE_PID;
        Ok(running)
    }

    /// For a program on another host: its host and its pid there (samplers go through a probe).
    pub fn remote_target(&self) -> Option<(Arc<dyn Remote>, i32)> {
        self.remote.clone()
    }

    fn spawn_command(
        mut cmd: Command,
        spec: &Spec,
        report_pipe: Option<(OwnedFd, OwnedFd)>,
        demux: Option<Demux>,
    ) -> std::io::Result<Running> {
        // A remote program's report comes through stdout, not through an inherited descriptor.
        let report_fd = report_pipe
            .as_ref()
            .filter(|_| demux.is_none())
            .map(|(_, w)| w.as_raw_fd());
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let cpus = spec.cpus.clone();
        // If the harness dies, a launcher gets SIGTERM (it then kills and reaps everything its program
        // started); a directly started child gets SIGKILL.
        let death_signal = if report_fd.is_some() {
            libc::SIGTERM
        } else {
            libc::SIGKILL
        };
        // SAFETY: only async-signal-safe calls (fcntl, prctl, sched_setaffinity) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if let Some(fd) = report_fd {
                    // Keep the report pipe open across exec, in this child only.
                    if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                libc::prctl(libc::PR_SET_PDEATHSIG, death_signal);
                if let Some(cpus) = &cpus {
                    let mut set: libc::cpu_set_t = std::mem::zeroed();
                    for &c in cpus {
                        libc::CPU_SET(c, &mut set);
                    }
                    libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        // The group leader: the launcher, or the program itself.
        let pgid = child.id() as i32;
        registry::register(pgid, report_fd.is_some());

        let tail = Arc::new(Tail::default());
        let stderr = child.stderr.take().expect("piped");
        spawn_tail_reader(stderr, tail.clone());
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::sync_channel(STDOUT_QUEUE_LINES);
        let stdout_counters = Arc::new(StdoutCounters::default());
        if spec.protocol_stdout {
            let queue = StdoutQueue {
                tx,
                counters: stdout_counters.clone(),
            };
            std::thread::spawn(move || read_protocol_stdout(stdout, queue, demux));
        } else {
            spawn_tail_reader(stdout, tail.clone());
            drop(tx);
        }
        // std's Child must not reap the pid (the waiter thread does); dropping it does not wait.
        let stdin = child.stdin.take();
        drop(child);

        let (pid, report) = match report_pipe {
            Some((read_end, write_end)) => {
                // Only the launcher (or the stdout demultiplexer) may hold the write end, so that its
                // death reads as EOF.
                drop(write_end);
                let mut report = Report::new(read_end);
                match report.program_pid() {
                    Ok((pid, subreaper)) => {
                        let _ = SUBREAPER.set(subreaper);
                        (pid, Some(report))
                    }
                    Err(e) => {
                        // SAFETY: killpg and waitpid on our own child's group and pid.
                        unsafe {
                            libc::killpg(pgid, libc::SIGKILL);
                            libc::waitpid(pgid, std::ptr::null_mut(), 0);
                        }
                        registry::unregister(pgid);
                        return Err(e);
                    }
                }
            }
            None => (pgid, None),
        };
        let started = Instant::now();
        let oom_counter = OomCounter::of(pid);
        let remote_tail = report_fd.is_none().then(|| tail.clone());
        let oom_kills_at_start = oom_counter.read();

        let wrx = spawn_waiter(pgid, report, remote_tail);
        Ok(Running {
            pid,
            started,
            pgid,
            stdin,
            stdout: rx,
            stdout_done: !spec.protocol_stdout,
            stdout_closed_at: None,
            stdout_counters,
            tail,
            killed_by_harness: false,
            oom_counter,
            oom_kills_at_start,
            waiter: wrx,
            exited: None,
            remote: None,
        })
    }

    /// The next protocol event, waiting until `deadline`.
    pub fn next_event(&mut self, deadline: Instant) -> Result<Event, WaitError> {
        loop {
            if super::interrupted() {
                return Err(WaitError::Interrupted);
            }
            if self.stdout_done {
                // stdout closed: the child is exiting or has exited; report how. A child that keeps
                // running with stdout closed can never print what we wait for.
                let closed_at = *self.stdout_closed_at.get_or_insert_with(Instant::now);
                let exit = match self.wait(deadline.min(closed_at + STDOUT_CLOSED_GRACE)) {
                    Some((exit, _)) => exit,
                    None if Instant::now() < deadline && !super::interrupted() => {
                        return Err(WaitError::StdoutClosed);
                    }
                    None if super::interrupted() => return Err(WaitError::Interrupted),
                    None => {
                        return Err(WaitError::Timeout(
                            deadline.saturating_duration_since(self.started),
                        ));
                    }
                };
                if let Some(reason) = self.out_of_memory() {
                    return Err(WaitError::OutOfMemory(reason));
                }
                return Err(WaitError::Exited {
                    exit,
                    tail: self.tail_suffix(),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(WaitError::Timeout(now - self.started));
            }
            let slice = (deadline - now).min(Duration::from_millis(100));
            match self.stdout.recv_timeout(slice) {
                Ok(StdoutMsg::Line(Ok(line))) => {
                    self.received(&line);
                    return Ok(protocol::parse_line(&line)?);
                }
                Ok(StdoutMsg::Line(Err(e))) => return Err(e.into()),
                Ok(StdoutMsg::Eof) | Err(RecvTimeoutError::Disconnected) => self.stdout_done = true,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    fn received(&self, line: &str) {
        self.stdout_counters
            .queued_bytes
            .fetch_sub(line.len(), Ordering::SeqCst);
    }

    /// The first stdout line that arrived after the expected ones (a protocol error), cut to 200
    /// characters; also reports a flood that was dropped unread.
    pub fn extra_stdout(&mut self) -> Option<String> {
        let first = match self.stdout.try_recv() {
            Ok(StdoutMsg::Line(Ok(l))) => {
                self.received(&l);
                Some(l.chars().take(200).collect())
            }
            Ok(StdoutMsg::Line(Err(e))) => Some(e.to_string()),
            _ => None,
        };
        first.or_else(|| {
            let (lines, bytes) = self.stdout_dropped();
            (lines > 0).then(|| format!("({lines} lines, {bytes} bytes dropped unread)"))
        })
    }

    /// Extra stdout after the expected events, as one reason: the first offending line quoted (with
    /// control characters escaped), how many more were queued and how many a flood dropped. `None`
    /// when the program printed nothing more.
    pub fn extra_stdout_reason(&mut self) -> Option<String> {
        let first = self.extra_stdout()?;
        let mut more = 0u64;
        while let Ok(StdoutMsg::Line(l)) = self.stdout.try_recv() {
            if let Ok(l) = &l {
                self.received(l);
            }
            more += 1;
        }
        let (dropped, dropped_bytes) = self.stdout_dropped();
        let mut reason = format!(
            "unexpected stdout line {:?}",
            crate::text::escape_for_terminal(&first)
        );
        if more > 0 || dropped > 0 {
            reason.push_str(&format!(
                " and {} more line(s) ({dropped} lines, {dropped_bytes} bytes of a flood dropped unread)",
                more + dropped
            ));
        }
        Some(reason)
    }

    /// stdout lines (and their bytes) dropped because the bounded queue was full.
    pub fn stdout_dropped(&self) -> (u64, u64) {
        (
            self.stdout_counters.dropped_lines.load(Ordering::SeqCst),
            self.stdout_counters.dropped_bytes.load(Ordering::SeqCst),
        )
    }

    /// Bytes the program wrote to stderr in total (only the last 16 KiB are kept).
    pub fn stderr_bytes(&self) -> u64 {
        self.tail.total_bytes.load(Ordering::SeqCst)
    }

    /// After the child exited: why the kernel's OOM killer is the likely cause of its death, or `None`.
    /// Evidence: it died of SIGKILL that the harness did not send, and the kernel's OOM-kill counter
    /// of its memory cgroup (or, without one, of the machine) rose while it ran.
    pub fn out_of_memory(&self) -> Option<String> {
        // This machine's OOM counters say nothing about another host's.
        if self.remote.is_some() {
            return None;
        }
        let (exit, usage) = self.exited?;
        let kills = self
            .oom_counter
            .read()?
            .checked_sub(self.oom_kills_at_start?)?;
        classify_oom(
            exit,
            self.killed_by_harness,
            kills,
            self.oom_counter.scope,
            usage.peak_rss_bytes,
            &memory_limit(),
        )
    }

    /// Waits for the child to exit until `deadline`; `None` if it is still running.
    pub fn wait(&mut self, deadline: Instant) -> Option<(Exit, Usage)> {
        if let Some(done) = self.exited {
            return Some(done);
        }
        loop {
            let now = Instant::now();
            let slice = deadline
                .saturating_duration_since(now)
                .min(Duration::from_millis(100));
            match self.waiter.recv_timeout(slice) {
                Ok(done) => {
                    self.exited = Some(done);
                    return Some(done);
                }
                Err(RecvTimeoutError::Timeout)
                    if Instant::now() < deadline && !super::interrupted() => {}
                Err(_) => return None,
            }
        }
    }

    /// Asks the child to stop with SIGTERM and waits up to `grace`; kills the group if it does not.
    /// Returns the exit, the usage and whether it stopped by itself. stdin stays open: closing it at the
    /// same time would race two shutdown paths (a program stopping on EOF may restore the default
    /// SIGTERM disposition just before the signal lands).
    pub fn terminate(&mut self, grace: Duration) -> (Exit, Usage, bool) {
        if self.exited.is_none() {
            match &self.remote {
                Some((remote, pid)) => {
                    remote.signal(*pid, libc::SIGTERM);
                }
                // SAFETY: signalling our own child.
                None => unsafe {
                    libc::kill(self.pid, libc::SIGTERM);
                },
            }
        }
        if let Some((exit, usage)) = self.wait(Instant::now() + grace) {
            return (exit, usage, true);
        }
        let (exit, usage) = self.kill();
        (exit, usage, false)
    }

    /// Kills the whole process group and reaps the child.
    pub fn kill(&mut self) -> (Exit, Usage) {
        if let Some(done) = self.exited {
            return done;
        }
        self.killed_by_harness = true;
        if let Some((remote, pid)) = &self.remote {
            // Kill the remote program so its launcher reports its usage; if the host cannot be
            // reached, killing ssh below closes the channel and the relay kills everything.
            if remote.signal(*pid, libc::SIGKILL)
                && let Some(done) = self.wait(Instant::now() + KILL_REPORT_WAIT)
            {
                return done;
            }
        } else if self.pid != self.pgid {
            // Through the launcher: kill the program first so the launcher reports its usage (the
            // waiter then kills the rest of the group); kill the group only if that does not happen.
            // SAFETY: signalling our own child's child.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            if let Some(done) = self.wait(Instant::now() + KILL_REPORT_WAIT) {
                return done;
            }
        }
        // SAFETY: signalling our own process group.
        unsafe { libc::killpg(self.pgid, libc::SIGKILL) };
        self.wait(Instant::now() + Duration::from_secs(10))
            .unwrap_or((Exit::Signal(libc::SIGKILL), Usage::default()))
    }

    /// Writes one line to the child's stdin (the `cancel` workload's phase acknowledgements).
    pub fn send_line(&mut self, line: &str) -> std::io::Result<()> {
        use std::io::Write;
        let stdin = self.stdin.as_mut().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stdin already closed")
        })?;
        stdin.write_all(line.as_bytes())?;
        stdin.write_all(b"\n")?;
        stdin.flush()
    }

    /// Closes the child's stdin (echo servers stop on EOF).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The last lines of stderr (and of stdout, for builds). Once the child has exited, first gives the
    /// readers a moment to reach end-of-file so the last line (often the reason it died) is included.
    pub fn tail(&self) -> String {
        if self.exited.is_some() {
            let deadline = Instant::now() + Duration::from_millis(500);
            while self
                .tail
                .open_readers
                .load(std::sync::atomic::Ordering::SeqCst)
                > 0
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        let t = self.tail.bytes.lock().unwrap_or_else(|e| e.into_inner());
        let bytes: Vec<u8> = t.iter().copied().collect();
        // Child output is untrusted: no raw escape sequences or bidi overrides reach a terminal.
        crate::text::escape_for_terminal(String::from_utf8_lossy(&bytes).trim_end())
    }

    /// `": <last stderr line>"`, or nothing when stderr was empty.
    pub fn tail_suffix(&self) -> String {
        let tail = self.tail();
        match tail.lines().rev().find(|l| !l.trim().is_empty()) {
            Some(last) => format!(": {}", last.trim()),
            None => String::new(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.exited.is_none() {
            self.kill();
        }
    }
}

/// A pipe whose both ends are close-on-exec.
fn cloexec_pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array we own; we take ownership of both.
    unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) == -1 {
            return Err(std::io::Error::last_os_error());
        }
        Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])))
    }
}

/// Where the kernel counts the OOM kills that could hit a program: the local counter of its own memory
/// cgroup (v1 `memory.oom_control`, v2 `memory.events.local`), which OOM kills in other cgroups (a
/// parallel test, another container) leave alone; without one, the machine-wide `/proc/vmstat`
/// (Linux ≥ 4.13), where any OOM kill on the machine counts.
#[derive(Debug, Clone)]
struct OomCounter {
    file: PathBuf,
    scope: &'static str,
}

impl OomCounter {
    fn of(pid: i32) -> OomCounter {
        cgroup_files(
            &pid.to_string(),
            "memory.oom_control",
            "memory.events.local",
        )
        .into_iter()
        .find(|f| read_oom_kill(f).is_some())
        .map(|file| OomCounter {
            file,
            scope: "in its memory cgroup",
        })
        .unwrap_or_else(|| OomCounter {
            file: PathBuf::from("/proc/vmstat"),
            scope: "on the machine",
        })
    }

    fn read(&self) -> Option<u64> {
        read_oom_kill(&self.file)
    }
}

fn read_oom_kill(file: &Path) -> Option<u64> {
    std::fs::read_to_string(file)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|v| v.trim().parse().ok())
}

/// The files named `v1_file` (memory controller) and `v2_file` of the non-root memory cgroup of
/// `pid` (or `self`), in the order to try them.
fn cgroup_files(pid: &str, v1_file: &str, v2_file: &str) -> Vec<PathBuf> {
    let Ok(cgroups) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let path = path.trim_start_matches('/');
        if path.is_empty() {
            // The root cgroup: its counters and limits are the machine's.
            continue;
        }
        if controllers.is_empty() {
            for root in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
                files.push(Path::new(root).join(path).join(v2_file));
            }
        } else if controllers.split(',').any(|c| c == "memory") {
            files.push(Path::new("/sys/fs/cgroup/memory").join(path).join(v1_file));
        }
    }
    files
}

/// The memory limit that applies to the harness's children, described for the reason of an OOM kill:
/// the memory cgroup's limit when one is set below the machine's memory (children inherit the
/// harness's cgroup), else the machine's memory.
pub fn memory_limit() -> String {
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    let total = mem_total_bytes();
    match cgroup_memory_limit_bytes() {
        Some(limit) if total.is_none_or(|t| limit < t) => {
            format!("memory cgroup limit {:.0} MiB", mib(limit))
        }
        _ => match total {
            Some(t) => format!("no memory limit below the machine's {:.0} MiB", mib(t)),
            None => "machine memory unknown".into(),
        },
    }
}

/// This process's memory cgroup limit (v2 `memory.max`, or v1 `memory.limit_in_bytes`), if any.
fn cgroup_memory_limit_bytes() -> Option<u64> {
    cgroup_files("self", "memory.limit_in_bytes", "memory.max")
        .into_iter()
        .find_map(|file| {
            std::fs::read_to_string(file)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
}

/// The machine's memory (`MemTotal`).
fn mem_total_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Decides whether an exit was the OOM killer's: SIGKILL not sent by the harness while the kernel's
/// OOM-kill count rose. Returns the reason, with the program's peak and the machine's memory.
pub fn classify_oom(
    exit: Exit,
    killed_by_harness: bool,
    oom_kills_during: u64,
    scope: &str,
    peak_rss_bytes: Option<u64>,
    limit: &str,
) -> Option<String> {
    if exit != Exit::Signal(libc::SIGKILL) || killed_by_harness || oom_kills_during == 0 {
        return None;
    }
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    let peak = peak_rss_bytes
        .map(|b| format!("peak RSS {:.0} MiB", mib(b)))
        .unwrap_or_else(|| "peak RSS unknown".into());
    Some(format!(
        "SIGKILL while the kernel recorded {oom_kills_during} OOM kill(s) {scope}; {peak}, {limit} (it ran with oom_score_adj 1000 so that it, not the harness, is chosen)"
    ))
}

/// The launcher's report pipe: `pid <n>`, then `exit code|signal <n> utime_us <u> stime_us <s>
/// maxrss_kb <k>`; or `error <what> <errno> <message>` instead of either.
struct Report {
    file: File,
    buf: Vec<u8>,
}

impl Report {
    fn new(fd: OwnedFd) -> Self {
        Report {
            file: File::from(fd),
            buf: Vec::new(),
        }
    }

    /// Reads the program's pid and whether the launcher is a subreaper, or why the launcher could not
    /// start the program (exec's errno, as `spawn` would have returned it had the program been
    /// started directly).
    fn program_pid(&mut self) -> std::io::Result<(i32, bool)> {
        let line = self.line(Instant::now() + LAUNCH_TIMEOUT)?;
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["pid", pid] => Ok((pid.parse().map_err(|_| bad_report(&line))?, false)),
            ["pid", pid, "subreaper", s] => {
                Ok((pid.parse().map_err(|_| bad_report(&line))?, *s == "1"))
            }
            ["error", _, errno, ..] => match errno.parse() {
                Ok(errno) => Err(std::io::Error::from_raw_os_error(errno)),
                Err(_) => Err(bad_report(&line)),
            },
            _ => Err(bad_report(&line)),
        }
    }

    /// Reads how the program ended; `None` if the launcher died without saying (it was killed).
    fn program_exit(&mut self) -> Option<(Exit, Usage)> {
        // The launcher has exited, so this cannot block for long.
        let line = self.line(Instant::now() + Duration::from_secs(1)).ok()?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let ["exit", how, n, "utime_us", u, "stime_us", s, "maxrss_kb", k] = words.as_slice()
        else {
            return None;
        };
        let n: i32 = n.parse().ok()?;
        let exit = match *how {
            "code" => Exit::Code(n),
            "signal" => Exit::Signal(n),
            _ => return None,
        };
        let usecs = |v: &str| v.parse::<u64>().ok().map(|v| v as f64 / 1e6);
        Some((
            exit,
            Usage {
                cpu_user_s: usecs(u)?,
                cpu_sys_s: usecs(s)?,
                peak_rss_bytes: Some(k.parse::<u64>().ok()? * 1024),
            },
        ))
    }

    /// The next line, waiting until `deadline`; an error at EOF or on timeout.
    fn line(&mut self, deadline: Instant) -> std::io::Result<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Ok(String::from_utf8_lossy(&line[..i]).into_owned());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the launcher did not report in time",
                ));
            }
            let mut pfd = libc::pollfd {
                fd: self.file.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            // SAFETY: poll on one descriptor we own, through a struct we own.
            if unsafe { libc::poll(&mut pfd, 1, ms) } == -1 {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e);
                }
                continue;
            }
            if pfd.revents == 0 {
                continue;
            }
            let mut chunk = [0u8; 256];
            match self.file.read(&mut chunk) {
                Ok(0) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the launcher exited without reporting",
                    ));
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

fn bad_report(line: &str) -> std::io::Error {
    std::io::Error::other(format!("unexpected launcher report {line:?}"))
}

/// The bounded tail of a child's stderr (and, for builds, stdout), plus how many readers are still
/// draining into it, so the tail is complete when an exit is reported.
#[derive(Default)]
struct Tail {
    bytes: Mutex<VecDeque<u8>>,
    open_readers: std::sync::atomic::AtomicUsize,
    /// Everything read, kept or not: a flood is cut to the tail and counted here.
    total_bytes: AtomicU64,
}

/// Splits the launcher's report lines (behind the marker) from a remote program's protocol lines.
struct Demux {
    marker: String,
    report: File,
}

impl Demux {
    /// Forwards `line` to the report pipe if it is a report line.
    fn take(&mut self, line: &str) -> bool {
        use std::io::Write;
        match line.strip_prefix(self.marker.as_str()) {
            Some(rest) => {
                let _ = self
                    .report
                    .write_all(format!("{}\n", rest.trim_start()).as_bytes());
                true
            }
            None => false,
        }
    }
}

impl Tail {
    /// Appends a line of the harness's own (why a remote program's end is unknown).
    fn push_line(&self, line: &str) {
        let mut t = self.bytes.lock().unwrap_or_else(|e| e.into_inner());
        if t.back().is_some_and(|b| *b != b'\n') {
            t.push_back(b'\n');
        }
        t.extend(line.bytes());
        t.push_back(b'\n');
        while t.len() > STDERR_TAIL_BYTES {
            t.pop_front();
        }
    }
}

fn spawn_tail_reader(mut from: impl Read + Send + 'static, tail: Arc<Tail>) {
    tail.open_readers
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            tail.total_bytes.fetch_add(n as u64, Ordering::SeqCst);
            let mut t = tail.bytes.lock().unwrap_or_else(|e| e.into_inner());
            t.extend(&buf[..n]);
            let excess = t.len().saturating_sub(STDERR_TAIL_BYTES);
            t.drain(..excess);
        }
        tail.open_readers
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    });
}

/// Runs a command to completion (builds, probes, installs) with a timeout; returns exit, output tail
/// and elapsed time. On timeout the group is killed and `Exit::Signal(SIGKILL)` is returned.
pub fn run_to_completion(
    spec: &Spec,
    timeout: Duration,
) -> std::io::Result<(Exit, String, Duration)> {
    let mut child = Running::spawn(&Spec {
        protocol_stdout: false,
        ..spec.clone()
    })?;
    child.close_stdin();
    let deadline = child.started + timeout;
    let exit = match child.wait(deadline) {
        Some((exit, _)) => exit,
        None => {
            child.kill();
            Exit::Signal(libc::SIGKILL)
        }
    };
    Ok((exit, child.tail(), child.started.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(argv: &[&str]) -> Spec {
        Spec {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            cwd: PathBuf::from("."),
            protocol_stdout: true,
            ..Spec::default()
        }
    }

    /// Starts `argv` as a measured program and waits for it.
    fn run(argv: &[&str]) -> (Exit, Usage) {
        let mut child = Running::spawn(&spec(argv)).unwrap();
        let sampled = super::super::RssSampler::start(child.pid);
        let done = child
            .wait(Instant::now() + Duration::from_secs(30))
            .expect("exits in time");
        eprintln!(
            "{argv:?}: exact peak {:?} B, sampled VmHWM {:?} B, {:?}",
            done.1.peak_rss_bytes,
            sampled.finish().peak_rss_bytes,
            child.started.elapsed()
        );
        done
    }

    fn have_launcher() -> bool {
        let found = launcher().is_some();
        if !found {
            eprintln!("skipped: no launcher (built without a C compiler)");
        }
        found
    }

    const MIB: u64 = 1 << 20;

    /// Processes of group `pgid` that are not zombies.
    fn live_members(pgid: i32) -> Vec<i32> {
        let mut pids = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // After the command name: state, ppid, pgrp.
            let rest: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
                .split_whitespace()
                .collect();
            if rest[2] == pgid.to_string() && rest[0] != "Z" {
                pids.push(pid);
            }
        }
        pids
    }

    #[test]
    fn launched_programs_report_their_own_exact_peak_not_the_harnesss() {
        if !have_launcher() {
            return;
        }
        // The harness holds 64 MiB: a child forked from it directly would report at least that.
        let ballast = vec![1u8; 64 << 20];
        std::hint::black_box(&ballast);

        let (exit, usage) = run(&["sleep", "0.05"]);
        assert_eq!(exit, Exit::Code(0));
        let peak = usage.peak_rss_bytes.expect("exact peak from the launcher");
        assert!(peak > 0 && peak < 16 * MIB, "sleep's peak: {peak}");

        let (exit, usage) = run(&[
            "python3",
            "-c",
            "import time; b = b'x' * (50 << 20); time.sleep(0.05)",
        ]);
        assert_eq!(exit, Exit::Code(0));
        let peak = usage.peak_rss_bytes.expect("exact peak from the launcher");
        assert!(
            (50 * MIB..100 * MIB).contains(&peak),
            "python holding 50 MiB: {peak}"
        );
        assert!(usage.cpu_user_s + usage.cpu_sys_s > 0.0);
        drop(ballast);
    }

    #[test]
    fn programs_that_live_a_few_ms_get_their_exact_peak() {
        if !have_launcher() {
            return;
        }
        let (exit, usage) = run(&["true"]);
        assert_eq!(exit, Exit::Code(0));
        let peak = usage.peak_rss_bytes.expect("exact peak from the launcher");
        assert!(peak > 0 && peak < 16 * MIB, "true's peak: {peak}");

        // Allocates 40 MiB right before exiting: sampling every 10 ms would usually miss it.
        let (exit, usage) = run(&["python3", "-c", "b = b'x' * (40 << 20)"]);
        assert_eq!(exit, Exit::Code(0));
        let peak = usage.peak_rss_bytes.expect("exact peak from the launcher");
        assert!(
            (40 * MIB..90 * MIB).contains(&peak),
            "python allocating 40 MiB: {peak}"
        );
    }

    #[test]
    fn through_the_launcher_pid_is_the_programs_and_signals_reach_it() {
        if !have_launcher() {
            return;
        }
        let mut child = Running::spawn(&spec(&["sleep", "30"])).unwrap();
        assert_ne!(child.pid, child.pgid, "the launcher leads the group");
        let comm = std::fs::read_to_string(format!("/proc/{}/comm", child.pid)).unwrap();
        assert_eq!(comm.trim(), "sleep");
        // The launcher itself stays small: what the program inherits at fork is at most this.
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.pgid)).unwrap();
        let hwm_kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap();
        eprintln!("launcher VmHWM: {hwm_kib} kB");
        assert!(hwm_kib < 4096, "launcher VmHWM {hwm_kib} kB");
        let (exit, usage, graceful) = child.terminate(Duration::from_secs(5));
        assert_eq!(exit, Exit::Signal(libc::SIGTERM));
        assert!(graceful);
        assert!(usage.peak_rss_bytes.is_some());

        // SIGKILL: the launcher still reports the program's usage, and nothing is left.
        let mut child = Running::spawn(&spec(&["sh", "-c", "sleep 30 & wait"])).unwrap();
        let (pid, pgid) = (child.pid, child.pgid);
        let (exit, usage) = child.kill();
        assert_eq!(exit, Exit::Signal(libc::SIGKILL));
        assert!(usage.peak_rss_bytes.is_some());
        let deadline = Instant::now() + Duration::from_secs(5);
        while !live_members(pgid).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(live_members(pgid), Vec::<i32>::new(), "the group is gone");
        assert!(!live_members(pgid).contains(&pid));

        // Exit codes and stdout pass through; the launcher adds nothing to stdout.
        let mut child = Running::spawn(&spec(&[
            "sh",
            "-c",
            r#"echo '{"event":"x"}'; echo oops >&2; exit 3"#,
        ]))
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let _ = child.next_event(deadline);
        match child.next_event(deadline) {
            Err(WaitError::Exited { exit, tail }) => {
                assert_eq!(exit, Exit::Code(3));
                assert_eq!(tail, ": oops");
            }
            other => panic!("{other:?}"),
        }
    }

    /// True while `pid` exists and is not a zombie.
    fn alive(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    }

    fn pid_in(file: &Path) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(pid) = std::fs::read_to_string(file)
                .ok()
                .and_then(|t| t.trim().parse().ok())
            {
                return pid;
            }
            assert!(Instant::now() < deadline, "no pid in {}", file.display());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn gone_soon(pid: i32) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        !alive(pid)
    }

    #[test]
    fn descendants_that_call_setsid_do_not_outlive_the_program() {
        if !have_launcher() {
            return;
        }
        assert!(
            containment().starts_with("launcher subreaper"),
            "{}",
            containment()
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pid");
        let script = format!(
            "setsid sh -c 'echo $$ > {f}; exec sleep 300' & sleep 300",
            f = file.display()
        );
        // Killed by the harness while the daemon runs.
        let mut child = Running::spawn(&spec(&["sh", "-c", &script])).unwrap();
        let daemon = pid_in(&file);
        assert!(alive(daemon));
        child.kill();
        assert!(gone_soon(daemon), "setsid daemon {daemon} survived kill()");

        // The program exits by itself and leaves a daemon behind (a build that forks a server).
        std::fs::remove_file(&file).unwrap();
        let script = format!(
            "setsid sh -c 'echo $$ > {f}; exec sleep 300' & while [ ! -s {f} ]; do sleep 0.01; done",
            f = file.display()
        );
        let (exit, _, _) = run_to_completion(
            &Spec {
                argv: vec!["sh".into(), "-c".into(), script],
                cwd: PathBuf::from("."),
                ..Spec::default()
            },
            Duration::from_secs(30),
        )
        .unwrap();
        assert_eq!(exit, Exit::Code(0));
        let daemon = pid_in(&file);
        assert!(
            gone_soon(daemon),
            "daemon {daemon} of a finished build survived"
        );
    }

    #[test]
    fn a_stdout_flood_is_bounded_cut_and_counted() {
        let mut child = Running::spawn(&spec(&[
            "sh",
            "-c",
            r#"echo '{"event":"ready","workload":"fanout","runtime":"x"}'; seq 1 200000; sleep 0.2"#,
        ]))
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        assert!(matches!(child.next_event(deadline), Ok(Event::Ready(_))));
        child.wait(deadline).expect("exits");
        std::thread::sleep(Duration::from_millis(100));
        let (dropped, _) = child.stdout_dropped();
        assert!(
            dropped >= 200000 - STDOUT_QUEUE_LINES as u64,
            "dropped {dropped}"
        );
        let reason = child.extra_stdout_reason().expect("extra stdout");
        assert!(
            reason.starts_with("unexpected stdout line \"1\""),
            "{reason}"
        );
        assert!(reason.contains("dropped unread"), "{reason}");
    }

    #[test]
    fn a_stderr_flood_keeps_only_a_bounded_tail() {
        let mut child = Running::spawn(&spec(&[
            "sh",
            "-c",
            "head -c 20000000 /dev/zero | tr '\\0' x >&2; echo >&2; echo 'last words' >&2; exit 4",
        ]))
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        child.wait(deadline).expect("exits");
        let tail = child.tail();
        assert!(tail.len() <= STDERR_TAIL_BYTES, "{}", tail.len());
        assert!(child.stderr_bytes() >= 20_000_000);
        assert_eq!(child.tail_suffix(), ": last words");
    }

    #[test]
    fn closing_stdout_while_running_is_a_protocol_error_not_a_long_timeout() {
        let mut child = Running::spawn(&spec(&["sh", "-c", "exec 1>&-; sleep 30"])).unwrap();
        let t0 = Instant::now();
        match child.next_event(Instant::now() + Duration::from_secs(20)) {
            Err(WaitError::StdoutClosed) => {}
            other => panic!("{other:?}"),
        }
        assert!(t0.elapsed() < Duration::from_secs(10));
        let (exit, _) = child.kill();
        assert_eq!(exit, Exit::Signal(libc::SIGKILL));
    }

    #[test]
    fn oom_kills_are_told_apart_from_other_sigkills() {
        let kill = Exit::Signal(libc::SIGKILL);
        let limit = "memory cgroup limit 256 MiB";
        let reason = classify_oom(
            kill,
            false,
            1,
            "in its memory cgroup",
            Some(300 << 20),
            limit,
        )
        .expect("an OOM kill");
        assert!(reason.contains("peak RSS 300 MiB"), "{reason}");
        assert!(reason.contains(limit), "{reason}");
        assert!(reason.contains("oom_score_adj 1000"), "{reason}");
        // The harness's own kill, no OOM kill recorded, or another signal: not out of memory.
        assert!(
            reason.contains("1 OOM kill(s) in its memory cgroup"),
            "{reason}"
        );
        let s = "on the machine";
        assert_eq!(classify_oom(kill, true, 1, s, None, limit), None);
        assert_eq!(classify_oom(kill, false, 0, s, None, limit), None);
        let segv = Exit::Signal(libc::SIGSEGV);
        assert_eq!(classify_oom(segv, false, 1, s, None, limit), None);
        assert_eq!(
            classify_oom(Exit::Code(137), false, 1, s, None, limit),
            None
        );
        // The counter of the test's own cgroup is found when it has one; the machine's otherwise.
        let counter = OomCounter::of(std::process::id() as i32);
        assert!(counter.read().is_some(), "{counter:?}");
        assert!(memory_limit().contains("MiB"), "{}", memory_limit());
    }

    #[test]
    fn measured_programs_get_a_high_oom_score() {
        if !have_launcher() {
            return;
        }
        let mut child = Running::spawn(&spec(&["sleep", "30"])).unwrap();
        let adj = std::fs::read_to_string(format!("/proc/{}/oom_score_adj", child.pid)).unwrap();
        assert_eq!(adj.trim(), "1000");
        let own = std::fs::read_to_string("/proc/self/oom_score_adj").unwrap();
        assert_ne!(own.trim(), "1000", "the harness keeps its own score");
        child.kill();
    }

    #[test]
    fn a_missing_program_fails_to_spawn_as_without_the_launcher() {
        let err = Running::spawn(&spec(&["/nonexistent/asyncbench-test"]))
            .err()
            .expect("spawn fails");
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{err}");
    }
}
