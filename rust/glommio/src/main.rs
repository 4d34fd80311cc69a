//! rust-glommio: the asyncbench workloads on glommio 0.9 (thread-per-core, io_uring).
//!
//! * Runtime: one `LocalExecutor` per executor thread, built with glommio's defaults (3 rings of
//!   depth 128, 100 ms preemption timer) but for `io_memory`, the storage-DMA buffer: 64 KiB, the
//!   least glommio accepts, instead of 10 MiB (see [`IO_MEMORY`]), `Placement::Unbound`: the
//!   executors inherit the process's CPU affinity (the harness pins the server to its CPU set) and
//!   glommio does not pin them further.
//!   glommio needs RLIMIT_MEMLOCK >= 512 KiB; if the soft limit is lower the program raises it up to
//!   the hard limit itself, and `preflight` explains when even that is not enough.
//! * Executors: `ASYNCBENCH_CORES` (default 1, because the 2-core machine also runs the load generator;
//!   one executor = one core for the server, one for the client). echo with N > 1 runs N executors,
//!   each with its own `glommio::net::TcpListener` on the same port (glommio always binds with
//!   SO_REUSEPORT, so the kernel spreads connections: the standard thread-per-core server). fanout and
//!   stream always run on one executor: glommio tasks are !Send and never migrate, so there is no way
//!   to spread one task graph. `threads` in the ready line is the number of executors running tasks.
//! * IO: glommio's TcpStream via futures-lite `read` / `write_all`, one reused 64 KiB buffer per
//!   connection (read at most what is then written back = backpressure); TCP_NODELAY on.
//! * Tasks: `glommio::spawn_local` + `Task` handles; timers `glommio::timer::sleep`; channels
//!   `glommio::channels::local_channel::new_bounded` (glommio's own single-executor channel).
//! * cancel (cancel.rs): dropping `Task` handles (glommio cancels a dropped `Task`),
//!   `glommio::timer::timeout`, and `local_channel`'s `recv` against a two-step receive.
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
use glommio::{GlommioError, LocalExecutor, LocalExecutorBuilder, Placement};

pub const RUNTIME: &str = "glommio 0.9.0";

/// glommio refuses to start below this RLIMIT_MEMLOCK (glommio::sys::uring::Reactor::new).
const MIN_MEMLOCK: u64 = 512 * 1024;

/// Raise the soft RLIMIT_MEMLOCK towards the hard limit if it is below glommio's minimum.
fn raise_memlock() -> Result<(), String> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } != 0 {
        return Err(format!(
            "getrlimit(RLIMIT_MEMLOCK): {}",
            std::io::Error::last_os_error()
        ));
    }
    if lim.rlim_cur >= MIN_MEMLOCK {
        return Ok(());
    }
    let kib = |v: u64| {
        if v == libc::RLIM_INFINITY {
            "unlimited".to_string()
        } else {
            format!("{} KiB", v / 1024)
        }
    };
    if lim.rlim_max < MIN_MEMLOCK {
        return Err(format!(
            "RLIMIT_MEMLOCK is {} (hard limit {}); glommio needs at least {}: raise it with `ulimit -l unlimited` (as root) or in /etc/security/limits.conf",
            kib(lim.rlim_cur),
            kib(lim.rlim_max),
            kib(MIN_MEMLOCK)
        ));
    }
    let want = libc::rlimit {
        rlim_cur: lim.rlim_max,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &want) } != 0 {
        return Err(format!(
            "RLIMIT_MEMLOCK is {}; glommio needs at least {} and raising it failed: {}",
            kib(lim.rlim_cur),
            kib(MIN_MEMLOCK),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// glommio's storage-I/O (DMA) buffer per executor. Its default, 10 MiB, is allocated and
/// registered (pinned) with io_uring even though no workload here does file I/O: TCP streams and
/// timers never draw from it (only DMA files and UDP datagrams do), so it would add 10 MiB of RSS
/// that no other runtime carries (when registration succeeds; as non-root with a small
/// RLIMIT_MEMLOCK glommio skips it and the pages stay untouched). 64 KiB is the floor glommio
/// applies to any value (`Reactor::new`: `max(align_up(io_memory, 4096), 65536)`); the ready line
/// reports the setting.
const IO_MEMORY: usize = 64 << 10;

/// Extra `ready` fields every workload reports.
pub fn ready_extra(cores: usize) -> serde_json::Value {
    serde_json::json!({ "cores_configured": cores, "io_memory_bytes": IO_MEMORY })
}

pub fn builder(name: &str) -> LocalExecutorBuilder {
    LocalExecutorBuilder::new(Placement::Unbound)
        .name(name)
        .io_memory(IO_MEMORY)
}

/// Why an executor could not be built, in one line.
pub fn setup_failed(e: &GlommioError<()>) -> String {
    match e {
        GlommioError::IoError(io) => uring::setup_failed(io),
        other => format!(
            "glommio executor setup failed: {other} ({})",
            uring::context()
        ),
    }
}

/// An executor on the current thread, or exit 1 with the reason.
pub fn executor_or_exit() -> LocalExecutor {
    // glommio panics with a misleading "kernel too old" when io_uring is refused: check first.
    uring::probe_io_uring().unwrap_or_else(|m| uring::fatal(&m));
    raise_memlock().unwrap_or_else(|m| uring::fatal(&m));
    builder("asyncbench-0")
        .make()
        .unwrap_or_else(|e| uring::fatal(&setup_failed(&e)))
}

/// Build an executor and push one loopback connection through accept/connect/write/read, so that
/// io_uring being present but unusable (seccomp, missing opcodes) is caught too.
fn preflight() -> Result<(), String> {
    uring::probe_io_uring()?;
    raise_memlock()?;
    let ex = builder("preflight").make().map_err(|e| setup_failed(&e))?;
    ex.run(async {
        use futures_lite::{AsyncReadExt, AsyncWriteExt};
        use glommio::net::{TcpListener, TcpStream};
        let op = |what: &'static str| {
            move |e: GlommioError<()>| format!("io_uring {what} failed: {e} ({})", uring::context())
        };
        let listener = TcpListener::bind("127.0.0.1:0").map_err(op("bind"))?;
        let addr = listener.local_addr().map_err(op("bind"))?;
        let client = glommio::spawn_local(async move {
            let mut s = TcpStream::connect(addr).await?;
            s.write_all(b"ok").await?;
            Ok::<_, GlommioError<()>>(())
        });
        let mut s = listener.accept().await.map_err(op("accept"))?;
        client.await.map_err(op("connect/send"))?;
        let mut buf = [0u8; 8];
        s.read(&mut buf).await.map_err(|e| op("recv")(e.into()))?;
        glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
        Ok(())
    })
}

fn main() {
    clock::init();
    let command = uring::command_from_env();
    let cores = args::cores_from_env();
    match command {
        Command::Preflight => uring::run_preflight("glommio executor", preflight),
        Command::Run(Workload::Echo(a)) => echo::run(&a, cores),
        Command::Run(Workload::Fanout(a)) => executor_or_exit().run(fanout::run(&a, cores)),
        Command::Run(Workload::Stream(a)) => executor_or_exit().run(stream::run(&a, cores)),
        Command::Run(Workload::Cancel(a)) => executor_or_exit().run(cancel::run(&a, cores)),
    }
}
