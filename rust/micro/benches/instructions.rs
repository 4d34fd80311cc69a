//! `cargo bench -p asyncbench-micro --bench instructions`: the criterion primitives (benches/micro.rs)
//! counted in instructions under valgrind's callgrind through gungraun, a measurement that does not
//! drift with the machine's load or with the VM it runs on (wall-clock micro-benchmarks drift 7–65 %
//! between two VMs of the same kind; shared VMs have no hardware counters). Needs valgrind and
//! `gungraun-runner` of the same version as the `gungraun` dev-dependency (`.ci/run` installs both);
//! the harness's micro workload runs it and imports gungraun's `summary.json` files
//! (harness/src/gungraun_import.rs).
//!
//! Ids: function = primitive (the criterion group name), bench id = implementation with `_` for `-`
//! (`spawn_join_1000::rust_tokio_ct`), so each count lands in the same results cell key as criterion's
//! estimate plus `counter = instructions`. The harness runs one runtime at a time
//! (`'*::rust_tokio_ct'` as the filter), so a runtime that cannot run under valgrind fails only its own
//! cells.
//!
//! What is counted: one iteration of exactly the loop criterion times (`Rt::time(1, op)`: enter the
//! runtime once, await the operation once), on the benchmark thread; the runtime is built in the setup
//! and dropped after the count (the benchmark returns it), so neither is counted. Covered are the
//! runtimes whose every task runs on the calling thread and whose count repeats: tokio current-thread
//! (±2 instructions of 2 million over repeated runs here), monoio and glommio (identical counts).
//! Callgrind counts only the thread the benchmark function runs on, so work-stealing runtimes
//! (`rust-tokio`, `rust-async-std`) would show a count that depends on which worker ran a task. smol
//! (one executor driven by `block_on`) was tried and left out: its counts varied by up to 3 % between
//! identical runs (`spawn_join_1` 28,112–28,973, `channel_10000` 5,295,874–5,423,719; the cause was
//! not established — async-io's reactor thread is the likely suspect), too much for a 1 % gate. Primitives that wait on a clock (`sleep_zero`, `timer_fan_in`) or
//! pick a branch at random (`select_ready`, tokio's unbiased `select!`) are left out: their counts vary
//! from run to run by construction, and the point of this bench is a count that does not.
use asyncbench_micro::{MESSAGES, ROUND_TRIPS, SPAWN_MANY, rt_glommio, rt_monoio, rt_tokio};
use gungraun::{library_benchmark, library_benchmark_group, main};
use std::hint::black_box;

/// One of the single-threaded runtimes, built in the benchmark's setup (not counted).
pub enum Runtime {
    TokioCt(rt_tokio::Rt),
    Monoio(rt_monoio::Rt),
    Glommio(rt_glommio::Rt),
}

impl Runtime {
    fn tokio_ct() -> Self {
        Runtime::TokioCt(rt_tokio::Rt::current_thread())
    }
    /// Panics where io_uring is unavailable: a count of nothing must not pass for a fast runtime.
    fn monoio() -> Self {
        Runtime::Monoio(rt_monoio::Rt::new().expect("monoio needs io_uring, unavailable here"))
    }
    fn glommio() -> Self {
        Runtime::Glommio(rt_glommio::Rt::new().expect("glommio needs io_uring, unavailable here"))
    }
}

/// Runs `$op` once inside `$runtime` through the same `Rt::time` loop criterion times; `$op` is
/// written once against the module alias `rt`, which each arm binds to its runtime's module.
macro_rules! once {
    ($runtime:expr, $op:expr) => {
        match &$runtime {
            Runtime::TokioCt(r) => {
                use rt_tokio as rt;
                black_box(r.time(1, || $op));
            }
            Runtime::Monoio(r) => {
                use rt_monoio as rt;
                black_box(r.time(1, || $op));
            }
            Runtime::Glommio(r) => {
                use rt_glommio as rt;
                black_box(r.time(1, || $op));
            }
        }
    };
}

/// One benchmark function per primitive (named as criterion's group), one bench id per runtime.
macro_rules! primitive {
    ($name:ident, $op:expr) => {
        #[library_benchmark]
        #[bench::rust_tokio_ct(Runtime::tokio_ct())]
        #[bench::rust_monoio(Runtime::monoio())]
        #[bench::rust_glommio(Runtime::glommio())]
        fn $name(runtime: Runtime) -> Runtime {
            once!(runtime, $op);
            runtime
        }
    };
}

// The names spell out the constants' values (criterion's groups are `format!`ed from them); this
// keeps the two in step at compile time.
const _: () = assert!(SPAWN_MANY == 1000 && ROUND_TRIPS == 1000 && MESSAGES == 10_000);
primitive!(spawn_join_1, rt::spawn_one());
primitive!(spawn_join_1000, rt::spawn_join(SPAWN_MANY));
primitive!(ping_pong_1000, rt::ping_pong(ROUND_TRIPS));
primitive!(channel_10000, rt::channel(MESSAGES));
primitive!(yield_now, rt::yield_now());

library_benchmark_group!(
    name = micro,
    benchmarks = [
        spawn_join_1,
        spawn_join_1000,
        ping_pong_1000,
        channel_10000,
        yield_now
    ]
);

main!(library_benchmark_groups = micro);
