//! Imports gungraun's instruction counts for the Rust micro-benchmarks (`rust/micro/benches/
//! instructions.rs`, run under valgrind's callgrind), the sibling of [`crate::criterion_import`].
//!
//! Why instruction counts: shared VMs have no hardware counters and wall-clock micro-benchmarks drift
//! 7–65 % between two VMs of the same kind, while callgrind's count of executed instructions for the
//! same binary and input is the same on every run (measured here: within ±2 instructions of 2 million).
//! `compare` therefore judges the count exactly, with no statistics, against its own tight threshold.
//!
//! Why read files: `--save-summary=json` makes gungraun-runner write one `summary.json` per benchmark
//! (schema version [`SCHEMA_VERSION`]) under `--home DIR`; it is gungraun's documented machine-readable
//! record (its terminal output is for people). Layout (gungraun 0.20):
//!
//! ```text
//! <home>/<package>/<bench file>/<group>/<function>.<id>/summary.json
//! summary.json: {version, group, function_name, id, profiles: [{tool: "Callgrind",
//!                data: {total: {metrics: {"Ir": {values: {new: N[, old: M]}}, ...}}}}], ...}
//! ```
//!
//! `Ir` of the total over all parts (threads, subprocesses) is the count; `new` is this run (`old`, a
//! previous run in the same home, is ignored: the harness gives every run a fresh home). Ids come from
//! the file, not from directory names: function = primitive, id = implementation with `_` for `-`.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The `gungraun` version the benches depend on; `gungraun-runner` must be exactly this version.
pub const GUNGRAUN_VERSION: &str = "0.20.0";
/// The summary schema version gungraun [`GUNGRAUN_VERSION`] writes.
pub const SCHEMA_VERSION: &str = "7";
/// How to install the runner (in `.ci/run` too).
pub const INSTALL_RUNNER: &str = "cargo install gungraun-runner --version 0.20.0 --locked";

/// One benchmark's instruction count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstructionCount {
    /// The criterion group name of the same operation, e.g. `spawn_join_1000`.
    pub primitive: String,
    /// The implementation name as in `manifest/`, e.g. `rust-tokio-ct`.
    pub implementation: String,
    /// Instructions executed (callgrind's `Ir`), total over all parts of the run.
    pub instructions: u64,
}

#[derive(Deserialize)]
struct SummaryJson {
    version: String,
    function_name: String,
    id: Option<String>,
    profiles: Vec<ProfileJson>,
}

#[derive(Deserialize)]
struct ProfileJson {
    tool: String,
    data: DataJson,
}

#[derive(Deserialize)]
struct DataJson {
    total: TotalJson,
}

#[derive(Deserialize)]
struct TotalJson {
    metrics: BTreeMap<String, MetricJson>,
}

#[derive(Deserialize)]
struct MetricJson {
    values: ValuesJson,
}

#[derive(Deserialize)]
struct ValuesJson {
    /// Absent when only an old run is present (a `--load-baseline` comparison).
    new: Option<serde_json::Value>,
}

/// Reads every `summary.json` under `home` (gungraun's `--home`). Sorted by primitive, then
/// implementation. A missing directory is an error (nothing ran); an empty one yields an empty list.
pub fn import(home: &Path) -> Result<Vec<InstructionCount>> {
    if !home.is_dir() {
        bail!("gungraun home {} does not exist", home.display());
    }
    let mut files = Vec::new();
    find_summaries(home, &mut files)?;
    let mut out = files
        .iter()
        .map(|f| read_one(f))
        .collect::<Result<Vec<_>>>()?;
    out.sort_by(|a, b| (&a.primitive, &a.implementation).cmp(&(&b.primitive, &b.implementation)));
    Ok(out)
}

fn find_summaries(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            find_summaries(&path, out)?;
        } else if entry.file_name() == "summary.json" {
            out.push(path);
        }
    }
    Ok(())
}

/// One summary file; every error names the file and says what is wrong on one line.
pub fn read_one(path: &Path) -> Result<InstructionCount> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text).with_context(|| format!("gungraun summary {}", path.display()))
}

/// Parses one summary's text.
pub fn parse(text: &str) -> Result<InstructionCount> {
    let s: SummaryJson = serde_json::from_str(text).context(
        "not a gungraun summary (re-run the benches with --save-summary=json to rewrite it)",
    )?;
    if s.version != SCHEMA_VERSION {
        bail!(
            "summary schema version {} where {SCHEMA_VERSION} is expected; install the matching runner: {INSTALL_RUNNER}",
            s.version
        );
    }
    let Some(id) = s.id else {
        bail!(
            "benchmark {:?} has no id; instruction benchmark ids must be the implementation (e.g. #[bench::rust_tokio_ct(..)])",
            s.function_name
        );
    };
    let Some(callgrind) = s.profiles.iter().find(|p| p.tool == "Callgrind") else {
        bail!(
            "benchmark {}::{id} has no Callgrind profile (tools: {:?})",
            s.function_name,
            s.profiles.iter().map(|p| &p.tool).collect::<Vec<_>>()
        );
    };
    let ir = callgrind
        .data
        .total
        .metrics
        .get("Ir")
        .and_then(|m| m.values.new.as_ref())
        .and_then(serde_json::Value::as_u64);
    let Some(instructions) = ir else {
        bail!(
            "benchmark {}::{id} has no instruction count (Ir) for this run",
            s.function_name
        );
    };
    Ok(InstructionCount {
        primitive: s.function_name,
        implementation: id.replace('_', "-"),
        instructions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real summary from `cargo bench -p asyncbench-micro --bench instructions --
    /// --save-summary=json` (gungraun 0.20.0, valgrind 3.19, second run in the same home, so it also
    /// carries the previous count as `old`); only the absolute paths in it were shortened.
    const FIXTURE: &str = include_str!("../tests/fixtures/gungraun/summary.json");

    fn write(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn parses_the_checked_in_summary() {
        let c = parse(FIXTURE).unwrap();
        assert_eq!(
            c,
            InstructionCount {
                primitive: "spawn_join_1000".into(),
                implementation: "rust-tokio-ct".into(),
                instructions: 1_932_093,
            }
        );
    }

    #[test]
    fn imports_every_summary_under_the_home_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let other = FIXTURE
            .replace("\"spawn_join_1000\"", "\"channel_10000\"")
            .replace("\"rust_tokio_ct\"", "\"rust_smol\"");
        write(
            dir.path(),
            "asyncbench-micro/instructions/micro/spawn_join_1000.rust_tokio_ct/summary.json",
            FIXTURE,
        );
        write(
            dir.path(),
            "asyncbench-micro/instructions/micro/channel_10000.rust_smol/summary.json",
            &other,
        );
        write(
            dir.path(),
            "asyncbench-micro/instructions/micro/channel_10000.rust_smol/callgrind.out",
            "not json",
        );
        let got = import(dir.path()).unwrap();
        let ids: Vec<(&str, &str)> = got
            .iter()
            .map(|c| (c.primitive.as_str(), c.implementation.as_str()))
            .collect();
        assert_eq!(
            ids,
            [
                ("channel_10000", "rust-smol"),
                ("spawn_join_1000", "rust-tokio-ct")
            ]
        );
        assert!(import(&dir.path().join("missing")).is_err());
        let empty = tempfile::tempdir().unwrap();
        assert!(import(empty.path()).unwrap().is_empty());
    }

    #[test]
    fn malformed_summary_is_a_one_line_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "g/f.rust_smol/summary.json",
            "{\"version\": \"7\",",
        );
        let err = format!("{:#}", import(dir.path()).unwrap_err());
        assert!(!err.contains('\n'), "{err}");
        assert!(
            err.contains("f.rust_smol/summary.json") && err.contains("--save-summary=json"),
            "{err}"
        );
    }

    #[test]
    fn wrong_schema_missing_id_or_count_are_errors_that_say_why() {
        let cases = [
            (
                FIXTURE.replace("\"version\":\"7\"", "\"version\":\"6\""),
                INSTALL_RUNNER,
            ),
            (
                FIXTURE.replace("\"id\":\"rust_tokio_ct\",", ""),
                "has no id",
            ),
            (FIXTURE.replace("\"Ir\"", "\"Xr\""), "no instruction count"),
            (
                FIXTURE.replace("\"Callgrind\"", "\"DHAT\""),
                "no Callgrind profile",
            ),
        ];
        for (text, want) in cases {
            assert_ne!(text, FIXTURE, "the fixture changed shape; {want}");
            let err = format!("{:#}", parse(&text).unwrap_err());
            assert!(err.contains(want) && !err.contains('\n'), "{err}");
        }
    }

    /// The version the benches depend on, the one `.ci/run` installs and this module's are one.
    #[test]
    fn runner_version_matches_the_dependency_and_ci() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let toml = std::fs::read_to_string(root.join("rust/micro/Cargo.toml")).unwrap();
        assert!(
            toml.contains(&format!("gungraun = \"={GUNGRAUN_VERSION}\"")),
            "rust/micro/Cargo.toml must pin gungraun = \"={GUNGRAUN_VERSION}\""
        );
        let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
        assert!(
            ci.contains(INSTALL_RUNNER),
            ".ci/run must run `{INSTALL_RUNNER}`"
        );
        assert!(INSTALL_RUNNER.contains(GUNGRAUN_VERSION));
    }
}
