//! glommio (`rust-glommio`): one `LocalExecutor` (io_uring, thread-per-core) on the calling thread,
//! unpinned. Channels are glommio's own `local_channel`; `select` uses futures-lite's `race`
//! (glommio has no select macro and builds on futures-lite itself).
use futures_lite::future::{race, ready};
use glommio::channels::local_channel;
use glommio::{LocalExecutor, LocalExecutorBuilder, Placement, spawn_local};
use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

pub struct Rt(LocalExecutor);

impl Rt {
    /// `None` where io_uring is unavailable (old kernel, seccomp): the glommio cells are then skipped.
    pub fn new() -> Option<Self> {
        match LocalExecutorBuilder::new(Placement::Unbound).make() {
            Ok(ex) => Some(Rt(ex)),
            Err(e) => {
                eprintln!("glommio: executor unavailable ({e}); skipping rust-glommio");
                None
            }
        }
    }

    pub fn time<F, Fut>(&self, iters: u64, op: F) -> Duration
    where
        F: Fn() -> Fut,
        Fut: Future,
    {
        self.0.run(async move {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(op().await);
            }
            start.elapsed()
        })
    }
}

pub async fn spawn_one() -> u64 {
    spawn_local(async { black_box(1u64) }).await
}

pub async fn spawn_join(n: usize) -> u64 {
    let tasks: Vec<_> = (0..n as u64)
        .map(|i| spawn_local(async move { black_box(i) }))
        .collect();
    let mut sum = 0;
    for t in tasks {
        sum += t.await;
    }
    sum
}

pub async fn ping_pong(round_trips: u64) -> u64 {
    let (ping_tx, ping_rx) = local_channel::new_bounded::<u64>(1);
    let (pong_tx, pong_rx) = local_channel::new_bounded::<u64>(1);
    let ponger = spawn_local(async move {
        while let Some(v) = ping_rx.recv().await {
            pong_tx.send(v + 1).await.unwrap();
        }
    });
    let mut v = 0;
    for _ in 0..round_trips {
        ping_tx.send(v).await.unwrap();
        v = pong_rx.recv().await.unwrap();
    }
    drop(ping_tx);
    ponger.await;
    v
}

pub async fn channel(messages: u64) -> u64 {
    let (tx, rx) = local_channel::new_bounded::<u64>(crate::CHANNEL_CAPACITY);
    let producer = spawn_local(async move {
        for i in 0..messages {
            tx.send(i).await.unwrap();
        }
    });
    let mut sum = 0;
    while let Some(v) = rx.recv().await {
        sum += v;
    }
    producer.await;
    sum
}

pub async fn yield_now() {
    glommio::executor().yield_now().await
}

/// An already-elapsed timer completes on its first poll: no tick, no yield.
pub async fn sleep_zero() {
    glommio::timer::sleep(Duration::ZERO).await
}

/// futures-lite's `race`: like `tokio::select!`, the first future polled is chosen at random.
pub async fn select_ready() -> u64 {
    race(ready(black_box(1u64)), ready(black_box(2u64))).await
}

pub async fn timer_fan_in(tasks: usize, sleep: Duration) -> u64 {
    let handles: Vec<_> = (0..tasks as u64)
        .map(|i| {
            spawn_local(async move {
                glommio::timer::sleep(sleep).await;
                i
            })
        })
        .collect();
    let mut sum = 0;
    for h in handles {
        sum += h.await;
    }
    sum
}
