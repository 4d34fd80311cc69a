//! The run history in SQLite: recording, listing, trends and import; a writer killed mid-transaction
//! leaves the database as it was; an incomplete run is never a complete one; a corrupt database is a
//! clear error that never costs a run its results.json.

use crate::common::{FakeProject, bin};
use asyncbench::history::{History, HistoryError, TrendQuery};
use asyncbench::results::{self, Results};
use std::path::Path;

fn fixture(name: &str) -> Results {
    results::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

#[test]
fn record_list_trend_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    {
        let mut h = History::open(&db).unwrap();
        h.record(&fixture("base.json"), true, None).unwrap();
        h.record(&fixture("new.json"), true, None).unwrap();
        // Recording the same run again replaces it.
        h.record(&fixture("new.json"), true, None).unwrap();
    }
    // Reopening applies no migration twice and finds everything.
    let h = History::open(&db).unwrap();
    let runs = h.runs().unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.iter().all(|r| r.complete && r.measurements > 0));
    let trend = h
        .trend(&TrendQuery {
            metric: Some("throughput_msgs_per_s".into()),
            implementation: Some("rust-tokio".into()),
            workload: Some("echo".into()),
        })
        .unwrap();
    assert_eq!(trend.len(), 2, "{trend:?}");
    assert_eq!((trend[0].median, trend[1].median), (300000.0, 360000.0));
    assert!(trend[0].lo <= trend[0].median && trend[0].median <= trend[0].hi);
    let chart = asyncbench::history::trend_chart(&trend).unwrap();
    assert!(chart.png().unwrap().starts_with(b"\x89PNG"));
    // WAL journal.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 1);
}

#[test]
fn a_writer_killed_mid_transaction_leaves_the_database_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    History::open(&db)
        .unwrap()
        .record(&fixture("base.json"), true, None)
        .unwrap();
    // A child process starts recording another run and is killed (_exit, no commit, no cleanup)
    // in the middle of its transaction.
    let new = fixture("new.json");
    // SAFETY: the child only uses SQLite on its own connection and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let mut conn = rusqlite::Connection::open(&db).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute(
            "INSERT INTO runs (run_id, started_at, suite, machine, complete) VALUES (?1, 'x', 'x', 'x', 1)",
            [&new.run_id],
        )
        .unwrap();
        unsafe { libc::_exit(9) };
    }
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(libc::WEXITSTATUS(status), 9);
    let h = History::open(&db).unwrap();
    assert_eq!(
        h.run_complete(&new.run_id).unwrap(),
        None,
        "uncommitted run absent"
    );
    assert_eq!(h.runs().unwrap().len(), 1);
}

#[test]
fn a_run_that_never_finished_is_not_complete() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("results");
    for (name, finished) in [("a", true), ("b", false)] {
        let mut r = fixture("base.json");
        r.run_id = format!("run-{name}");
        if !finished {
            r.environment.finished_at = None; // killed: the writer never reached finish()
        }
        std::fs::create_dir_all(runs.join(name)).unwrap();
        results::write_atomic(&runs.join(name).join("results.json"), &r).unwrap();
    }
    std::fs::create_dir_all(dir.path().join("manifest")).unwrap();
    let out = bin()
        .args(["history", "import"])
        .arg(&runs)
        .arg("--root")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("imported 2 runs") && stdout.contains("1 incomplete"),
        "{stdout}"
    );
    let h = History::open(&runs.join("history.db")).unwrap();
    assert_eq!(h.run_complete("run-a").unwrap(), Some(true));
    assert_eq!(h.run_complete("run-b").unwrap(), Some(false));
    let trend = h.trend(&TrendQuery::default()).unwrap();
    assert!(trend.iter().all(|p| p.run_id == "run-a"));
    // The listing says so.
    let out = bin()
        .args(["history", "--root"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("run-b") && stdout.contains("(incomplete)"),
        "{stdout}"
    );
    // And a trend writes a chart.
    let out = bin()
        .args([
            "history",
            "--workload",
            "echo",
            "--impl",
            "go",
            "--metric",
            "throughput_msgs_per_s",
            "--root",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("trend chart:"),
        "{stdout}"
    );
}

#[test]
fn a_corrupt_database_is_a_clear_error_and_costs_no_results() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    std::fs::write(&db, vec![0x5a; 8192]).unwrap();
    let err = History::open(&db).err().expect("corrupt");
    assert!(matches!(err, HistoryError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().contains("is not a valid SQLite database"),
        "{err}"
    );
    assert!(err.to_string().contains("history import"), "{err}");

    // A real run with a corrupt history: results.json is written, the run succeeds, one warning.
    let p = FakeProject::new(&["ok"], &["echo"]);
    std::fs::create_dir_all(p.root().join("results")).unwrap();
    std::fs::write(
        p.root().join("results/history.db"),
        b"not a database at all, not even close..........",
    )
    .unwrap();
    let out = bin()
        .args([
            "run",
            "--workload",
            "echo",
            "--quick",
            "--ready-timeout",
            "10",
            "--root",
        ])
        .arg(p.root())
        .arg("--out")
        .arg(p.out())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(p.out().join("results.json").is_file());
    assert!(
        stderr.contains("not recorded in the run history")
            && stderr.contains("not a valid SQLite database"),
        "{stderr}"
    );
    // `history` on it: exit 2 with the fix.
    let out = bin()
        .args(["history", "--root"])
        .arg(p.root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("history import"));
}
