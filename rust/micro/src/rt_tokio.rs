//! tokio: `rust-tokio` = multi-thread scheduler (default worker count = cores), `rust-tokio-ct` =
//! current-thread scheduler. Both enable the time and I/O drivers, like `#[tokio::main]`.
use std::future::{Future, ready};
use std::hint::black_box;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub struct Rt(tokio::runtime::Runtime);

impl Rt {
    pub fn multi_thread() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build();
        Rt(rt.expect("tokio multi-thread runtime"))
    }

    pub fn current_thread() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        Rt(rt.expect("tokio current-thread runtime"))
    }

    pub fn time<F, Fut>(&self, iters: u64, op: F) -> Duration
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future + Send,
        Fut::Output: Send,
    {
        let timed = self.0.spawn(async move {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(op().await);
            }
            start.elapsed()
        });
        self.0.block_on(async { timed.await.expect("timed task") })
    }
}

pub async fn spawn_one() -> u64 {
    tokio::spawn(async { black_box(1u64) }).await.unwrap()
}

pub async fn spawn_join(n: usize) -> u64 {
    let tasks: Vec<_> = (0..n as u64)
        .map(|i| tokio::spawn(async move { black_box(i) }))
        .collect();
    let mut sum = 0;
    for t in tasks {
        sum += t.await.unwrap();
    }
    sum
}

pub async fn ping_pong(round_trips: u64) -> u64 {
    let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
    let (pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
    let ponger = tokio::spawn(async move {
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
    ponger.await.unwrap();
    v
}

pub async fn channel(messages: u64) -> u64 {
    let (tx, mut rx) = mpsc::channel::<u64>(crate::CHANNEL_CAPACITY);
    let producer = tokio::spawn(async move {
        for i in 0..messages {
            tx.send(i).await.unwrap();
        }
    });
    let mut sum = 0;
    while let Some(v) = rx.recv().await {
        sum += v;
    }
    producer.await.unwrap();
    sum
}

/// tokio defers the wake-up until the scheduler has run out of ready tasks and polled the I/O and
/// timer driver (tokio/src/task/yield_now.rs), so a yield includes a driver poll (an epoll_wait).
pub async fn yield_now() {
    tokio::task::yield_now().await
}

/// tokio rounds every deadline up to the end of a 1 ms timer tick (runtime/time/source.rs), so a zero
/// sleep waits for the next tick: about 1 ms, not a no-op.
pub async fn sleep_zero() {
    tokio::time::sleep(Duration::ZERO).await
}

/// `tokio::select!` without `biased;`: branch order is randomised, as users write it.
pub async fn select_ready() -> u64 {
    tokio::select! {
        a = ready(black_box(1u64)) => a,
        b = ready(black_box(2u64)) => b,
    }
}

pub async fn timer_fan_in(tasks: usize, sleep: Duration) -> u64 {
    let handles: Vec<_> = (0..tasks as u64)
        .map(|i| {
            tokio::spawn(async move {
                tokio::time::sleep(sleep).await;
                i
            })
        })
        .collect();
    let mut sum = 0;
    for h in handles {
        sum += h.await.unwrap();
    }
    sum
}
