//! The OS limits on the number of threads, for the one stderr line a refused spawn prints.
//!
//! `pthread_create` reports all of them as EAGAIN, so the line lists each limit that applies with
//! its current use, read at the moment of failure, and names the one nearest to exhaustion:
//! - `kernel.pid_max` and `kernel.threads-max`: every thread takes a pid; in use = the threads
//!   existing system-wide (/proc/loadavg);
//! - `vm.max_map_count`: each std thread takes four mappings (its stack and guard page, and the
//!   signal stack and guard page std sets up for stack-overflow reports); in use = this process's
//!   mappings (65530 allows about 16k threads);
//! - the cgroup's `pids.max` (in use: `pids.current`); RLIMIT_AS (in use: this process's address
//!   space; glibc also reserves a 64 MiB malloc arena per thread, up to 8 per core);
//! - RLIMIT_NPROC (per user; root is exempt), listed without its use.
//!
//! The two system-wide limits are checked before a fan-out starts ([`check_pid_headroom`]): running
//! into them would make every other process's `fork` fail too.

use std::fs;

/// One limit on how many threads may exist.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Limit {
    name: &'static str,
    value: u64,
    /// Current use in the limit's unit, where it can be read.
    used: Option<u64>,
}

/// Pids left for the rest of the machine when a fan-out asks for more threads than are free.
pub const PID_RESERVE: u64 = 512;

/// Refuses, before spawning anything, a fan-out of `threads` that would take the machine's last
/// [`PID_RESERVE`] pids: `kernel.pid_max` and `kernel.threads-max` are system-wide, and running
/// into them makes every other process's `fork` fail (the harness's included), not just ours.
pub fn check_pid_headroom(threads: u64) -> Result<(), String> {
    let number = |path: &str| fs::read_to_string(path).ok()?.trim().parse::<u64>().ok();
    let Some(in_use) = system_threads() else {
        return Ok(());
    };
    for name in ["kernel.pid_max", "kernel.threads-max"] {
        let Some(max) = number(&format!("/proc/sys/{}", name.replace('.', "/"))) else {
            continue;
        };
        let free = max.saturating_sub(in_use).saturating_sub(PID_RESERVE);
        if threads > free {
            return Err(format!(
                "refusing to spawn {threads} threads: {name}={max} is system-wide, {in_use} in use, \
                 and {PID_RESERVE} are kept for the rest of the machine, so at most {free} can be spawned"
            ));
        }
    }
    Ok(())
}

/// Threads existing system-wide: /proc/loadavg's "running/total" field.
fn system_threads() -> Option<u64> {
    let s = fs::read_to_string("/proc/loadavg").ok()?;
    s.split_whitespace().nth(3)?.split('/').nth(1)?.parse().ok()
}

/// `spawning thread I of N (0-based) failed: <error>; OS limits: ...; nearest: <name>`.
pub fn spawn_failed(index: u64, total: u64, e: &std::io::Error) -> String {
    spawn_failed_named(&format!("thread {index} of {total} (0-based)"), e)
}

/// As [`spawn_failed`], for a thread described by `what`.
pub fn spawn_failed_named(what: &str, e: &std::io::Error) -> String {
    format!("spawning {what} failed: {e}; {}", describe(&limits()))
}

fn describe(limits: &[Limit]) -> String {
    let listed: Vec<String> = limits
        .iter()
        .map(|l| match l.used {
            Some(used) => format!("{}={} (in use {used})", l.name, l.value),
            None => format!("{}={}", l.name, l.value),
        })
        .collect();
    let nearest = limits
        .iter()
        .filter_map(|l| Some((l, l.used? as f64 / l.value.max(1) as f64)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .filter(|(_, fill)| *fill >= 0.9);
    let verdict = match nearest {
        Some((l, _)) => format!("nearest to its limit: {}", l.name),
        None => "none of these is nearly reached (memory?)".to_string(),
    };
    format!("OS limits on threads: {}; {verdict}", listed.join(", "))
}

fn limits() -> Vec<Limit> {
    let read = |path: &str| fs::read_to_string(path).ok();
    let number = |path: &str| read(path).and_then(|s| s.trim().parse::<u64>().ok());
    let status = read("/proc/self/status").unwrap_or_default();
    let proc_limits = read("/proc/self/limits").unwrap_or_default();
    let system_threads = system_threads();
    let maps = count_lines("/proc/self/maps");
    let vm_bytes = status_kib(&status, "VmSize:").map(|kib| kib * 1024);

    let mut limits = Vec::new();
    let mut push = |name, value: Option<u64>, used| {
        if let Some(value) = value {
            limits.push(Limit { name, value, used });
        }
    };
    let (pids_max, pids_current) = cgroup_pids(read("/proc/self/cgroup").as_deref(), &number);
    push("cgroup pids.max", pids_max, pids_current);
    push(
        "kernel.pid_max",
        number("/proc/sys/kernel/pid_max"),
        system_threads,
    );
    push(
        "kernel.threads-max",
        number("/proc/sys/kernel/threads-max"),
        system_threads,
    );
    push(
        "vm.max_map_count",
        number("/proc/sys/vm/max_map_count"),
        maps,
    );
    push(
        "RLIMIT_AS",
        soft_limit(&proc_limits, "Max address space"),
        vm_bytes,
    );
    push(
        "RLIMIT_NPROC",
        soft_limit(&proc_limits, "Max processes"),
        None,
    );
    limits
}

/// Lines of a file, read through a small fixed buffer (memory may be what ran out).
fn count_lines(path: &str) -> Option<u64> {
    use std::io::Read;
    let mut file = fs::File::open(path).ok()?;
    let mut buf = [0u8; 4096];
    let mut lines = 0;
    loop {
        match file.read(&mut buf).ok()? {
            0 => return Some(lines),
            n => lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64,
        }
    }
}

/// A `Name:   123 kB` line of /proc/self/status, in KiB.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The soft limit on a /proc/self/limits line; `None` when unlimited.
fn soft_limit(limits: &str, name: &str) -> Option<u64> {
    limits
        .lines()
        .find_map(|l| l.strip_prefix(name))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The process's cgroup `pids.max` and `pids.current` (v2 `0::/path`, or v1 `N:pids:/path`);
/// `None` for `pids.max` when there is none or it is "max".
fn cgroup_pids(
    cgroup: Option<&str>,
    number: &dyn Fn(&str) -> Option<u64>,
) -> (Option<u64>, Option<u64>) {
    let dir = cgroup.and_then(|c| {
        c.lines().find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            let dir = match controllers {
                "" => format!("/sys/fs/cgroup{path}"),
                c if c.split(',').any(|c| c == "pids") => format!("/sys/fs/cgroup/pids{path}"),
                _ => return None,
            };
            Some(dir.trim_end_matches('/').to_string())
        })
    });
    match dir {
        Some(dir) => (
            number(&format!("{dir}/pids.max")),
            number(&format!("{dir}/pids.current")),
        ),
        None => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(name: &'static str, value: u64, used: Option<u64>) -> Limit {
        Limit { name, value, used }
    }

    #[test]
    fn names_the_limit_nearest_to_exhaustion_in_one_line() {
        let line = describe(&[
            limit("kernel.pid_max", 32768, Some(32700)),
            limit("vm.max_map_count", 65530, Some(40000)),
            limit("RLIMIT_NPROC", 100, None),
        ]);
        assert_eq!(
            line,
            "OS limits on threads: kernel.pid_max=32768 (in use 32700), vm.max_map_count=65530 (in use 40000), RLIMIT_NPROC=100; nearest to its limit: kernel.pid_max"
        );
        let line = describe(&[limit("kernel.pid_max", 32768, Some(200))]);
        assert!(
            line.ends_with("none of these is nearly reached (memory?)"),
            "{line}"
        );
        assert!(check_pid_headroom(10).is_ok());
        let err = check_pid_headroom(u64::MAX).unwrap_err();
        assert!(err.starts_with("refusing to spawn"), "{err}");
        assert!(!err.contains('\n'), "{err}");
        let e = std::io::Error::from_raw_os_error(11);
        let msg = spawn_failed(7, 10, &e);
        assert!(
            msg.starts_with("spawning thread 7 of 10 (0-based) failed: "),
            "{msg}"
        );
        assert!(!msg.contains('\n'), "{msg}");
    }

    #[test]
    fn parses_proc_files() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max processes             96365                96365                processes\n\
                      Max address space         unlimited            unlimited            bytes\n";
        assert_eq!(soft_limit(limits, "Max processes"), Some(96365));
        assert_eq!(soft_limit(limits, "Max address space"), None);
        assert_eq!(
            status_kib("Name:\tx\nVmSize:\t    3896 kB\n", "VmSize:"),
            Some(3896)
        );
        let seen = std::cell::RefCell::new(Vec::new());
        let record = |p: &str| {
            seen.borrow_mut().push(p.to_string());
            Some(100)
        };
        assert_eq!(
            cgroup_pids(Some("0::/user.slice/x\n"), &record).0,
            Some(100)
        );
        assert_eq!(
            cgroup_pids(Some("4:memory:/m\n8:pids:/p/q\n"), &record).0,
            Some(100)
        );
        assert_eq!(cgroup_pids(Some("1:cpu:/\n"), &record), (None, None));
        assert_eq!(
            seen.borrow()[..],
            [
                "/sys/fs/cgroup/user.slice/x/pids.max",
                "/sys/fs/cgroup/user.slice/x/pids.current",
                "/sys/fs/cgroup/pids/p/q/pids.max",
                "/sys/fs/cgroup/pids/p/q/pids.current"
            ]
        );
    }
}
