//! `run --server-host` over a real OpenSSH server on 127.0.0.1:2222 (started by `.ci/sshd-up`; CI sets
//! ASYNCBENCH_REQUIRE_SSH=1 so a missing server fails instead of skipping). The "remote" host is this
//! machine, reached only through ssh: the harness ships its binary and the project there, prepares and
//! starts every program through the shipped relay and launcher, and must leave nothing running.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const HOST: &str = "root@127.0.0.1:2222";

/// The tests look for and kill processes by pattern: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Whether an sshd on 127.0.0.1:2222 accepts our key; panics when CI requires it.
fn ssh_available() -> bool {
    let ok = Command::new("ssh")
        .args([
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=5",
            "-p",
            "2222",
            "root@127.0.0.1",
            "true",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let why = "no sshd on 127.0.0.1:2222 that accepts root's key (start one with `.ci/sshd-up` as root)";
        if std::env::var("ASYNCBENCH_REQUIRE_SSH").as_deref() == Ok("1") {
            panic!("{why}, and ASYNCBENCH_REQUIRE_SSH=1");
        }
        eprintln!("SKIPPED: {why}");
    }
    ok
}

/// A project whose implementations are copies of the fake (under the project root, so the shipped
/// copy runs from the per-run directory on the host): `(name, mode, script)`.
fn project(impls: &[(&str, &str, &str)], workloads: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("manifest")).unwrap();
    let fake = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fakes/fake_impl.py");
    let mut toml = String::new();
    for (name, mode, script) in impls {
        std::fs::copy(&fake, dir.path().join(script)).unwrap();
        toml.push_str(&format!(
            r#"
[[implementation]]
name = "{name}"
language = "python"
runtime = "fake"
workloads = [{workloads}]
[[implementation.toolchain]]
name = "python3"
probe = ["python3", "--version"]
start = ["python3", "{{root}}/{script}"]
env = {{ FAKE_MODE = "{mode}", FAKE_PIDS = "{{root}}/pids-{name}.txt" }}
"#
        ));
    }
    std::fs::write(dir.path().join("manifest/fakes.toml"), toml).unwrap();
    dir
}

/// Processes on this machine (the "remote" host) still running from a per-run directory.
fn remote_survivors() -> Vec<String> {
    let out = Command::new("pgrep")
        .args(["-a", "-f", "[/]tmp/asyncbench-run[.]"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn results(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap()
}

/// `asyncbench run --quick` of `workloads` in project `root` with the host options `hosts`
/// (`--server-host`, `--client-host`), writing to `out`.
fn quick_run(root: &Path, workloads: &str, hosts: &[&str], out: &Path) -> Command {
    let mut cmd = crate::common::bin();
    cmd.args(["run", "--workload", workloads, "--quick"])
        .args(hosts)
        .arg("--root")
        .arg(root)
        .arg("--out")
        .arg(out);
    cmd
}

/// [`quick_run`] to its end: it must succeed; its valid results and its stderr.
fn quick_run_ok(
    root: &Path,
    workloads: &str,
    hosts: &[&str],
    out: &Path,
) -> (serde_json::Value, String) {
    let o = quick_run(root, workloads, hosts, out).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{stderr}");
    let r = results(out);
    crate::common::assert_valid_results(&r);
    (r, stderr)
}

#[test]
fn echo_and_fanout_run_on_the_server_host_and_nothing_survives() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !ssh_available() {
        return;
    }
    let p = project(
        &[("fake-a", "ok", "a.py"), ("fake-b", "ok", "b.py")],
        "\"echo\", \"fanout\"",
    );
    let out = p.path().join("out");
    let (r, stderr) = quick_run_ok(p.path(), "echo,fanout", &["--server-host", HOST], &out);
    // Roles: the programs' host and this machine (the load generator).
    let hosts = r["environment"]["hosts"].as_array().expect("hosts");
    let roles: Vec<(&str, &str)> = hosts
        .iter()
        .map(|h| (h["role"].as_str().unwrap(), h["address"].as_str().unwrap()))
        .collect();
    assert_eq!(roles, [("server", HOST), ("client", "localhost")]);
    assert!(
        hosts[0]["toolchains"]["python3"]
            .as_str()
            .is_some_and(|v| v.starts_with("Python 3")),
        "{hosts:?}"
    );
    for name in ["fake-a", "fake-b"] {
        let imp = crate::common::implementation(&r, name);
        assert_eq!(imp["status"], "ok", "{imp}");
        let cells = crate::common::cells(&r, name);
        for w in ["echo", "fanout"] {
            let ws: Vec<_> = cells.iter().filter(|c| c["workload"] == w).collect();
            assert!(!ws.is_empty(), "{name} has no {w} cells");
            for c in &ws {
                assert_eq!(c["status"], "ok", "{c}");
            }
            // Measured on the host that ran the program, by its launcher (capacity cells summarise
            // their probes and carry none).
            let rss: Vec<f64> = ws
                .iter()
                .filter_map(|c| c["metrics"]["peak_rss_bytes"].as_f64())
                .collect();
            assert!(
                !rss.is_empty() && rss.iter().all(|v| *v > 1e6),
                "{name} {w}: {rss:?}"
            );
        }
    }
    // The per-run directory is gone and nothing it started runs.
    let dir = stderr
        .lines()
        .find_map(|l| l.split_once(":/tmp/asyncbench-run."))
        .map(|(_, rest)| format!("/tmp/asyncbench-run.{}", &rest[..8]))
        .expect("the run names its remote directory");
    assert!(!Path::new(&dir).exists(), "{dir} was not removed");
    let left = remote_survivors();
    assert!(left.is_empty(), "still running on the host: {left:?}");
}

#[test]
fn a_lost_connection_fails_that_program_and_the_run_goes_on() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !ssh_available() {
        return;
    }
    // fake-hang never finishes its fan-out: the connection is killed while it runs.
    let p = project(
        &[("fake-hang", "hang", "hang.py"), ("fake-ok", "ok", "ok.py")],
        "\"fanout\"",
    );
    let control = tempfile::tempdir().unwrap();
    let out = p.path().join("out");
    let mut run = quick_run(p.path(), "fanout", &["--server-host", HOST], &out)
        .env("ASYNCBENCH_SSH_CONTROL_DIR", control.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    let hang_running = || {
        Command::new("pgrep")
            .args(["-f", "[/]repo/hang[.]py fanout"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    while !hang_running() {
        assert!(Instant::now() < deadline, "fake-hang never started");
        assert!(run.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Past its start (the launcher's pid line is back), then kill the ssh connection: the master and
    // every client multiplexed over it.
    std::thread::sleep(Duration::from_secs(2));
    // Kill the ssh connection: the master and every client multiplexed over it.
    let killed = Command::new("pkill")
        .arg("-f")
        .arg(format!("ControlPath={}", control.path().display()))
        .status()
        .unwrap();
    assert!(killed.success(), "no ssh process to kill");
    // The relay notices its channel is gone and stops the launcher, which kills the program: well
    // before the run's final cleanup (the run still verifies and measures fake-ok).
    let gone = Instant::now() + Duration::from_secs(8);
    while hang_running() && Instant::now() < gone {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!hang_running(), "fake-hang survived the lost connection");
    let status = loop {
        if let Some(s) = run.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = run.kill();
            panic!("the run did not finish after the connection was lost");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(run.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}");
    let r = results(&out);
    crate::common::assert_valid_results(&r);
    let hang = crate::common::implementation(&r, "fake-hang");
    let reason = hang["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("the ssh connection ended (")
            && reason.contains("before the remote launcher reported the program's exit"),
        "fake-hang: {hang}\n{stderr}"
    );
    let ok = crate::common::cells(&r, "fake-ok");
    assert!(!ok.is_empty(), "the run did not go on: {stderr}");
    assert!(ok.iter().all(|c| c["status"] == "ok"), "{ok:?}");
    let left = remote_survivors();
    assert!(left.is_empty(), "still running on the host: {left:?}");
}

/// The remote per-run directories a run named on stderr ("…:/tmp/asyncbench-run.XXXXXXXX").
fn run_dirs(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.split_once(":/tmp/asyncbench-run."))
        .map(|(_, rest)| format!("/tmp/asyncbench-run.{}", &rest[..8]))
        .collect()
}

#[test]
fn echo_driven_from_a_client_host_merges_its_report_and_nothing_survives() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !ssh_available() {
        return;
    }
    let p = project(
        &[("fake-a", "ok", "a.py"), ("fake-b", "ok", "b.py")],
        "\"echo\", \"fanout\"",
    );
    let out = p.path().join("out");
    let hosts = ["--server-host", HOST, "--client-host", HOST];
    let (r, stderr) = quick_run_ok(p.path(), "echo,fanout", &hosts, &out);
    let roles: Vec<(&str, &str)> = r["environment"]["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .map(|h| (h["role"].as_str().unwrap(), h["address"].as_str().unwrap()))
        .collect();
    assert_eq!(
        roles,
        [
            ("server", HOST),
            ("controller", "localhost"),
            ("client", HOST)
        ]
    );
    for name in ["fake-a", "fake-b"] {
        let cells = crate::common::cells(&r, name);
        let echo: Vec<_> = cells.iter().filter(|c| c["workload"] == "echo").collect();
        assert!(!echo.is_empty(), "{name} has no echo cells");
        for c in &echo {
            assert_eq!(c["status"], "ok", "{c}");
        }
        // Trials (not capacity summaries) carry the merged histogram's percentiles and the client
        // host's CPU, which only the remote path records.
        let trials: Vec<_> = echo
            .iter()
            .filter(|c| c["metrics"]["latency_samples"].is_number())
            .collect();
        assert!(!trials.is_empty(), "{name}: no measured echo trial");
        for c in trials {
            let m = &c["metrics"];
            assert!(m["latency_samples"].as_f64().unwrap() > 0.0, "{c}");
            let lat = &m["latency_ns"];
            let (p50, p99) = (lat["p50"].as_f64().unwrap(), lat["p99"].as_f64().unwrap());
            assert!(p50 > 0.0 && p99 >= p50, "{c}");
            assert!(m["client_cpu_util_host0"].as_f64().unwrap() > 0.0, "{c}");
            assert!(m["client_cpu_util_host1"].is_null(), "{c}");
            // The server's CPU through its probe; interference judged on the one machine behind
            // both roles, from both hosts' counters.
            assert!(m["server_cpu_us_per_msg"].as_f64().unwrap() > 0.0, "{c}");
            assert!(
                m["interference_other_cores"].as_f64().unwrap() >= 0.0,
                "{c}"
            );
        }
        assert!(cells.iter().any(|c| c["workload"] == "fanout"));
    }
    // The echo table shows each client host's CPU beside the total.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("client CPU, host 1"), "{md}");
    // Both per-run directories (server and client) are gone and nothing they started runs.
    let dirs = run_dirs(&stderr);
    assert_eq!(dirs.len(), 2, "{stderr}");
    for dir in dirs {
        assert!(!Path::new(&dir).exists(), "{dir} was not removed");
    }
    let left = remote_survivors();
    assert!(left.is_empty(), "still running on the host: {left:?}");
}

#[test]
fn a_lost_client_host_fails_the_trial_with_the_reason_and_the_run_goes_on() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !ssh_available() {
        return;
    }
    // The server runs here; only the load generator is remote, over its own connection.
    let p = project(&[("fake-a", "ok", "a.py")], "\"echo\"");
    let control = tempfile::tempdir().unwrap();
    let out = p.path().join("out");
    let mut run = quick_run(p.path(), "echo", &["--client-host", HOST], &out)
        .env("ASYNCBENCH_SSH_CONTROL_DIR", control.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(240);
    let loadgen_running = || {
        Command::new("pgrep")
            .args(["-f", "[/]bin/asyncbench loadgen --spec"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    while !loadgen_running() {
        assert!(
            Instant::now() < deadline,
            "the remote load generator never started"
        );
        assert!(run.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed = Command::new("pkill")
        .arg("-f")
        .arg(format!("ControlPath={}", control.path().display()))
        .status()
        .unwrap();
    assert!(killed.success(), "no ssh process to kill");
    let status = loop {
        if let Some(s) = run.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = run.kill();
            panic!("the run did not finish after the connection was lost");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(run.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}");
    let r = results(&out);
    crate::common::assert_valid_results(&r);
    let cells = crate::common::cells(&r, "fake-a");
    let lost: Vec<_> = cells
        .iter()
        .filter(|c| {
            c["reason"]
                .as_str()
                .is_some_and(|s| s.contains(&format!("ssh connection to {HOST} ended")))
        })
        .collect();
    assert!(
        !lost.is_empty(),
        "no trial records the lost connection: {cells:?}\n{stderr}"
    );
    // The run went on: later trials reconnected and measured.
    assert!(
        cells.iter().any(|c| c["status"] == "ok"),
        "the run did not go on: {cells:?}"
    );
    let left = remote_survivors();
    assert!(left.is_empty(), "still running on the host: {left:?}");
}

#[test]
fn remote_programs_are_sampled_on_their_host_cancel_mass_echo_cpu_and_rss_timelines() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !ssh_available() {
        return;
    }
    let p = project(
        &[("fake-a", "ok", "a.py")],
        "\"echo\", \"fanout\", \"cancel\"",
    );
    let out = p.path().join("out");
    let o = quick_run(
        p.path(),
        "echo,fanout,cancel",
        &["--server-host", HOST],
        &out,
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let r = results(&out);
    let cells = crate::common::cells(&r, "fake-a");
    // cancel mass: RSS read on the host at each phase by the probe. The fake touches 4 KiB per task
    // while armed, so the growth must show (a local /proc read of a remote pid would find nothing).
    let mass: Vec<_> = cells
        .iter()
        .filter(|c| c["workload"] == "cancel" && c["params"]["variant"] == "mass")
        .collect();
    assert!(!mass.is_empty(), "no cancel mass cell: {cells:?}");
    for c in &mass {
        assert_eq!(c["status"], "ok", "{c}");
        let m = &c["metrics"];
        let per_task = m["bytes_per_task"].as_f64().expect("bytes_per_task");
        assert!(per_task > 2048.0, "{m}");
        assert!(
            m["rss_start_bytes"].as_f64().is_some_and(|v| v > 1e6),
            "{m}"
        );
    }
    // echo: the server's CPU per message, from the probe at the window's edges.
    let echo: Vec<_> = cells
        .iter()
        .filter(|c| c["workload"] == "echo" && c["status"] == "ok")
        .filter(|c| c["metrics"]["throughput_msgs_per_s"].as_f64().is_some())
        .collect();
    assert!(!echo.is_empty(), "no measured echo cell: {cells:?}");
    for c in &echo {
        let m = &c["metrics"];
        assert!(
            m["server_cpu_us_per_msg"].as_f64().is_some_and(|v| v > 0.0),
            "{m}"
        );
        assert!(m["interference_other_cores"].as_f64().is_some(), "{m}");
    }
    // fan-out: the RSS timeline streamed by the probe, on the local clock, rising from zero time.
    let fanout: Vec<_> = cells.iter().filter(|c| c["workload"] == "fanout").collect();
    assert!(!fanout.is_empty());
    for c in &fanout {
        let t = c["rss_timeline"].as_array().expect("an RSS timeline");
        assert!(t.len() >= 2, "{c}");
        let ms: Vec<f64> = t.iter().map(|p| p["t_ms"].as_f64().unwrap()).collect();
        assert!(ms.windows(2).all(|w| w[0] < w[1]) && ms[0] >= 0.0, "{ms:?}");
        assert!(t.iter().all(|p| p["rss_bytes"].as_f64().unwrap() > 1e6));
    }
    let left = remote_survivors();
    assert!(left.is_empty(), "still running on the host: {left:?}");
}

/// Lines of `pgrep -af PATTERN` (processes on this machine, the "remote" host).
fn pgrep(pattern: &str) -> Vec<String> {
    let out = Command::new("pgrep")
        .args(["-a", "-f", pattern])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Starts `asyncbench probe` for `pid` over ssh (this binary; the host is this machine) with stdin
/// open; returns the ssh child once the first tick arrived, and its stdout (kept open: closing it
/// would end the channel).
fn probe_over_ssh(pid: u32, deadline_s: u64) -> (std::process::Child, impl std::io::BufRead) {
    use std::io::BufRead;
    let remote = format!(
        "exec {} probe --pid {pid} --deadline-s {deadline_s}",
        env!("CARGO_BIN_EXE_asyncbench")
    );
    let mut ssh = Command::new("ssh")
        .args([
            "-o",
            "BatchMode=yes",
            "-p",
            "2222",
            "root@127.0.0.1",
            &remote,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut stdout = std::io::BufReader::new(ssh.stdout.take().unwrap());
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with("asyncbench-probe tick {"), "{first:?}");
    (ssh, stdout)
}

fn wait_until_gone(pattern: &str, within: Duration) -> Vec<String> {
    let t0 = Instant::now();
    loop {
        let left = pgrep(pattern);
        if left.is_empty() || t0.elapsed() > within {
            return left;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_probe_dies_with_its_ssh_channel_and_at_its_deadline() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !ssh_available() {
        return;
    }
    let mut target = Command::new("sleep").arg("120").spawn().unwrap();
    // The probe itself, not the local ssh whose command line carries the remote command.
    let pattern = format!("^[^ ]*asyncbench probe --pid {} --deadline-s", target.id());
    // The channel killed under it (the harness SIGKILLed, the network gone): it exits.
    let (mut ssh, _stdout) = probe_over_ssh(target.id(), 3600);
    assert_eq!(pgrep(&pattern).len(), 1, "{:?}", pgrep(&pattern));
    ssh.kill().unwrap();
    ssh.wait().unwrap();
    let left = wait_until_gone(&pattern, Duration::from_secs(10));
    assert!(left.is_empty(), "the probe outlived its channel: {left:?}");
    // Stdin held open and nobody asking: the deadline ends it.
    let (mut ssh, mut stdout) = probe_over_ssh(target.id(), 2);
    // Keep reading so the channel never backs up.
    let drain = std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = ssh.try_wait().unwrap() {
            break Some(s);
        }
        if t0.elapsed() > Duration::from_secs(20) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = ssh.kill();
    let _ = drain.join();
    let _ = target.kill();
    let _ = target.wait();
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    assert!(wait_until_gone(&pattern, Duration::from_secs(5)).is_empty());
}

/// A network namespace of this test's own with one end of a veth pair (`10.231.N.2/30`; this side
/// `10.231.N.1/30`) and an sshd in it: a server host at another IP, reached across a real link.
/// Dropping it stops that sshd and deletes the namespace (which takes the veth pair with it).
struct Netns {
    name: String,
    ip: String,
    dir: tempfile::TempDir,
}

impl Netns {
    /// `Err(reason)` when this machine cannot host one (not root, no `ip netns`, no sshd, no key).
    fn create() -> Result<Netns, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root".into());
        }
        let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .ok_or("no sshd (apt-get install openssh-server)")?;
        let host_key = "/run/asyncbench-sshd/host_ed25519";
        if !Path::new(host_key).exists() {
            return Err("no throwaway host key (run .ci/sshd-up)".into());
        }
        let n = std::process::id() % 250 + 1;
        let ns = Netns {
            name: format!("asyncbench-test-{n}"),
            ip: format!("10.231.{n}.2"),
            dir: tempfile::tempdir().map_err(|e| e.to_string())?,
        };
        let (host_if, ns_if) = (format!("abt{n}h"), format!("abt{n}n"));
        let steps: Vec<Vec<String>> = [
            format!("ip netns add {}", ns.name),
            format!("ip link add {host_if} type veth peer name {ns_if}"),
            format!("ip link set {ns_if} netns {}", ns.name),
            format!("ip addr add 10.231.{n}.1/30 dev {host_if}"),
            format!("ip link set {host_if} up"),
            format!(
                "ip netns exec {} ip addr add {}/30 dev {ns_if}",
                ns.name, ns.ip
            ),
            format!("ip netns exec {} ip link set {ns_if} up", ns.name),
            format!("ip netns exec {} ip link set lo up", ns.name),
        ]
        .iter()
        .map(|s| s.split(' ').map(str::to_string).collect())
        .collect();
        // A failed step returns early: dropping `ns` undoes what was done (no iproute2, namespaces
        // not allowed here, a leftover of a killed run under the same name).
        for step in &steps {
            let o = Command::new(&step[0]).args(&step[1..]).output();
            if !o.as_ref().is_ok_and(|o| o.status.success()) {
                let why = o.map_or_else(
                    |e| e.to_string(),
                    |o| String::from_utf8_lossy(&o.stderr).trim().to_string(),
                );
                return Err(format!("`{}` failed: {why}", step.join(" ")));
            }
        }
        let conf = ns.dir.path().join("sshd_config");
        std::fs::write(
            &conf,
            format!(
                "ListenAddress {}:2222\nHostKey {host_key}\nPidFile {}\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nMaxSessions 100\nMaxStartups 100:30:200\nSetEnv PATH={}\n",
                ns.ip,
                ns.dir.path().join("sshd.pid").display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .map_err(|e| e.to_string())?;
        let o = Command::new("ip")
            .args(["netns", "exec", &ns.name, sshd, "-f"])
            .arg(&conf)
            .output()
            .map_err(|e| e.to_string())?;
        if !o.status.success() {
            return Err(format!(
                "sshd in the namespace: {}",
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        let t0 = Instant::now();
        while !ns.ssh_ok() {
            if t0.elapsed() > Duration::from_secs(10) {
                return Err(format!("sshd on {}:2222 did not answer", ns.ip));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(ns)
    }

    /// The `--ssh-option`s that reach it with the throwaway client key.
    fn ssh_options() -> Vec<String> {
        let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
        vec![
            format!("IdentityFile={home}/.ssh/asyncbench_test_ed25519"),
            "StrictHostKeyChecking=no".into(),
            "UserKnownHostsFile=/dev/null".into(),
        ]
    }

    fn ssh_ok(&self) -> bool {
        let mut c = Command::new("ssh");
        for o in Self::ssh_options() {
            c.args(["-o", &o]);
        }
        c.args([
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=2",
            "-p",
            "2222",
        ])
        .arg(format!("root@{}", self.ip))
        .arg("true")
        .output()
        .is_ok_and(|o| o.status.success())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("sshd.pid"))
            && let Ok(pid) = pid.trim().parse::<i32>()
        {
            // SAFETY: signalling the sshd this test started.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        // Sessions still open in the namespace die with it; the veth pair goes with its namespace.
        let _ = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
            .map(|o| {
                for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                    if let Ok(pid) = pid.parse::<i32>() {
                        // SAFETY: processes inside the namespace this test created.
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                    }
                }
            });
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

#[test]
fn the_server_host_at_another_ip_in_a_network_namespace() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !ssh_available() {
        return;
    }
    let ns = match Netns::create() {
        Ok(ns) => ns,
        Err(why) => {
            eprintln!("SKIPPED: no network namespace for the server host: {why}");
            return;
        }
    };
    let p = project(&[("fake-a", "ok", "a.py")], "\"echo\", \"fanout\"");
    let out = p.path().join("out");
    let host = format!("root@{}:2222", ns.ip);
    let mut hosts = vec![
        "--server-host".to_string(),
        host.clone(),
        "--bind".into(),
        ns.ip.clone(),
    ];
    for o in Netns::ssh_options() {
        hosts.extend(["--ssh-option".to_string(), o]);
    }
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let o = quick_run(p.path(), "echo,fanout", &hosts, &out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let r = results(&out);
    let hosts = r["environment"]["hosts"].as_array().expect("hosts");
    assert_eq!(hosts[0]["role"], "server");
    assert_eq!(hosts[0]["address"], host.as_str());
    let cells = crate::common::cells(&r, "fake-a");
    // The echo server listened on the namespace's address only, and this machine's load generator
    // reached it across the veth link; the probe sampled it there.
    let echo: Vec<_> = cells
        .iter()
        .filter(|c| c["workload"] == "echo" && c["status"] == "ok")
        .filter(|c| {
            c["metrics"]["throughput_msgs_per_s"]
                .as_f64()
                .is_some_and(|v| v > 0.0)
        })
        .collect();
    assert!(!echo.is_empty(), "{cells:?}");
    assert!(
        echo.iter()
            .all(|c| c["metrics"]["server_cpu_us_per_msg"].as_f64().is_some())
    );
    for c in cells.iter().filter(|c| c["workload"] == "fanout") {
        assert_eq!(c["status"], "ok", "{c}");
    }
    let left = remote_survivors();
    assert!(left.is_empty(), "still running in the namespace: {left:?}");
}
