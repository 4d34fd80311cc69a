//! Reading and writing `results.json`. Writes are atomic (write to a temporary file, then rename), so a
//! crash or Ctrl-C in the middle of a write never leaves a truncated file behind.

use super::model::{Results, SCHEMA_VERSION};
use anyhow::{Context, bail};
use std::path::Path;

/// Serialises `results` and atomically replaces `path` with it.
pub fn write_atomic(path: &Path, results: &Results) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec_pretty(results).context("serialising results")?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, &bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} into place", tmp.display()))?;
    Ok(())
}

/// Loads a results file, refusing anything that is not one or has an unknown schema version.
pub fn load(path: &Path) -> anyhow::Result<Results> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}: check the path", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not JSON; pass a results.json written by `asyncbench run`",
            path.display()
        )
    })?;
    let Some(version) = value.get("schema_version").and_then(|v| v.as_u64()) else {
        bail!(
            "{} is not an asyncbench results file (no schema_version); pass a results.json written by `asyncbench run`",
            path.display()
        );
    };
    if version != u64::from(SCHEMA_VERSION) {
        bail!(
            "{} has schema_version {version}, this asyncbench reads version {SCHEMA_VERSION}; use the asyncbench version that wrote it",
            path.display()
        );
    }
    serde_json::from_value(value).with_context(|| {
        format!(
            "{} does not match results schema version {version}",
            path.display()
        )
    })
}
