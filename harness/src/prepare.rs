//! Turning manifest entries into startable implementations: probe (and provision) a toolchain, build,
//! run the preflight check. Every failure becomes a status with a reason; the run goes on.

use crate::build::{BuildOutcome, build};
use crate::manifest::{Implementation, Paths};
use crate::process::{Spec, run_to_completion};
use crate::results::{ImplStatus, ImplementationInfo};
use crate::toolchain::{Provision, Resolved, last_line, resolve};
use crate::ui::Ui;
use crate::workload::Launch;
use std::time::Duration;

/// An implementation after preparation: its results entry and, if usable, how to start it.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub imp: Implementation,
    pub info: ImplementationInfo,
    pub launch: Option<Launch>,
}

impl Prepared {
    /// True when it may be verified and measured for `workload`.
    pub fn runs(&self, workload: &str) -> bool {
        self.launch.is_some()
            && self.imp.workloads.iter().any(|w| w == workload)
            && !self
                .info
                .verification
                .iter()
                .any(|v| v.workload == workload && !v.passed)
    }
}

/// The results entry of an implementation before anything was tried.
pub fn info(imp: &Implementation) -> ImplementationInfo {
    ImplementationInfo {
        name: imp.name.clone(),
        language: imp.language.clone(),
        runtime: imp.runtime.clone(),
        runtime_detail: None,
        runtime_in_label: imp.runtime_in_label,
        toolchain: None,
        toolchain_version: None,
        threads: None,
        status: ImplStatus::Skipped,
        reason: None,
        notes: imp.notes.clone(),
        env: Default::default(),
        verification: Vec::new(),
        reference: imp.reference,
        reference_label: imp.reference_label.clone(),
    }
}

/// Probes the toolchains without provisioning or building: what `asyncbench list` shows.
pub fn probe_only(
    imp: &Implementation,
    paths: &Paths,
    ui: &Ui,
) -> (ImplementationInfo, Option<Resolved>) {
    let mut info = info(imp);
    match resolve(imp, paths, Provision::Forbidden, ui) {
        Ok(r) => {
            info.status = ImplStatus::Ok;
            info.toolchain = Some(r.toolchain.name.clone());
            info.toolchain_version = Some(r.version.clone());
            (info, Some(r))
        }
        Err(reason) => {
            info.reason = Some(reason);
            (info, None)
        }
    }
}

/// Resolves, builds and preflights one implementation.
pub fn prepare(
    imp: &Implementation,
    paths: &Paths,
    provision: Provision,
    cpus: Option<Vec<usize>>,
    ui: &Ui,
) -> Prepared {
    let mut info = info(imp);
    let resolved = match resolve(imp, paths, provision, ui) {
        Ok(r) => r,
        Err(reason) => {
            info.reason = Some(reason);
            return Prepared {
                imp: imp.clone(),
                info,
                launch: None,
            };
        }
    };
    info.toolchain = Some(resolved.toolchain.name.clone());
    info.toolchain_version = Some(resolved.version.clone());
    match build(imp, &resolved, paths) {
        BuildOutcome::Built { secs } if !resolved.toolchain.build.is_empty() => ui.line(&format!(
            "built {} with {} in {secs:.1} s",
            imp.name, resolved.toolchain.name
        )),
        BuildOutcome::Built { .. } | BuildOutcome::UpToDate => {}
        BuildOutcome::Failed { reason } => {
            ui.line(&format!(
                "build of {} failed: {}",
                imp.name,
                last_line(&reason)
            ));
            info.status = ImplStatus::BuildFailed;
            info.reason = Some(reason);
            return Prepared {
                imp: imp.clone(),
                info,
                launch: None,
            };
        }
    }
    let tc = &resolved.toolchain;
    let env: Vec<(String, String)> = tc
        .env
        .iter()
        .map(|(k, v)| (k.clone(), paths.expand(&imp.name, v)))
        .collect();
    // Recorded as the manifest wrote them (placeholders, not this machine's paths).
    info.env = tc.env.clone();
    if !tc.preflight.is_empty() {
        let spec = Spec {
            argv: paths.expand_all(&imp.name, &tc.preflight),
            env: env.clone(),
            cwd: paths.root.clone(),
            ..Spec::default()
        };
        match run_to_completion(&spec, Duration::from_secs(60)) {
            Ok((exit, _, _)) if exit.success() => {}
            Ok((exit, tail, _)) => {
                info.reason = Some(format!("preflight failed ({exit}): {}", last_line(&tail)));
                return Prepared {
                    imp: imp.clone(),
                    info,
                    launch: None,
                };
            }
            Err(e) => {
                info.reason = Some(format!("preflight could not start: {e}"));
                return Prepared {
                    imp: imp.clone(),
                    info,
                    launch: None,
                };
            }
        }
    }
    info.status = ImplStatus::Ok;
    let launch = Launch {
        implementation: imp.name.clone(),
        start: paths.expand_all(&imp.name, &tc.start),
        env,
        cwd: paths.root.clone(),
        cpus,
        remote: None,
    };
    Prepared {
        imp: imp.clone(),
        info,
        launch: Some(launch),
    }
}
