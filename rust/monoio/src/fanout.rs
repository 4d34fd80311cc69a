//! fanout: N `monoio::spawn`ed tasks on one executor, joined through their `JoinHandle`s.

use crate::cli::{self, FanoutArgs, FanoutVariant};
use monoio::time::sleep;
use std::time::{Duration, Instant};

async fn bare(i: u64, d: Duration) -> u64 {
    sleep(d).await;
    i
}

async fn state(i: u64, d: Duration) -> u64 {
    // The 1 KiB buffer lives in the task's own future (its heap allocation), across the await.
    let mut buf = [0u8; 1024];
    cli::fill(&mut buf, i);
    sleep(d).await;
    i + buf.iter().map(|&b| u64::from(b)).sum::<u64>()
}

pub async fn run(a: FanoutArgs, cores: usize) {
    let d = Duration::from_millis(a.sleep_ms);
    let future_bytes = match a.variant {
        FanoutVariant::Bare => std::mem::size_of_val(&bare(0, d)),
        FanoutVariant::State => std::mem::size_of_val(&state(0, d)),
    };
    let extra = format!(",\"cores_configured\":{cores}");
    cli::ready("fanout", None, crate::RUNTIME, 1, future_bytes, &extra);

    let t0 = Instant::now();
    let handles: Vec<_> = match a.variant {
        FanoutVariant::Bare => (0..a.tasks).map(|i| monoio::spawn(bare(i, d))).collect(),
        FanoutVariant::State => (0..a.tasks).map(|i| monoio::spawn(state(i, d))).collect(),
    };
    let spawn_ms = cli::ms_since(t0);
    let mut checksum = 0u64;
    for h in handles {
        checksum += h.await;
    }
    cli::fanout_result(a.tasks, checksum, spawn_ms, cli::ms_since(t0));
}
