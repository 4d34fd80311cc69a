//! asyncbench on async-std 1.13: runtime setup and dispatch.
//!
//! async-std is discontinued upstream (its maintainers point to smol, which it is built on); it is
//! measured because it is still widely deployed. It has no runtime builder: tasks run on its global
//! executor (async-global-executor, one thread per available core; `ASYNC_STD_THREAD_COUNT`
//! overrides), and `task::block_on` drives the top-level future on the main thread, as
//! `#[async_std::main]` does; all real work is spawned with `task::spawn`.
//! - echo (echo.rs): a task per connection, read/`write_all` through a reused 16 KiB buffer;
//!   SIGTERM via `async-signal` (async-std has no signal API).
//! - fanout (fanout.rs): `task::spawn` + `task::sleep`.
//! - stream (stream.rs): one spawned task per stage, linked by `async_channel::bounded(C)` (async-std's
//!   own channel was the same crate re-exported, and is unstable-only).
//! - Flags, JSON output, clocks and checksums are runtime-independent (`asyncbench-common`).

mod echo;
mod fanout;
mod stream;

use asyncbench_common::args::{self, Workload};
use asyncbench_common::{clock, threads_from_env};

/// What the `ready` line reports about the runtime.
struct Rt {
    label: String,
    threads: usize,
}

fn main() {
    clock::init();
    let workload = args::from_env();
    // The same rule async-std applies when it starts its executor threads.
    let threads = threads_from_env("ASYNC_STD_THREAD_COUNT");
    let rt = Rt {
        label: format!(
            "async-std {} (async-global-executor {}, {threads} threads)",
            env!("VERSION_ASYNC_STD"),
            env!("VERSION_ASYNC_GLOBAL_EXECUTOR")
        ),
        threads,
    };
    let outcome = async_std::task::block_on(async {
        match workload {
            Workload::Echo(a) => echo::run(&a, &rt).await,
            Workload::Fanout(a) => fanout::run(&a, &rt).await,
            Workload::Stream(a) => stream::run(&a, &rt).await,
        }
    });
    if let Err(e) = outcome {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
