//! async-std (`rust-async-std`): its global multi-threaded executor (one worker per core); channels
//! are `async_std::channel` (async-channel). async-std is discontinued in favour of smol but still
//! widely deployed, so it stays in the comparison.
use async_std::channel;
use async_std::task;
use futures_lite::future::{race, ready};
use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

pub struct Rt;

impl Rt {
    pub fn new() -> Self {
        // The global executor starts lazily; start it here so its threads are not timed.
        task::block_on(task::spawn(async {}));
        Rt
    }

    pub fn time<F, Fut>(&self, iters: u64, op: F) -> Duration
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future + Send,
        Fut::Output: Send,
    {
        task::block_on(task::spawn(async move {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(op().await);
            }
            start.elapsed()
        }))
    }
}

impl Default for Rt {
    fn default() -> Self {
        Self::new()
    }
}

pub async fn spawn_one() -> u64 {
    task::spawn(async { black_box(1u64) }).await
}

pub async fn spawn_join(n: usize) -> u64 {
    let tasks: Vec<_> = (0..n as u64)
        .map(|i| task::spawn(async move { black_box(i) }))
        .collect();
    let mut sum = 0;
    for t in tasks {
        sum += t.await;
    }
    sum
}

pub async fn ping_pong(round_trips: u64) -> u64 {
    let (ping_tx, ping_rx) = channel::bounded::<u64>(1);
    let (pong_tx, pong_rx) = channel::bounded::<u64>(1);
    let ponger = task::spawn(async move {
        while let Ok(v) = ping_rx.recv().await {
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
    let (tx, rx) = channel::bounded::<u64>(crate::CHANNEL_CAPACITY);
    let producer = task::spawn(async move {
        for i in 0..messages {
            tx.send(i).await.unwrap();
        }
    });
    let mut sum = 0;
    while let Ok(v) = rx.recv().await {
        sum += v;
    }
    producer.await;
    sum
}

pub async fn yield_now() {
    task::yield_now().await
}

/// An already-elapsed timer completes on its first poll: no tick, no yield.
pub async fn sleep_zero() {
    task::sleep(Duration::ZERO).await
}

/// async-std's own `FutureExt::race` needs its `unstable` feature; futures-lite's `race` (a dependency
/// of async-std) is the stable equivalent and, like `tokio::select!`, picks the first poll at random.
pub async fn select_ready() -> u64 {
    race(ready(black_box(1u64)), ready(black_box(2u64))).await
}

pub async fn timer_fan_in(tasks: usize, sleep: Duration) -> u64 {
    let handles: Vec<_> = (0..tasks as u64)
        .map(|i| {
            task::spawn(async move {
                task::sleep(sleep).await;
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
