//! rust-threads: the synchronous baseline. The same workloads, flags and JSON as every async
//! implementation, done the way a program without an async runtime does them: one OS thread per
//! connection / task / pipeline stage, blocking calls, std only.
//!
//! It exists to put evidence behind the claim async runtimes are measured against: what a thread
//! per connection or per task costs (RSS, spawn time, context switches) next to a task.
//! - echo (echo.rs): the main thread accepts; one thread per connection does blocking
//!   read/`write_all` through a reused 64 KiB buffer. Backlog 1024 via the shared listener helper
//!   (`std::net::TcpListener::bind` listens with 128 and cannot be changed). Stops on SIGTERM or
//!   stdin EOF from two watcher threads (the shared helper; std has no signal API).
//! - fanout (fanout.rs): one thread per task with a 64 KiB stack, `thread::sleep`, all joined; an
//!   OS limit on threads is reported (one stderr line naming the limits, exit 1), not worked around.
//! - stream (stream.rs): source, K stages and sink each on a thread (the sink on the main
//!   thread), linked by `std::sync::mpsc::sync_channel(C)`: `send` blocks while the link is full.
//! - cancel (cancel.rs): a thread per task blocked on a `Condvar` cancelled by flag +
//!   `notify_all`; a responder thread per race and `recv_timeout`; `recv_timeout` as the only
//!   receive-or-tick (no unsafe idiom exists, `idiom_note` says so).
//! - `threads` in the ready line: the threads that run the workload's tasks (fanout N, stream
//!   K + 2, echo 1 at start: the acceptor, plus one per open connection).
//! - Flags, JSON output, clocks and checksums are shared with the async programs (`asyncbench-common`).

mod cancel;
mod echo;
mod fanout;
mod limits;
mod stream;

use asyncbench_common::args::{self, Workload};
use asyncbench_common::clock;

/// What the `ready` line names as the runtime.
const RUNTIME: &str = concat!(
    "std::thread + blocking I/O (rustc ",
    env!("VERSION_RUSTC"),
    ")"
);

/// Stack of every thread this program spawns for a connection, task or stage. std's default is
/// 2 MiB of address space; a thread-per-task program sized for many threads asks for less. Only
/// the pages a thread touches count in RSS either way; the size bounds the address space.
const STACK_BYTES: usize = 64 * 1024;

fn main() {
    clock::init();
    let outcome = match args::from_env() {
        Workload::Echo(a) => echo::run(&a),
        Workload::Fanout(a) => fanout::run(&a),
        Workload::Stream(a) => stream::run(&a),
        Workload::Cancel(a) => cancel::run(&a),
    };
    if let Err(e) = outcome {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
