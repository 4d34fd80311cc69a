//! fanout: one OS thread per task (64 KiB stack), each `thread::sleep`ing, all joined in order.
//!
//! Each thread counts itself in ([`Armed`]) immediately before its sleep; `spawn_ms` is when the
//! last one did, `loop_ms` when the spawn loop returned. `state` keeps its `[u8; 1024]` on the
//! thread's own stack across the sleep (`black_box` stops the optimiser from folding the buffer's
//! known sum away, which it could do here, unlike in a future held across an await).
//!
//! When the OS refuses a thread, the program prints one stderr line naming the index and the OS
//! limits on threads ([`crate::limits`]) and exits 1: that limit is the finding. A fan-out that
//! would take the machine's last pids (`kernel.pid_max`, `kernel.threads-max` are system-wide) is
//! refused the same way before the first spawn, so that other processes can still fork.

use std::hint::black_box;
use std::io;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use asyncbench_common::args::{Fanout, FanoutVariant};
use asyncbench_common::clock::ms_since;
use asyncbench_common::fanout::{Armed, STATE_BYTES, fill_state, state_contribution};
use asyncbench_common::output;
use serde_json::json;

use crate::{RUNTIME, STACK_BYTES, limits};

fn bare(i: u64, sleep: Duration, armed: &Armed) -> u64 {
    armed.arm();
    thread::sleep(sleep);
    i
}

fn state(i: u64, sleep: Duration, armed: &Armed) -> u64 {
    let mut buf = [0u8; STATE_BYTES];
    fill_state(&mut buf, i);
    black_box(&mut buf);
    armed.arm();
    thread::sleep(sleep);
    state_contribution(i, &buf)
}

pub fn run(args: &Fanout) -> io::Result<()> {
    if let Err(msg) = limits::check_pid_headroom(args.tasks) {
        eprintln!("{msg}");
        std::process::exit(1);
    }
    let extra = json!({ "stack_bytes": STACK_BYTES });
    output::ready_without_futures("fanout", RUNTIME, args.tasks as usize, extra);
    let d = args.sleep;
    let task: fn(u64, Duration, &Armed) -> u64 = match args.variant {
        FanoutVariant::Bare => bare,
        FanoutVariant::State => state,
    };
    let mut handles: Vec<JoinHandle<u64>> = Vec::with_capacity(args.tasks as usize);
    let armed = Armed::start(args.tasks);
    for i in 0..args.tasks {
        let spawned = thread::Builder::new()
            .stack_size(STACK_BYTES)
            .spawn(move || task(i, d, armed));
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(e) => {
                eprintln!("{}", limits::spawn_failed(i, args.tasks, &e));
                std::process::exit(1);
            }
        }
    }
    let loop_ms = ms_since(armed.started());
    let mut checksum = 0;
    for (i, handle) in handles.into_iter().enumerate() {
        match handle.join() {
            Ok(contribution) => checksum += contribution,
            // A thread that started can still be refused its signal stack by the same limits (std
            // then panics in it): report it like a refused spawn.
            Err(_) => {
                let e = io::Error::other("the thread died at start-up");
                eprintln!("{}", limits::spawn_failed(i as u64, args.tasks, &e));
                std::process::exit(1);
            }
        }
    }
    let total_ms = ms_since(armed.started());
    output::fanout_result(args, checksum, armed, loop_ms, total_ms);
    Ok(())
}
