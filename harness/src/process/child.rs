//! Spawning one child in its own process group and talking to it: protocol lines from stdout, a bounded
//! stderr tail, exit status and rusage from `wait4` on a waiter thread, deadlines everywhere.

use super::{Usage, registry};
use crate::protocol::{self, Event, ProtocolError};
use std::collections::VecDeque;
use std::io::{BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const STDERR_TAIL_BYTES: usize = 16 * 1024;

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
    pub pid: i32,
    pub started: Instant,
    stdin: Option<ChildStdin>,
    stdout: Receiver<StdoutMsg>,
    stdout_done: bool,
    tail: Arc<Mutex<VecDeque<u8>>>,
    waiter: Receiver<(Exit, Usage)>,
    exited: Option<(Exit, Usage)>,
}

impl Running {
    /// Starts the child in a new process group, pinned if asked, killed if the harness dies.
    pub fn spawn(spec: &Spec) -> std::io::Result<Running> {
        let Some((program, args)) = spec.argv.split_first() else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "empty command",
            ));
        };
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(&spec.cwd)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let cpus = spec.cpus.clone();
        // SAFETY: only async-signal-safe calls (prctl, sched_setaffinity) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
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
        let pid = child.id() as i32;
        registry::register(pid);
        let started = Instant::now();

        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL_BYTES)));
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

        let (wtx, wrx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut status = 0;
            let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
            let r = loop {
                // SAFETY: wait4 on our own child, writing into locals we own.
                let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
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
            unsafe { libc::killpg(pid, libc::SIGKILL) };
            registry::unregister(pid);
            let _ = wtx.send((exit, Usage::from_rusage(&ru)));
        });
        // std's Child must not reap the pid (the waiter thread does); dropping it does not wait.
        let stdin = child.stdin.take();
        drop(child);
        Ok(Running {
            pid,
            started,
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
        // SAFETY: signalling our own process group.
        unsafe { libc::killpg(self.pid, libc::SIGKILL) };
        self.wait(Instant::now() + Duration::from_secs(10))
            .unwrap_or((Exit::Signal(libc::SIGKILL), Usage::default()))
    }

    /// Closes the child's stdin (echo servers stop on EOF).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The last lines of stderr (and of stdout, for builds).
    pub fn tail(&self) -> String {
        let t = self.tail.lock().unwrap_or_else(|e| e.into_inner());
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

fn spawn_tail_reader(mut from: impl Read + Send + 'static, tail: Arc<Mutex<VecDeque<u8>>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
            t.extend(&buf[..n]);
            let excess = t.len().saturating_sub(STDERR_TAIL_BYTES);
            t.drain(..excess);
        }
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
    // Let the tail readers catch the last bytes.
    std::thread::sleep(Duration::from_millis(20));
    Ok((exit, child.tail(), child.started.elapsed()))
}
