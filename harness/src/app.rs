//! Dispatching subcommands: the glue between the CLI and the stages. Returns the process exit code.

use crate::cli::{Command, Opts, RunArgs, SelectArgs};
use crate::manifest::Paths;
use crate::results::ImplStatus;
use crate::runner::{self, Run};
use crate::suite::Suite;
use crate::toolchain::Provision;
use crate::ui::Ui;
use crate::workload::{RunConfig, Workload};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

/// Runs the command and returns the exit code (0 ok, 1 failures or regressions, 130 interrupted).
pub fn run(opts: Opts) -> anyhow::Result<i32> {
    if let Command::Completions { shell } = opts.command {
        use clap::CommandFactory;
        let mut cmd = Opts::command();
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut cmd, "asyncbench", &mut script);
        // A closed pipe (`| head`) is not an error worth a panic.
        use std::io::Write;
        match std::io::stdout().write_all(&script) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                return Err(e).context("writing the completion script");
            }
            _ => return Ok(0),
        }
    }
    let mut ui = Ui::new(opts.quiet);
    // `report` and `compare` only read results files: they need no repository.
    let root = || find_root(opts.root.as_deref());
    match opts.command {
        Command::Run(ref args) => run_cmd(&root()?, args, false, &mut ui),
        Command::Verify {
            ref select,
            ref out,
            force,
        } => {
            let args = RunArgs {
                select: select.clone(),
                quick: true,
                full: false,
                repeat: None,
                out: out.clone(),
                force,
                pin: None,
                no_pin: false,
                client_threads: None,
                client_engine: Default::default(),
                latency_objective_us: 1000.0,
                save_baseline: None,
                server_host: None,
                client_host: Vec::new(),
                bind: None,
                ssh_option: Vec::new(),
            };
            run_cmd(&root()?, &args, true, &mut ui)
        }
        Command::List { json } => list(&root()?, json, &ui),
        Command::Report {
            ref results,
            ref out,
            ref export,
        } => report_cmd(results, out.as_deref(), export),
        Command::History(ref args) => crate::history_cmd::run(&root()?, args),
        Command::Compare {
            ref files,
            ref baseline,
            ref threshold,
            allow_missing,
            format,
        } => compare_cmd(
            files,
            baseline.as_deref(),
            threshold,
            allow_missing,
            format,
            &root,
        ),
        Command::Completions { .. } => unreachable!("handled before the root is needed"),
        Command::RemoteExec {
            ref marker,
            ref cpus,
            ref argv,
        } => crate::remote::relay::exec(marker, (!cpus.is_empty()).then_some(cpus), argv),
        Command::RemotePrepare {
            ref implementation,
            no_provision,
        } => crate::remote::relay::prepare(
            &root()?,
            implementation,
            if no_provision {
                Provision::Forbidden
            } else {
                Provision::Allowed
            },
        ),
        Command::RemoteEnv => crate::remote::relay::environment(&root()?),
        Command::Loadgen { ref spec } => crate::remote::loadgen::serve(spec),
        Command::Probe { pid, deadline_s } => {
            crate::remote::probe::serve(pid, std::time::Duration::from_secs(deadline_s))
        }
    }
}

/// The repository root: `--root`, or the first ancestor of the current directory with `manifest/`, or
/// the checkout this binary was built from.
pub fn find_root(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(r) = given {
        if !r.join("manifest").is_dir() {
            bail!(
                "{} has no manifest/ directory; pass the asyncbench repository root with --root",
                r.display()
            );
        }
        return Ok(r.to_path_buf());
    }
    let cwd = std::env::current_dir()?;
    if let Some(r) = cwd
        .ancestors()
        .find(|a| a.join("manifest").is_dir() && a.join("Cargo.toml").is_file())
    {
        return Ok(r.to_path_buf());
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if built_from.join("manifest").is_dir() {
        return Ok(built_from.canonicalize().unwrap_or(built_from));
    }
    bail!(
        "cannot find the asyncbench repository (a directory with manifest/); run from inside it or pass --root"
    )
}

fn workloads(select: &SelectArgs) -> Vec<Workload> {
    let mut w = if select.workload.is_empty() {
        Workload::all()
    } else {
        select.workload.clone()
    };
    w.sort();
    w.dedup();
    w
}

/// Raises the soft open-files limit to the hard limit: the load generator opens up to 1024 connections
/// (plus a timer each), and servers inherit the limit, so none is starved by a low default.
fn raise_open_files_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit on a struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// `run` and `verify`: choose where results go, open remote hosts, measure, then publish and keep.
fn run_cmd(root: &Path, args: &RunArgs, verify_only: bool, ui: &mut Ui) -> anyhow::Result<i32> {
    if let Some(name) = &args.save_baseline {
        crate::baseline::validate_name(name)?;
    }
    crate::process::install_interrupt_handler().context("installing the Ctrl-C handler")?;
    raise_open_files_limit();
    let run_id = crate::env::run_id();
    let out_dir = output_dir(root, args, verify_only, &run_id)?;
    // Programs on another host: its CPUs are its own, so echo runs unpinned on both sides.
    let server = crate::remote::topology::open(
        root,
        args.server_host.clone(),
        args.bind,
        &args.ssh_option,
        ui,
    )?;
    // Registered for the echo workload until the run ends (dropping the guard cleans up each host).
    let _clients = crate::remote::topology::open_clients(
        &args.client_host,
        &args.ssh_option,
        server.as_deref(),
        ui,
    )?;
    crate::workload::echo::loadgen_engine::set(
        crate::workload::echo::loadgen_engine::resolve(args.client_engine)
            .map_err(anyhow::Error::msg)?,
    );
    let placement =
        crate::workload::echo::placement::choose(args.pin.clone(), args.no_pin || server.is_some());
    let cfg = run_config(root, args, verify_only, &placement, out_dir.clone(), run_id);
    // Validate the selection before saying anything, so a typo gets exactly one line.
    runner::select(root, cfg.implementations.as_deref(), &cfg.workloads)?;
    ui.line(&format!(
        "asyncbench {}: {:?} suite → {}",
        if verify_only { "verify" } else { "run" },
        cfg.suite.kind,
        out_dir.display()
    ));
    warn_if_busy(ui);
    let mut run = Run::start(&cfg, server.as_ref(), ui)?;
    let outcome = measure_all(&mut run, &cfg.workloads, verify_only);
    let interrupted = crate::process::interrupted();
    let (results, results_path) = run.finish_at()?;
    // Reports go beside the results, wherever they had to go.
    let out_dir = results_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or(out_dir);
    if let Err(e) = outcome
        && !interrupted
    {
        return Err(e);
    }
    publish(
        root,
        &results,
        &results_path,
        &out_dir,
        verify_only,
        interrupted,
    );
    if interrupted {
        eprintln!("interrupted: partial results kept in {}", out_dir.display());
        return Ok(130);
    }
    if !verify_only {
        keep(root, &out_dir, args.save_baseline.as_deref())?;
    }
    // A run records failures as outcomes and succeeds; `verify` is a check and fails on any of them.
    let all_ok = results
        .implementations
        .iter()
        .all(|i| i.status == ImplStatus::Ok);
    Ok(if verify_only && !all_ok { 1 } else { 0 })
}

/// Where the results go: `--out`, else `results/<run id>` (`target/asyncbench/verify/<run id>` for
/// `verify`). An explicit `--out` holding earlier results needs `--force`.
fn output_dir(
    root: &Path,
    args: &RunArgs,
    verify_only: bool,
    run_id: &str,
) -> anyhow::Result<PathBuf> {
    let out_dir = match &args.out {
        Some(o) => o.clone(),
        None if verify_only => Paths::new(root)
            .target
            .join("asyncbench")
            .join("verify")
            .join(run_id),
        None => root.join("results").join(run_id),
    };
    let existing = out_dir.join("results.json");
    if args.out.is_some() && !args.force && std::fs::symlink_metadata(&existing).is_ok() {
        bail!(
            "{} already holds results.json (an earlier run); pass --force to overwrite it, or choose another --out",
            out_dir.display()
        );
    }
    Ok(out_dir)
}

/// The run's configuration from the options, with the record of it the results keep.
fn run_config(
    root: &Path,
    args: &RunArgs,
    verify_only: bool,
    placement: &crate::workload::echo::placement::Placement,
    out_dir: PathBuf,
    run_id: String,
) -> RunConfig {
    let mut suite = Suite::new(args.suite_kind());
    if let Some(r) = args.repeat {
        suite.repeat = r as usize;
        // An explicit --repeat applies to every cell, the echo closed loop's included.
        suite.echo.closed_repeat = r as usize;
    }
    let workloads = workloads(&args.select);
    let client_threads = args
        .client_threads
        .map(|t| t as usize)
        .unwrap_or_else(|| placement.cpus().map_or(1, |(_, c)| c.len()));
    let config_json = serde_json::json!({
        "command": if verify_only { "verify" } else { "run" },
        "suite": suite,
        "cancel_suite": crate::workload::cancel::CancelSuite::new(suite.kind),
        "micro_suite": crate::workload::micro::MicroSuite::new(suite.kind),
        "workloads": workloads,
        "implementations": args.select.implementations,
        "provision": !args.select.no_provision,
        "pin": args.pin,
        "no_pin": args.no_pin,
        "echo_placement": placement.describe(),
        "client_threads": client_threads,
        "client_engine": crate::workload::echo::loadgen_engine::selected().describe(),
        "latency_objective_us": args.latency_objective_us,
        "ready_timeout_s": args.select.ready_timeout,
        "harness_version": env!("CARGO_PKG_VERSION"),
        "server_host": args.server_host.as_ref().map(|h| h.to_string()),
        "client_hosts": args.client_host.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
        "bind": args.bind,
    });
    RunConfig {
        root: root.to_path_buf(),
        suite,
        workloads,
        implementations: (!args.select.implementations.is_empty())
            .then(|| args.select.implementations.clone()),
        out_dir,
        run_id,
        provision: if args.select.no_provision {
            Provision::Forbidden
        } else {
            Provision::Allowed
        },
        pin: placement.cpus(),
        pin_label: placement.describe(),
        client_threads,
        latency_objective_us: args.latency_objective_us,
        verify_only,
        ready_timeout: std::time::Duration::from_secs(args.select.ready_timeout),
        config_json,
    }
}

/// Says so when the machine is already busy: measurements would be disturbed.
fn warn_if_busy(ui: &Ui) {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    if let Some(load) = crate::env::load_avg_1m().filter(|l| *l > 0.5 * cores) {
        ui.line(&format!("warning: the machine is busy (load average {load:.2} on {cores} cores); measurements will be disturbed"));
    }
}

/// After a run: the reports beside the results, the summary on the terminal, the run history. Each
/// failure costs a warning, never the run (results.json is already on disk).
fn publish(
    root: &Path,
    results: &crate::results::Results,
    results_path: &Path,
    out_dir: &Path,
    verify_only: bool,
    interrupted: bool,
) {
    if !verify_only {
        match crate::report::write_all(results, out_dir) {
            Ok(_) => {}
            Err(e) => crate::ui::warn(&format!("writing reports failed: {e:#}")),
        }
    }
    anstream::print!(
        "{}",
        crate::ui::paint_verdicts(&crate::text::escape_for_terminal(&crate::summary::render(
            results
        )))
    );
    println!("\nresults: {}", results_path.display());
    if !verify_only {
        // results.json is already on disk: a broken history costs a warning, never the run.
        let db = root.join("results").join(crate::history::FILE);
        let recorded = crate::history::History::open(&db)
            .and_then(|mut h| h.record(results, !interrupted, Some(results_path)));
        if let Err(e) = recorded {
            eprintln!("warning: not recorded in the run history: {e}");
        }
    }
}

/// Only a complete run moves `results/latest` or becomes a baseline.
fn keep(root: &Path, out_dir: &Path, save_baseline: Option<&str>) -> anyhow::Result<()> {
    let results_dir = root.join("results");
    if let Err(e) = crate::baseline::set_latest(&results_dir, out_dir) {
        eprintln!("warning: updating results/latest failed: {e:#}");
    }
    if let Some(name) = save_baseline {
        let dir = crate::baseline::save(&results_dir, name, out_dir)?;
        println!("baseline {name}: {}", dir.display());
    }
    Ok(())
}

fn measure_all(run: &mut Run, workloads: &[Workload], verify_only: bool) -> anyhow::Result<()> {
    if !verify_only {
        let plan = run.plan(workloads);
        run.ui.line(&plan);
    }
    for &w in workloads {
        // Estimated before verifying, as the plan line did.
        let (started, (_, estimated_s)) = (std::time::Instant::now(), run.estimate(w));
        run.verify(w)?;
        if verify_only {
            continue;
        }
        (w.measure)(run)?;
        run.record_phase(w.name, estimated_s, started.elapsed().as_secs_f64());
        // Derivations across cells (bytes per task, verdicts) happened in place: save them.
        run.save()?;
    }
    if !verify_only {
        let time = run.phases_line();
        run.ui.line(&time);
    }
    Ok(())
}

fn list(root: &Path, json: bool, ui: &Ui) -> anyhow::Result<i32> {
    let all = crate::manifest::load_dir(&root.join("manifest"))?;
    let paths = Paths::new(root);
    let rows: Vec<_> = all
        .iter()
        .map(|i| (i, crate::prepare::probe_only(i, &paths, ui)))
        .collect();
    if json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|(i, (info, _))| {
                serde_json::json!({
                    "name": i.name, "language": i.language, "runtime": i.runtime, "workloads": i.workloads,
                    "toolchain": info.toolchain, "version": info.toolchain_version,
                    "available": info.status == ImplStatus::Ok, "reason": info.reason,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    println!(
        "{:<18} {:<11} {:<24} {:<22} {:<10} toolchain / reason",
        "name", "language", "runtime", "workloads", "available"
    );
    for (i, (info, _)) in &rows {
        let detail = match (&info.toolchain, &info.toolchain_version, &info.reason) {
            (Some(t), Some(v), _) => format!("{t}: {v}"),
            (_, _, Some(r)) => r.clone(),
            _ => String::new(),
        };
        println!(
            "{:<18} {:<11} {:<24} {:<22} {:<10} {}",
            i.name,
            i.language,
            i.runtime.chars().take(24).collect::<String>(),
            i.workloads.join(","),
            if info.status == ImplStatus::Ok {
                "yes"
            } else {
                "no"
            },
            detail
        );
    }
    Ok(0)
}

/// `report`: the reports (or the exports) of one results file, beside it unless `--out` says where.
fn report_cmd(
    results: &Path,
    out: Option<&Path>,
    export: &[crate::export::ExportFormat],
) -> anyhow::Result<i32> {
    let r = crate::results::load(results)?;
    let dir = out.map(Path::to_path_buf).unwrap_or_else(|| {
        results
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    });
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    if !export.is_empty() {
        for &format in export {
            for (name, bytes) in crate::export::render(&r, format) {
                let path = dir.join(name);
                std::fs::write(&path, bytes)
                    .with_context(|| format!("writing {}", path.display()))?;
                println!(
                    "{}",
                    crate::text::escape_for_terminal(&path.display().to_string())
                );
            }
        }
        return Ok(0);
    }
    for f in crate::report::write_all(&r, &dir)? {
        println!(
            "{}",
            crate::text::escape_for_terminal(&f.display().to_string())
        );
    }
    Ok(0)
}

/// `compare`: two results files (or a baseline and the latest run), verdicts and the exit code.
fn compare_cmd(
    files: &[PathBuf],
    baseline: Option<&str>,
    threshold: &[String],
    allow_missing: bool,
    format: crate::compare::Format,
    root: &dyn Fn() -> anyhow::Result<PathBuf>,
) -> anyhow::Result<i32> {
    let thresholds = crate::compare::Thresholds::parse(threshold)?;
    // Only baselines live in the repository; two named files need none.
    let results_dir = || root().map(|r| r.join("results"));
    let (base, new) = match (baseline, files) {
        (Some(name), []) => {
            let dir = results_dir()?;
            (
                crate::baseline::results_path(&dir, name)?,
                crate::baseline::latest_results(&dir)?,
            )
        }
        (Some(name), [new]) => (
            crate::baseline::results_path(&results_dir()?, name)?,
            new.clone(),
        ),
        (None, [base, new]) => (base.clone(), new.clone()),
        (Some(_), _) => bail!(
            "with --baseline NAME give at most one results file (the new run; default results/latest)"
        ),
        (None, _) => {
            bail!("compare needs BASE.json NEW.json, or --baseline NAME [NEW.json]")
        }
    };
    let (b, n) = (crate::results::load(&base)?, crate::results::load(&new)?);
    let cmp = crate::compare::compare(
        &b,
        &n,
        &crate::compare::CompareOptions {
            thresholds,
            allow_missing,
        },
    )?;
    let text = crate::text::escape_for_terminal(&cmp.render(format));
    if format == crate::compare::Format::Text {
        // Verdicts in colour on a terminal; anstream strips it for pipes and NO_COLOR.
        anstream::print!("{}", crate::ui::paint_verdicts(&text));
    } else {
        print!("{text}");
    }
    Ok(cmp.exit_code())
}
