//! Fault injection: deliberately broken fake implementations each get the right status and reason, the
//! run goes on, results stay valid, and no process is left running.

mod common;
use common::*;

#[test]
fn echo_faults_get_their_status_and_nothing_is_left_running() {
    let modes = [
        "ok",
        "crash-at-start",
        "never-ready",
        "wrong-bytes",
        "dies-mid-run",
        "garbage-stdout",
        "ignores-sigterm",
        "spawns-child",
    ];
    let p = FakeProject::new(&modes, &["echo"]);
    let out = bin()
        .args([
            "run",
            "--workload",
            "echo",
            "--quick",
            "--ready-timeout",
            "3",
            "--root",
        ])
        .arg(p.root())
        .arg("--out")
        .arg(p.out())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the run itself must succeed despite broken implementations:\n{stderr}"
    );
    let r = p.results();
    assert_valid_results(&r);

    let status = |n: &str| {
        implementation(&r, n)["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let reason = |n: &str| {
        implementation(&r, n)["reason"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(status("fake-ok"), "ok");
    assert!(
        cells(&r, "fake-ok").iter().all(|c| c["status"] == "ok"),
        "{:?}",
        cells(&r, "fake-ok")
    );
    // Quick echo: one common open-loop rate, the capacity search, one closed-loop point.
    assert_eq!(cells(&r, "fake-ok").len(), 3);
    let modes: Vec<&str> = cells(&r, "fake-ok")
        .iter()
        .map(|c| c["params"]["mode"].as_str().unwrap())
        .collect();
    assert_eq!(modes, ["open", "capacity", "closed"]);

    assert_eq!(status("fake-crash-at-start"), "verify_failed");
    assert!(
        reason("fake-crash-at-start").contains("exit status 7"),
        "{}",
        reason("fake-crash-at-start")
    );
    assert!(
        reason("fake-crash-at-start").contains("crashing on purpose"),
        "stderr tail kept: {}",
        reason("fake-crash-at-start")
    );
    assert!(
        cells(&r, "fake-crash-at-start").is_empty(),
        "never benchmarked"
    );

    assert_eq!(status("fake-never-ready"), "verify_failed");
    assert!(
        reason("fake-never-ready").contains("no ready"),
        "{}",
        reason("fake-never-ready")
    );

    assert_eq!(status("fake-wrong-bytes"), "verify_failed");
    assert!(
        reason("fake-wrong-bytes").contains("differs"),
        "{}",
        reason("fake-wrong-bytes")
    );

    assert_eq!(status("fake-garbage-stdout"), "verify_failed");
    assert!(
        reason("fake-garbage-stdout").contains("protocol error"),
        "{}",
        reason("fake-garbage-stdout")
    );

    assert_eq!(status("fake-ignores-sigterm"), "verify_failed");
    assert!(
        reason("fake-ignores-sigterm").contains("SIGTERM"),
        "{}",
        reason("fake-ignores-sigterm")
    );

    // Passes verification, then dies during every measured trial.
    assert_eq!(status("fake-dies-mid-run"), "ok");
    let dies = cells(&r, "fake-dies-mid-run");
    assert!(
        !dies.is_empty() && dies.iter().all(|c| c["status"] == "crashed"),
        "{dies:?}"
    );
    assert!(
        dies[0]["reason"]
            .as_str()
            .unwrap()
            .contains("exit status 3")
    );

    assert_eq!(status("fake-spawns-child"), "ok");

    let left: Vec<i32> = p.pids().into_iter().filter(|&pid| alive(pid)).collect();
    assert!(
        left.is_empty(),
        "processes left running after the run: {left:?}"
    );
}

#[test]
fn finite_workload_faults() {
    let p = FakeProject::new(
        &["ok", "wrong-checksum", "hang", "crash-at-start"],
        &["fanout", "stream"],
    );
    let out = bin()
        .args(["verify", "--workload", "fanout,stream", "--root"])
        .arg(p.root())
        .arg("--out")
        .arg(p.out())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "verify exits 1 when an implementation fails"
    );
    let r = p.results();
    assert_valid_results(&r);
    let imp = |n: &str| implementation(&r, n).clone();
    assert_eq!(imp("fake-ok")["status"], "ok");
    let wrong = imp("fake-wrong-checksum");
    assert_eq!(wrong["status"], "verify_failed");
    let reason = wrong["reason"].as_str().unwrap();
    assert!(
        reason.contains("fanout") && reason.contains("stream") && reason.contains("checksum"),
        "{reason}"
    );
    let hang = imp("fake-hang");
    assert_eq!(hang["status"], "verify_failed");
    assert!(
        hang["reason"]
            .as_str()
            .unwrap()
            .contains("no result within"),
        "{}",
        hang["reason"]
    );
    assert_eq!(imp("fake-crash-at-start")["status"], "verify_failed");
    let left: Vec<i32> = p.pids().into_iter().filter(|&pid| alive(pid)).collect();
    assert!(left.is_empty(), "processes left running: {left:?}");
}

#[test]
fn ctrl_c_stops_promptly_keeps_partial_results_and_leaves_nothing_behind() {
    let p = FakeProject::new(&["ok", "spawns-child"], &["echo"]);
    let mut child = bin()
        .args(["run", "--workload", "echo", "--repeat", "5", "--root"])
        .arg(p.root())
        .arg("--out")
        .arg(p.out())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until at least one cell has a completed trial.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no trial completed in time"
        );
        let done = std::fs::read_to_string(p.out().join("results.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .is_some_and(|v| {
                v["cells"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c["status"] == "ok"))
            });
        if done {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let t0 = std::time::Instant::now();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(15),
        "took {:?} to stop",
        t0.elapsed()
    );
    assert_eq!(status.code(), Some(130));
    let r = p.results();
    assert_valid_results(&r);
    assert!(r["environment"]["finished_at"].is_string());
    std::thread::sleep(std::time::Duration::from_millis(200));
    let left: Vec<i32> = p.pids().into_iter().filter(|&pid| alive(pid)).collect();
    assert!(
        left.is_empty(),
        "processes left running after Ctrl-C: {left:?}"
    );
}
