//! asyncbench on tokio: runtime setup and dispatch, shared by three binaries (src/bin/).
//!
//! - `rust-tokio`: `Builder::new_multi_thread()` with tokio's defaults (one worker thread per
//!   available core, `TOKIO_WORKER_THREADS` overrides); `rust-tokio-ct`: `new_current_thread()`.
//!   The workload runs inside `block_on` exactly as under `#[tokio::main]`; all real work is spawned.
//! - `rust-join-all` (fanout only): the same task futures driven by `futures::future::join_all`
//!   on the current-thread runtime, without spawning (and without tokio's coop budget, fanout.rs).
//! - echo (echo.rs): a task per connection, read/`write_all` through a reused 64 KiB buffer, backlog 1024;
//!   fanout (fanout.rs): `tokio::spawn` + `tokio::time::sleep`; stream (stream.rs): one spawned task
//!   per stage linked by `tokio::sync::mpsc::channel(C)`; cancel (cancel.rs): `JoinSet::abort_all`,
//!   `tokio::time::timeout`, and `mpsc::Receiver::recv` in `select!` against a two-step receive.
//! - Flags, JSON output, clocks and checksums are runtime-independent (`asyncbench-common`).

mod cancel;
mod echo;
mod fanout;
mod stream;

use asyncbench_common::args::{self, Workload};
use asyncbench_common::clock;

const TOKIO_VERSION: &str = env!("VERSION_TOKIO");
const FUTURES_VERSION: &str = env!("VERSION_FUTURES");

/// Which binary is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    MultiThread,
    CurrentThread,
    JoinAll,
}

/// What the `ready` line reports about the runtime.
pub(crate) struct Rt {
    pub label: String,
    pub threads: usize,
}

pub fn main(flavor: Flavor) {
    clock::init();
    let workload = args::from_env();
    if flavor == Flavor::JoinAll && !matches!(workload, Workload::Fanout(_)) {
        args::usage_error(&format!(
            "workload {} is not supported (fanout only)",
            workload.name()
        ));
    }
    let mut builder = match flavor {
        Flavor::MultiThread => tokio::runtime::Builder::new_multi_thread(),
        Flavor::CurrentThread | Flavor::JoinAll => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = builder
        .enable_all()
        .build()
        .expect("cannot build the tokio runtime");
    let rt = Rt {
        label: match flavor {
            Flavor::MultiThread => format!("tokio {TOKIO_VERSION} multi-thread"),
            Flavor::CurrentThread => format!("tokio {TOKIO_VERSION} current-thread"),
            Flavor::JoinAll => format!(
                "tokio {TOKIO_VERSION} current-thread + futures {FUTURES_VERSION} join_all (no spawn, unconstrained)"
            ),
        },
        threads: runtime.metrics().num_workers(),
    };
    let outcome = runtime.block_on(async {
        match workload {
            Workload::Echo(a) => echo::run(&a, &rt).await,
            Workload::Fanout(a) if flavor == Flavor::JoinAll => fanout::run_join_all(&a, &rt).await,
            Workload::Fanout(a) => fanout::run(&a, &rt).await,
            Workload::Stream(a) => stream::run(&a, &rt).await,
            Workload::Cancel(a) => cancel::run(&a, &rt).await,
        }
    });
    if let Err(e) = outcome {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
