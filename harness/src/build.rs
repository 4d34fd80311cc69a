//! Building each implementation with its toolchain, reusing up-to-date builds. A failed build is a
//! recorded outcome (`build_failed` with the log tail), never the end of the run.

use crate::manifest::{Implementation, Paths};
use crate::process::{Spec, run_to_completion};
use crate::toolchain::Resolved;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::Duration;

const BUILD_TIMEOUT: Duration = Duration::from_secs(40 * 60);
const STAMP: &str = ".asyncbench-stamp";

/// How a build went.
#[derive(Debug, Clone, PartialEq)]
pub enum BuildOutcome {
    Built { secs: f64 },
    UpToDate,
    Failed { reason: String },
}

/// Builds `imp` with the resolved toolchain unless its stamp says the build is current.
pub fn build(imp: &Implementation, resolved: &Resolved, paths: &Paths) -> BuildOutcome {
    let build_dir = paths.build_dir(&imp.name);
    if let Err(e) = std::fs::create_dir_all(&build_dir) {
        return BuildOutcome::Failed {
            reason: format!("cannot create {}: {e}", build_dir.display()),
        };
    }
    let commands: Vec<Vec<String>> = resolved
        .toolchain
        .build
        .iter()
        .map(|c| paths.expand_all(&imp.name, c))
        .collect();
    let stamp = stamp(imp, resolved, &commands, &paths.root);
    let stamp_path = build_dir.join(STAMP);
    let start = paths.expand_all(&imp.name, &resolved.toolchain.start);
    let program_exists = !start[0].contains('/') || Path::new(&start[0]).exists();
    if program_exists
        && std::fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str())
    {
        return BuildOutcome::UpToDate;
    }
    let _ = std::fs::remove_file(&stamp_path);
    let t0 = std::time::Instant::now();
    for cmd in &commands {
        let spec = Spec {
            argv: cmd.clone(),
            cwd: paths.root.clone(),
            ..Spec::default()
        };
        match run_to_completion(&spec, BUILD_TIMEOUT) {
            Ok((exit, _, _)) if exit.success() => {}
            Ok((exit, tail, elapsed)) => {
                let tail: Vec<&str> = tail
                    .lines()
                    .rev()
                    .take(15)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                let what = if elapsed >= BUILD_TIMEOUT {
                    "timed out".to_string()
                } else {
                    exit.to_string()
                };
                return BuildOutcome::Failed {
                    reason: format!("`{}` {what}:\n{}", cmd.join(" "), tail.join("\n")),
                };
            }
            Err(e) => {
                return BuildOutcome::Failed {
                    reason: format!("`{}` could not start: {e}", cmd.join(" ")),
                };
            }
        }
    }
    let start_now_exists = !start[0].contains('/') || Path::new(&start[0]).exists();
    if !start_now_exists {
        return BuildOutcome::Failed {
            reason: format!(
                "the build succeeded but {} does not exist; check `start` in {}",
                start[0],
                imp.source.display()
            ),
        };
    }
    let _ = std::fs::write(&stamp_path, &stamp);
    BuildOutcome::Built {
        secs: t0.elapsed().as_secs_f64(),
    }
}

/// A digest of everything that decides the build output: toolchain, commands and input files.
fn stamp(
    imp: &Implementation,
    resolved: &Resolved,
    commands: &[Vec<String>],
    root: &Path,
) -> String {
    let mut h = Sha256::new();
    h.update(resolved.toolchain.name.as_bytes());
    h.update(resolved.version.as_bytes());
    for c in commands {
        h.update(c.join("\u{1f}").as_bytes());
        h.update([0]);
    }
    let mut files = Vec::new();
    for input in &imp.inputs {
        collect_files(&root.join(input), &mut files);
    }
    files.sort();
    for f in files {
        h.update(f.to_string_lossy().as_bytes());
        if let Ok(bytes) = std::fs::read(&f) {
            h.update(&bytes);
        }
    }
    format!("{:x}", h.finalize())
}

fn collect_files(path: &Path, out: &mut Vec<std::path::PathBuf>) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if matches!(
        name.as_str(),
        "node_modules" | "bin" | "obj" | "__pycache__" | "target" | ".venv"
    ) {
        return;
    }
    if path.is_dir() {
        if let Ok(rd) = std::fs::read_dir(path) {
            for e in rd.flatten() {
                collect_files(&e.path(), out);
            }
        }
    } else if path.is_file() {
        out.push(path.to_path_buf());
    }
}
