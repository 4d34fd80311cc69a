//! The remote side of a session: what the shipped `asyncbench` binary does on a host when the local
//! harness calls it over ssh (hidden subcommands).
//!
//! `remote-exec` starts one measured program through the host's launcher and relays: the program's
//! stdout lines pass through unchanged, the launcher's report lines (pid; exit status and rusage) go to
//! stdout behind the marker the local side chose for this spawn, stdin and stderr are the program's
//! own. When the ssh channel goes away (connection lost, local harness killed) the relay notices its
//! stdout is closed, or gets SIGTERM when its parent sshd dies, and stops the launcher, which kills and
//! reaps everything the program started.

use crate::manifest::Paths;
use crate::results::{HostRecord, ImplementationInfo};
use crate::toolchain::Provision;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The line `remote-prepare` answers on (the UI writes to stderr; build tools may write to stdout).
pub const PREPARED_PREFIX: &str = "asyncbench-prepared ";

/// How to start a prepared implementation on the host (paths are the host's).
#[derive(Debug, Serialize, Deserialize)]
pub struct RemoteLaunch {
    pub start: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: String,
}

/// `remote-prepare`'s answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct PreparedReply {
    pub info: ImplementationInfo,
    pub launch: Option<RemoteLaunch>,
}

/// `asyncbench remote-prepare --impl NAME`: probe, provision and build one implementation here.
pub fn prepare(root: &Path, name: &str, provision: Provision) -> anyhow::Result<i32> {
    let all = crate::manifest::load_dir(&root.join("manifest"))?;
    let imp = all
        .iter()
        .find(|i| i.name == name)
        .ok_or_else(|| anyhow::anyhow!("no implementation {name:?} in the shipped manifest"))?;
    let ui = crate::ui::Ui::new(true);
    let p = crate::prepare::prepare(imp, &Paths::new(root), provision, None, &ui);
    let reply = PreparedReply {
        info: p.info,
        launch: p.launch.map(|l| RemoteLaunch {
            start: l.start,
            env: l.env,
            cwd: l.cwd.to_string_lossy().into_owned(),
        }),
    };
    println!("{PREPARED_PREFIX}{}", serde_json::to_string(&reply)?);
    Ok(0)
}

/// `asyncbench remote-env`: this host's description as one JSON line.
pub fn environment(root: &Path) -> anyhow::Result<i32> {
    let e = crate::env::capture(root);
    let rec = HostRecord {
        role: String::new(),
        address: String::new(),
        cpu_model: e.cpu_model,
        cores: e.cores,
        memory_bytes: e.memory_bytes,
        kernel: e.kernel,
        os: e.os,
        toolchains: Default::default(),
        containment: e.containment,
    };
    println!("{}", serde_json::to_string(&rec)?);
    Ok(0)
}

/// The channel is gone when our stdout's reader is: stop the launcher (it kills the program and
/// every descendant), then leave.
fn stop_launcher_when_the_channel_closes(launcher_pid: i32) {
    std::thread::spawn(move || {
        loop {
            let mut p = libc::pollfd {
                fd: 1,
                events: 0,
                revents: 0,
            };
            // SAFETY: poll on one pollfd we own.
            let r = unsafe { libc::poll(&mut p, 1, 250) };
            if r > 0 && p.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                // SAFETY: signalling our own child.
                unsafe { libc::kill(launcher_pid, libc::SIGTERM) };
                std::thread::sleep(Duration::from_secs(3));
                unsafe { libc::kill(launcher_pid, libc::SIGKILL) };
                std::process::exit(255);
            }
        }
    });
}

/// `asyncbench remote-exec --marker M [--cpus LIST] -- PROGRAM ARGS...`: see the module docs.
pub fn exec(marker: &str, cpus: Option<&[usize]>, argv: &[String]) -> anyhow::Result<i32> {
    // SAFETY: prctl/getppid have no memory-safety preconditions.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
        if libc::getppid() == 1 {
            return Ok(255); // sshd already gone
        }
    }
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let say = |out: &Mutex<std::io::Stdout>, line: &[u8]| -> bool {
        let mut o = out.lock().unwrap_or_else(|e| e.into_inner());
        o.write_all(line).and_then(|_| o.flush()).is_ok()
    };
    let launcher = std::env::var("ASYNCBENCH_LAUNCHER").unwrap_or_default();
    if launcher.is_empty() || !Path::new(&launcher).is_file() {
        // The launcher's own error line: the local side reports a failed start with this errno.
        say(
            &out,
            format!(
                "{marker} error exec {} the launcher was not shipped\n",
                libc::ENOENT
            )
            .as_bytes(),
        );
        return Ok(127);
    }
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the array; we own both descriptors.
    let (report_r, report_w) = unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) == -1 {
            return Err(std::io::Error::last_os_error().into());
        }
        (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
    };
    let wfd = report_w.as_raw_fd();
    let cpus = cpus.map(<[usize]>::to_vec);
    let mut cmd = Command::new(&launcher);
    cmd.arg(wfd.to_string())
        .args(argv)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::fcntl(wfd, libc::F_SETFD, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            if let Some(cpus) = &cpus {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                for &c in cpus {
                    libc::CPU_SET(c, &mut set);
                }
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    drop(report_w);
    let launcher_pid = child.id() as i32;
    stop_launcher_when_the_channel_closes(launcher_pid);
    let report_out = out.clone();
    let marker_owned = marker.to_string();
    let reports = std::thread::spawn(move || {
        let mut r = BufReader::new(std::fs::File::from(report_r));
        let mut line = String::new();
        while r.read_line(&mut line).is_ok_and(|n| n > 0) {
            say(
                &report_out,
                format!("{marker_owned} {}\n", line.trim_end()).as_bytes(),
            );
            line.clear();
        }
    });
    let stdout = child.stdout.take().expect("piped");
    let program_out = out.clone();
    let lines = std::thread::spawn(move || {
        // Whole lines, so a report line never lands inside a protocol line; an overlong line is
        // passed on in pieces (the local side rejects it as a protocol error anyway).
        let mut r = BufReader::new(stdout);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match (&mut r).take(1 << 20).read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if !say(&program_out, &buf) {
                        // Keep draining so the program never blocks on a full pipe.
                        let _ = std::io::copy(&mut r, &mut std::io::sink());
                        break;
                    }
                }
            }
        }
    });
    let status = child.wait()?;
    let _ = lines.join();
    let _ = reports.join();
    Ok(status.code().unwrap_or(255))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepared_reply_round_trips() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let imp = crate::manifest::load_dir(&root.join("manifest"))
            .ok()
            .and_then(|m| m.into_iter().next());
        let Some(imp) = imp else { return };
        let reply = PreparedReply {
            info: crate::prepare::info(&imp),
            launch: Some(RemoteLaunch {
                start: vec!["x".into()],
                env: vec![("A".into(), "b c".into())],
                cwd: "/tmp/asyncbench-run.x/repo".into(),
            }),
        };
        let json = serde_json::to_string(&reply).unwrap();
        let back: PreparedReply = serde_json::from_str(&json).unwrap();
        assert_eq!(back.info, reply.info);
        assert_eq!(back.launch.unwrap().env, reply.launch.unwrap().env);
    }
}
