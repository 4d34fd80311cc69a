//! Probing toolchains and provisioning the ones that can be installed without asking (as root, from the
//! system package manager or into the project's own directories). A toolchain that is missing and
//! cannot be provisioned makes its implementation `skipped`, with the command that would install it.

use crate::manifest::{Implementation, Paths, Toolchain};
use crate::process::{Spec, run_to_completion};
use crate::ui::Ui;
use std::time::Duration;

const PROBE_TIMEOUT: Duration = Duration::from_secs(60);
const INSTALL_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// How long apt waits for another package manager's lock (unattended upgrades at boot) before failing.
const APT_LOCK_TIMEOUT_S: u32 = 120;

/// Install commands that already failed in this run, with their reason: implementations sharing a
/// toolchain do not wait for the same failing install (and its lock timeout) again.
static FAILED_INSTALLS: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

/// The environment of install commands: never ask a question (there is nobody to answer it; a prompt
/// would wait until the install timeout).
pub const INSTALL_ENV: [(&str, &str); 3] = [
    ("DEBIAN_FRONTEND", "noninteractive"),
    ("APT_LISTCHANGES_FRONTEND", "none"),
    ("NEEDRESTART_MODE", "a"),
];

/// An install command as it will run: `apt-get`/`apt` get a lock timeout (`-o
/// DPkg::Lock::Timeout=120`), so a package manager already running makes the install wait a bounded
/// time and then fail with a reason, instead of failing at once or hanging.
pub fn harden_install(argv: &[String]) -> Vec<String> {
    let program = argv
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .unwrap_or("");
    let mut out = argv.to_vec();
    if matches!(program, "apt-get" | "apt") && !argv.iter().any(|a| a.contains("Lock::Timeout")) {
        out.splice(
            1..1,
            [
                "-o".to_string(),
                format!("DPkg::Lock::Timeout={APT_LOCK_TIMEOUT_S}"),
            ],
        );
    }
    out
}

/// What an install will put on the machine, for the line printed before it starts: the packages of
/// `apt-get install`/`apt install`/`dnf install`/`pip install` commands, else the commands themselves.
pub fn what_installs(commands: &[Vec<String>]) -> String {
    let mut packages = Vec::new();
    let mut others = Vec::new();
    for c in commands {
        match c.iter().position(|a| a == "install") {
            Some(i) => packages.extend(c[i + 1..].iter().filter(|a| !a.starts_with('-')).cloned()),
            None => others.push(c.join(" ")),
        }
    }
    match (packages.is_empty(), others.is_empty()) {
        (false, _) => format!("packages {}", packages.join(" ")),
        (true, false) => format!("by running {}", others.join(" && ")),
        (true, true) => "nothing".into(),
    }
}

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
        if let Some(why) = install_blocker(tc, &install_line, provision) {
            reasons.push(why);
            continue;
        }
        let commands: Vec<Vec<String>> = tc
            .install
            .iter()
            .map(|c| harden_install(&paths.expand_all(&imp.name, c)))
            .collect();
        // One line before anything happens, so nobody is surprised by what changes on the machine.
        ui.line(&format!(
            "provisioning {} for {}: installing {} (`{}`; pass --no-provision to skip instead)",
            tc.name,
            imp.name,
            what_installs(&commands),
            commands
                .iter()
                .map(|c| c.join(" "))
                .collect::<Vec<_>>()
                .join(" && ")
        ));
        match run_install(&tc.name, commands, paths) {
            Err(why) => {
                FAILED_INSTALLS
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((install_line.clone(), why.clone()));
                reasons.push(why);
            }
            Ok(()) => match probe(imp, tc, paths) {
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
            },
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

/// Why `tc` will not be installed now, if it will not: provisioning is off, it needs root, or the same
/// install already failed earlier in this run (never retried).
fn install_blocker(tc: &Toolchain, install_line: &str, provision: Provision) -> Option<String> {
    if provision == Provision::Forbidden {
        return Some(format!(
            "{} could be installed with `{install_line}` (provisioning is off)",
            tc.name
        ));
    }
    if tc.install_needs_root && !is_root() {
        return Some(format!(
            "{} needs root to install: run `sudo {install_line}`",
            tc.name
        ));
    }
    FAILED_INSTALLS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(line, _)| line == install_line)
        .map(|(_, why)| format!("{why} (earlier in this run; not retried)"))
}

/// Runs the install commands of toolchain `name` in order, each under [`INSTALL_TIMEOUT`]; `Err` is
/// the first failure, with the last line of its output.
fn run_install(name: &str, commands: Vec<Vec<String>>, paths: &Paths) -> Result<(), String> {
    for argv in commands {
        let spec = Spec {
            argv,
            env: INSTALL_ENV
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            cwd: paths.root.clone(),
            ..Spec::default()
        };
        match run_to_completion(&spec, INSTALL_TIMEOUT) {
            Ok((exit, _, _)) if exit.success() => {}
            Ok((exit, tail, _)) => {
                return Err(format!(
                    "installing {name} failed ({exit}): {}",
                    last_line(&tail)
                ));
            }
            Err(e) => return Err(format!("installing {name} failed: {e}")),
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn apt_gets_a_lock_timeout_and_others_are_unchanged() {
        assert_eq!(
            harden_install(&argv(&["apt-get", "install", "-y", "nodejs"])),
            argv(&[
                "apt-get",
                "-o",
                "DPkg::Lock::Timeout=120",
                "install",
                "-y",
                "nodejs"
            ])
        );
        assert_eq!(
            harden_install(&argv(&["/usr/bin/apt", "update"]))[1..3],
            argv(&["-o", "DPkg::Lock::Timeout=120"])
        );
        let pip = argv(&["pip", "install", "x"]);
        assert_eq!(harden_install(&pip), pip);
        let given = argv(&["apt-get", "-o", "DPkg::Lock::Timeout=5", "update"]);
        assert_eq!(harden_install(&given), given);
        assert!(INSTALL_ENV.contains(&("DEBIAN_FRONTEND", "noninteractive")));
    }

    #[test]
    fn says_what_will_be_installed() {
        let cmds = vec![
            argv(&["apt-get", "update"]),
            argv(&["apt-get", "install", "-y", "python3", "python3-venv"]),
        ];
        assert_eq!(what_installs(&cmds), "packages python3 python3-venv");
        assert_eq!(
            what_installs(&[argv(&["sh", "get-go.sh"])]),
            "by running sh get-go.sh"
        );
    }
}
