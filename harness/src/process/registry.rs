//! Process groups alive right now, so that Ctrl-C (or SIGTERM to the harness) kills every one of them
//! and leaves no orphan behind.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

pub(super) fn register(pgid: i32) {
    GROUPS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(pgid);
}

pub(super) fn unregister(pgid: i32) {
    GROUPS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&pgid);
}

/// Kills every registered process group with SIGKILL.
pub fn kill_all() {
    let groups = GROUPS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for pgid in groups {
        // SAFETY: killpg has no memory-safety preconditions; ESRCH is fine.
        unsafe { libc::killpg(pgid, libc::SIGKILL) };
    }
}

/// True once Ctrl-C (SIGINT) or SIGTERM reached the harness.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// On SIGINT/SIGTERM: remember it, and kill every child group at once so the run stops promptly; the
/// runner then writes the partial results and exits.
pub fn install_interrupt_handler() -> anyhow::Result<()> {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    let mut result = Ok(());
    INSTALLED.call_once(|| result = set_handler());
    result
}

fn set_handler() -> anyhow::Result<()> {
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
