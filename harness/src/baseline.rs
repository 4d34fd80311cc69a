//! Named baselines and the `results/latest` link, so a CI compares against a known-good run without
//! hand-picked paths (criterion's `--save-baseline` / `--baseline`, for whole runs).
//!
//! - `results/baselines/NAME/results.json` (plus `report.md` when there is one): a copy, not a link, so
//!   deleting or re-running the original run never changes a baseline.
//! - `results/latest`: a relative symlink to the newest *complete* run's directory, replaced atomically
//!   (a new link is made beside it and renamed over it). An interrupted run never moves it.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

/// Name of the link to the newest complete run, inside the results directory.
pub const LATEST: &str = "latest";
/// Directory of named baselines, inside the results directory.
pub const BASELINES: &str = "baselines";

/// Checks a baseline name: letters, digits, `.`, `_`, `-`; not starting with `.`.
pub fn validate_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ok {
        bail!(
            "baseline name {name:?} is not allowed; use letters, digits, '.', '_' and '-' (e.g. main or v1.2)"
        );
    }
    Ok(())
}

/// The results file of baseline `name`; an error listing the saved baselines when it does not exist.
pub fn results_path(results_dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    validate_name(name)?;
    let path = results_dir.join(BASELINES).join(name).join("results.json");
    if !path.is_file() {
        let saved = list(results_dir);
        bail!(
            "no baseline {name:?} in {}; {}save one with `asyncbench run --save-baseline {name}`",
            results_dir.join(BASELINES).display(),
            if saved.is_empty() {
                String::new()
            } else {
                format!("saved baselines: {}; ", saved.join(", "))
            }
        );
    }
    Ok(path)
}

/// Saved baseline names, sorted.
pub fn list(results_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(results_dir.join(BASELINES))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("results.json").is_file())
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .collect();
    names.sort();
    names
}

/// Copies the run in `run_dir` (its results.json, and report.md when present) to baseline `name`,
/// replacing an existing baseline of that name. Returns the baseline's directory.
pub fn save(results_dir: &Path, name: &str, run_dir: &Path) -> anyhow::Result<PathBuf> {
    validate_name(name)?;
    let src = run_dir.join("results.json");
    // Refuse anything that is not a results file before replacing a good baseline with it.
    crate::results::load(&src)?;
    let dir = results_dir.join(BASELINES).join(name);
    let tmp = results_dir.join(BASELINES).join(format!(".{name}.tmp"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    for f in ["results.json", "report.md"] {
        let from = run_dir.join(f);
        if from.is_file() {
            std::fs::copy(&from, tmp.join(f))
                .with_context(|| format!("copying {} to {}", from.display(), tmp.display()))?;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir)
        .with_context(|| format!("moving {} into place as {}", tmp.display(), dir.display()))?;
    Ok(dir)
}

/// Points `results/latest` at `run_dir` (relative when `run_dir` is inside `results_dir`).
pub fn set_latest(results_dir: &Path, run_dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(results_dir)
        .with_context(|| format!("creating {}", results_dir.display()))?;
    let target = match (run_dir.canonicalize().ok(), results_dir.canonicalize().ok()) {
        (Some(run), Some(res)) => run.strip_prefix(&res).map(Path::to_path_buf).unwrap_or(run),
        _ => run_dir.to_path_buf(),
    };
    let link = results_dir.join(LATEST);
    let tmp = results_dir.join(format!(".{LATEST}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&target, &tmp)
        .with_context(|| format!("creating the link {}", tmp.display()))?;
    std::fs::rename(&tmp, &link)
        .with_context(|| format!("moving the link into place as {}", link.display()))?;
    Ok(())
}

/// `results/latest/results.json`; an error saying how to make one when there is none.
pub fn latest_results(results_dir: &Path) -> anyhow::Result<PathBuf> {
    let path = results_dir.join(LATEST).join("results.json");
    if !path.is_file() {
        bail!(
            "{} does not exist (no complete run yet); run `asyncbench run` first or name the new results file",
            path.display()
        );
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("main").is_ok());
        assert!(validate_name("v1.2_rc-3").is_ok());
        for bad in ["", ".hidden", "a/b", "../x", "a b"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }
}
