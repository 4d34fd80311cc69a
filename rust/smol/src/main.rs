//! asyncbench on smol 2: runtime setup and dispatch.
//!
//! smol's global `smol::spawn` executor runs on a single thread unless `SMOL_THREADS` is set, and
//! smol's docs advise creating your own `Executor` for real programs. So, as the async-executor docs
//! and smol's examples show, one static `Executor` is run by one thread per available core, i.e.
//! per CPU in the process's affinity mask (`available_parallelism`; `SMOL_THREADS` overrides; the
//! count in `threads` is the threads this program starts, the main thread included): the main thread runs the workload inside `block_on(EX.run(..))` and
//! the other threads run `block_on(EX.run(shutdown))` until the workload is done. `smol::block_on`
//! (async-io's) lets whichever thread is idle drive the I/O reactor and timers.
//! - echo (echo.rs): a task per connection, read/`write_all` through a reused 64 KiB buffer,
//!   backlog 1024; SIGTERM via `async-signal` (smol-rs's signal crate).
//! - fanout (fanout.rs): `EX.spawn` + `smol::Timer::after`.
//! - stream (stream.rs): one spawned task per stage, linked by `smol::channel::bounded(C)`
//!   (async-channel).
//! - cancel (cancel.rs): dropping `Task` handles, `or` with `Timer::after` as the timeout, and
//!   async-channel's cancel-safe `recv` against a two-step receive.
//! - Flags, JSON output, clocks and checksums are runtime-independent (`asyncbench-common`).

mod cancel;
mod echo;
mod fanout;
mod stream;

use std::future::Future;

use asyncbench_common::args::{self, Workload};
use asyncbench_common::{clock, threads_from_env};
use smol::{Executor, Task};

/// The one executor every thread runs.
static EX: Executor<'static> = Executor::new();

/// Spawns a task on [`EX`].
fn spawn<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> Task<T> {
    EX.spawn(future)
}

/// What the `ready` line reports about the runtime.
struct Rt {
    label: String,
    threads: usize,
}

fn main() {
    clock::init();
    let workload = args::from_env();
    let threads = threads_from_env("SMOL_THREADS");
    let rt = Rt {
        label: format!(
            "smol {} (async-executor {}, {threads} threads)",
            env!("VERSION_SMOL"),
            env!("VERSION_ASYNC_EXECUTOR")
        ),
        threads,
    };
    let (shutdown_tx, shutdown_rx) = smol::channel::bounded::<()>(1);
    let outcome = std::thread::scope(|scope| {
        for n in 1..threads {
            let shutdown = shutdown_rx.clone();
            std::thread::Builder::new()
                .name(format!("smol-{n}"))
                .spawn_scoped(scope, move || smol::block_on(EX.run(shutdown.recv())))
                .expect("cannot spawn an executor thread");
        }
        let outcome = smol::block_on(EX.run(async {
            match workload {
                Workload::Echo(a) => echo::run(&a, &rt).await,
                Workload::Fanout(a) => fanout::run(&a, &rt).await,
                Workload::Stream(a) => stream::run(&a, &rt).await,
                Workload::Cancel(a) => cancel::run(&a, &rt).await,
            }
        }));
        drop(shutdown_tx); // closing the channel ends every other thread's `run`
        outcome
    });
    if let Err(e) = outcome {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
