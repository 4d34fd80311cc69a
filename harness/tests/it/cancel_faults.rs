//! The cancel workload's phase protocol through fake implementations: a fake that speaks it correctly
//! passes verification and gets its memory sampled at every phase; one that reports wrong cleanups,
//! skips the phases or stops answering fails with the right reason; a phase line in another workload
//! is a protocol error. Nothing is left running.

use crate::common::{FakeProject, alive, assert_valid_results, implementation};

#[test]
fn cancel_phase_protocol_faults() {
    let p = FakeProject::new(
        &[
            "ok",
            "wrong-cleanups",
            "skips-phases",
            "hang",
            "loses-safe",
            "phase-in-fanout",
        ],
        &["cancel", "fanout"],
    );
    let out = p.run(&["verify", "--workload", "cancel,fanout"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "verify exits 1 when an implementation fails: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = p.results();
    assert_valid_results(&r);
    let imp = |n: &str| implementation(&r, n).clone();
    let reason = |n: &str| imp(n)["reason"].as_str().unwrap_or("").to_string();
    assert_eq!(imp("fake-ok")["status"], "ok", "{}", reason("fake-ok"));
    for (mode, want) in [
        ("wrong-cleanups", "cleanups 999"),
        ("skips-phases", "result before phase \"start\""),
        ("hang", "after phase \"start\""),
        ("loses-safe", "received 1997"),
    ] {
        let name = format!("fake-{mode}");
        assert_eq!(imp(&name)["status"], "verify_failed", "{name}");
        assert!(
            reason(&name).contains("cancel:") && reason(&name).contains(want),
            "{name}: {}",
            reason(&name)
        );
    }
    let phase = reason("fake-phase-in-fanout");
    assert!(
        phase.contains("fanout") && phase.contains("unexpected phase event"),
        "{phase}"
    );
    assert!(
        !phase.contains("cancel:"),
        "phases are fine in cancel: {phase}"
    );
    let left: Vec<i32> = p.pids().into_iter().filter(|&pid| alive(pid)).collect();
    assert!(left.is_empty(), "processes left running: {left:?}");
}

#[test]
fn cancel_quick_run_samples_memory_at_each_phase() {
    let p = FakeProject::new(&["ok"], &["cancel"]);
    let out = p.run(&["run", "--quick", "--workload", "cancel"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = p.results();
    assert_valid_results(&r);
    let cells = r["cells"].as_array().unwrap();
    let mass = cells
        .iter()
        .find(|c| c["params"]["variant"] == "mass" && c["params"]["tasks"] == 10_000)
        .expect("a mass cell at 10k tasks");
    assert_eq!(mass["status"], "ok", "{mass}");
    let m = &mass["metrics"];
    // The fake touches 4 KiB per task between "start" and "armed" and frees it before "cancelled".
    let per_task = m["bytes_per_task"].as_f64().unwrap();
    assert!(
        (2_000.0..50_000.0).contains(&per_task),
        "bytes_per_task {per_task}"
    );
    assert!(m["rss_armed_bytes"].as_f64() > m["rss_start_bytes"].as_f64());
    assert!(m["rss_reclaimed_fraction"].as_f64().is_some());
    assert_eq!(m["cancel_ns_per_task"].as_f64(), Some(0.5e6 / 10_000.0));
    let unsafe_cell = cells
        .iter()
        .find(|c| c["params"]["variant"] == "safety" && c["params"]["idiom"] == "unsafe")
        .unwrap();
    assert_eq!(
        unsafe_cell["status"], "ok",
        "losses are findings, not failures"
    );
    assert_eq!(unsafe_cell["metrics"]["lost_items"].as_f64(), Some(3.0));
    assert!(
        unsafe_cell["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "lost_items")
    );
    let deadline: Vec<_> = cells
        .iter()
        .filter(|c| c["params"]["variant"] == "deadline")
        .collect();
    assert_eq!(deadline.len(), 2, "M and 10·M");
    assert!(deadline.iter().all(|c| c["status"] == "ok"));
    assert!(
        deadline
            .iter()
            .all(|c| c["metrics"]["cpu_ns_per_op"].as_f64().is_some())
    );
    let md = std::fs::read_to_string(p.out().join("report.md")).unwrap();
    assert!(md.contains("Lost items by idiom"), "report lacks the table");
    assert!(
        md.contains("Cheapest mass cancellation"),
        "report lacks the ranking"
    );
}
