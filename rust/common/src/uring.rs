//! What the io_uring thread-per-core implementations (monoio, glommio) share beyond the protocol:
//! the `preflight` command, fatal errors, shutdown from plain threads, and io_uring diagnostics.
//!
//! - [`command_from_env`]: `preflight` (no flags) or one of the protocol's workloads ([`args`]).
//! - [`run_preflight`]: runs a runtime's own check on a guarded thread (a panic or a hang becomes one
//!   line on stderr and exit 1); [`probe_io_uring`] and [`context`] explain a refusal by errno and by
//!   what the system says (`kernel.io_uring_disabled`, seccomp, kernel release).
//! - [`exit_on_sigterm_or_stdin_eof`] (re-exported): the echo servers' shutdown. These runtimes have
//!   no signal API of their own, and every executor thread is busy in its own ring, so plain std
//!   threads wait for SIGTERM and stdin EOF and exit the process (the kernel tears down the rings).
//! - [`wait_for_executors`]: the echo servers' start-up barrier (every executor has bound its port).

use std::process::exit;
use std::sync::mpsc;
use std::time::Duration;

use crate::args::{self, Workload};

/// What a thread-per-core binary was asked to do.
pub enum Command {
    /// Check that this runtime can work here (manifest `preflight`): exit 0, or 1 with the reason.
    Preflight,
    Run(Workload),
}

/// `preflight` (which takes no flags) or a protocol workload; exits 2 on bad usage.
pub fn command_from_env() -> Command {
    let mut argv = std::env::args().skip(1);
    match argv.next().as_deref() {
        Some("preflight") => {}
        Some(_) => return Command::Run(args::from_env()),
        None => args::usage_error(
            "missing workload (expected echo, fanout, stream, cancel or preflight)",
        ),
    }
    if let Some(extra) = argv.next() {
        args::usage_error(&format!(
            "unexpected argument '{extra}' (preflight takes none)"
        ));
    }
    Command::Preflight
}

/// A runtime failure: one line on stderr, exit 1.
pub fn fatal(msg: &str) -> ! {
    eprintln!("{msg}");
    exit(1)
}

/// Runs `check` (which builds a runtime and exercises it) with a 10 s deadline; exits 1 with its
/// message if it fails, panics or hangs, and returns if it passed.
pub fn run_preflight<F>(what: &str, check: F)
where
    F: FnOnce() -> Result<(), String> + Send + 'static,
{
    if let Err(msg) = guarded(what, 10, check) {
        fatal(&msg);
    }
}

/// Runs `f` on a fresh thread with a deadline, turning a panic or a hang into an `Err` message
/// (so a broken io_uring can neither hang preflight nor spew a backtrace).
fn guarded<F>(what: &str, secs: u64, f: F) -> Result<(), String>
where
    F: FnOnce() -> Result<(), String> + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let name = what.to_string();
    std::panic::set_hook(Box::new(|_| {}));
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(format!("{name} panicked: {msg}"))
        });
        let _ = tx.send(r);
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| Err(format!("{what} did not complete within {secs} s")))
}

pub use crate::exit_on_sigterm_or_stdin_eof;

/// Waits until `count` executor threads have each reported that they are serving (`Ok`), or exits 1
/// with the first failure.
pub fn wait_for_executors(started: &mpsc::Receiver<Result<(), String>>, count: usize) {
    for _ in 0..count {
        match started.recv() {
            Ok(Ok(())) => {}
            Ok(Err(msg)) => fatal(&msg),
            Err(_) => fatal("an executor thread died during start-up"),
        }
    }
}

/// Symbolic errno name, for preflight messages.
pub fn errno_name(e: &std::io::Error) -> String {
    let name = match e.raw_os_error() {
        Some(libc::EPERM) => "EPERM",
        Some(libc::EACCES) => "EACCES",
        Some(libc::ENOSYS) => "ENOSYS",
        Some(libc::ENOMEM) => "ENOMEM",
        Some(libc::EINVAL) => "EINVAL",
        Some(libc::EMFILE) => "EMFILE",
        Some(libc::ENFILE) => "ENFILE",
        Some(libc::EFAULT) => "EFAULT",
        Some(libc::EOPNOTSUPP) => "EOPNOTSUPP",
        Some(n) => return format!("errno {n} ({e})"),
        None => return e.to_string(),
    };
    name.to_string()
}

/// What the system says about io_uring, appended to a failed preflight: the
/// `kernel.io_uring_disabled` sysctl, an active seccomp filter, the kernel release.
pub fn context() -> String {
    let read = |p: &str| std::fs::read_to_string(p).map(|s| s.trim().to_string());
    let mut ctx = Vec::new();
    if let Ok(v) = read("/proc/sys/kernel/io_uring_disabled") {
        ctx.push(format!("kernel.io_uring_disabled={v}"));
    }
    if let Ok(status) = read("/proc/self/status")
        && let Some(mode) = status.lines().find_map(|l| l.strip_prefix("Seccomp:"))
        && mode.trim() != "0"
    {
        ctx.push("seccomp filter active".to_string());
    }
    if let Ok(r) = read("/proc/sys/kernel/osrelease") {
        ctx.push(format!("kernel {r}"));
    }
    ctx.join(", ")
}

/// `io_uring_setup failed: <errno> (<context>)`, for a runtime that could not create its ring.
pub fn setup_failed(e: &std::io::Error) -> String {
    format!("io_uring_setup failed: {} ({})", errno_name(e), context())
}

/// `io_uring <what> failed: <errno> (<context>)`, for an operation preflight pushed through a ring.
pub fn op_failed(what: &str, e: &std::io::Error) -> String {
    format!("io_uring {what} failed: {} ({})", errno_name(e), context())
}

/// Asks the kernel for a small io_uring directly, so that a refusal is reported with its errno
/// rather than through a runtime's own (sometimes misleading) error or panic.
pub fn probe_io_uring() -> Result<(), String> {
    // struct io_uring_params is 120 bytes; the kernel fills in the offsets.
    let mut params = [0u64; 15];
    // SAFETY: io_uring_setup(2) with a zeroed, correctly sized params struct; the fd is closed below.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 4u32, params.as_mut_ptr()) };
    if fd < 0 {
        return Err(setup_failed(&std::io::Error::last_os_error()));
    }
    // SAFETY: `fd` is the descriptor io_uring_setup just returned to us.
    unsafe { libc::close(fd as i32) };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names_are_symbolic() {
        let e = std::io::Error::from_raw_os_error(libc::EPERM);
        assert_eq!(errno_name(&e), "EPERM");
        let e = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert!(
            errno_name(&e).starts_with("errno 2 ("),
            "{}",
            errno_name(&e)
        );
        assert!(setup_failed(&e).starts_with("io_uring_setup failed: errno 2"));
    }

    #[test]
    fn guarded_turns_panics_and_hangs_into_messages() {
        assert_eq!(guarded("ok", 5, || Ok(())), Ok(()));
        let err = guarded("boom", 5, || panic!("no ring")).unwrap_err();
        // guarded silences panic messages for good (preflight exits right after); not so in tests.
        drop(std::panic::take_hook());
        assert_eq!(err, "boom panicked: no ring");
        let err = guarded("slow", 1, || {
            std::thread::sleep(Duration::from_secs(3));
            Ok(())
        })
        .unwrap_err();
        assert_eq!(err, "slow did not complete within 1 s");
    }

    #[test]
    fn context_never_spans_lines() {
        assert!(!context().contains('\n'));
    }
}
