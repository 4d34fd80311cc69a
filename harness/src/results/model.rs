//! The results model: what `results.json` holds. This is a public contract (reports, `compare`, other
//! people's scripts read it), so field names are stable and units are in the names. Any breaking change
//! bumps [`SCHEMA_VERSION`] and `schema/results.schema.json`.

use serde::{Deserialize, Serialize};

pub use crate::finding::FindingKind;
use std::collections::BTreeMap;

/// Version of the `results.json` layout. `compare` and `report` refuse files with another major version.
pub const SCHEMA_VERSION: u32 = 1;

/// One run of the harness: everything needed to interpret, reproduce and compare it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Results {
    pub schema_version: u32,
    pub run_id: String,
    pub environment: Environment,
    pub implementations: Vec<ImplementationInfo>,
    pub cells: Vec<Cell>,
}

/// The machine and configuration a run was measured on; part of the result, because numbers from a
/// different machine or configuration are not comparable.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Environment {
    pub cpu_model: String,
    pub cores: u32,
    pub memory_bytes: u64,
    pub kernel: String,
    pub os: String,
    /// Toolchain name → the version line its probe printed.
    pub toolchains: BTreeMap<String, String>,
    pub git_commit: Option<String>,
    pub git_dirty: Option<bool>,
    /// 1-minute load average when the run started; a busy machine makes every number suspect.
    pub load_avg_1m_at_start: Option<f64>,
    /// How child processes were contained: the launcher as a child subreaper (every descendant killed),
    /// or the process-group fallback with why (a descendant that calls `setsid` could escape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containment: Option<String>,
    /// CPU pinning used for echo servers and the load generator, if any (other workloads use every CPU).
    pub cpu_pinning: Option<CpuPinning>,
    /// How the echo placement was chosen, e.g. "pinned (default split): server CPUs 1, client CPUs 0"
    /// or "unpinned (--no-pin)".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo_placement: Option<String>,
    /// The echo load generator's engine, e.g. "epoll-loop".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_engine: Option<String>,
    /// Every host the run used and its role ("server": ran the measured programs; "client": ran the
    /// echo load generator; "local": both, on this machine; "controller": this machine when both run
    /// elsewhere, `--server-host` with `--client-host`). Empty in runs before topologies existed
    /// (one machine, both roles). The fields above describe the machine the harness ran on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostRecord>,
    /// The full harness configuration (suite, repeats, flags) as given.
    pub config: serde_json::Value,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// How long each phase took (the build, then each workload with its verification), beside what
    /// the plan estimated before measuring, so an estimate that drifts from the truth shows. Empty in
    /// runs before estimates existed; `verify` runs record the build only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<PhaseTiming>,
}

/// One phase of a run: its name (`build` or a workload), the plan's estimate (none where the phase
/// cannot say) and the wall-clock seconds it took.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhaseTiming {
    pub name: String,
    pub estimated_s: Option<f64>,
    pub actual_s: f64,
}

/// One host of a run and what it did there.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct HostRecord {
    /// "server", "client", "local" (both) or "controller" (neither: only the harness ran there).
    pub role: String,
    /// `user@host:port` as given, or "localhost".
    pub address: String,
    pub cpu_model: String,
    pub cores: u32,
    pub memory_bytes: u64,
    pub kernel: String,
    pub os: String,
    /// Toolchain name → version, as probed on this host (servers only: clients run no toolchain).
    #[serde(default)]
    pub toolchains: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containment: Option<String>,
}

impl Environment {
    /// The topology in one line, e.g. "server root@10.0.0.2 (Xeon, 16 cores); clients: local", or
    /// "one machine" for runs without remote hosts.
    pub fn topology(&self) -> String {
        if self.hosts.iter().all(|h| h.role == "local") {
            return "one machine (server and load generator share it)".into();
        }
        let mut parts = Vec::new();
        for role in ["server", "client"] {
            let hosts: Vec<String> = self
                .hosts
                .iter()
                .filter(|h| h.role == role || h.role == "local")
                .map(|h| format!("{} ({}, {} cores)", h.address, h.cpu_model, h.cores))
                .collect();
            parts.push(format!("{role}: {}", hosts.join(", ")));
        }
        parts.join("; ")
    }

    /// The topology as comparable data: the role → address list, for `compare`.
    pub fn topology_key(&self) -> Vec<(String, String)> {
        let mut k: Vec<(String, String)> = self
            .hosts
            .iter()
            .map(|h| (h.role.clone(), h.address.clone()))
            .collect();
        if k.is_empty() {
            k.push(("local".into(), "localhost".into()));
        }
        k.sort();
        k
    }
}

/// Disjoint CPU sets for the measured program and the load generator.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CpuPinning {
    pub server_cpus: Vec<usize>,
    pub client_cpus: Vec<usize>,
}

/// Whether an implementation took part, and if not, why.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ImplStatus {
    Ok,
    Skipped,
    BuildFailed,
    VerifyFailed,
}

/// One implementation as declared in the manifest plus what the run learnt about it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImplementationInfo {
    pub name: String,
    pub language: String,
    /// The manifest's short runtime label.
    pub runtime: String,
    /// The runtime the program reported it actually used (e.g. "Mono 6.8.0.105").
    pub runtime_detail: Option<String>,
    /// The manifest asks reports to name the runtime beside the implementation (`csharp (Mono 6.8)`),
    /// because one implementation runs on different runtimes (Mono or .NET) whose numbers differ.
    /// Absent in older results files (false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub runtime_in_label: bool,
    pub toolchain: Option<String>,
    pub toolchain_version: Option<String>,
    /// Threads (or executors) that run tasks, as the program reported.
    pub threads: Option<u32>,
    pub status: ImplStatus,
    pub reason: Option<String>,
    pub notes: String,
    /// Extra environment the manifest set (e.g. ASYNCBENCH_CORES); recorded parameters.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Per-workload verification outcome.
    #[serde(default)]
    pub verification: Vec<VerifyRecord>,
    /// A reference point rather than a contender (manifest `reference = true`): reports draw it as a
    /// reference line beside the rankings, never in them. Files written before this field existed are
    /// read with `rust-join-all` as the reference (see `results::load`).
    #[serde(default)]
    pub reference: bool,
    /// What the reference stands for, e.g. "no spawning" or "async vs threads" (manifest
    /// `reference_label`; reports fall back to the runtime label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_label: Option<String>,
}

impl ImplementationInfo {
    /// The text reports put beside a reference implementation's name; `None` for contenders.
    pub fn reference_text(&self) -> Option<&str> {
        self.reference
            .then(|| self.reference_label.as_deref().unwrap_or(&self.runtime))
    }
}

/// The outcome of checking one workload of one implementation before it is measured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VerifyRecord {
    pub workload: String,
    pub passed: bool,
    pub detail: String,
}

/// The outcome of one measured cell.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CellStatus {
    Ok,
    Failed,
    Timeout,
    Crashed,
    /// Killed by the kernel's OOM killer (SIGKILL the harness did not send, with memory evidence): at
    /// this size the program does not fit in the machine's memory, which is itself the finding.
    OutOfMemory,
}

/// One (workload, implementation, parameters) point, with every trial's raw metrics.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Cell {
    pub workload: String,
    pub implementation: String,
    /// Workload parameters, e.g. `{"mode":"closed","connections":64,"message_bytes":64}`.
    pub params: BTreeMap<String, serde_json::Value>,
    pub status: CellStatus,
    pub reason: Option<String>,
    /// Per-metric median across trials (the headline values).
    pub metrics: Metrics,
    /// Per-metric statistics across trials (median, distribution-free interval of the median, CV).
    #[serde(default)]
    pub stats: BTreeMap<String, Summary>,
    /// Every trial's raw metrics, in the order they ran.
    #[serde(default)]
    pub trials: Vec<Trial>,
    /// Things a reader must know about this cell (client bottleneck, noise, backpressure violations).
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Errors by kind (connect, reset, timeout, mismatch, ...), summed over trials.
    #[serde(default)]
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Latency percentile spectrum (percentile, ns) over all trials, for HdrHistogram-style plots.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latency_spectrum: Vec<SpectrumPoint>,
    /// Resident set size of the measured process over time, from /proc (bounded length).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rss_timeline: Vec<RssPoint>,
}

/// Flat numeric metrics keyed by name (units in the name), plus latency percentiles.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Metrics {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub latency_ns: Option<Percentiles>,
    #[serde(flatten)]
    pub values: BTreeMap<String, f64>,
}

/// Latency percentiles in nanoseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub p9999: f64,
    pub max: f64,
}

/// One repetition of a cell.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Trial {
    pub metrics: Metrics,
    /// Sub-interval values of the headline metric inside this trial (e.g. throughput per second), so an
    /// interval has data behind it even when few trials are affordable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_intervals: Vec<f64>,
}

/// Statistics of one metric across trials.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub median: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// Coefficient of variation (stddev / mean); `None` with fewer than two values.
    pub cv: Option<f64>,
}

/// A notable observation attached to a cell.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    /// What was found; stored as its stable name (`crate::finding` lists them).
    pub kind: FindingKind,
    pub message: String,
}

/// A point of a latency percentile spectrum.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct SpectrumPoint {
    pub percentile: f64,
    pub latency_ns: f64,
}

/// A sample of the measured process's RSS.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct RssPoint {
    pub t_ms: f64,
    pub rss_bytes: u64,
}

impl Metrics {
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.get(name).copied()
    }
    pub fn set(&mut self, name: &str, value: f64) {
        self.values.insert(name.to_string(), value);
    }
}

impl Cell {
    /// A cell that produced no measurements, with the reason.
    pub fn failed(
        workload: &str,
        implementation: &str,
        params: BTreeMap<String, serde_json::Value>,
        status: CellStatus,
        reason: String,
    ) -> Self {
        Cell {
            workload: workload.to_string(),
            implementation: implementation.to_string(),
            params,
            status,
            reason: Some(reason),
            metrics: Metrics::default(),
            stats: BTreeMap::new(),
            trials: Vec::new(),
            findings: Vec::new(),
            errors_by_kind: BTreeMap::new(),
            latency_spectrum: Vec::new(),
            rss_timeline: Vec::new(),
        }
    }

    /// A stable key identifying the cell across runs: workload, implementation and sorted params.
    pub fn key(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!(
            "{}/{}/{}",
            self.workload,
            self.implementation,
            params.join(",")
        )
    }
}

#[cfg(test)]
mod topology_tests {
    use super::*;

    #[test]
    fn topology_names_roles_and_old_runs_are_one_machine() {
        let mut e = Environment::default();
        assert_eq!(e.topology_key(), [("local".into(), "localhost".into())]);
        let host = |role: &str, address: &str| HostRecord {
            role: role.into(),
            address: address.into(),
            cpu_model: "X".into(),
            cores: 4,
            ..HostRecord::default()
        };
        e.hosts = vec![host("local", "localhost")];
        assert_eq!(e.topology_key(), [("local".into(), "localhost".into())]);
        assert!(e.topology().starts_with("one machine"), "{}", e.topology());
        e.hosts = vec![host("server", "root@10.0.0.2"), host("client", "localhost")];
        assert_eq!(
            e.topology(),
            "server: root@10.0.0.2 (X, 4 cores); client: localhost (X, 4 cores)"
        );
        assert_ne!(e.topology_key(), Environment::default().topology_key());
    }
}
