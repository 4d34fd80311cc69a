//! asyncbench on async-std 1.13: runtime setup and dispatch.
//!
//! async-std is discontinued upstream (its maintainers point to smol, which it is built on); it is
//! measured because it is still widely deployed. It has no runtime builder: tasks run on its global
//! executor (async-global-executor, one thread per available core, i.e. per CPU in the process's
//! affinity mask; `ASYNC_STD_THREAD_COUNT` overrides), and `task::block_on` drives the top-level
//! future on the main thread, as `#[async_std::main]` does; all real work is spawned with
//! `task::spawn`. `threads` counts the executor threads actually running (by their name).
//! - echo (echo.rs): a task per connection, read/`write_all` through a reused 64 KiB buffer,
//!   backlog 1024; SIGTERM via `async-signal` (async-std has no signal API).
//! - fanout (fanout.rs): `task::spawn` + `task::sleep`.
//! - stream (stream.rs): one spawned task per stage, linked by `async_channel::bounded(C)` (async-std's
//!   own channel was the same crate re-exported, and is unstable-only).
//! - cancel (cancel.rs): `JoinHandle::cancel` for every task at once (dropping a handle only
//!   detaches), `future::timeout`, and async-channel's cancel-safe `recv` against a two-step receive.
//! - Flags, JSON output, clocks and checksums are runtime-independent (`asyncbench-common`).

mod cancel;
mod echo;
mod fanout;
mod stream;

use std::time::Duration;

use asyncbench_common::args::{self, Workload};
use asyncbench_common::{clock, threads_from_env, threads_named_settled};

/// The name async-std gives its executor threads (`ASYNC_STD_THREAD_NAME` unset).
const EXECUTOR_THREAD_NAME: &str = "async-std/runtime";

/// What the `ready` line reports about the runtime.
struct Rt {
    label: String,
    threads: usize,
}

fn main() {
    clock::init();
    let workload = args::from_env();
    let outcome = async_std::task::block_on(async {
        // block_on has started the global executor; count the threads it really runs, once as
        // many as its sizing rule (async-global-executor's config.rs) says have named themselves.
        let expected = threads_from_env("ASYNC_STD_THREAD_COUNT");
        let threads = threads_named_settled(EXECUTOR_THREAD_NAME, expected, Duration::from_secs(1));
        let rt = Rt {
            label: format!(
                "async-std {} (async-global-executor {}, {threads} threads)",
                env!("VERSION_ASYNC_STD"),
                env!("VERSION_ASYNC_GLOBAL_EXECUTOR")
            ),
            threads,
        };
        let rt = &rt;
        match workload {
            Workload::Echo(a) => echo::run(&a, rt).await,
            Workload::Fanout(a) => fanout::run(&a, rt).await,
            Workload::Stream(a) => stream::run(&a, rt).await,
            Workload::Cancel(a) => cancel::run(&a, rt).await,
        }
    });
    if let Err(e) = outcome {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
