//! Untrusted inputs and outputs of `report`, `compare` and `run --out`: regular files only, bounded,
//! one-line errors that say the fix, no need for a repository, atomic outputs that never write through
//! a planted symlink, and no silent overwrite of an earlier run.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/base.json")
}

/// Runs the binary from `cwd` with no repository hint; returns (exit code, stderr, elapsed).
fn run_in(cwd: &Path, args: &[&std::ffi::OsStr]) -> (Option<i32>, String, Duration) {
    let t0 = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_asyncbench"))
        .args(args)
        .current_dir(cwd)
        .env_remove("ASYNCBENCH_ROOT")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        t0.elapsed(),
    )
}

fn report_of(path: &Path) -> (Option<i32>, String, Duration) {
    let dir = tempfile::tempdir().unwrap();
    run_in(
        dir.path(),
        &[
            "report".as_ref(),
            path.as_os_str(),
            "--out".as_ref(),
            dir.path().as_os_str(),
        ],
    )
}

fn one_line_error(code: Option<i32>, err: &str, want: &str) {
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(want), "expected {want:?} in: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
}

#[test]
fn devices_fifos_and_directories_are_refused_at_once() {
    for dev in ["/dev/zero", "/dev/urandom"] {
        let (code, err, took) = report_of(Path::new(dev));
        one_line_error(code, &err, "not a regular file");
        assert!(took < Duration::from_secs(10), "{dev} took {took:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.json");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let (code, err, took) = report_of(&fifo);
    one_line_error(code, &err, "not a regular file");
    assert!(took < Duration::from_secs(10), "a FIFO hung for {took:?}");
    let (code, err, _) = run_in(
        dir.path(),
        &[
            "compare".as_ref(),
            dir.path().as_os_str(),
            fixture().as_os_str(),
        ],
    );
    one_line_error(code, &err, "not a regular file");
}

#[test]
fn oversized_bom_and_invalid_utf8_files_get_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(asyncbench::results::MAX_RESULTS_BYTES + 1)
        .unwrap(); // sparse: no disk used
    let (code, err, _) = report_of(&big);
    one_line_error(code, &err, "MiB a results file may have");

    let text = std::fs::read(fixture()).unwrap();
    let bom = dir.path().join("bom.json");
    std::fs::write(&bom, [&[0xEF, 0xBB, 0xBF][..], &text].concat()).unwrap();
    let (code, err, _) = report_of(&bom);
    one_line_error(code, &err, "byte-order mark");

    let utf16 = dir.path().join("utf16.json");
    std::fs::write(&utf16, [0xFF, 0xFE, b'{', 0]).unwrap();
    let (code, err, _) = report_of(&utf16);
    one_line_error(code, &err, "UTF-16");

    let latin1 = dir.path().join("latin1.json");
    std::fs::write(&latin1, b"{\"run_id\": \"caf\xe9\"}").unwrap();
    let (code, err, _) = report_of(&latin1);
    one_line_error(code, &err, "not valid UTF-8");
}

#[test]
fn report_and_compare_work_outside_a_repository() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("results.json");
    std::fs::copy(fixture(), &copy).unwrap();
    // A relative path with no directory part: reports go to the current directory.
    let (code, err, _) = run_in(dir.path(), &["report".as_ref(), "results.json".as_ref()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(dir.path().join("report.html").is_file());
    let (code, err, _) = run_in(
        dir.path(),
        &[
            "compare".as_ref(),
            "results.json".as_ref(),
            "results.json".as_ref(),
        ],
    );
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn report_replaces_a_planted_symlink_instead_of_writing_through_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, out.join("report.html")).unwrap();
    let (code, err, _) = run_in(
        dir.path(),
        &[
            "report".as_ref(),
            fixture().as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let meta = std::fs::symlink_metadata(out.join("report.html")).unwrap();
    assert!(meta.is_file(), "the symlink was replaced by the report");
    // No temporary files are left beside the outputs.
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn an_earlier_run_in_out_is_not_overwritten_without_force() {
    let p = FakeProject::new(&["ok"], &["fanout"]);
    std::fs::create_dir_all(p.out()).unwrap();
    std::fs::write(p.out().join("results.json"), "earlier").unwrap();
    let out = bin()
        .args(["verify", "--workload", "fanout", "--no-provision", "--root"])
        .arg(p.root())
        .arg("--out")
        .arg(p.out())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    one_line_error(out.status.code(), &err, "--force");
    assert_eq!(
        std::fs::read_to_string(p.out().join("results.json")).unwrap(),
        "earlier"
    );
    let out = bin()
        .args([
            "verify",
            "--workload",
            "fanout",
            "--no-provision",
            "--force",
            "--root",
        ])
        .arg(p.root())
        .arg("--out")
        .arg(p.out())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_valid_results(&p.results());
}

#[test]
fn names_with_path_or_escape_characters_are_refused_in_one_line() {
    let p = FakeProject::new(&["ok"], &["echo"]);
    let manifest = p.root().join("manifest/fakes.toml");
    let toml = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("name = \"fake-ok\"", "name = \"../evil\\u001b[2J\"");
    std::fs::write(&manifest, toml).unwrap();
    let out = bin()
        .args(["list", "--root"])
        .arg(p.root())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    one_line_error(out.status.code(), &err, "may only contain");
    assert!(
        !err.contains('\u{1b}'),
        "raw ESC reached the terminal: {err:?}"
    );
}
