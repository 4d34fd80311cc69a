//! smol (`rust-smol`): one `smol::Executor` driven by the calling thread (`block_on(EX.run(..))`), so
//! every task, the timed loop included, runs on one thread; timers and channels are async-io's
//! `Timer` and async-channel. (`smol::spawn`'s global executor would run tasks on a separate thread
//! and make every operation a cross-thread wake-up.)
use smol::channel;
use smol::future::{race, ready};
use smol::{Executor, Timer};
use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

static EX: Executor<'static> = Executor::new();

pub struct Rt;

impl Rt {
    pub fn new() -> Self {
        Rt
    }

    pub fn time<F, Fut>(&self, iters: u64, op: F) -> Duration
    where
        F: Fn() -> Fut,
        Fut: Future,
    {
        smol::block_on(EX.run(async move {
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
    EX.spawn(async { black_box(1u64) }).await
}

pub async fn spawn_join(n: usize) -> u64 {
    let tasks: Vec<_> = (0..n as u64)
        .map(|i| EX.spawn(async move { black_box(i) }))
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
    let ponger = EX.spawn(async move {
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
    let producer = EX.spawn(async move {
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
    smol::future::yield_now().await
}

/// An already-elapsed timer completes on its first poll: no tick, no yield.
pub async fn sleep_zero() {
    Timer::after(Duration::ZERO).await;
}

/// futures-lite's `race`: like `tokio::select!`, the first future polled is chosen at random.
pub async fn select_ready() -> u64 {
    race(ready(black_box(1u64)), ready(black_box(2u64))).await
}

pub async fn timer_fan_in(tasks: usize, sleep: Duration) -> u64 {
    let handles: Vec<_> = (0..tasks as u64)
        .map(|i| {
            EX.spawn(async move {
                Timer::after(sleep).await;
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
