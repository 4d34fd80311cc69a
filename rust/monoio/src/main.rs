//! rust-monoio: the asyncbench workloads on monoio 0.2 (thread-per-core, io_uring).
//!
//! * Runtime: `RuntimeBuilder::<IoUringDriver>` with the timer enabled, 1024 ring entries (monoio's
//!   default), one runtime per executor thread. The `legacy` (epoll) driver is compiled out, so a
//!   machine without io_uring fails `preflight` instead of silently benchmarking epoll.
//! * Executors: `ASYNCBENCH_CORES` (default 1, because the 2-core machine also runs the load generator;
//!   one executor = one core for the server, one for the client). echo with N > 1 runs N threads, each
//!   with its own runtime and its own SO_REUSEPORT listener on the same port, so the kernel spreads
//!   connections (the standard thread-per-core server). fanout and stream always run on one executor:
//!   monoio tasks are !Send and never migrate, so there is no way to spread one task graph. `threads`
//!   in the ready line is the number of executors that actually run tasks.
//! * IO: the owned-buffer ("rent") API, `read(Vec)` / `write_all(Vec)`, one reused 64 KiB buffer per
//!   connection (read at most what is then written back = backpressure); TCP_NODELAY on.
//! * Tasks: `monoio::spawn` + `JoinHandle`; timers `monoio::time::sleep`; channels
//!   `local_sync::mpsc::bounded` (monoio has no channel; local-sync is the !Send, atomics-free channel
//!   crate by monoio's authors, the counterpart of glommio's `local_channel`; async-channel would add
//!   Send-grade locking that a single-threaded executor never needs).
//! * cancel (cancel.rs): monoio cannot cancel a spawned task (no abort; dropping a `JoinHandle`
//!   detaches), so mass cancellation is a per-task `local_sync::oneshot` signal raced in
//!   `monoio::select!`; `monoio::time::timeout`; local-sync's `recv` against a two-step receive.
//! * Shutdown (echo): plain std threads wait for SIGTERM (signal-hook) and stdin EOF, then exit(0).
//! * Flags, JSON output, clocks, checksums, `ASYNCBENCH_CORES`, preflight diagnostics and shutdown are
//!   runtime-independent (`asyncbench-common`, its `uring` module for the io_uring parts).

mod cancel;
mod echo;
mod fanout;
mod stream;

use asyncbench_common::args::{self, Workload};
use asyncbench_common::clock;
use asyncbench_common::uring::{self, Command};
use monoio::time::TimeDriver;
use monoio::{IoUringDriver, Runtime, RuntimeBuilder};

pub const RUNTIME: &str = "monoio 0.2.4 io_uring";

pub type Rt = Runtime<TimeDriver<IoUringDriver>>;

/// One executor: an io_uring runtime with timers.
pub fn runtime() -> std::io::Result<Rt> {
    RuntimeBuilder::<IoUringDriver>::new()
        .enable_timer()
        .build()
}

/// A runtime for the current thread, or exit 1 with the reason.
pub fn runtime_or_exit() -> Rt {
    runtime().unwrap_or_else(|e| uring::fatal(&uring::setup_failed(&e)))
}

/// Build a runtime and push one loopback connection through accept/connect/write/read, so that
/// io_uring being present but unusable (seccomp, missing opcodes) is caught too.
fn preflight() -> Result<(), String> {
    uring::probe_io_uring()?;
    let mut rt = runtime().map_err(|e| uring::setup_failed(&e))?;
    rt.block_on(async {
        use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
        let op = |what: &'static str| move |e: std::io::Error| uring::op_failed(what, &e);
        let listener = monoio::net::TcpListener::bind("127.0.0.1:0").map_err(op("bind"))?;
        let addr = listener.local_addr().map_err(op("bind"))?;
        let client = monoio::spawn(async move {
            let mut s = monoio::net::TcpStream::connect(addr).await?;
            s.write_all(b"ok".to_vec()).await.0.map(|_| ())
        });
        let (mut s, _) = listener.accept().await.map_err(op("accept"))?;
        client.await.map_err(op("connect/send"))?;
        let (n, _) = s.read(Vec::with_capacity(8)).await;
        n.map_err(op("recv"))?;
        monoio::time::sleep(std::time::Duration::from_millis(1)).await;
        Ok(())
    })
}

fn main() {
    clock::init();
    let command = uring::command_from_env();
    let cores = args::cores_from_env();
    match command {
        Command::Preflight => uring::run_preflight("monoio io_uring runtime", preflight),
        Command::Run(Workload::Echo(a)) => echo::run(&a, cores),
        Command::Run(Workload::Fanout(a)) => runtime_or_exit().block_on(fanout::run(&a, cores)),
        Command::Run(Workload::Stream(a)) => runtime_or_exit().block_on(stream::run(&a, cores)),
        Command::Run(Workload::Cancel(a)) => runtime_or_exit().block_on(cancel::run(&a, cores)),
    }
}
