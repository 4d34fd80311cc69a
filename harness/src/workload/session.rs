//! The seam between the engine (`runner`) and the workloads: the run's configuration and the
//! [`Session`] a workload's `measure` drives. Workloads see only this trait, never the engine, so the
//! engine can be tested with fake trials and workloads never save or delete results themselves.

use super::{Failure, Launch, TrialData, Workload};
use crate::results::Cell;
use crate::suite::Suite;
use crate::toolchain::Provision;
use crate::ui::Ui;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Everything a run needs to know.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub root: PathBuf,
    pub suite: Suite,
    pub workloads: Vec<Workload>,
    /// Only these implementations (all when `None`).
    pub implementations: Option<Vec<String>>,
    pub out_dir: PathBuf,
    /// Unique id of this run (time to the millisecond plus a random suffix).
    pub run_id: String,
    pub provision: Provision,
    /// Disjoint CPUs for echo servers and the load generator (`None`: unpinned).
    pub pin: Option<(Vec<usize>, Vec<usize>)>,
    /// How the echo placement was chosen, for results and reports.
    pub pin_label: String,
    pub client_threads: usize,
    /// Echo capacity objective: p99 at or below this many µs.
    pub latency_objective_us: f64,
    pub verify_only: bool,
    /// How long a program may take to print its ready line.
    pub ready_timeout: Duration,
    /// The configuration as the user gave it, recorded in the results.
    pub config_json: serde_json::Value,
}

/// One batch of cells measured together: every (implementation, parameters) point `repeat` times in
/// interleaved order (A B C A B C).
#[derive(Debug, Clone)]
pub struct Batch<'a> {
    pub workload: &'a str,
    /// What the progress display calls the batch.
    pub label: &'a str,
    /// (implementation, cell parameters) per point.
    pub points: Vec<(String, BTreeMap<String, Value>)>,
    /// The metric that decides whether a cell is noisy.
    pub headline: &'static str,
    pub repeat: usize,
}

/// Runs trial `repeat` (0-based) of point `index` of a [`Batch`] on an implementation.
pub type TrialFn<'a> = dyn Fn(&Launch, usize, usize) -> Result<TrialData, Failure> + 'a;

/// What a workload may ask of the run session while it measures. The engine saves the results after
/// every trial and every added cell; workloads return cells and never touch files.
pub trait Session {
    /// The run's configuration (suite, placement, objective).
    fn config(&self) -> &RunConfig;
    /// Progress and one-line notes.
    fn ui(&mut self) -> &mut Ui;
    /// Implementations that may run `workload` now (built, verified), in manifest order, with how to
    /// start each.
    fn runnable(&self, workload: &str) -> Vec<(String, Launch)>;
    /// Measures a batch (interleaved trials, repeat rules, a save after each trial) and returns the
    /// indices of its cells in [`Session::cells`].
    fn measure_batch(&mut self, batch: Batch, trial: &TrialFn) -> anyhow::Result<Vec<usize>>;
    /// The cells so far, for derivations across cells (bytes per task, backpressure verdicts); the
    /// engine saves after the workload returns.
    fn cells(&mut self) -> &mut Vec<Cell>;
    /// Adds cells a workload made itself (imported estimates, a capacity search) and saves.
    fn add_cells(&mut self, cells: Vec<Cell>) -> anyhow::Result<()>;
    /// A fresh, empty directory of this run's own for a tool's output (criterion's estimates,
    /// gungraun's summaries), under `target/asyncbench/<purpose>/`. The run session deletes it when
    /// the run ends: workloads read what the tool wrote and never delete files themselves.
    fn scratch_dir(&mut self, purpose: &str) -> anyhow::Result<PathBuf>;
    /// Records a tool a workload used or missed (`valgrind` → "missing: …") in the environment, and
    /// saves.
    fn record_tool(&mut self, tool: &str, what: String) -> anyhow::Result<()>;
}

impl dyn Session + '_ {
    /// [`Session::measure_batch`] with typed trial parameters: `points` are (implementation, cell
    /// parameters, trial parameters).
    pub fn measure<P>(
        &mut self,
        workload: &str,
        label: &str,
        points: Vec<(String, BTreeMap<String, Value>, P)>,
        headline: &'static str,
        repeat: usize,
        trial: &dyn Fn(&Launch, &P, usize) -> Result<TrialData, Failure>,
    ) -> anyhow::Result<Vec<usize>> {
        let (points, inputs): (Vec<_>, Vec<P>) = points
            .into_iter()
            .map(|(imp, params, p)| ((imp, params), p))
            .unzip();
        let batch = Batch {
            workload,
            label,
            points,
            headline,
            repeat,
        };
        self.measure_batch(batch, &|l, i, r| trial(l, &inputs[i], r))
    }
}
