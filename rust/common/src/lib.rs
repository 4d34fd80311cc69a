//! Runtime-independent code shared by every Rust implementation (tokio, async-std, smol, monoio,
//! glommio).
//!
//! Everything here is plain synchronous Rust so that the runtime crates contain only what
//! differs between runtimes: how tasks are spawned, how timers, channels and sockets are used.
//! - [`args`]: the protocol's command line (`<workload> --flag value ...`) and `ASYNCBENCH_CORES`,
//!   one-line errors, exit 2.
//! - [`output`]: the JSON lines on stdout (`ready`, `result`), flushed line by line.
//! - [`clock`]: a process-wide monotonic origin and millisecond/nanosecond helpers.
//! - [`fanout`]: the `state` buffer fill/sum and the expected checksums.
//! - [`stream`]: the item type, the stage transform, the sink's checksum fold.
//! - [`cancel`]: the cancel workload's countdown latch, cleanup guard, splitmix64 sequence and
//!   expected values.
//! - [`echo`]: the echo backlog and buffer size, and a loopback listener with that backlog.
//! - [`on_stdin_eof`]: the echo server's "stop when stdin closes" watcher;
//!   [`exit_on_sigterm_or_stdin_eof`]: the whole shutdown for servers without a signal API
//!   (monoio, glommio, rust-threads).
//! - [`future_size`]: a future's size from its async fn's type.
//! - [`available_cores`], [`threads_from_env`]: default worker-thread counts (both follow the CPU
//!   affinity: `available_parallelism` is `sched_getaffinity` on Linux); [`threads_named`]: the
//!   worker threads a runtime really started.
//! - [`uring`]: for the io_uring thread-per-core runtimes (monoio, glommio): `preflight`, fatal
//!   errors, io_uring diagnostics.

pub mod args;
pub mod cancel;
pub mod clock;
pub mod echo;
pub mod fanout;
pub mod output;
pub mod stream;
pub mod uring;

/// Calls `on_eof` once stdin reaches end-of-file (or fails), from a plain blocking thread.
///
/// A dedicated OS thread is the simplest portable way to wait for stdin without involving (and
/// blocking the shutdown of) any async runtime; the thread is simply abandoned at process exit.
pub fn on_stdin_eof(on_eof: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .name("stdin-eof".into())
        .spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            on_eof();
        })
        .expect("cannot spawn the stdin watcher thread");
}

/// Exits the process with status 0 on SIGTERM or at stdin EOF, whichever comes first, from plain
/// threads (signal-hook's iterator runs the handler-safe part; the thread calls `exit`). For
/// servers with no async signal API or no state to flush; exits 1 if the handler cannot be set.
pub fn exit_on_sigterm_or_stdin_eof() {
    let mut signals = match signal_hook::iterator::Signals::new([signal_hook::consts::SIGTERM]) {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("cannot install SIGTERM handler: {e}");
            std::process::exit(1);
        }
    };
    std::thread::Builder::new()
        .name("sigterm".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                std::process::exit(0);
            }
        })
        .expect("cannot spawn the SIGTERM watcher thread");
    on_stdin_eof(|| std::process::exit(0));
}

/// `size_of` the future that a one-argument async fn returns, without calling it: the number
/// `std::mem::size_of_val` gives for any such future (used for the echo handler, whose argument, a
/// connected socket, does not exist yet when `ready` is printed).
pub fn future_size<A, F: std::future::Future>(_async_fn: impl FnOnce(A) -> F) -> usize {
    std::mem::size_of::<F>()
}

/// The number of CPUs this process may run on (the usual default for worker threads).
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// How many of this process's threads carry the name `name` (as the kernel keeps it: the first 15
/// bytes), from /proc/self/task: the worker count a runtime actually started, for runtimes that
/// size their pool internally (async-std). 0 where /proc is unavailable.
pub fn threads_named(name: &str) -> usize {
    let name = &name.as_bytes()[..name.len().min(15)];
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.strip_suffix(b"\n").unwrap_or(comm) == name)
        .count()
}

/// [`threads_named`] once it reaches `expected` or `timeout` has passed, whichever comes first: a
/// runtime's worker threads name themselves only once they run, shortly after their pool started.
pub fn threads_named_settled(name: &str, expected: usize, timeout: std::time::Duration) -> usize {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let n = threads_named(name);
        if n >= expected || std::time::Instant::now() >= deadline {
            return n;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// The worker-thread count a runtime takes from the environment variable `var` (e.g. `SMOL_THREADS`),
/// else [`available_cores`]; at least 1. The rule async-global-executor and smol's examples apply.
pub fn threads_from_env(var: &str) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(available_cores)
        .max(1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_threads_by_their_truncated_name() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let rx = rx.clone();
                std::thread::Builder::new()
                    .name("asyncbench-named-worker".into())
                    .spawn(move || {
                        let _ = rx.lock().unwrap().recv();
                    })
                    .unwrap()
            })
            .collect();
        // Threads name themselves once running: wait for that, then compare by the kernel's 15 bytes.
        let timeout = std::time::Duration::from_secs(10);
        let name = "asyncbench-named-worker";
        assert_eq!(super::threads_named_settled(name, 3, timeout), 3);
        assert_eq!(
            super::threads_named("asyncbench-name-other"),
            3,
            "same first 15 bytes"
        );
        assert_eq!(
            super::threads_named("asyncbench-nam"),
            0,
            "whole names, not prefixes"
        );
        drop(tx);
        threads.into_iter().for_each(|t| t.join().unwrap());
    }

    #[test]
    fn future_size_matches_size_of_val() {
        async fn keeps(buf: [u8; 100]) -> u8 {
            std::future::ready(()).await;
            buf[0]
        }
        let fut = keeps([0; 100]);
        assert_eq!(super::future_size(keeps), std::mem::size_of_val(&fut));
        assert!(
            super::future_size(keeps) > 100,
            "the buffer lives in the future"
        );
    }
}
