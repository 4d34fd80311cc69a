//! Fault injection: deliberately broken fake implementations each get the right status and reason, the
//! run goes on, results stay valid, and no process is left running.

use crate::common::*;

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
    let out = p.run(&[
        "run",
        "--workload",
        "echo",
        "--quick",
        "--ready-timeout",
        "3",
    ]);
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

    assert_impl(
        &r,
        "fake-crash-at-start",
        "verify_failed",
        // The stderr tail is kept.
        &["exit status 7", "crashing on purpose"],
    );
    assert!(
        cells(&r, "fake-crash-at-start").is_empty(),
        "never benchmarked"
    );
    assert_impl(&r, "fake-never-ready", "verify_failed", &["no ready"]);
    assert_impl(&r, "fake-wrong-bytes", "verify_failed", &["differs"]);
    assert_impl(
        &r,
        "fake-garbage-stdout",
        "verify_failed",
        &["protocol error"],
    );
    assert_impl(&r, "fake-ignores-sigterm", "verify_failed", &["SIGTERM"]);

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
    let out = p.run(&["verify", "--workload", "fanout,stream"]);
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

/// Status and reason of an implementation entry.
fn status_reason(r: &serde_json::Value, name: &str) -> (String, String) {
    let i = implementation(r, name);
    (
        i["status"].as_str().unwrap_or("").to_string(),
        i["reason"].as_str().unwrap_or("").to_string(),
    )
}

fn assert_impl(r: &serde_json::Value, name: &str, status: &str, reason_has: &[&str]) {
    let (s, reason) = status_reason(r, name);
    assert_eq!(s, status, "{name}: {reason}");
    for want in reason_has {
        assert!(reason.contains(want), "{name}: {want:?} not in {reason:?}");
    }
}

/// Every cell of `name` has `status` and a reason containing `reason_has`; returns how many.
fn assert_cells(r: &serde_json::Value, name: &str, status: &str, reason_has: &str) -> usize {
    let cs = cells(r, name);
    assert!(!cs.is_empty(), "{name} has no cells");
    for c in &cs {
        assert_eq!(c["status"], status, "{name}: {c}");
        if !reason_has.is_empty() {
            let reason = c["reason"].as_str().unwrap_or("");
            assert!(
                reason.contains(reason_has),
                "{name}: {reason_has:?} not in {reason:?}"
            );
        }
    }
    cs.len()
}

fn no_survivors(p: &FakeProject) {
    let left = survivors(p, std::time::Duration::from_secs(3));
    assert!(left.is_empty(), "processes left running: {left:?}");
}

#[test]
fn echo_ready_output_and_escape_faults() {
    let modes = [
        "ok",
        "port-zero",
        "no-port",
        "wrong-workload",
        "port-in-use",
        "ignores-stdin-eof",
        "binds-wildcard",
        "extra-stdout",
        "stdout-flood",
        "stderr-flood",
        "setsid-escape",
    ];
    let p = FakeProject::new(&modes, &["echo"]);
    let out = p.run(&[
        "run",
        "--workload",
        "echo",
        "--quick",
        "--ready-timeout",
        "5",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the run goes on:\n{stderr}");
    let r = p.results();
    assert_valid_results(&r);
    assert!(
        r["environment"]["containment"]
            .as_str()
            .unwrap()
            .starts_with("launcher subreaper"),
        "{}",
        r["environment"]["containment"]
    );
    // Completed cells are kept next to every failure.
    assert_impl(&r, "fake-ok", "ok", &[]);
    // Quick echo: one common open-loop rate, the capacity search, one closed-loop point.
    assert_eq!(assert_cells(&r, "fake-ok", "ok", ""), 3);

    assert_impl(
        &r,
        "fake-port-zero",
        "verify_failed",
        &["ready event has no port"],
    );
    assert_impl(
        &r,
        "fake-no-port",
        "verify_failed",
        &["ready event has no port"],
    );
    assert_impl(
        &r,
        "fake-wrong-workload",
        "verify_failed",
        &["names workload \"fanout\""],
    );
    assert_impl(
        &r,
        "fake-port-in-use",
        "verify_failed",
        &["exited before ready", "Address already in use"],
    );
    assert_impl(
        &r,
        "fake-ignores-stdin-eof",
        "verify_failed",
        &["of stdin closing"],
    );
    // Started with --bind 127.0.0.2, a server listening on 0.0.0.0 answers on 127.0.0.1 too.
    assert_impl(
        &r,
        "fake-binds-wildcard",
        "verify_failed",
        &[
            "--bind 127.0.0.2",
            "accepts connections on 127.0.0.1:",
            "wildcard",
        ],
    );
    for name in [
        "fake-port-zero",
        "fake-port-in-use",
        "fake-ignores-stdin-eof",
        "fake-binds-wildcard",
    ] {
        assert!(cells(&r, name).is_empty(), "{name} was never measured");
    }

    // Extra stdout during a measured trial fails the trial, quoting the first offending line.
    assert_impl(&r, "fake-extra-stdout", "ok", &[]);
    assert_cells(
        &r,
        "fake-extra-stdout",
        "failed",
        "unexpected stdout line \"debug: accepted a connection\"",
    );
    // A flood is cut and counted.
    assert_cells(
        &r,
        "fake-stdout-flood",
        "failed",
        "unexpected stdout line \"flood 0\"",
    );
    let flood = cells(&r, "fake-stdout-flood")[0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(flood.contains("dropped unread"), "{flood}");
    // A stderr flood is only cut to its tail: the program works, its cells are measured.
    assert_impl(&r, "fake-stderr-flood", "ok", &[]);
    assert_cells(&r, "fake-stderr-flood", "ok", "");
    // A daemon in its own session is measured normally and killed afterwards.
    assert_impl(&r, "fake-setsid-escape", "ok", &[]);
    assert_cells(&r, "fake-setsid-escape", "ok", "");
    no_survivors(&p);
}

#[test]
fn finite_protocol_and_signal_faults() {
    let modes = [
        "ok",
        "double-ready",
        "result-first",
        "no-exit",
        "closes-stdout",
        "segfault",
    ];
    let p = FakeProject::new(&modes, &["fanout"]);
    let out = p.run(&["verify", "--workload", "fanout"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "verify fails on broken implementations"
    );
    let r = p.results();
    assert_valid_results(&r);
    assert_impl(&r, "fake-ok", "ok", &[]);
    assert_impl(
        &r,
        "fake-double-ready",
        "verify_failed",
        &["a second ready event"],
    );
    assert_impl(
        &r,
        "fake-result-first",
        "verify_failed",
        &["result event before ready"],
    );
    assert_impl(
        &r,
        "fake-no-exit",
        "verify_failed",
        &["printed its result but did not exit within 10 s"],
    );
    assert_impl(
        &r,
        "fake-closes-stdout",
        "verify_failed",
        &["closed its stdout before printing its result event but kept running"],
    );
    assert_impl(&r, "fake-segfault", "verify_failed", &["SIGSEGV"]);
    no_survivors(&p);
}

#[test]
fn a_sigkill_mid_run_is_a_crash_and_the_other_cells_are_kept() {
    // sigkill-self dies of SIGKILL after its ready line (as under the OOM killer, but without the
    // kernel's OOM evidence, so it must be `crashed`, not `out_of_memory`).
    let p = FakeProject::new(&["ok", "sigkill-self"], &["fanout"]);
    let out = p.run(&["run", "--workload", "fanout", "--quick"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = p.results();
    assert_valid_results(&r);
    assert_impl(&r, "fake-sigkill-self", "ok", &[]);
    assert_cells(&r, "fake-sigkill-self", "crashed", "killed by signal 9");
    for c in cells(&r, "fake-sigkill-self") {
        assert!(!c["reason"].as_str().unwrap().contains("OOM"), "{c}");
    }
    assert_eq!(assert_cells(&r, "fake-ok", "ok", ""), 6);
    no_survivors(&p);
}

#[test]
fn toolchain_build_provisioning_and_preflight_faults() {
    let p = FakeProject::new_with(
        &[
            "ok",
            "build-fails",
            "build-daemon",
            "no-toolchain",
            "install-fails",
            "preflight-fails",
        ],
        &["fanout"],
        |mode| {
            match mode {
            "build-fails" => r#"build = [["sh", "-c", "echo 'error: expected one of `;`' >&2; exit 101"]]"#.into(),
            // A build step that leaves a daemon in its own session behind.
            "build-daemon" => r#"build = [["sh", "-c", "setsid sleep 300 & echo $! >> {root}/pids-build-daemon.txt"]]"#.into(),
            "no-toolchain" => r#"probe = ["asyncbench-no-such-tool", "--version"]"#.into(),
            "install-fails" => r#"probe = ["asyncbench-no-such-tool", "--version"]
install = [["sh", "-c", "echo 'E: Unable to locate package asyncbench-nope' >&2; exit 100"]]
install_needs_root = false"#
                .into(),
            "preflight-fails" => r#"preflight = ["sh", "-c", "echo 'io_uring_setup: Operation not permitted' >&2; exit 1"]"#.into(),
            _ => String::new(),
        }
        },
    );
    let out = p.run(&["verify", "--workload", "fanout"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let r = p.results();
    assert_valid_results(&r);
    assert_impl(&r, "fake-ok", "ok", &[]);
    assert_impl(
        &r,
        "fake-build-fails",
        "build_failed",
        &["exit status 101", "expected one of"],
    );
    assert_impl(&r, "fake-build-daemon", "ok", &[]);
    assert_impl(
        &r,
        "fake-no-toolchain",
        "skipped",
        &[
            "no usable toolchain",
            "asyncbench-no-such-tool` is not on PATH",
        ],
    );
    assert_impl(
        &r,
        "fake-install-fails",
        "skipped",
        &[
            "installing python3 failed (exit status 100)",
            "Unable to locate package",
        ],
    );
    assert!(
        stderr.contains("provisioning python3 for fake-install-fails: installing by running sh -c"),
        "one line says what will be installed before it starts:\n{stderr}"
    );
    assert_impl(
        &r,
        "fake-preflight-fails",
        "skipped",
        &[
            "preflight failed (exit status 1)",
            "Operation not permitted",
        ],
    );
    no_survivors(&p);
}

#[test]
fn no_provision_is_honoured() {
    let p = FakeProject::new_with(&["ok", "would-install"], &["fanout"], |mode| {
        if mode == "would-install" {
            r#"probe = ["asyncbench-no-such-tool", "--version"]
install = [["sh", "-c", "touch {root}/installed"]]
install_needs_root = false"#
                .into()
        } else {
            String::new()
        }
    });
    let out = p.run(&["verify", "--workload", "fanout", "--no-provision"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let r = p.results();
    assert_impl(&r, "fake-ok", "ok", &[]);
    assert_impl(
        &r,
        "fake-would-install",
        "skipped",
        &["provisioning is off"],
    );
    assert!(
        !p.root().join("installed").exists(),
        "installed despite --no-provision"
    );
    assert!(!stderr.contains("provisioning python3"), "{stderr}");
}

/// Starts `asyncbench run` on echo and returns once a trial has completed; the caller waits for it.
#[allow(clippy::zombie_processes)]
fn start_run_and_wait_for_a_trial(
    p: &FakeProject,
    modes_extra: &[&str],
    env: &[(&str, &str)],
) -> std::process::Child {
    let mut cmd = bin();
    cmd.args([
        "run",
        "--workload",
        "echo",
        "--quick",
        "--repeat",
        "4",
        "--root",
    ])
    .arg(p.root())
    .arg("--out")
    .arg(p.out())
    .args(modes_extra)
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let done = std::fs::read_to_string(p.out().join("results.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .is_some_and(|v| {
                v["cells"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c["status"] == "ok"))
            });
        if done {
            return child;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no trial completed in time");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn sigterm_and_sighup_to_the_harness_stop_it_like_ctrl_c() {
    for sig in [libc::SIGTERM, libc::SIGHUP] {
        let p = FakeProject::new(&["ok", "setsid-escape"], &["echo"]);
        let child = start_run_and_wait_for_a_trial(&p, &[], &[]);
        let t0 = std::time::Instant::now();
        unsafe { libc::kill(child.id() as i32, sig) };
        let out = child.wait_with_output().unwrap();
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(15),
            "signal {sig}: {:?}",
            t0.elapsed()
        );
        assert_eq!(out.status.code(), Some(130), "signal {sig}");
        let r = p.results();
        assert_valid_results(&r);
        assert!(r["environment"]["finished_at"].is_string());
        assert!(
            cells(&r, "fake-ok").iter().any(|c| c["status"] == "ok"),
            "completed cells kept"
        );
        no_survivors(&p);
    }
}

#[test]
fn a_second_ctrl_c_quits_at_once_and_leaves_nothing_behind() {
    let p = FakeProject::new(&["ok", "setsid-escape"], &["echo"]);
    let child = start_run_and_wait_for_a_trial(&p, &[], &[]);
    let pid = child.id() as i32;
    let t0 = std::time::Instant::now();
    unsafe { libc::kill(pid, libc::SIGINT) };
    std::thread::sleep(std::time::Duration::from_millis(20));
    unsafe { libc::kill(pid, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        t0.elapsed()
    );
    // Whatever was saved is a complete, valid file (atomic writes), with the completed trial.
    let r = p.results();
    assert_valid_results(&r);
    assert!(cells(&r, "fake-ok").iter().any(|c| c["status"] == "ok"));
    no_survivors(&p);
}

#[test]
fn without_the_launcher_the_run_goes_on_and_records_the_fallback() {
    let p = FakeProject::new(&["ok", "spawns-child"], &["echo"]);
    let out = bin()
        .env("ASYNCBENCH_LAUNCHER", "/nonexistent/asyncbench-launcher")
        .args(["verify", "--workload", "echo", "--root"])
        .arg(p.root())
        .arg("--out")
        .arg(p.out())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("launcher /nonexistent/asyncbench-launcher is missing"),
        "{stderr}"
    );
    let r = p.results();
    assert_valid_results(&r);
    let containment = r["environment"]["containment"].as_str().unwrap();
    assert!(
        containment.starts_with("process group only"),
        "{containment}"
    );
    assert_impl(&r, "fake-ok", "ok", &[]);
    assert_impl(&r, "fake-spawns-child", "ok", &[]);
    no_survivors(&p);
}

#[test]
fn an_out_directory_removed_mid_run_is_recreated_and_nothing_is_lost() {
    let p = FakeProject::new(&["ok"], &["echo"]);
    let child = start_run_and_wait_for_a_trial(&p, &[], &[]);
    std::fs::remove_dir_all(p.out()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("disappeared; recreated it"), "{stderr}");
    let r = p.results();
    assert_valid_results(&r);
    assert_eq!(assert_cells(&r, "fake-ok", "ok", ""), 3);
    // The capacity cell's trials are its search probes, not repeats.
    for c in cells(&r, "fake-ok")
        .into_iter()
        .filter(|c| c["params"]["mode"] != "capacity")
    {
        assert_eq!(
            c["trials"].as_array().unwrap().len(),
            4,
            "every trial kept: {c}"
        );
    }
    no_survivors(&p);
}

#[test]
fn an_unwritable_out_mid_run_keeps_measuring_and_falls_back_to_a_named_path() {
    let p = FakeProject::new(&["ok"], &["echo"]);
    let child = start_run_and_wait_for_a_trial(&p, &[], &[]);
    // A file where the directory was: every later save fails, as on a full or read-only disk.
    std::fs::remove_dir_all(p.out()).unwrap();
    std::fs::write(p.out(), "in the way").unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("measuring goes on").count(),
        1,
        "warned once:\n{stderr}"
    );
    let at = stdout
        .lines()
        .find_map(|l| l.strip_prefix("results: "))
        .expect("the results path is named");
    assert!(
        stderr.contains(&format!("the results are in {at}")),
        "{stderr}"
    );
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(at).unwrap()).unwrap();
    assert_valid_results(&r);
    assert_eq!(assert_cells(&r, "fake-ok", "ok", ""), 3);
    // The capacity cell's trials are its search probes, not repeats.
    for c in cells(&r, "fake-ok")
        .into_iter()
        .filter(|c| c["params"]["mode"] != "capacity")
    {
        assert_eq!(
            c["trials"].as_array().unwrap().len(),
            4,
            "every trial kept: {c}"
        );
    }
    let _ = std::fs::remove_dir_all(std::path::Path::new(at).parent().unwrap());
    no_survivors(&p);
}

#[test]
fn an_unwritable_out_is_refused_before_anything_runs() {
    let p = FakeProject::new(&["ok"], &["echo"]);
    std::fs::write(p.root().join("file"), "").unwrap();
    let out = bin()
        .args(["run", "--workload", "echo", "--quick", "--root"])
        .arg(p.root())
        .arg("--out")
        .arg(p.root().join("file/sub"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("pass a writable --out"), "{stderr}");
    assert!(p.pids().is_empty(), "nothing was started");
}

/// A memory cgroup with a limit, created for one test and removed afterwards; `None` where this
/// machine does not allow it (not root, no memory controller).
struct MemCgroup {
    dir: std::path::PathBuf,
}

impl MemCgroup {
    fn create(limit_bytes: u64) -> Option<MemCgroup> {
        let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let name = format!("asyncbench-test-{}", std::process::id());
        for line in own.lines() {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            let path = path.trim_start_matches('/');
            let (dir, limit_file) = if controllers.split(',').any(|c| c == "memory") {
                (
                    std::path::Path::new("/sys/fs/cgroup/memory")
                        .join(path)
                        .join(&name),
                    "memory.limit_in_bytes",
                )
            } else if controllers.is_empty() {
                (
                    std::path::Path::new("/sys/fs/cgroup")
                        .join(path)
                        .join(&name),
                    "memory.max",
                )
            } else {
                continue;
            };
            if std::fs::create_dir(&dir).is_err() {
                continue;
            }
            if std::fs::write(dir.join(limit_file), limit_bytes.to_string()).is_ok() {
                // No swap to hide in, where the controller has the knob (v1 memsw, v2 swap.max).
                let _ = std::fs::write(
                    dir.join("memory.memsw.limit_in_bytes"),
                    limit_bytes.to_string(),
                );
                let _ = std::fs::write(dir.join("memory.swap.max"), "0");
                return Some(MemCgroup { dir });
            }
            let _ = std::fs::remove_dir(&dir);
        }
        None
    }
}

impl Drop for MemCgroup {
    fn drop(&mut self) {
        // Empty by now (every process it held has exited); retry briefly while the last ones go.
        for _ in 0..100 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

#[test]
fn an_oom_kill_is_recorded_as_out_of_memory_and_the_run_goes_on() {
    let Some(cg) = MemCgroup::create(192 << 20) else {
        eprintln!(
            "skipped: cannot create a memory cgroup here (needs root and a memory controller)"
        );
        return;
    };
    let p = FakeProject::new(&["ok", "eats-memory"], &["fanout"]);
    // The harness runs inside the limited cgroup, as on a machine that is short of memory: the OOM
    // killer must pick the measured program (oom_score_adj 1000), never the harness.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > {}/cgroup.procs && exec \"$0\" \"$@\"",
            cg.dir.display()
        ))
        .arg(env!("CARGO_BIN_EXE_asyncbench"))
        .args(["run", "--workload", "fanout", "--quick", "--root"])
        .arg(p.root())
        .arg("--out")
        .arg(p.out())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the harness survived and finished:\n{stderr}"
    );
    let r = p.results();
    assert_valid_results(&r);
    assert_impl(&r, "fake-eats-memory", "ok", &[]);
    assert_cells(&r, "fake-eats-memory", "out_of_memory", "OOM kill");
    for c in cells(&r, "fake-eats-memory") {
        let reason = c["reason"].as_str().unwrap();
        assert!(reason.contains("memory cgroup limit 192 MiB"), "{reason}");
        assert!(
            reason.contains("OOM kill(s) in its memory cgroup"),
            "{reason}"
        );
    }
    assert_eq!(
        assert_cells(&r, "fake-ok", "ok", ""),
        6,
        "completed cells kept"
    );
    no_survivors(&p);
    drop(cg);
}

#[test]
fn a_harness_killed_with_sigkill_leaves_nothing_behind() {
    // SIGKILL cannot be caught: the launchers learn of it through their parent-death signal (SIGTERM)
    // and kill everything their programs started, the setsid daemon included.
    let p = FakeProject::new(&["ok", "setsid-escape"], &["echo"]);
    let mut child = start_run_and_wait_for_a_trial(&p, &[], &[]);
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    // What was saved before the kill is a complete, valid file (atomic writes).
    let r = p.results();
    assert_valid_results(&r);
    assert!(cells(&r, "fake-ok").iter().any(|c| c["status"] == "ok"));
    no_survivors(&p);
}
