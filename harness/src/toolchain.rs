//! Probing toolchains and provisioning the ones that can be installed without asking (as root, from the
//! system package manager or into the project's own directories). A toolchain that is missing and
//! cannot be provisioned makes its implementation `skipped`, with the command that would install it.

use crate::manifest::{Implementation, Paths, Toolchain};
use crate::process::{Spec, run_to_completion};
use crate::ui::Ui;
use std::time::Duration;

const PROBE_TIMEOUT: Duration = Duration::from_secs(60);
const INSTALL_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The toolchain chosen for an implementation, with the version it reported.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub toolchain: Toolchain,
    pub version: String,
}

/// Whether provisioning is allowed in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provision {
    Allowed,
    Forbidden,
}

/// Finds the first usable toolchain of `imp`, provisioning one if allowed. `Err` carries the reason the
/// implementation must be skipped, including how to fix it.
pub fn resolve(
    imp: &Implementation,
    paths: &Paths,
    provision: Provision,
    ui: &Ui,
) -> Result<Resolved, String> {
    let mut reasons = Vec::new();
    for tc in &imp.toolchain {
        match probe(imp, tc, paths) {
            Ok(version) => {
                return Ok(Resolved {
                    toolchain: tc.clone(),
                    version,
                });
            }
            Err(why) => reasons.push(format!("{}: {why}", tc.name)),
        }
    }
    // Nothing usable: try to provision, in preference order.
    for tc in &imp.toolchain {
        if tc.install.is_empty() {
            continue;
        }
        let install_line = tc
            .install
            .iter()
            .map(|c| c.join(" "))
            .collect::<Vec<_>>()
            .join(" && ");
        if provision == Provision::Forbidden {
            reasons.push(format!(
                "{} could be installed with `{install_line}` (provisioning is off)",
                tc.name
            ));
            continue;
        }
        if tc.install_needs_root && !is_root() {
            reasons.push(format!(
                "{} needs root to install: run `sudo {install_line}`",
                tc.name
            ));
            continue;
        }
        ui.line(&format!(
            "provisioning {} for {}: {install_line}",
            tc.name, imp.name
        ));
        let mut ok = true;
        for cmd in &tc.install {
            let spec = Spec {
                argv: paths.expand_all(&imp.name, cmd),
                cwd: paths.root.clone(),
                ..Spec::default()
            };
            match run_to_completion(&spec, INSTALL_TIMEOUT) {
                Ok((exit, _, _)) if exit.success() => {}
                Ok((exit, tail, _)) => {
                    reasons.push(format!(
                        "installing {} failed ({exit}): {}",
                        tc.name,
                        last_line(&tail)
                    ));
                    ok = false;
                    break;
                }
                Err(e) => {
                    reasons.push(format!("installing {} failed: {e}", tc.name));
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            match probe(imp, tc, paths) {
                Ok(version) => {
                    return Ok(Resolved {
                        toolchain: tc.clone(),
                        version,
                    });
                }
                Err(why) => reasons.push(format!(
                    "{} still unusable after installing: {why}",
                    tc.name
                )),
            }
        }
    }
    let hints: Vec<&str> = imp
        .toolchain
        .iter()
        .map(|t| t.install_hint.as_str())
        .filter(|h| !h.is_empty())
        .collect();
    let mut reason = format!("no usable toolchain ({})", reasons.join("; "));
    if !hints.is_empty() {
        reason.push_str(&format!("; to fix: {}", hints.join(" or ")));
    }
    Err(reason)
}

/// Runs the toolchain's probe; its first non-empty output line is the version.
pub fn probe(imp: &Implementation, tc: &Toolchain, paths: &Paths) -> Result<String, String> {
    for req in &tc.requires {
        if which(req).is_none() {
            return Err(format!("`{req}` is not on PATH"));
        }
    }
    for file in &tc.requires_files {
        let file = paths.expand(&imp.name, file);
        if !std::path::Path::new(&file).exists() {
            return Err(format!("{file} is missing"));
        }
    }
    let argv = paths.expand_all(&imp.name, &tc.probe);
    if !argv[0].contains('/') && which(&argv[0]).is_none() {
        return Err(format!("`{}` is not on PATH", argv[0]));
    }
    let spec = Spec {
        argv: argv.clone(),
        cwd: paths.root.clone(),
        ..Spec::default()
    };
    match run_to_completion(&spec, PROBE_TIMEOUT) {
        Ok((exit, out, _)) if exit.success() => Ok(out
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("unknown version")
            .to_string()),
        Ok((exit, out, _)) => Err(format!(
            "`{}` failed ({exit}): {}",
            argv.join(" "),
            last_line(&out)
        )),
        Err(e) => Err(format!("`{}` could not start: {e}", argv.join(" "))),
    }
}

/// The full path of `program` if it is on PATH.
pub fn which(program: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| {
            std::fs::metadata(p)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

pub(crate) fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("(no output)")
        .to_string()
}
