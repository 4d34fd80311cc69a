//! Reading and writing `results.json` and other output files. Writes are atomic (a fresh temporary
//! file in the same directory, then rename), so a crash or Ctrl-C in the middle of a write never leaves
//! a truncated file behind, and a pre-existing symlink at the destination is replaced, never followed
//! (its target is left alone). Reads accept regular files only, up to a size cap, so `/dev/zero` or a
//! FIFO given by mistake is an error, not a hang or an out-of-memory.

use super::model::{Results, SCHEMA_VERSION};
use anyhow::{Context, bail};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The largest results file `report` and `compare` read. A full run is a few MB.
pub const MAX_RESULTS_BYTES: u64 = 256 << 20;

/// Serialises `results` and atomically replaces `path` with it.
pub fn write_atomic(path: &Path, results: &Results) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec_pretty(results).context("serialising results")?;
    write_file_atomic(path, &bytes)
}

/// Atomically replaces `path` with `bytes`: written to a new temporary file beside it (created
/// exclusively, so never through an existing file or symlink), flushed to disk, then renamed over
/// `path`. A symlink at `path` is replaced by the file, not followed.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_file_atomic_with(path, bytes, |f, b| f.write_all(b))
}

/// [`write_file_atomic`] with the write itself supplied (tests inject ENOSPC through it).
pub(crate) fn write_file_atomic_with(
    path: &Path,
    bytes: &[u8],
    write: impl FnOnce(&mut std::fs::File, &[u8]) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        write(&mut f, bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    Ok(())
}

/// Reads a regular file of at most `max_bytes` as UTF-8 text. Refuses devices, FIFOs and
/// directories (which would hang or exhaust memory), files over the cap, and text that is not UTF-8
/// or starts with a byte-order mark, each with a one-line message saying what to do.
pub fn read_text_capped(path: &Path, max_bytes: u64) -> anyhow::Result<String> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}: check the path", path.display()))?;
    if !meta.is_file() {
        bail!(
            "{} is not a regular file; pass a results.json written by `asyncbench run`",
            path.display()
        );
    }
    if meta.len() > max_bytes {
        bail!(
            "{} is {} bytes, more than the {} MiB a results file may have; pass a results.json written by `asyncbench run`",
            path.display(),
            meta.len(),
            max_bytes >> 20
        );
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)
        .with_context(|| format!("cannot read {}: check the path", path.display()))?
        // The file may grow after the check: never read more than the cap.
        .take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > max_bytes {
        bail!(
            "{} grew past {} MiB while being read",
            path.display(),
            max_bytes >> 20
        );
    }
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        bail!(
            "{} starts with a UTF-8 byte-order mark; save it without the BOM (JSON must not have one)",
            path.display()
        );
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        bail!(
            "{} is UTF-16 (it starts with a byte-order mark); convert it to UTF-8",
            path.display()
        );
    }
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is not valid UTF-8 (at byte {}); pass a results.json written by `asyncbench run`",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// Loads a results file, refusing anything that is not one or has an unknown schema version.
pub fn load(path: &Path) -> anyhow::Result<Results> {
    let text = read_text_capped(path, MAX_RESULTS_BYTES)?;
    parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Parses the text of a results file; the error is one line without the path.
pub fn parse(text: &str) -> Result<Results, String> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("not JSON ({e}); pass a results.json written by `asyncbench run`"))?;
    let Some(version) = value.get("schema_version").and_then(|v| v.as_u64()) else {
        return Err(
            "not an asyncbench results file (no schema_version); pass a results.json written by `asyncbench run`"
                .into(),
        );
    };
    if version != u64::from(SCHEMA_VERSION) {
        return Err(format!(
            "schema_version {version}, this asyncbench reads version {SCHEMA_VERSION}; use the asyncbench version that wrote it"
        ));
    }
    let mut value = value;
    mark_legacy_references(&mut value);
    serde_json::from_value(value)
        .map_err(|e| format!("does not match results schema version {version}: {e}"))
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
