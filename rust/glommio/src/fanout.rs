//! fanout: N `glommio::spawn_local`ed tasks on one executor, joined through their `Task` handles.

use asyncbench_common::args::{Fanout, FanoutVariant};
use asyncbench_common::clock::ms_since;
use asyncbench_common::fanout::{STATE_BYTES, fill_state, state_contribution};
use asyncbench_common::output;
use glommio::timer::sleep;
use std::time::{Duration, Instant};

async fn bare(i: u64, d: Duration) -> u64 {
    sleep(d).await;
    i
}

async fn state(i: u64, d: Duration) -> u64 {
    // The 1 KiB buffer lives in the task's own future (its heap allocation), across the await.
    let mut buf = [0u8; STATE_BYTES];
    fill_state(&mut buf, i);
    sleep(d).await;
    state_contribution(i, &buf)
}

pub async fn run(a: &Fanout, cores: usize) {
    let d = a.sleep;
    let future_bytes = match a.variant {
        FanoutVariant::Bare => size_of_val(&bare(0, d)),
        FanoutVariant::State => size_of_val(&state(0, d)),
    };
    let extra = crate::ready_extra(cores);
    output::ready("fanout", crate::RUNTIME, 1, future_bytes, extra);

    let t0 = Instant::now();
    let tasks: Vec<_> = match a.variant {
        FanoutVariant::Bare => (0..a.tasks)
            .map(|i| glommio::spawn_local(bare(i, d)))
            .collect(),
        FanoutVariant::State => (0..a.tasks)
            .map(|i| glommio::spawn_local(state(i, d)))
            .collect(),
    };
    let spawn_ms = ms_since(t0);
    let mut checksum = 0u64;
    for t in tasks {
        checksum += t.await;
    }
    output::fanout_result(a, checksum, spawn_ms, ms_since(t0));
}
