//! Runs each language's own unit tests (checksum vectors, transforms, argument parsing) from the one
//! test command, so `cargo test --workspace` exercises every language. A missing toolchain fails in CI
//! and is skipped with a notice elsewhere.

use crate::common::repo_root;
use std::process::Command;

fn run(language: &str, program: &str, version_arg: &str, args: &[&str], dir: &str) {
    let root = repo_root();
    let found = Command::new(program)
        .arg(version_arg)
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{program} is missing in CI: .ci/run must install it"
        );
        eprintln!("NOTE: {program} not found; skipping the {language} unit tests");
        return;
    }
    let out = Command::new(program)
        .args(args)
        .current_dir(root.join(dir))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{language} unit tests failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn go_unit_tests() {
    run("Go", "go", "version", &["test", "./..."], "go");
}

#[test]
fn node_unit_tests() {
    run("Node.js", "node", "--version", &["--test"], "node");
}

#[test]
fn python_unit_tests() {
    run(
        "Python",
        "python3",
        "--version",
        &["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        "python",
    );
}
