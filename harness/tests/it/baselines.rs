//! Named baselines and results/latest: `compare --baseline NAME [new.json]` against a saved copy, the
//! newest complete run as the default new side, and clear errors when either is missing.

use asyncbench::baseline;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A project root with manifest/ and two run directories holding the base and new fixtures.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("manifest")).unwrap();
    for (run, f) in [("run-a", "base.json"), ("run-b", "new.json")] {
        let d = dir.path().join("results").join(run);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(fixture(f), d.join("results.json")).unwrap();
    }
    dir
}

fn asyncbench(root: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_asyncbench"))
        .args(args)
        .arg("--root")
        .arg(root)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn save_a_baseline_point_latest_and_compare() {
    let p = project();
    let results = p.path().join("results");
    let saved = baseline::save(&results, "main", &results.join("run-a")).unwrap();
    assert!(saved.join("results.json").is_file());
    assert_eq!(baseline::list(&results), vec!["main".to_string()]);
    // The baseline is a copy: removing the run keeps it.
    std::fs::remove_dir_all(results.join("run-a")).unwrap();
    baseline::set_latest(&results, &results.join("run-b")).unwrap();
    assert_eq!(
        std::fs::read_link(results.join("latest")).unwrap(),
        PathBuf::from("run-b"),
        "relative link"
    );

    // compare --baseline main: new defaults to results/latest (the fixture pair regresses and fails).
    let (code, out, err) = asyncbench(p.path(), &["compare", "--baseline", "main"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("Comparing base-run (base) → new-run (new)"),
        "{out}"
    );
    // ... or against an explicit file, here the baseline's own results: identical, passes.
    let same = saved.join("results.json");
    let (code, out, _) = asyncbench(
        p.path(),
        &[
            "compare",
            "--baseline",
            "main",
            same.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["exit_code"], 0);
}

#[test]
fn missing_baselines_and_latest_are_one_line_errors() {
    let p = project();
    let (code, _, err) = asyncbench(p.path(), &["compare", "--baseline", "nope"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("no baseline \"nope\"") && err.contains("--save-baseline nope"),
        "{err}"
    );
    let results = p.path().join("results");
    baseline::save(&results, "main", &results.join("run-a")).unwrap();
    let (code, _, err) = asyncbench(p.path(), &["compare", "--baseline", "main"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("latest/results.json does not exist"), "{err}");
    let (code, _, err) = asyncbench(p.path(), &["compare", "--baseline", "../x"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("is not allowed"), "{err}");
    let (code, _, err) = asyncbench(p.path(), &["compare", "only-one.json"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("BASE.json NEW.json"), "{err}");
}

#[test]
fn saving_garbage_never_replaces_a_good_baseline() {
    let p = project();
    let results = p.path().join("results");
    baseline::save(&results, "main", &results.join("run-a")).unwrap();
    let bad = results.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("results.json"), "{ truncated").unwrap();
    assert!(baseline::save(&results, "main", &bad).is_err());
    assert!(asyncbench::results::load(&results.join("baselines/main/results.json")).is_ok());
}
