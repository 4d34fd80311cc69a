//! Shared helpers for the integration tests: a temporary project root with fake implementations, the
//! harness binary, and checks that no child process outlived a run.

#![allow(dead_code)]

pub mod synth;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (the parent of `harness/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// The built `asyncbench` binary.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_asyncbench"))
}

/// A temporary project whose manifest declares one fake implementation per mode.
pub struct FakeProject {
    pub dir: tempfile::TempDir,
}

impl FakeProject {
    pub fn new(modes: &[&str], workloads: &[&str]) -> FakeProject {
        Self::new_with(modes, workloads, |_| String::new())
    }

    /// Like [`FakeProject::new`], with extra TOML lines for each mode's toolchain (`build`,
    /// `preflight`, `install`, ...); a `probe = ...` line replaces the default probe.
    pub fn new_with(
        modes: &[&str],
        workloads: &[&str],
        extra: impl Fn(&str) -> String,
    ) -> FakeProject {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("manifest")).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fakes/fake_impl.py");
        let mut toml = String::new();
        for mode in modes {
            let w: Vec<String> = workloads.iter().map(|w| format!("\"{w}\"")).collect();
            let extra = extra(mode);
            let probe = if extra.contains("probe =") {
                ""
            } else {
                "probe = [\"python3\", \"--version\"]\n"
            };
            toml.push_str(&format!(
                r#"
[[implementation]]
name = "fake-{mode}"
language = "python"
runtime = "fake"
workloads = [{w}]
[[implementation.toolchain]]
name = "python3"
{probe}start = ["python3", "{script}"]
env = {{ FAKE_MODE = "{mode}", FAKE_PIDS = "{{root}}/pids-{mode}.txt" }}
{extra}
"#,
                w = w.join(", "),
                script = script.display()
            ));
        }
        std::fs::write(dir.path().join("manifest/fakes.toml"), toml).unwrap();
        FakeProject { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// Runs the harness with `args`, then `--root` this project and `--out` its output directory.
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        bin()
            .args(args)
            .arg("--root")
            .arg(self.root())
            .arg("--out")
            .arg(self.out())
            .output()
            .unwrap()
    }

    pub fn results(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.out().join("results.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Every pid any fake process recorded.
    pub fn pids(&self) -> Vec<i32> {
        let mut pids = Vec::new();
        for e in std::fs::read_dir(self.root()).unwrap().flatten() {
            if e.file_name().to_string_lossy().starts_with("pids-") {
                let text = std::fs::read_to_string(e.path()).unwrap();
                pids.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
            }
        }
        pids
    }
}

/// Pids that any fake recorded and that are still running, after giving them `grace` to go.
pub fn survivors(p: &FakeProject, grace: std::time::Duration) -> Vec<i32> {
    let deadline = std::time::Instant::now() + grace;
    loop {
        let left: Vec<i32> = p.pids().into_iter().filter(|&pid| alive(pid)).collect();
        if left.is_empty() || std::time::Instant::now() >= deadline {
            for &pid in &left {
                // Do not leak them into the next test; the assertion still fails.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            return left;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// True when a process with this pid exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// Validates a results file against the checked-in JSON Schema.
pub fn assert_valid_results(value: &serde_json::Value) {
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/results.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema itself is valid");
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "results.json does not match the schema:\n{}",
        errors.join("\n")
    );
}

/// The implementation entry by name.
pub fn implementation<'a>(results: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    results["implementations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("{name} missing"))
}

/// All cells of an implementation.
pub fn cells<'a>(results: &'a serde_json::Value, name: &str) -> Vec<&'a serde_json::Value> {
    results["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["implementation"] == name)
        .collect()
}
