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
    let mut value = value;
    mark_legacy_references(&mut value);
    serde_json::from_value(value).with_context(|| {
        format!(
            "{} does not match results schema version {version}",
            path.display()
        )
    })
}

/// The implementation that was the only reference before the manifest's `reference` field existed, and
/// what it is a reference for.
const LEGACY_REFERENCE: (&str, &str) = ("rust-join-all", "no spawning");

/// Files written before implementations carried `reference` named none: there, `rust-join-all` (then the
/// hard-coded reference) is one, so old reports keep showing it as a reference line.
fn mark_legacy_references(value: &mut serde_json::Value) {
    let Some(impls) = value
        .get_mut("implementations")
        .and_then(|v| v.as_array_mut())
    else {
        return;
    };
    if impls.iter().any(|i| i.get("reference").is_some()) {
        return;
    }
    for i in impls.iter_mut().filter_map(|i| i.as_object_mut()) {
        if i.get("name").and_then(|n| n.as_str()) == Some(LEGACY_REFERENCE.0) {
            i.insert("reference".into(), true.into());
            i.insert("reference_label".into(), LEGACY_REFERENCE.1.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn older_files_treat_rust_join_all_as_the_reference() {
        let mut old =
            json!({"implementations": [{"name": "rust-tokio"}, {"name": "rust-join-all"}]});
        mark_legacy_references(&mut old);
        assert_eq!(old["implementations"][1]["reference"], json!(true));
        assert_eq!(
            old["implementations"][1]["reference_label"],
            json!("no spawning")
        );
        assert!(old["implementations"][0].get("reference").is_none());
        // A file that records the field is taken as written.
        let mut new = json!({"implementations": [
            {"name": "rust-join-all", "reference": false},
            {"name": "rust-threads", "reference": true}
        ]});
        let before = new.clone();
        mark_legacy_references(&mut new);
        assert_eq!(new, before);
    }
}
