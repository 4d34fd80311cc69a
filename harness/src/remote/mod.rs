//! Running measured programs on other hosts over OpenSSH (`run --server-host`), with no daemon of our
//! own: every lab already has sshd.
//!
//! One [`Session`] per host: ssh in batch mode (never a password prompt) with connection multiplexing
//! (a ControlMaster socket in a private directory, kept for a minute after the last use), so each
//! program start costs one channel, not one handshake. The session ships the working tree (tracked and
//! untracked-but-not-ignored files, so uncommitted changes are measured too) and the harness's own
//! binary and launcher into a fresh per-run directory on the host (`mktemp -d
//! /tmp/asyncbench-run.XXXXXXXX`), prepares (probes, provisions, builds) each implementation there by
//! running the shipped binary (`asyncbench remote-prepare`), and starts every measured program through
//! the shipped binary's relay (`asyncbench remote-exec`, see [`relay`]), which starts the remote
//! launcher and sends its report lines back over the channel: peak RSS and CPU are measured on the host
//! that ran the program.
//!
//! Faults are outcomes: a host that cannot be reached, a failed remote build or a missing toolchain
//! is recorded on the implementation with its reason; a connection lost mid-trial fails that trial
//! (the next program start opens a new master connection). Nothing survives a run on the host: the
//! relay kills its launcher when its channel closes (the launcher kills and reaps every descendant),
//! and [`Session::cleanup`] kills whatever still runs from the per-run directory and removes it.

pub mod loadgen;
pub mod probe;
pub mod relay;
pub mod topology;

use crate::manifest::Implementation;
use crate::prepare::Prepared;
use crate::process::{Remote, Spec};
use crate::results::{HostRecord, ImplStatus};
use crate::toolchain::Provision;
use std::io::Read;
use std::net::IpAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long connecting may take before the host counts as unreachable.
const CONNECT_TIMEOUT_S: u32 = 10;
/// Shipping the repository or the binary (large trees over a slow link).
const SHIP_TIMEOUT: Duration = Duration::from_secs(600);
/// A remote build of one implementation, provisioning included.
const PREPARE_TIMEOUT: Duration = Duration::from_secs(45 * 60);
/// Short control commands (kill, cleanup, environment).
const CONTROL_TIMEOUT: Duration = Duration::from_secs(30);

/// What can go wrong talking to a host; every variant says what to check.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("cannot start ssh: {0}; install the OpenSSH client")]
    NoSsh(std::io::Error),
    #[error("ssh to {host} failed (exit {code}): {stderr}")]
    Ssh {
        host: String,
        code: i32,
        stderr: String,
    },
    #[error("{what} on {host} did not finish within {timeout:?}")]
    Timeout {
        host: String,
        what: String,
        timeout: Duration,
    },
    #[error("{0}")]
    Other(String),
}

/// `[USER@]HOST[:PORT]` as given on the command line (`[::1]:22` for IPv6 with a port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpec {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl std::str::FromStr for HostSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let fix = "give [USER@]HOST[:PORT], e.g. --server-host root@10.0.0.2:22";
        let (user, rest) = match s.rsplit_once('@') {
            Some((u, r)) => (Some(u.to_string()), r),
            None => (None, s),
        };
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, tail) = v6
                .split_once(']')
                .ok_or_else(|| format!("'{s}': unclosed '['; {fix}"))?;
            let port = match tail.strip_prefix(':') {
                Some(p) => Some(p),
                None if tail.is_empty() => None,
                None => return Err(format!("'{s}': unexpected '{tail}'; {fix}")),
            };
            (h.to_string(), port)
        } else if rest.matches(':').count() == 1 {
            let (h, p) = rest.split_once(':').expect("one colon");
            (h.to_string(), Some(p))
        } else {
            (rest.to_string(), None)
        };
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("'{s}': port '{p}' is not 1-65535; {fix}"))
            })
            .transpose()?;
        // ssh would read a leading '-' as an option; shell metacharacters have no place in a name.
        let ok = |t: &str| {
            !t.is_empty()
                && !t.starts_with('-')
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-:%".contains(c))
        };
        if !ok(&host) || user.as_deref().is_some_and(|u| !ok(u)) {
            return Err(format!("'{s}' is not a host name or address; {fix}"));
        }
        Ok(HostSpec { user, host, port })
    }
}

impl std::fmt::Display for HostSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        match (self.host.contains(':'), self.port) {
            (true, Some(p)) => write!(f, "[{}]:{p}", self.host),
            (false, Some(p)) => write!(f, "{}:{p}", self.host),
            _ => write!(f, "{}", self.host),
        }
    }
}

/// Quotes `s` for a POSIX shell (the remote side of ssh always parses the command with one).
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@%".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The output of a finished local command.
struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs a local command (ssh, or a pipeline into ssh) in its own process group with a deadline; on
/// timeout the whole group is killed.
/// `interruptible`: give up at once on Ctrl-C (everything but the final cleanup, which must still run).
fn run_local(
    mut cmd: Command,
    stdin: Stdio,
    timeout: Duration,
    interruptible: bool,
) -> std::io::Result<Option<Output>> {
    cmd.stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn()?;
    let pgid = child.id() as i32;
    let read = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut s);
            }
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = read(child.stdout.take().map(|r| Box::new(r) as _));
    let err = read(child.stderr.take().map(|r| Box::new(r) as _));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break Some(st);
        }
        if Instant::now() >= deadline || (interruptible && crate::process::interrupted()) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Whatever the command started in its group goes with it.
    // SAFETY: killpg on the group of our own child.
    unsafe { libc::killpg(pgid, libc::SIGKILL) };
    let Some(status) = status else {
        let _ = child.wait();
        return Ok(None);
    };
    Ok(Some(Output {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }))
}

/// The last non-empty line of `s`, trimmed (ssh's reason for failing is its last line).
fn last_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

/// A connection to one host and the per-run directory there.
#[derive(Debug)]
pub struct Session {
    pub spec: HostSpec,
    /// "server" or "client".
    pub role: &'static str,
    /// Extra `-o` options (`--ssh-option`), passed before ours so they win.
    options: Vec<String>,
    /// Private directory holding the ControlMaster socket (mode 0700).
    control_dir: PathBuf,
    /// The per-run directory on the host (absolute).
    pub run_dir: String,
    bind: IpAddr,
    cleaned: Mutex<bool>,
}

impl Session {
    /// Connects (batch mode: keys only), creates the per-run directory and ships the harness binary and
    /// launcher. An unreachable host is an error whose message says what ssh said.
    pub fn open(
        spec: HostSpec,
        role: &'static str,
        options: &[String],
        bind: IpAddr,
    ) -> Result<Session, RemoteError> {
        let base = std::env::var_os("ASYNCBENCH_SSH_CONTROL_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let control_dir = base.join(format!("asyncbench-ssh.{:08x}", rand::random::<u32>()));
        std::fs::create_dir_all(&control_dir).map_err(|e| {
            RemoteError::Other(format!(
                "cannot create {}: {e}; set ASYNCBENCH_SSH_CONTROL_DIR to a writable directory",
                control_dir.display()
            ))
        })?;
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&control_dir, std::fs::Permissions::from_mode(0o700));
        let mut s = Session {
            spec,
            role,
            options: options.to_vec(),
            control_dir,
            run_dir: String::new(),
            bind,
            cleaned: Mutex::new(false),
        };
        let out = s.run("mktemp -d /tmp/asyncbench-run.XXXXXXXX", CONTROL_TIMEOUT)?;
        let dir = out.trim().to_string();
        if !dir.starts_with("/tmp/asyncbench-run.") || dir.contains(char::is_whitespace) {
            return Err(RemoteError::Other(format!(
                "mktemp on {} printed {dir:?}, not a directory",
                s.spec
            )));
        }
        s.run_dir = dir;
        s.ship_binaries()?;
        Ok(s)
    }

    /// `ssh` with our options and `remote_cmd` (one string, parsed by the remote shell).
    pub fn ssh_argv(&self, remote_cmd: &str) -> Vec<String> {
        let mut a = vec!["ssh".to_string()];
        for o in &self.options {
            a.push("-o".into());
            a.push(o.clone());
        }
        for o in [
            "BatchMode=yes".to_string(),
            format!("ConnectTimeout={CONNECT_TIMEOUT_S}"),
            "ControlMaster=auto".into(),
            format!("ControlPath={}/cm", self.control_dir.display()),
            "ControlPersist=60".into(),
            "ServerAliveInterval=5".into(),
            "ServerAliveCountMax=3".into(),
            "LogLevel=ERROR".into(),
        ] {
            a.push("-o".into());
            a.push(o);
        }
        if let Some(p) = self.spec.port {
            a.push("-p".into());
            a.push(p.to_string());
        }
        if let Some(u) = &self.spec.user {
            a.push("-l".into());
            a.push(u.clone());
        }
        a.push("--".into());
        a.push(self.spec.host.clone());
        a.push(remote_cmd.to_string());
        a
    }

    fn command(&self, remote_cmd: &str) -> Command {
        let argv = self.ssh_argv(remote_cmd);
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]);
        c
    }

    fn check(
        &self,
        what: &str,
        out: std::io::Result<Option<Output>>,
        timeout: Duration,
    ) -> Result<String, RemoteError> {
        match out {
            Err(e) => Err(RemoteError::NoSsh(e)),
            Ok(None) => Err(RemoteError::Timeout {
                host: self.spec.to_string(),
                what: what.to_string(),
                timeout,
            }),
            Ok(Some(o)) if o.code == 0 => Ok(o.stdout),
            Ok(Some(o)) => Err(RemoteError::Ssh {
                host: self.spec.to_string(),
                code: o.code,
                stderr: last_line(&o.stderr),
            }),
        }
    }

    /// Runs `remote_cmd` on the host; its stdout, or why it failed.
    pub fn run(&self, remote_cmd: &str, timeout: Duration) -> Result<String, RemoteError> {
        let out = run_local(self.command(remote_cmd), Stdio::null(), timeout, true);
        self.check(remote_cmd, out, timeout)
    }

    /// The shipped harness binary on the host.
    pub fn bin(&self) -> String {
        format!("{}/bin/asyncbench", self.run_dir)
    }

    /// The shipped repository on the host.
    pub fn repo(&self) -> String {
        format!("{}/repo", self.run_dir)
    }

    fn launcher(&self) -> String {
        format!("{}/bin/asyncbench-launcher", self.run_dir)
    }

    /// Copies this binary and the launcher into `<run dir>/bin`. The binary is dynamically linked:
    /// the host needs a C library at least as new as this machine's.
    fn ship_binaries(&self) -> Result<(), RemoteError> {
        let exe = std::env::current_exe()
            .map_err(|e| RemoteError::Other(format!("cannot find this binary: {e}")))?;
        let mut files: Vec<(PathBuf, String)> = vec![(exe, self.bin())];
        if let Some(l) = crate::process::launcher_path() {
            files.push((l.to_path_buf(), self.launcher()));
        }
        for (local, remote) in files {
            let f = std::fs::File::open(&local)
                .map_err(|e| RemoteError::Other(format!("cannot read {}: {e}", local.display())))?;
            let cmd = format!(
                "mkdir -p {d}/bin && cat > {r} && chmod 755 {r}",
                d = shell_quote(&self.run_dir),
                r = shell_quote(&remote)
            );
            let out = run_local(self.command(&cmd), Stdio::from(f), SHIP_TIMEOUT, true);
            self.check(&format!("copying {}", local.display()), out, SHIP_TIMEOUT)?;
        }
        // The binary must start there (same architecture, a new enough C library).
        self.run(
            &format!("{} --version", shell_quote(&self.bin())),
            CONTROL_TIMEOUT,
        )
        .map_err(|e| {
            RemoteError::Other(format!(
                "the harness binary does not run on {} ({e}); the host needs the same architecture and a C library at least as new as this machine's",
                self.spec
            ))
        })?;
        Ok(())
    }

    /// Ships the working tree of `root` to `<run dir>/repo`: with git, the tracked and untracked (not
    /// ignored) files as they are on disk, so uncommitted changes are what runs; without git, the tree
    /// minus `target/` and `results/`. One tar stream over the multiplexed connection (rsync would gain
    /// nothing: the directory is fresh every run).
    pub fn ship_repo(&self, root: &Path) -> Result<(), RemoteError> {
        let remote = format!(
            "mkdir -p {r} && tar -x -f - -C {r}",
            r = shell_quote(&self.repo())
        );
        let ssh: Vec<String> = self
            .ssh_argv(&remote)
            .iter()
            .map(|a| shell_quote(a))
            .collect();
        let is_git = Command::new("git")
            .args(["-C"])
            .arg(root)
            .args(["rev-parse", "--show-toplevel"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| {
                Path::new(String::from_utf8_lossy(&o.stdout).trim())
                    == root.canonicalize().unwrap_or(root.to_path_buf())
            })
            .unwrap_or(false);
        let list = if is_git {
            // Deleted-but-tracked files are listed by git yet absent: keep only existing ones.
            "git ls-files -z -c -o --exclude-standard | while IFS= read -r -d '' f; do [ -e \"$f\" ] && printf '%s\\0' \"$f\"; done"
        } else {
            "find . -path ./target -prune -o -path ./results -prune -o \\( -type f -o -type l \\) -print0"
        };
        let script = format!(
            "set -o pipefail; cd {root} && {{ {list}; }} | tar -c --null -T - -f - | {ssh}",
            root = shell_quote(&root.to_string_lossy()),
            ssh = ssh.join(" ")
        );
        let mut cmd = Command::new("bash");
        cmd.arg("-c").arg(script);
        let out = run_local(cmd, Stdio::null(), SHIP_TIMEOUT, true);
        self.check("shipping the repository", out, SHIP_TIMEOUT)
            .map(|_| ())
    }

    /// Probes, provisions and builds `imp` on the host with the shipped manifests; every failure (host
    /// unreachable, toolchain missing, build failed) is the implementation's status with its reason.
    pub fn prepare(
        self: &std::sync::Arc<Self>,
        imp: &Implementation,
        provision: Provision,
    ) -> Prepared {
        let mut info = crate::prepare::info(imp);
        let cmd = format!(
            "ASYNCBENCH_LAUNCHER={l} {bin} --root {repo} remote-prepare --impl {name}{np}",
            l = shell_quote(&self.launcher()),
            bin = shell_quote(&self.bin()),
            repo = shell_quote(&self.repo()),
            name = shell_quote(&imp.name),
            np = if provision == Provision::Forbidden {
                " --no-provision"
            } else {
                ""
            }
        );
        let reply = self
            .run(&cmd, PREPARE_TIMEOUT)
            .map_err(|e| e.to_string())
            .and_then(|out| {
                out.lines()
                    .rev()
                    .find_map(|l| l.strip_prefix(relay::PREPARED_PREFIX))
                    .ok_or_else(|| "remote-prepare printed no answer".to_string())
                    .and_then(|j| {
                        serde_json::from_str::<relay::PreparedReply>(j).map_err(|e| e.to_string())
                    })
            });
        match reply {
            Ok(r) => {
                info = r.info;
                let launch = r.launch.map(|l| crate::workload::Launch {
                    implementation: imp.name.clone(),
                    start: l.start,
                    env: l.env,
                    cwd: PathBuf::from(l.cwd),
                    cpus: None,
                    remote: Some(self.clone() as std::sync::Arc<dyn Remote>),
                });
                Prepared {
                    imp: imp.clone(),
                    info,
                    launch,
                }
            }
            Err(e) => {
                info.status = ImplStatus::Skipped;
                info.reason = Some(format!(
                    "preparing on {} ({}) failed: {e}",
                    self.spec, self.role
                ));
                Prepared {
                    imp: imp.clone(),
                    info,
                    launch: None,
                }
            }
        }
    }

    /// The host's machine description (CPU, kernel, OS), from the shipped binary.
    pub fn host_record(&self) -> HostRecord {
        // A client host has no shipped repository: an empty one stands in for `--root`.
        let cmd = format!(
            "mkdir -p {r}/manifest && ASYNCBENCH_LAUNCHER={} {} --root {r} remote-env",
            shell_quote(&self.launcher()),
            shell_quote(&self.bin()),
            r = shell_quote(&self.repo())
        );
        let mut rec = self
            .run(&cmd, CONTROL_TIMEOUT)
            .ok()
            .and_then(|o| {
                o.lines()
                    .rev()
                    .find_map(|l| serde_json::from_str::<HostRecord>(l).ok())
            })
            .unwrap_or_default();
        rec.role = self.role.to_string();
        rec.address = self.spec.to_string();
        rec
    }

    /// Kills everything still running from the per-run directory, removes it and closes the master
    /// connection. Returns how many processes had to be killed (normally 0: the relay and launcher
    /// clean up after themselves). Reconnects if the connection was lost; idempotent.
    pub fn cleanup(&self) -> Result<u32, RemoteError> {
        let mut cleaned = self.cleaned.lock().unwrap_or_else(|e| e.into_inner());
        if *cleaned {
            return Ok(0);
        }
        if self.run_dir.is_empty() {
            // Never got a directory: only the master connection (if any) to close.
            *cleaned = true;
            let _ = run_local(self.command_exit(), Stdio::null(), CONTROL_TIMEOUT, false);
            let _ = std::fs::remove_dir_all(&self.control_dir);
            return Ok(0);
        }
        // `[/]tmp/...` matches the directory but not this command line itself.
        let pattern = shell_quote(&format!("[/]{}", self.run_dir.trim_start_matches('/')));
        // The directory is spelt in two pieces so that this command line does not match the pattern.
        let (head, tail) = self.run_dir.split_at(self.run_dir.len() / 2);
        let cmd = format!(
            "d={}''{}; n=$(pgrep -f {pattern} | wc -l); pkill -KILL -f {pattern}; sleep 0.2; pkill -KILL -f {pattern}; rm -rf \"$d\"; echo $n",
            shell_quote(head),
            shell_quote(tail)
        );
        // Runs after Ctrl-C too: that is when it matters most.
        let out = run_local(self.command(&cmd), Stdio::null(), CONTROL_TIMEOUT, false);
        let out = self.check("cleaning up", out, CONTROL_TIMEOUT)?;
        *cleaned = true;
        let _ = run_local(self.command_exit(), Stdio::null(), CONTROL_TIMEOUT, false);
        let _ = std::fs::remove_dir_all(&self.control_dir);
        Ok(out.trim().parse().unwrap_or(0))
    }

    fn command_exit(&self) -> Command {
        let mut argv = self.ssh_argv("true");
        argv.pop();
        let host = argv.pop().expect("host");
        argv.pop(); // "--"
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]).args(["-O", "exit", "--"]).arg(host);
        c
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Err(e) = self.cleanup() {
            crate::ui::warn(&format!(
                "cleaning up {} on {}: {e}",
                self.run_dir, self.spec
            ));
        }
    }
}

impl Remote for Session {
    fn command(&self, spec: &Spec, marker: &str) -> Vec<String> {
        let mut cmd = format!(
            "cd {} && exec env",
            shell_quote(&spec.cwd.to_string_lossy())
        );
        cmd.push_str(&format!(
            " ASYNCBENCH_LAUNCHER={}",
            shell_quote(&self.launcher())
        ));
        for (k, v) in &spec.env {
            cmd.push(' ');
            cmd.push_str(&shell_quote(&format!("{k}={v}")));
        }
        cmd.push_str(&format!(
            " {} remote-exec --marker {}",
            shell_quote(&self.bin()),
            shell_quote(marker)
        ));
        if let Some(cpus) = &spec.cpus {
            let list: Vec<String> = cpus.iter().map(|c| c.to_string()).collect();
            cmd.push_str(&format!(" --cpus {}", list.join(",")));
        }
        cmd.push_str(" --");
        for a in &spec.argv {
            cmd.push(' ');
            cmd.push_str(&shell_quote(a));
        }
        self.ssh_argv(&cmd)
    }

    fn signal(&self, pid: i32, signal: i32) -> bool {
        self.run(&format!("kill -{signal} {pid}"), Duration::from_secs(10))
            .is_ok()
    }

    fn describe(&self) -> String {
        self.spec.to_string()
    }

    fn bind_ip(&self) -> IpAddr {
        self.bind
    }

    fn probe_command(&self, pid: i32) -> Vec<String> {
        self.ssh_argv(&format!(
            "exec {} probe --pid {pid} --deadline-s {}",
            shell_quote(&self.bin()),
            probe::DEADLINE.as_secs()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_specs_parse_and_bad_ones_say_how_to_fix() {
        let h: HostSpec = "root@127.0.0.1:2222".parse().unwrap();
        assert_eq!(
            h,
            HostSpec {
                user: Some("root".into()),
                host: "127.0.0.1".into(),
                port: Some(2222)
            }
        );
        assert_eq!(h.to_string(), "root@127.0.0.1:2222");
        let h: HostSpec = "[::1]:22".parse().unwrap();
        assert_eq!((h.host.as_str(), h.port), ("::1", Some(22)));
        assert_eq!(h.to_string(), "[::1]:22");
        let h: HostSpec = "lab-2.example".parse().unwrap();
        assert_eq!((h.user, h.port), (None, None));
        for bad in ["-oProxyCommand=x", "a b", "h:0", "h:x", "u;rm@h", ""] {
            let e = bad.parse::<HostSpec>().unwrap_err();
            assert!(e.contains("[USER@]HOST[:PORT]"), "{bad}: {e}");
        }
    }

    #[test]
    fn shell_quoting_survives_a_shell() {
        for s in ["plain", "with space", "it's", "$HOME", "a\"b", "", "x;y"] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", shell_quote(s)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), s);
        }
    }
}
