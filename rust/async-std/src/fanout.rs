//! fanout: N tasks with `async_std::task::spawn`, each awaiting `task::sleep`; the JoinHandles
//! are kept in a Vec and awaited in order after the last spawn (the sum does not depend on the
//! order tasks finish in, and every timer is already running).
//!
//! `state` keeps a real `[u8; 1024]` inside the task's future across the await, so the buffer is
//! part of the task's own allocation (`future_bytes` shows it).

use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

use async_std::task;
use asyncbench_common::args::{Fanout, FanoutVariant};
use asyncbench_common::clock::ms_since;
use asyncbench_common::fanout::{STATE_BYTES, fill_state, state_contribution};
use asyncbench_common::output;
use serde_json::Value;

use crate::Rt;

async fn bare(i: u64, sleep: Duration) -> u64 {
    task::sleep(sleep).await;
    i
}

async fn state(i: u64, sleep: Duration) -> u64 {
    let mut buf = [0u8; STATE_BYTES];
    fill_state(&mut buf, i);
    task::sleep(sleep).await;
    state_contribution(i, &buf)
}

pub async fn run(args: &Fanout, rt: &Rt) -> io::Result<()> {
    let d = args.sleep;
    match args.variant {
        FanoutVariant::Bare => spawn_all(args, rt, |i| bare(i, d)).await,
        FanoutVariant::State => spawn_all(args, rt, |i| state(i, d)).await,
    }
    Ok(())
}

async fn spawn_all<F: Future<Output = u64> + Send + 'static>(
    args: &Fanout,
    rt: &Rt,
    task: impl Fn(u64) -> F,
) {
    output::ready(
        "fanout",
        &rt.label,
        rt.threads,
        size_of_val(&task(0)),
        Value::Null,
    );
    let mut handles = Vec::with_capacity(args.tasks as usize);
    let start = Instant::now();
    for i in 0..args.tasks {
        handles.push(task::spawn(task(i)));
    }
    let spawn_ms = ms_since(start);
    let mut checksum = 0;
    for handle in handles {
        checksum += handle.await;
    }
    output::fanout_result(args, checksum, spawn_ms, ms_since(start));
}
