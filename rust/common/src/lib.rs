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
//! - [`on_stdin_eof`]: the echo server's "stop when stdin closes" watcher.
//! - [`future_size`]: a future's size from its async fn's type.
//! - [`available_cores`], [`threads_from_env`]: default worker-thread counts.
//! - [`uring`]: for the io_uring thread-per-core runtimes (monoio, glommio): `preflight`, fatal
//!   errors, shutdown from plain threads, io_uring diagnostics (the only part that needs `libc`).

pub mod args;
pub mod clock;
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
