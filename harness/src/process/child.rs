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
//! the launcher's pid (so killing the group kills both). Builds and probes are started directly.

use super::{Usage, registry};
use crate::protocol::{self, Event, ProtocolError};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const STDERR_TAIL_BYTES: usize = 16 * 1024;

/// The launcher built by `build.rs`; empty when no C compiler was available.
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
        if LAUNCHER.is_empty() {
            return None;
        }
        let path = Path::new(LAUNCHER);
        if path.is_file() {
            Some(path)
        } else {
            eprintln!(
                "warning: {} is missing (was the build directory removed?); starting programs \
                 directly, so peak memory is sampled and may miss short-lived peaks",
                path.display()
            );
            None
        }
    })
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
}

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
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    #[error("interrupted")]
    Interrupted,
}

enum StdoutMsg {
    Line(Result<String, ProtocolError>),
    Eof,
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
    tail: Arc<Tail>,
    waiter: Receiver<(Exit, Usage)>,
    exited: Option<(Exit, Usage)>,
}

impl Running {
    /// Starts the child in a new process group, pinned if asked, killed if the harness dies. Measured
    /// programs (`protocol_stdout`) go through the launcher when it is available.
    pub fn spawn(spec: &Spec) -> std::io::Result<Running> {
        let Some((program, args)) = spec.argv.split_first() else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "empty command",
            ));
        };
        let launcher = launcher().filter(|_| spec.protocol_stdout);
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
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let cpus = spec.cpus.clone();
        // SAFETY: only async-signal-safe calls (fcntl, prctl, sched_setaffinity) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if let Some(fd) = report_fd {
                    // Keep the report pipe open across exec, in this child only.
                    if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
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
        registry::register(pgid);

        let tail = Arc::new(Tail::default());
        let stderr = child.stderr.take().expect("piped");
        spawn_tail_reader(stderr, tail.clone());
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        if spec.protocol_stdout {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stdout);
                loop {
                    match protocol::read_line_bounded(&mut reader) {
                        Ok(Ok(Some(line))) => {
                            if tx.send(StdoutMsg::Line(Ok(line))).is_err() {
                                break;
                            }
                        }
                        Ok(Err(e)) => {
                            let _ = tx.send(StdoutMsg::Line(Err(e)));
                            // Keep draining so the child never blocks on a full pipe.
                            let _ = std::io::copy(&mut reader, &mut std::io::sink());
                            break;
                        }
                        Ok(Ok(None)) | Err(_) => break,
                    }
                }
                let _ = tx.send(StdoutMsg::Eof);
            });
        } else {
            spawn_tail_reader(stdout, tail.clone());
            drop(tx);
        }
        // std's Child must not reap the pid (the waiter thread does); dropping it does not wait.
        let stdin = child.stdin.take();
        drop(child);

        let (pid, report) = match report_pipe {
            Some((read_end, write_end)) => {
                // Only the launcher may hold the write end, so that its death reads as EOF.
                drop(write_end);
                let mut report = Report::new(read_end);
                match report.program_pid() {
                    Ok(pid) => (pid, Some(report)),
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

        let (wtx, wrx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut status = 0;
            let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
            let r = loop {
                // SAFETY: wait4 on our own child, writing into locals we own.
                let r = unsafe { libc::wait4(pgid, &mut status, 0, &mut ru) };
                if r == -1
                    && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
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
        Ok(Running {
            pid,
            started,
            pgid,
            stdin,
            stdout: rx,
            stdout_done: !spec.protocol_stdout,
            tail,
            waiter: wrx,
            exited: None,
        })
    }

    /// The next protocol event, waiting until `deadline`.
    pub fn next_event(&mut self, deadline: Instant) -> Result<Event, WaitError> {
        loop {
            if super::interrupted() {
                return Err(WaitError::Interrupted);
            }
            if self.stdout_done {
                // stdout closed: the child is exiting or has exited; report how.
                let exit = match self.wait(deadline) {
                    Some((exit, _)) => exit,
                    None => {
                        return Err(WaitError::Timeout(
                            deadline.saturating_duration_since(self.started),
                        ));
                    }
                };
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
                Ok(StdoutMsg::Line(Ok(line))) => return Ok(protocol::parse_line(&line)?),
                Ok(StdoutMsg::Line(Err(e))) => return Err(e.into()),
                Ok(StdoutMsg::Eof) | Err(RecvTimeoutError::Disconnected) => self.stdout_done = true,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// Any stdout line that arrived after the expected ones, which is a protocol error.
    pub fn extra_stdout(&mut self) -> Option<String> {
        match self.stdout.try_recv() {
            Ok(StdoutMsg::Line(Ok(l))) => Some(l),
            Ok(StdoutMsg::Line(Err(e))) => Some(e.to_string()),
            _ => None,
        }
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
            // SAFETY: signalling our own child.
            unsafe { libc::kill(self.pid, libc::SIGTERM) };
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
        if self.pid != self.pgid {
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
        String::from_utf8_lossy(&bytes).trim_end().to_string()
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

    /// Reads the program's pid, or why the launcher could not start it (exec's errno, as `spawn`
    /// would have returned it had the program been started directly).
    fn program_pid(&mut self) -> std::io::Result<i32> {
        let line = self.line(Instant::now() + LAUNCH_TIMEOUT)?;
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["pid", pid] => pid.parse().map_err(|_| bad_report(&line)),
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

    #[test]
    fn a_missing_program_fails_to_spawn_as_without_the_launcher() {
        let err = Running::spawn(&spec(&["/nonexistent/asyncbench-test"]))
            .err()
            .expect("spawn fails");
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{err}");
    }
}
