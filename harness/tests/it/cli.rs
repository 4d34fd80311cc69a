//! The command line: bad input gets a one-line error that says how to fix it.

use crate::common::*;

fn stderr_of(args: &[&str]) -> (Option<i32>, String) {
    let out = bin().args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn unknown_flag_and_bad_values_explain_themselves() {
    let (code, err) = stderr_of(&["run", "--bogus"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--bogus"), "{err}");
    let (code, err) = stderr_of(&["run", "--workload", "nope"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("possible values") && err.contains("echo"),
        "{err}"
    );
    let (code, err) = stderr_of(&["run", "--pin", "0:0"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("disjoint"), "{err}");
    let (code, err) = stderr_of(&["run", "--repeat", "0"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("repeat"), "{err}");
}

#[test]
fn unknown_implementation_lists_the_choices() {
    let p = FakeProject::new(&["ok"], &["echo"]);
    let out = bin()
        .args(["run", "--impl", "nonesuch", "--root"])
        .arg(p.root())
        .arg("--out")
        .arg(p.out())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nonesuch") && err.contains("fake-ok"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn bad_root_and_bad_results_files() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = stderr_of(&["list", "--root", dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(err.contains("manifest") && err.contains("--root"), "{err}");

    let not_json = dir.path().join("x.json");
    std::fs::write(&not_json, "hello").unwrap();
    let (code, err) = stderr_of(&["report", not_json.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(err.contains("not JSON"), "{err}");
    let future = dir.path().join("y.json");
    std::fs::write(&future, r#"{"schema_version": 99}"#).unwrap();
    let (code, err) = stderr_of(&[
        "compare",
        future.to_str().unwrap(),
        future.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("schema_version 99"), "{err}");
}

#[test]
fn list_json_reports_availability() {
    let p = FakeProject::new(&["ok"], &["echo"]);
    let out = bin()
        .args(["list", "--json", "--root"])
        .arg(p.root())
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["name"], "fake-ok");
    assert_eq!(v[0]["available"], true);
    assert!(v[0]["version"].as_str().unwrap().starts_with("Python"));
}

#[test]
fn shell_completions_for_bash_zsh_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let out = bin().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("asyncbench"), "{shell}: {text}");
        assert!(text.contains("compare"), "{shell} completes subcommands");
    }
}

#[test]
fn compare_help_describes_base_and_new() {
    let out = bin().args(["compare", "--help"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("the baseline run"), "{text}");
    assert!(text.contains("the candidate"), "{text}");
}
