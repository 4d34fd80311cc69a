//! `asyncbench probe --pid PID` (hidden): the host side of [`crate::process::probe`]. The harness starts
//! it over ssh on the host that runs a measured program, from the shipped binary, to read that host's
//! `/proc` for the program: an RSS tick every [`crate::process::SAMPLE_EVERY`], a point sample (CPU,
//! RSS, threads, the host's CPU counters and boot id) for every `now` line on stdin.
//!
//! It never outlives its channel: it exits on stdin EOF, when writing to stdout fails, when its parent
//! (the sshd session) dies (SIGTERM by `PR_SET_PDEATHSIG`) and at `--deadline-s` in any case.

use crate::process::probe::{PREFIX, sample};
use std::io::{BufRead, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A probe's deadline when the harness sets it: longer than any workload lets one program live.
pub const DEADLINE: Duration = Duration::from_secs(4 * 3600);

/// Writes one probe line; exits the process when the channel is gone (nobody is listening).
fn say(out: &Mutex<std::io::Stdout>, kind: &str, json: &str) {
    let mut o = out.lock().unwrap_or_else(|e| e.into_inner());
    let ok = if json.is_empty() {
        writeln!(o, "{PREFIX}{kind}")
    } else {
        writeln!(o, "{PREFIX}{kind} {json}")
    }
    .and_then(|_| o.flush())
    .is_ok();
    if !ok {
        std::process::exit(0);
    }
}

/// Runs the probe for `pid` until its channel closes or `deadline` passes (see the module docs).
pub fn serve(pid: i32, deadline: Duration) -> anyhow::Result<i32> {
    // SAFETY: prctl/getppid have no memory-safety preconditions.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
        if libc::getppid() == 1 {
            return Ok(255); // sshd already gone
        }
    }
    if pid <= 0 {
        anyhow::bail!("--pid {pid} is not a process id; the harness passes the program's pid");
    }
    let t0 = Instant::now();
    let out: &'static Mutex<std::io::Stdout> = Box::leak(Box::new(Mutex::new(std::io::stdout())));
    // The channel's pipes may come non-blocking (sshd's are shared with the session): a read that
    // would block must wait, not read as the end of the channel.
    for fd in [0, 1] {
        // SAFETY: fcntl on our own standard descriptors.
        unsafe {
            let fl = libc::fcntl(fd, libc::F_GETFL);
            if fl != -1 {
                libc::fcntl(fd, libc::F_SETFL, fl & !libc::O_NONBLOCK);
            }
        }
    }
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut line = String::new();
        loop {
            line.clear();
            match stdin.read_line(&mut line) {
                Ok(0) => break,
                Ok(_) if line.trim() == "now" => {
                    let s = sample(pid, t0.elapsed().as_secs_f64() * 1e3, true);
                    say(out, "now", &serde_json::to_string(&s).unwrap_or_default());
                }
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                    ) =>
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => break,
            }
        }
        // stdin EOF: the harness is done with us, or the channel is gone.
        std::process::exit(0);
    });
    let mut gone = false;
    while t0.elapsed() < deadline {
        if !gone {
            let s = sample(pid, t0.elapsed().as_secs_f64() * 1e3, false);
            if s.rss_bytes.is_some() {
                say(out, "tick", &serde_json::to_string(&s).unwrap_or_default());
            } else {
                gone = true;
                say(out, "gone", "");
            }
        }
        std::thread::sleep(crate::process::SAMPLE_EVERY);
    }
    Ok(0)
}
