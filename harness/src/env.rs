//! Capturing the environment of a run: the machine, the OS, the git state. Numbers from a different
//! environment are not comparable, so it is recorded with every result.

use crate::process::{Spec, run_to_completion};
use crate::results::Environment;
use std::path::Path;
use std::time::Duration;

/// Reads the machine's description (no toolchains or configuration: the runner adds those).
pub fn capture(root: &Path) -> Environment {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_bytes = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0);
    let os = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|s| s.trim_matches('"').to_string())
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    let git = |args: &[&str]| -> Option<String> {
        let mut argv = vec!["git".to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        let spec = Spec {
            argv,
            cwd: root.to_path_buf(),
            ..Spec::default()
        };
        match run_to_completion(&spec, Duration::from_secs(20)) {
            Ok((exit, out, _)) if exit.success() => Some(out),
            _ => None,
        }
    };
    let git_commit = git(&["rev-parse", "HEAD"]).map(|s| s.trim().to_string());
    let git_dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).map(|s| !s.trim().is_empty());
    Environment {
        cpu_model,
        cores: std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1),
        memory_bytes,
        kernel,
        os,
        git_commit,
        git_dirty,
        load_avg_1m_at_start: load_avg_1m(),
        containment: Some(crate::process::containment()),
        started_at: now_rfc3339(),
        ..Environment::default()
    }
}

/// The 1-minute load average.
pub fn load_avg_1m() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The current UTC time as RFC 3339.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".into())
}

/// A run id that sorts by time and is unique: `20261126-134501-123-4f2a9c` (UTC to the millisecond,
/// then 24 random bits), so two runs started in the same second (CI matrix jobs, a retry) never share a
/// directory.
pub fn run_id() -> String {
    let now = time::OffsetDateTime::now_utc();
    let stamp = now
        .format(time::macros::format_description!(
            "[year][month][day]-[hour][minute][second]-[subsecond digits:3]"
        ))
        .unwrap_or_else(|_| "run".into());
    format!("{stamp}-{:06x}", rand::random::<u32>() & 0xff_ffff)
}
