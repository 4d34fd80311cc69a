//! monoio (`rust-monoio`): one thread-per-core runtime on the calling thread, io_uring driver with
//! the timer enabled. monoio has no channel (local-sync's !Send bounded mpsc, from the same authors,
//! is used, as in rust/monoio) and no `yield_now` (futures-lite's, which wakes itself and returns
//! `Pending` once, is used).
use futures_lite::future::ready;
use local_sync::mpsc::bounded as mpsc;
use monoio::time::TimeDriver;
use monoio::{IoUringDriver, RuntimeBuilder};
use std::cell::RefCell;
use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

pub struct Rt(RefCell<monoio::Runtime<TimeDriver<IoUringDriver>>>);

impl Rt {
    /// `None` where io_uring is unavailable (old kernel, seccomp): the monoio cells are then skipped.
    pub fn new() -> Option<Self> {
        match RuntimeBuilder::<IoUringDriver>::new()
            .enable_timer()
            .build()
        {
            Ok(rt) => Some(Rt(RefCell::new(rt))),
            Err(e) => {
                eprintln!("monoio: io_uring runtime unavailable ({e}); skipping rust-monoio");
                None
            }
        }
    }

    pub fn time<F, Fut>(&self, iters: u64, op: F) -> Duration
    where
        F: Fn() -> Fut,
        Fut: Future,
    {
        self.0.borrow_mut().block_on(async move {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(op().await);
            }
            start.elapsed()
        })
    }
}

pub async fn spawn_one() -> u64 {
    monoio::spawn(async { black_box(1u64) }).await
}

pub async fn spawn_join(n: usize) -> u64 {
    let tasks: Vec<_> = (0..n as u64)
        .map(|i| monoio::spawn(async move { black_box(i) }))
        .collect();
    let mut sum = 0;
    for t in tasks {
        sum += t.await;
    }
    sum
}

pub async fn ping_pong(round_trips: u64) -> u64 {
    let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
    let (pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
    let ponger = monoio::spawn(async move {
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
    let (tx, mut rx) = mpsc::channel::<u64>(crate::CHANNEL_CAPACITY);
    let producer = monoio::spawn(async move {
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
    futures_lite::future::yield_now().await
}

/// monoio's timer is tokio's design (1 ms ticks, deadlines rounded up): a zero sleep waits ~1 ms.
pub async fn sleep_zero() {
    monoio::time::sleep(Duration::ZERO).await
}

/// `monoio::select!` is tokio's macro ported: branch order is randomised.
pub async fn select_ready() -> u64 {
    monoio::select! {
        a = ready(black_box(1u64)) => a,
        b = ready(black_box(2u64)) => b,
    }
}

pub async fn timer_fan_in(tasks: usize, sleep: Duration) -> u64 {
    let handles: Vec<_> = (0..tasks as u64)
        .map(|i| {
            monoio::spawn(async move {
                monoio::time::sleep(sleep).await;
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
