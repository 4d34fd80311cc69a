//! Process groups alive right now, so that Ctrl-C, SIGTERM or SIGHUP to the harness stops every one of
//! them and leaves no orphan behind.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Process group id → whether its leader is the launcher (which sweeps its own descendants, including
/// those that left the group with `setsid`, when it gets SIGTERM).
static GROUPS: Mutex<BTreeMap<i32, bool>> = Mutex::new(BTreeMap::new());
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

pub(super) fn register(pgid: i32, launcher: bool) {
    GROUPS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(pgid, launcher);
}

pub(super) fn unregister(pgid: i32) {
    GROUPS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&pgid);
}

/// Stops every registered child: a launcher gets SIGTERM (it SIGKILLs its program, then kills and reaps
/// every descendant, even those outside the group; SIGKILLing the launcher itself would orphan them),
/// any other group gets SIGKILL.
pub fn kill_all() {
    let groups = GROUPS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for (pgid, launcher) in groups {
        // SAFETY: kill/killpg have no memory-safety preconditions; ESRCH is fine.
        unsafe {
            if launcher {
                libc::kill(pgid, libc::SIGTERM);
            } else {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }
}

/// True once Ctrl-C (SIGINT), SIGTERM or SIGHUP reached the harness.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// On SIGINT/SIGTERM/SIGHUP: remember it, and stop every child at once so the run stops promptly; the
/// runner then writes the partial results and exits 130. A second signal exits at once (the launchers
/// still sweep their programs on their own).
pub fn install_interrupt_handler() -> anyhow::Result<()> {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    let mut result = Ok(());
    INSTALLED.call_once(|| result = set_handler());
    result
}

fn set_handler() -> anyhow::Result<()> {
    // The `termination` feature of ctrlc makes this handler also run on SIGTERM and SIGHUP.
    ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            // A second Ctrl-C: the user wants out now.
            kill_all();
            std::process::exit(130);
        }
        eprintln!(
            "\ninterrupted: stopping children and writing partial results (Ctrl-C again to quit at once)"
        );
        kill_all();
    })?;
    Ok(())
}
