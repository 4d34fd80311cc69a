//! fanout: N `glommio::spawn_local`ed tasks on one executor, joined through their `Task` handles.
//! Each task counts itself in ([`Armed`]) immediately before awaiting its timer: `spawn_ms` is
//! when the last one did (they first run once this task awaits), `loop_ms` when the loop returned.

use asyncbench_common::args::{Fanout, FanoutVariant};
use asyncbench_common::clock::ms_since;
use asyncbench_common::fanout::{Armed, STATE_BYTES, fill_state, state_contribution};
use asyncbench_common::output;
use glommio::timer::sleep;
use std::time::Duration;

async fn bare(i: u64, d: Duration, armed: &'static Armed) -> u64 {
    armed.arm();
    sleep(d).await;
    i
}

async fn state(i: u64, d: Duration, armed: &'static Armed) -> u64 {
    // The 1 KiB buffer lives in the task's own future (its heap allocation), across the await.
    let mut buf = [0u8; STATE_BYTES];
    fill_state(&mut buf, i);
    armed.arm();
    sleep(d).await;
    state_contribution(i, &buf)
}

pub async fn run(a: &Fanout, cores: usize) {
    let d = a.sleep;
    let future_bytes = match a.variant {
        FanoutVariant::Bare => size_of_val(&bare(0, d, Armed::start(1))),
        FanoutVariant::State => size_of_val(&state(0, d, Armed::start(1))),
    };
    let extra = crate::ready_extra(cores);
    output::ready("fanout", crate::RUNTIME, 1, future_bytes, extra);

    let armed = Armed::start(a.tasks);
    let tasks: Vec<_> = match a.variant {
        FanoutVariant::Bare => (0..a.tasks)
            .map(|i| glommio::spawn_local(bare(i, d, armed)))
            .collect(),
        FanoutVariant::State => (0..a.tasks)
            .map(|i| glommio::spawn_local(state(i, d, armed)))
            .collect(),
    };
    let loop_ms = ms_since(armed.started());
    let mut checksum = 0u64;
    for t in tasks {
        checksum += t.await;
    }
    let total_ms = ms_since(armed.started());
    output::fanout_result(a, checksum, armed, loop_ms, total_ms);
}
