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
    let stamp = match stamp(imp, resolved, &commands, &paths.root) {
        Ok(s) => s,
        Err(reason) => return BuildOutcome::Failed { reason },
    };
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

/// A digest of everything that decides the build output: toolchain, commands and input files. `Err`
/// when the inputs contain a symlink loop.
fn stamp(
    imp: &Implementation,
    resolved: &Resolved,
    commands: &[Vec<String>],
    root: &Path,
) -> Result<String, String> {
    let mut h = Sha256::new();
    h.update(resolved.toolchain.name.as_bytes());
    h.update(resolved.version.as_bytes());
    for c in commands {
        h.update(c.join("\u{1f}").as_bytes());
        h.update([0]);
    }
    let mut files = Vec::new();
    for input in &imp.inputs {
        collect_files(&root.join(input), &mut files, &mut Vec::new())?;
    }
    files.sort();
    for f in files {
        h.update(f.to_string_lossy().as_bytes());
        if let Ok(bytes) = std::fs::read(&f) {
            h.update(&bytes);
        }
    }
    Ok(format!("{:x}", h.finalize()))
}

/// Directories deeper than this under one input are refused (a loop the identity check cannot see,
/// e.g. through a bind mount).
const MAX_INPUT_DEPTH: usize = 64;

/// Collects the files under `path`, following symlinks. `ancestors` holds the (device, inode) of every
/// directory on the current path, so a symlink leading back to one of them is reported instead of
/// recursing until the stack overflows.
fn collect_files(
    path: &Path,
    out: &mut Vec<std::path::PathBuf>,
    ancestors: &mut Vec<(u64, u64)>,
) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if matches!(
        name.as_str(),
        "node_modules" | "bin" | "obj" | "__pycache__" | "target" | ".venv"
    ) {
        return Ok(());
    }
    let Ok(meta) = std::fs::metadata(path) else {
        // Missing, or a dangling symlink: nothing to hash.
        return Ok(());
    };
    if meta.is_dir() {
        let id = (meta.dev(), meta.ino());
        if ancestors.contains(&id) {
            return Err(format!(
                "symlink loop in the manifest inputs: {} leads back to a directory that contains it; remove the link",
                path.display()
            ));
        }
        if ancestors.len() >= MAX_INPUT_DEPTH {
            return Err(format!(
                "manifest inputs nest deeper than {MAX_INPUT_DEPTH} directories at {}; list narrower inputs",
                path.display()
            ));
        }
        ancestors.push(id);
        if let Ok(rd) = std::fs::read_dir(path) {
            let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
            entries.sort();
            for e in entries {
                collect_files(&e, out, ancestors)?;
            }
        }
        ancestors.pop();
    } else if meta.is_file() {
        out.push(path.to_path_buf());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlink_loop_in_inputs_is_reported_not_followed_forever() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/a.rs"), "fn main() {}").unwrap();
        std::os::unix::fs::symlink(&src, src.join("sub/back")).unwrap();
        let err = collect_files(&src, &mut Vec::new(), &mut Vec::new()).unwrap_err();
        assert!(err.contains("symlink loop"), "{err}");
        assert!(err.contains("back"), "{err}");

        // A symlink to a sibling directory (no loop) is followed.
        std::fs::remove_file(src.join("sub/back")).unwrap();
        std::fs::create_dir(dir.path().join("shared")).unwrap();
        std::fs::write(dir.path().join("shared/b.rs"), "").unwrap();
        std::os::unix::fs::symlink(dir.path().join("shared"), src.join("shared")).unwrap();
        let mut files = Vec::new();
        collect_files(&src, &mut files, &mut Vec::new()).unwrap();
        assert_eq!(files.len(), 2, "{files:?}");
    }
}
