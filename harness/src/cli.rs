//! Command-line options (clap derive). Validation that clap cannot express lives here too, with
//! messages that say how to fix the problem.

use crate::suite::SuiteKind;
use crate::workload::Workload;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Build, verify and benchmark equivalent async workloads across runtimes and languages.
#[derive(Debug, Parser)]
#[command(name = "asyncbench", version, about)]
pub struct Opts {
    /// The repository root (holds manifest/); found from the current directory when omitted.
    #[arg(long, global = true, env = "ASYNCBENCH_ROOT")]
    pub root: Option<PathBuf>,
    /// Print only errors and the final summary.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build, verify and measure; writes results/<run-id>/ (results.json and reports).
    Run(RunArgs),
    /// List implementations, their toolchains and whether they can run here.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Build and run the correctness checks only.
    Verify {
        #[command(flatten)]
        select: SelectArgs,
        /// Write results.json into exactly this directory (default target/asyncbench/verify/<run-id>/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Overwrite a results.json already in --out.
        #[arg(long)]
        force: bool,
    },
    /// Regenerate report.html, report.md, results.csv and charts from a results file.
    Report {
        /// A results.json written by `asyncbench run`.
        results: PathBuf,
        /// Where to write the reports (default: beside the results file).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write only these CI-tracker exports instead of the reports: github-action-benchmark
        /// (customBiggerIsBetter / customSmallerIsBetter JSON, two files) or bencher (Bencher Metric
        /// Format). One entry per cell and headline metric: median and interval, names stable across runs.
        #[arg(long, value_enum, value_delimiter = ',')]
        export: Vec<crate::export::ExportFormat>,
    },
    /// Print a shell completion script, e.g. `asyncbench completions bash > ~/.local/share/bash-completion/completions/asyncbench`.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// The run history (results/history.db): lists runs; with --metric/--impl/--workload prints a trend
    /// table and writes a trend chart.
    History(HistoryArgs),
    /// Compare two runs cell by cell; exits 1 when an implementation regressed beyond the threshold or a
    /// cell that was ok in the base run is missing or fails now.
    Compare {
        /// BASE.json NEW.json: the baseline run (before the change, e.g. from main), then the candidate
        /// run (after it, same machine and suite); with --baseline NAME only [NEW.json] (default:
        /// results/latest).
        #[arg(value_name = "RESULTS", num_args = 0..=2)]
        files: Vec<PathBuf>,
        /// Compare against the baseline saved with `run --save-baseline NAME` (results/baselines/NAME/).
        #[arg(long, value_name = "NAME")]
        baseline: Option<String>,
        #[arg(long, value_name = "PCT|METRIC=PCT", value_delimiter = ',', help = "Regression threshold in percent (default 5); per metric: p99=20,peak_rss_bytes=2", long_help = crate::compare::THRESHOLD_HELP)]
        threshold: Vec<String>,
        /// Do not fail when cells that were ok in the base run are missing, skipped or failing now.
        #[arg(long)]
        allow_missing: bool,
        /// Output format: text for a terminal, json for scripts, markdown for a pull-request comment.
        #[arg(long, value_enum, default_value_t)]
        format: crate::compare::Format,
    },
    /// (Internal, run over ssh on a server host) start one program through the launcher and relay.
    #[command(hide = true)]
    RemoteExec {
        /// Prefix of the launcher's report lines on stdout (random per spawn).
        #[arg(long)]
        marker: String,
        /// Pin the program to these CPUs of this host.
        #[arg(long, value_delimiter = ',')]
        cpus: Vec<usize>,
        /// The program and its arguments.
        #[arg(last = true, required = true)]
        argv: Vec<String>,
    },
    /// (Internal, run over ssh on a server host) probe, provision and build one implementation.
    #[command(hide = true)]
    RemotePrepare {
        /// The implementation (a name from the shipped manifest).
        #[arg(long = "impl")]
        implementation: String,
        /// Never install a missing toolchain.
        #[arg(long)]
        no_provision: bool,
    },
    /// (Internal, run over ssh) this host's description as JSON.
    #[command(hide = true)]
    RemoteEnv,
    /// (Internal, run over ssh on a client host) run the echo load generator, print one JSON report.
    #[command(hide = true)]
    Loadgen {
        /// The load (JSON, written by `run --client-host`).
        #[arg(long)]
        spec: String,
    },
    /// (Internal, run over ssh on the server host) sample a program's memory and CPU and the host's
    /// CPU counters, streamed back on stdout until stdin closes.
    #[command(hide = true)]
    Probe {
        /// The program's pid on this host.
        #[arg(long)]
        pid: i32,
        /// Exit after this many seconds in any case.
        #[arg(long, default_value_t = 3600)]
        deadline_s: u64,
    },
}

/// `asyncbench history`: list recorded runs, show a trend, or import old results.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(subcommand)]
    pub action: Option<HistoryAction>,
    /// The history database (default results/history.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Trend of this metric (a name as in results.json, e.g. throughput_msgs_per_s, latency_ns.p99).
    #[arg(long)]
    pub metric: Option<String>,
    /// Trend of this implementation.
    #[arg(long = "impl")]
    pub implementation: Option<String>,
    /// Trend of this workload.
    #[arg(long)]
    pub workload: Option<String>,
    /// Where to write the trend chart (PNG and SVG; default results/).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum HistoryAction {
    /// Record every results.json under DIR (recursively; baselines/ excluded) in the history.
    Import {
        /// A directory of runs, e.g. results/ (each results.json under it is recorded once).
        dir: PathBuf,
    },
}

/// Which workloads and implementations.
#[derive(Debug, Args, Clone)]
pub struct SelectArgs {
    /// Workloads to run (comma-separated): echo, fanout, stream, cancel, futures, micro. Default: all.
    #[arg(long, short, value_delimiter = ',', value_parser = Workload::value_parser())]
    pub workload: Vec<Workload>,
    /// Implementations to run (comma-separated names from `asyncbench list`). Default: all.
    #[arg(long = "impl", short, value_delimiter = ',')]
    pub implementations: Vec<String>,
    /// Never install missing toolchains; skip those implementations instead.
    #[arg(long)]
    pub no_provision: bool,
    /// Seconds a program may take from start to its ready line (slow JIT start-up on a busy machine).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub ready_timeout: u64,
}

#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Smoke-sized suite (one trial, few points): minutes, not half an hour.
    #[arg(long, conflicts_with = "full")]
    pub quick: bool,
    /// The complete sweep (long).
    #[arg(long)]
    pub full: bool,
    /// Trials per cell (default: 1 quick, 3 default, 5 full).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: Option<u32>,
    /// Write the run into exactly this directory (default results/<run-id>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Overwrite a results.json already in --out (an earlier run's results are otherwise kept).
    #[arg(long)]
    pub force: bool,
    /// Echo CPU placement: "SERVER_CPUS:CLIENT_CPUS", e.g. "1:0" (default: the machine's CPUs split
    /// into a server set and a disjoint client set, see docs/METHODOLOGY.md).
    #[arg(long, value_parser = parse_pin, conflicts_with = "no_pin")]
    pub pin: Option<(Vec<usize>, Vec<usize>)>,
    /// Run echo servers and the load generator unpinned (they compete for every CPU); labelled in reports.
    #[arg(long)]
    pub no_pin: bool,
    /// Echo client engine: epoll (the portable loop, default), io-uring (one io_uring_enter per loop
    /// for everything ready), or auto (io-uring when this kernel runs it, else epoll, reason recorded).
    #[arg(long, value_enum, env = "ASYNCBENCH_CLIENT_ENGINE", default_value_t = crate::workload::echo::loadgen_engine::EngineChoice::Epoll)]
    pub client_engine: crate::workload::echo::loadgen_engine::EngineChoice,
    /// Load-generator threads (default: one per client CPU, one when unpinned).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub client_threads: Option<u32>,
    /// Echo latency objective: capacity is the highest offered rate with p99 at or below this (µs) and
    /// at least 99 % of the offered messages completed.
    #[arg(long, default_value_t = 1000.0, value_parser = parse_objective)]
    pub latency_objective_us: f64,
    /// When the run completes, also keep it as baseline NAME (results/baselines/NAME/) for
    /// `compare --baseline NAME`.
    #[arg(long, value_name = "NAME")]
    pub save_baseline: Option<String>,
    /// Run every measured program on this host over ssh (keys only, batch mode): the repository is
    /// shipped and built there; fan-out, stream and the other process-local workloads run there; echo
    /// is driven from this machine to --bind. See README "Two or more machines".
    #[arg(long, value_name = "[USER@]HOST[:PORT]")]
    pub server_host: Option<crate::remote::HostSpec>,
    /// Run the echo load generator on this host over ssh instead of here (repeatable: the connections
    /// and the open-loop rate are split evenly across the hosts and their measurements merged). It
    /// connects to --bind with --server-host, else to 127.0.0.1 (only useful when the client host is
    /// this machine). See README "Two or more machines".
    #[arg(long, value_name = "[USER@]HOST[:PORT]")]
    pub client_host: Vec<crate::remote::HostSpec>,
    /// The address echo servers on --server-host bind and the load generator connects to (never a
    /// wildcard). Default: the host part of --server-host when it is an IP address.
    #[arg(long, value_name = "ADDR", value_parser = parse_bind)]
    pub bind: Option<std::net::IpAddr>,
    /// An ssh option for every connection, as in `ssh -o` (repeatable), e.g.
    /// --ssh-option IdentityFile=~/.ssh/lab --ssh-option StrictHostKeyChecking=accept-new
    #[arg(long, value_name = "KEY=VALUE")]
    pub ssh_option: Vec<String>,
}

/// Parses `--bind`: an IP address, not a wildcard (a wildcard would expose the server everywhere).
pub fn parse_bind(s: &str) -> Result<std::net::IpAddr, String> {
    match s.trim().parse::<std::net::IpAddr>() {
        Ok(ip) if ip.is_unspecified() => Err(format!(
            "'{s}' is a wildcard; give the server's address on the lab network, e.g. --bind 10.0.0.2"
        )),
        Ok(ip) => Ok(ip),
        Err(_) => Err(format!(
            "'{s}' is not an IP address; give the server's address on the lab network, e.g. --bind 10.0.0.2"
        )),
    }
}

impl RunArgs {
    pub fn suite_kind(&self) -> SuiteKind {
        if self.quick {
            SuiteKind::Quick
        } else if self.full {
            SuiteKind::Full
        } else {
            SuiteKind::Default
        }
    }
}

/// Parses a positive latency objective in µs.
pub fn parse_objective(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "'{s}' is not a positive number of microseconds; use e.g. --latency-objective-us 1000"
        )),
    }
}

/// Parses "1:0" or "2,3:0,1" into (server CPUs, client CPUs).
pub fn parse_pin(s: &str) -> Result<(Vec<usize>, Vec<usize>), String> {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let list = |part: &str| -> Result<Vec<usize>, String> {
        part.split(',')
            .map(|c| {
                let c: usize = c
                    .trim()
                    .parse()
                    .map_err(|_| format!("'{c}' is not a CPU number; use e.g. --pin 1:0"))?;
                if c >= cpus {
                    return Err(format!(
                        "CPU {c} does not exist (this machine has CPUs 0..{}); use e.g. --pin 1:0",
                        cpus - 1
                    ));
                }
                Ok(c)
            })
            .collect()
    };
    let (a, b) = s
        .split_once(':')
        .ok_or("expected SERVER_CPUS:CLIENT_CPUS, e.g. --pin 1:0")?;
    let (server, client) = (list(a)?, list(b)?);
    if server.iter().any(|c| client.contains(c)) {
        return Err("server and client CPU sets overlap; use disjoint sets, e.g. --pin 1:0".into());
    }
    Ok((server, client))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_parsing() {
        assert_eq!(
            parse_pin("0:0").unwrap_err(),
            "server and client CPU sets overlap; use disjoint sets, e.g. --pin 1:0"
        );
        assert!(
            parse_pin("x")
                .unwrap_err()
                .contains("SERVER_CPUS:CLIENT_CPUS")
        );
        assert!(parse_pin("999:0").unwrap_err().contains("does not exist"));
        assert!(parse_objective("0").is_err() && parse_objective("x").is_err());
        assert_eq!(parse_objective("250"), Ok(250.0));
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Opts::command().debug_assert();
    }

    /// Every argument and subcommand says what it is for in `--help`.
    #[test]
    fn every_argument_has_help() {
        use clap::CommandFactory;
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() {
                    missing.push(format!("{path} {} (subcommand)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        let mut cmd = Opts::command();
        cmd.build();
        walk(&cmd, "asyncbench", &mut missing);
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
    }
}
