//! The only module that touches child processes. Every child runs in its own process group, has a
//! deadline, is reaped with `wait4` (so its rusage is exact and its own: measured programs are reaped by
//! the tiny launcher that forked them, which reports the program's rusage, never its own), and is
//! killed with its whole group on timeout, on error and on Ctrl-C.

mod child;
pub mod probe;
mod registry;
mod rss;

pub use child::{
    Exit, REMOTE_PID, Remote, Running, STDOUT_QUEUE_BYTES, STDOUT_QUEUE_LINES, Spec, WaitError,
    classify_oom, containment, launcher_path, memory_limit, run_to_completion,
};
pub use registry::{install_interrupt_handler, interrupted, kill_all};
pub use rss::{HostMoment, MemoryReport, RssSampler, SAMPLE_EVERY};

/// Resource usage of a reaped child, from `wait4` (exact and its own, including any children it
/// reaped itself). All zero when the child was killed before its usage could be reported.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub cpu_user_s: f64,
    pub cpu_sys_s: f64,
    /// Exact peak RSS (`ru_maxrss`), only for programs started through the launcher: `ru_maxrss` of a
    /// child forked straight from the harness includes the harness's own RSS (see `rss.rs`), so it is
    /// `None` then, and the peak comes from [`RssSampler`] instead.
    pub peak_rss_bytes: Option<u64>,
}

impl Usage {
    /// CPU times from a `wait4` rusage; `ru_maxrss` is deliberately ignored (see `peak_rss_bytes`).
    pub fn from_rusage(r: &libc::rusage) -> Self {
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        Usage {
            cpu_user_s: secs(r.ru_utime),
            cpu_sys_s: secs(r.ru_stime),
            peak_rss_bytes: None,
        }
    }
}

/// CPU time (user + system) this process has used so far, in seconds: the load generator's cost.
pub fn self_cpu_s() -> f64 {
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut r) };
    let u = Usage::from_rusage(&r);
    u.cpu_user_s + u.cpu_sys_s
}

/// CPU time (user + system) of a live process so far, from `/proc/<pid>/stat`, in seconds.
pub fn proc_cpu_s(pid: i32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some((utime + stime) / ticks)
}
