//! Micro-benchmarks of async runtime primitives; the criterion driver is `benches/micro.rs`
//! (`cargo bench -p asyncbench-micro`, ids `<primitive>/<implementation>`).
//!
//! Every `rt_*` module builds its runtime once (`Rt::new`) and exposes the same operations in the same
//! order, so the modules read side by side. `Rt::time(iters, op)` enters the runtime once, then awaits
//! `op()` `iters` times and returns the elapsed time measured inside the runtime, so runtime entry is
//! never timed (criterion `iter_custom`). On multi-threaded runtimes (tokio, async-std) the timed loop
//! runs in a spawned task on a worker, the way server code spawns, rather than in `block_on` on the
//! bench thread, which would add a cross-thread wake-up to every operation (criterion issue #819).
//!
//! Every runtime uses the same counts and the same channel capacity (constants below) and its own
//! idiomatic primitives: tokio::sync::mpsc, async-channel (async-std, smol), local-sync (monoio, which
//! has no channel of its own), glommio's local_channel. Values are `black_box`ed so nothing is elided.

use std::time::Duration;

/// Tasks spawned and joined by `spawn_join_1000`.
pub const SPAWN_MANY: usize = 1000;
/// Round trips per `ping_pong` iteration (two capacity-1 channels between two tasks).
pub const ROUND_TRIPS: u64 = 1000;
/// Capacity of the bounded channel in `channel`.
pub const CHANNEL_CAPACITY: usize = 64;
/// Messages (u64) sent through it per iteration.
pub const MESSAGES: u64 = 10_000;
/// Tasks in `timer_fan_in`, each sleeping `FAN_IN_SLEEP`.
pub const FAN_IN_TASKS: usize = 1000;
pub const FAN_IN_SLEEP: Duration = Duration::from_millis(1);

pub mod rt_async_std;
pub mod rt_glommio;
pub mod rt_monoio;
pub mod rt_smol;
pub mod rt_tokio;

/// Sum of `0..n`, the checksum every fan-out operation must return.
pub fn triangle(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

#[cfg(test)]
mod tests {
    //! Every operation on every runtime returns the right value (small counts, no timing).
    use super::*;

    macro_rules! check_runtime {
        ($rt:expr, $m:ident) => {{
            let (tx, rx) = std::sync::mpsc::channel();
            $rt.time(1, move || {
                let tx = tx.clone();
                async move {
                    $m::yield_now().await;
                    $m::sleep_zero().await;
                    let got = [
                        $m::spawn_one().await,
                        $m::spawn_join(100).await,
                        $m::ping_pong(50).await,
                        $m::channel(1000).await,
                        $m::timer_fan_in(100, Duration::from_millis(1)).await,
                        $m::select_ready().await,
                    ];
                    tx.send(got).unwrap();
                }
            });
            let got = rx.recv().unwrap();
            assert_eq!(
                got[..5],
                [1, triangle(100), 50, triangle(1000), triangle(100)]
            );
            assert!(got[5] == 1 || got[5] == 2);
        }};
    }

    #[test]
    fn tokio_multi_thread() {
        check_runtime!(rt_tokio::Rt::multi_thread(), rt_tokio);
    }

    #[test]
    fn tokio_current_thread() {
        check_runtime!(rt_tokio::Rt::current_thread(), rt_tokio);
    }

    #[test]
    fn async_std() {
        check_runtime!(rt_async_std::Rt::new(), rt_async_std);
    }

    #[test]
    fn smol() {
        check_runtime!(rt_smol::Rt::new(), rt_smol);
    }

    #[test]
    fn monoio() {
        if let Some(rt) = rt_monoio::Rt::new() {
            check_runtime!(rt, rt_monoio);
        }
    }

    #[test]
    fn glommio() {
        if let Some(rt) = rt_glommio::Rt::new() {
            check_runtime!(rt, rt_glommio);
        }
    }
}
