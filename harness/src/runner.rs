//! The run: prepare implementations, verify each workload, measure cells in interleaved order
//! (A B C A B C, so machine drift does not favour one implementation), and write `results.json` after
//! every trial so nothing completed is ever lost.

use crate::manifest::{self, Paths};
use crate::prepare::{Prepared, prepare};
use crate::results::{self, ImplStatus, Results, VerifyRecord};
use crate::ui::Ui;
use crate::workload::session::{Batch, Session, TrialFn};
use crate::workload::{Launch, TrialData};
use anyhow::{Context, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crate::workload::{RunConfig, Workload, params};

/// A run in progress: the results so far and where they go.
pub struct Run<'a> {
    pub cfg: &'a RunConfig,
    pub results: Results,
    pub prepared: Vec<Prepared>,
    pub ui: &'a mut Ui,
    writer: results::ResultsWriter,
    scratch: ScratchDirs,
}

/// The scratch directories a run handed to workloads (tools' output to import): deleted when the run
/// ends, however it ends, and never anything else.
#[derive(Debug, Default)]
struct ScratchDirs(Vec<PathBuf>);

impl ScratchDirs {
    /// A fresh directory under `target/asyncbench/<purpose>/`, named by a unique id (never by `--out`,
    /// whose last component may be empty or `.`), so two runs never share or delete one directory.
    fn create(&mut self, paths: &Paths, purpose: &str) -> anyhow::Result<PathBuf> {
        let dir = scratch_path(paths, purpose);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the scratch directory {}", dir.display()))?;
        self.0.push(dir.clone());
        Ok(dir)
    }
}

impl Drop for ScratchDirs {
    fn drop(&mut self) {
        for dir in &self.0 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn scratch_path(paths: &Paths, purpose: &str) -> PathBuf {
    paths
        .target
        .join("asyncbench")
        .join(purpose)
        .join(crate::env::run_id())
}

/// Loads the manifest and keeps the implementations the run asked for.
pub fn select(
    root: &Path,
    wanted: Option<&[String]>,
    workloads: &[Workload],
) -> anyhow::Result<Vec<manifest::Implementation>> {
    let all = manifest::load_dir(&root.join("manifest"))?;
    if let Some(wanted) = wanted {
        let unknown: Vec<&String> = wanted
            .iter()
            .filter(|w| !all.iter().any(|i| &i.name == *w))
            .collect();
        if !unknown.is_empty() {
            let known: Vec<&str> = all.iter().map(|i| i.name.as_str()).collect();
            bail!(
                "unknown implementation(s) {unknown:?}; choose from: {}",
                known.join(", ")
            );
        }
    }
    Ok(all
        .into_iter()
        .filter(|i| wanted.is_none_or(|w| w.contains(&i.name)))
        .filter(|i| {
            workloads
                .iter()
                .any(|w| i.workloads.iter().any(|iw| iw == w.as_str()))
        })
        .collect())
}

impl<'a> Run<'a> {
    /// Prepares every selected implementation and writes the first results file.
    /// `server` is where measured programs run: `None` here, or the `--server-host` session.
    pub fn start(
        cfg: &'a RunConfig,
        server: Option<&std::sync::Arc<crate::remote::Session>>,
        ui: &'a mut Ui,
    ) -> anyhow::Result<Run<'a>> {
        std::fs::create_dir_all(&cfg.out_dir).with_context(|| {
            format!(
                "cannot create the output directory {}; pass a writable --out",
                cfg.out_dir.display()
            )
        })?;
        let selected = select(&cfg.root, cfg.implementations.as_deref(), &cfg.workloads)?;
        if selected.is_empty() {
            bail!("no implementation runs the requested workloads; see `asyncbench list`");
        }
        let paths = Paths::new(&cfg.root);
        let mut environment = crate::env::capture(&cfg.root);
        environment.config = cfg.config_json.clone();
        environment.cpu_pinning =
            cfg.pin
                .clone()
                .map(|(server_cpus, client_cpus)| results::CpuPinning {
                    server_cpus,
                    client_cpus,
                });
        environment.echo_placement = Some(cfg.pin_label.clone());
        environment.client_engine =
            Some(crate::workload::echo::loadgen_engine::selected().describe());
        environment.hosts = crate::remote::topology::hosts(server.map(|s| &**s), &environment);
        let writer = results::ResultsWriter::new(cfg.out_dir.join("results.json"));
        let mut run = Run {
            cfg,
            results: Results {
                schema_version: results::SCHEMA_VERSION,
                run_id: cfg.run_id.clone(),
                environment,
                implementations: selected.iter().map(crate::prepare::info).collect(),
                cells: Vec::new(),
            },
            prepared: Vec::new(),
            ui,
            writer,
            scratch: ScratchDirs::default(),
        };
        run.save()?;
        let build_started = std::time::Instant::now();
        run.ui.phase("build", selected.len() as u64);
        // Echo servers are pinned per workload (see `runnable`); other workloads run on every CPU.
        for imp in &selected {
            if crate::process::interrupted() {
                bail!("interrupted");
            }
            run.ui.step(&imp.name);
            let p = match server {
                Some(s) => s.prepare(imp, cfg.provision),
                None => prepare(imp, &paths, cfg.provision, None, run.ui),
            };
            if let (Some(tc), Some(v)) = (&p.info.toolchain, &p.info.toolchain_version) {
                run.results
                    .environment
                    .toolchains
                    .insert(tc.clone(), v.clone());
            }
            if p.launch.is_none() {
                run.ui.line(&format!(
                    "{}: {:?}: {}",
                    imp.name,
                    p.info.status,
                    crate::toolchain::last_line(p.info.reason.as_deref().unwrap_or(""))
                ));
            }
            run.prepared.push(p);
            crate::remote::topology::record_toolchains(&mut run.results.environment);
            run.sync_implementations();
            run.save()?;
            run.ui.done();
        }
        run.ui.finish();
        run.record_phase("build", None, build_started.elapsed().as_secs_f64());
        Ok(run)
    }

    /// Writes `results.json` (atomically). A failed save never ends the run: the writer retries (and
    /// recreates a removed directory), warns once per failure streak, and [`Run::finish_at`] falls
    /// back to a path it names. Always `Ok`; the `Result` keeps callers' `?` working.
    pub fn save(&mut self) -> anyhow::Result<()> {
        match self.writer.save(&self.results) {
            results::Saved::Ok | results::Saved::Failed(None) => {}
            results::Saved::Recreated(dir) => self.ui.line(&format!(
                "warning: the output directory {} disappeared; recreated it and saved the results again",
                dir.display()
            )),
            results::Saved::Recovered => self.ui.line(&format!(
                "saving {} works again",
                self.writer.path().display()
            )),
            results::Saved::Failed(Some(warning)) => self.ui.line(&warning),
        }
        Ok(())
    }

    fn sync_implementations(&mut self) {
        for p in &self.prepared {
            if let Some(slot) = self
                .results
                .implementations
                .iter_mut()
                .find(|i| i.name == p.info.name)
            {
                *slot = p.info.clone();
            }
        }
    }

    /// Implementations that may run `workload` now, in manifest order. Echo servers are pinned to the
    /// server CPU set (and thread-per-core runtimes sized to it); other workloads use every CPU.
    fn runnable(&self, workload: &str) -> Vec<(String, Launch)> {
        let server_cpus = self.cfg.pin.as_ref().map(|p| p.0.as_slice());
        self.prepared
            .iter()
            .filter(|p| p.runs(workload))
            .map(|p| {
                let launch = p.launch.clone().expect("runs() implies a launch");
                let launch = if workload == "echo" {
                    crate::workload::echo::placement::pin_launch(launch, server_cpus)
                } else {
                    launch
                };
                (p.imp.name.clone(), launch)
            })
            .collect()
    }

    /// Verifies `workload` on every implementation that runs it; failures exclude it from measurement.
    pub fn verify(&mut self, workload: Workload) -> anyhow::Result<()> {
        let w = workload.as_str();
        let targets = self.runnable(w);
        let Some(check) = workload.verify else {
            return Ok(());
        };
        if targets.is_empty() {
            return Ok(());
        }
        self.ui.phase(&format!("verify {w}"), targets.len() as u64);
        for (name, launch) in targets {
            if crate::process::interrupted() {
                bail!("interrupted");
            }
            self.ui.step(&name);
            let (outcome, ready) = check(&launch, self.cfg.ready_timeout);
            let p = self
                .prepared
                .iter_mut()
                .find(|p| p.imp.name == name)
                .expect("prepared");
            if let Some(r) = ready {
                p.info.runtime_detail = Some(r.runtime.clone());
                p.info.threads = r.threads.or(p.info.threads);
            }
            let (passed, detail) = match outcome {
                Ok(d) => (true, d),
                Err(reason) => {
                    self.ui
                        .line(&format!("{name}: {w} verification FAILED: {reason}"));
                    p.info.status = ImplStatus::VerifyFailed;
                    let prev = p
                        .info
                        .reason
                        .take()
                        .map(|r| format!("{r}; "))
                        .unwrap_or_default();
                    p.info.reason = Some(format!("{prev}{w}: {reason}"));
                    (false, reason)
                }
            };
            p.info.verification.push(VerifyRecord {
                workload: w.into(),
                passed,
                detail,
            });
            self.sync_implementations();
            self.save()?;
            self.ui.done();
        }
        self.ui.finish();
        Ok(())
    }

    /// How many implementations run `w` and how long its definition says that should take
    /// (verification included).
    pub fn estimate(&self, w: Workload) -> (usize, Option<f64>) {
        let n = Run::runnable(self, w.name).len();
        (n, (w.estimate_s)(self.cfg, n))
    }

    /// The whole run's plan, said once before measuring: per workload, how many implementations run
    /// it and, where its definition can say, how long it should take; then what the build took.
    pub fn plan(&self, workloads: &[Workload]) -> String {
        let parts: Vec<(&str, usize, Option<f64>)> = workloads
            .iter()
            .map(|&w| {
                let (n, s) = self.estimate(w);
                (w.name, n, s)
            })
            .collect();
        let build_s = self
            .results
            .environment
            .phases
            .iter()
            .find(|p| p.name == "build")
            .map(|p| p.actual_s);
        crate::engine::plan_line(&parts, build_s)
    }

    /// Records how long a phase took beside its estimate (saved with the next save).
    pub fn record_phase(&mut self, name: &str, estimated_s: Option<f64>, actual_s: f64) {
        self.results.environment.phases.push(results::PhaseTiming {
            name: name.to_string(),
            estimated_s,
            actual_s,
        });
    }

    /// Every phase so far, actual beside estimated (see `engine::phases_line`).
    pub fn phases_line(&self) -> String {
        crate::engine::phases_line(&self.results.environment.phases)
    }

    fn note_ready(&mut self, imp: &str, t: &TrialData) {
        if let (Some(r), Some(info)) = (
            &t.ready,
            self.results
                .implementations
                .iter_mut()
                .find(|i| i.name == imp),
        ) {
            info.runtime_detail.get_or_insert_with(|| r.runtime.clone());
            if info.threads.is_none() {
                info.threads = r.threads;
            }
        }
    }

    /// Writes the final results (with the end time).
    pub fn finish(self) -> anyhow::Result<Results> {
        self.finish_at().map(|(r, _)| r)
    }

    /// Writes the final results (with the end time) and returns where they went: the output
    /// directory, or a fallback path (named in a warning) when that cannot be written.
    pub fn finish_at(mut self) -> anyhow::Result<(Results, PathBuf)> {
        self.results.environment.finished_at = Some(crate::env::now_rfc3339());
        let at = self.writer.finish(&self.results)?;
        if at != self.writer.path() {
            eprintln!(
                "warning: {} could not be written ({} failed saves); the results are in {}",
                self.writer.path().display(),
                self.writer.failed_saves,
                at.display()
            );
        }
        Ok((self.results, at))
    }
}

/// The run session as the engine's executor for one batch: trials start real processes, every
/// finished trial updates its cell in the results and saves them.
struct BatchExecutor<'s, 'a, 't> {
    run: &'s mut Run<'a>,
    batch: &'s Batch<'s>,
    /// Per kept point: its index in the batch (for the trial) and its implementation's launch.
    kept: Vec<(usize, Launch)>,
    /// Where the batch's first cell sits in the results.
    first: usize,
    trial: &'t TrialFn<'t>,
}

impl BatchExecutor<'_, '_, '_> {
    fn describe(&self, index: usize) -> (String, String) {
        let (imp, params) = &self.batch.points[self.kept[index].0];
        let desc: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        (imp.clone(), desc.join(" "))
    }
}

impl crate::engine::Executor for BatchExecutor<'_, '_, '_> {
    fn interrupted(&self) -> bool {
        crate::process::interrupted()
    }

    fn run_trial(
        &mut self,
        index: usize,
        repeat: usize,
    ) -> (Result<TrialData, crate::workload::Failure>, f64) {
        let (point, launch) = &self.kept[index];
        let started = std::time::Instant::now();
        let outcome = (self.trial)(launch, *point, repeat);
        (outcome, started.elapsed().as_secs_f64())
    }

    fn starting(&mut self, index: usize, repeat: Option<usize>) {
        match repeat {
            None => self.run.ui.done(),
            Some(r) => {
                let (imp, desc) = self.describe(index);
                self.run.ui.step(&format!(
                    "{imp} {desc} (trial {}/{})",
                    r + 1,
                    self.batch.repeat
                ));
            }
        }
    }

    fn record(
        &mut self,
        index: usize,
        outcome: &Result<TrialData, crate::workload::Failure>,
        cell: results::Cell,
    ) -> anyhow::Result<()> {
        let (imp, desc) = self.describe(index);
        match outcome {
            Err(f) => self.run.ui.line(&format!(
                "{imp} {} {desc}: {:?}: {}",
                self.batch.workload, f.status, f.reason
            )),
            Ok(t) => self.run.note_ready(&imp, t),
        }
        self.run.results.cells[self.first + index] = cell;
        self.run.save()?;
        self.run.ui.done();
        Ok(())
    }
}

impl Session for Run<'_> {
    fn config(&self) -> &RunConfig {
        self.cfg
    }

    fn ui(&mut self) -> &mut Ui {
        self.ui
    }

    fn runnable(&self, workload: &str) -> Vec<(String, Launch)> {
        Run::runnable(self, workload)
    }

    fn scratch_dir(&mut self, purpose: &str) -> anyhow::Result<PathBuf> {
        self.scratch.create(&Paths::new(&self.cfg.root), purpose)
    }

    /// Runs the batch's points whose implementation may run the workload now (the others are
    /// dropped), `repeat` times in interleaved order, saving after every trial.
    fn measure_batch(&mut self, batch: Batch, trial: &TrialFn) -> anyhow::Result<Vec<usize>> {
        let launches: BTreeMap<String, Launch> =
            Run::runnable(self, batch.workload).into_iter().collect();
        let kept: Vec<(usize, Launch)> = batch
            .points
            .iter()
            .enumerate()
            .filter_map(|(i, (imp, _))| launches.get(imp).map(|l| (i, l.clone())))
            .collect();
        if kept.is_empty() {
            return Ok(Vec::new());
        }
        let points: Vec<crate::engine::Point> =
            kept.iter().map(|(i, _)| batch.points[*i].clone()).collect();
        let schedule = crate::engine::Schedule {
            workload: batch.workload,
            headline: batch.headline,
            repeat: batch.repeat,
            long_trial_s: self.cfg.suite.long_trial_s,
        };
        let first = self.results.cells.len();
        // Every cell is in the results (as "not run") before its first trial.
        self.results
            .cells
            .extend(points.iter().map(|(imp, params)| {
                crate::aggregate::CellAcc::new(batch.workload, imp, params.clone(), batch.headline)
                    .to_cell()
            }));
        self.ui
            .phase(batch.label, (points.len() * batch.repeat) as u64);
        let n = points.len();
        let mut exec = BatchExecutor {
            run: self,
            batch: &batch,
            kept,
            first,
            trial,
        };
        crate::engine::run_batch(&points, &schedule, &mut exec)?;
        self.ui.finish();
        Ok((first..first + n).collect())
    }

    fn cells(&mut self) -> &mut Vec<results::Cell> {
        &mut self.results.cells
    }

    fn add_cells(&mut self, cells: Vec<results::Cell>) -> anyhow::Result<()> {
        self.results.cells.extend(cells);
        self.save()
    }

    fn record_tool(&mut self, tool: &str, what: String) -> anyhow::Result<()> {
        self.results
            .environment
            .toolchains
            .insert(tool.to_string(), what);
        self.save()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_dirs_are_fresh_per_call_and_deleted_with_the_run() {
        let target = tempfile::tempdir().unwrap();
        let paths = Paths {
            root: "/r".into(),
            target: target.path().to_path_buf(),
        };
        let mut scratch = ScratchDirs::default();
        let a = scratch.create(&paths, "micro").unwrap();
        let b = scratch.create(&paths, "micro").unwrap();
        assert_ne!(a, b, "two calls (or runs) never share one directory");
        let shared = target.path().join("asyncbench").join("micro");
        for dir in [&a, &b] {
            assert_eq!(dir.parent(), Some(shared.as_path()));
            assert!(dir.is_dir());
        }
        std::fs::write(a.join("estimates.json"), "{}").unwrap();
        let neighbour = shared.join("someone-else");
        std::fs::create_dir_all(&neighbour).unwrap();
        drop(scratch);
        assert!(
            !a.exists() && !b.exists(),
            "the run deletes what it handed out"
        );
        assert!(neighbour.is_dir(), "and nothing else");
    }
}
