//! fanout: N tasks with `async_std::task::spawn`, each awaiting `task::sleep`; the JoinHandles
//! are kept in a Vec and awaited in order after the last spawn (the sum does not depend on the
//! order tasks finish in). Each task counts itself in ([`Armed`]) immediately before awaiting its
//! timer; `spawn_ms` is when the last one did, `loop_ms` when the spawn loop returned.
//!
//! `state` keeps a real `[u8; 1024]` inside the task's future across the await, so the buffer is
//! part of the task's own allocation (`future_bytes` shows it).

use std::future::Future;
use std::io;
use std::time::Duration;

use async_std::task;
use asyncbench_common::args::{Fanout, FanoutVariant};
use asyncbench_common::clock::ms_since;
use asyncbench_common::fanout::{Armed, STATE_BYTES, fill_state, state_contribution};
use asyncbench_common::output;
use serde_json::Value;

use crate::Rt;

async fn bare(i: u64, sleep: Duration, armed: &'static Armed) -> u64 {
    armed.arm();
    task::sleep(sleep).await;
    i
}

async fn state(i: u64, sleep: Duration, armed: &'static Armed) -> u64 {
    let mut buf = [0u8; STATE_BYTES];
    fill_state(&mut buf, i);
    armed.arm();
    task::sleep(sleep).await;
    state_contribution(i, &buf)
}

pub async fn run(args: &Fanout, rt: &Rt) -> io::Result<()> {
    let d = args.sleep;
    match args.variant {
        FanoutVariant::Bare => spawn_all(args, rt, |i, a| bare(i, d, a)).await,
        FanoutVariant::State => spawn_all(args, rt, |i, a| state(i, d, a)).await,
    }
    Ok(())
}

async fn spawn_all<F: Future<Output = u64> + Send + 'static>(
    args: &Fanout,
    rt: &Rt,
    task: impl Fn(u64, &'static Armed) -> F,
) {
    output::ready(
        "fanout",
        &rt.label,
        rt.threads,
        size_of_val(&task(0, Armed::start(1))),
        Value::Null,
    );
    let mut handles = Vec::with_capacity(args.tasks as usize);
    let armed = Armed::start(args.tasks);
    for i in 0..args.tasks {
        handles.push(task::spawn(task(i, armed)));
    }
    let loop_ms = ms_since(armed.started());
    let mut checksum = 0;
    for handle in handles {
        checksum += handle.await;
    }
    let total_ms = ms_since(armed.started());
    output::fanout_result(args, checksum, armed, loop_ms, total_ms);
}
