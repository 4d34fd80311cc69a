//! `cargo bench -p asyncbench-micro [-- --quick]`: every primitive on every runtime, ids
//! `<primitive>/<implementation>` (implementation names as in `manifest/`), so the harness can put each
//! estimate into its results cell (harness/src/criterion_import.rs). Each runtime is built once, here;
//! see src/lib.rs for how the timed loop runs inside it and which primitives each runtime uses.
//! Every runtime has every primitive (monoio's yield is futures-lite's, see src/rt_monoio.rs); monoio
//! and glommio rows are skipped only where io_uring is unavailable.
use asyncbench_micro::{
    CHANNEL_CAPACITY, FAN_IN_SLEEP, FAN_IN_TASKS, MESSAGES, ROUND_TRIPS, SPAWN_MANY, rt_async_std,
    rt_glommio, rt_monoio, rt_smol, rt_tokio,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn micro(c: &mut Criterion) {
    let tokio = rt_tokio::Rt::multi_thread();
    let tokio_ct = rt_tokio::Rt::current_thread();
    let async_std = rt_async_std::Rt::new();
    let smol = rt_smol::Rt::new();
    let monoio = rt_monoio::Rt::new();
    let glommio = rt_glommio::Rt::new();

    // One group per primitive, one function per runtime: `$op` is written once against the module
    // alias `rt`, which each row binds to its runtime's module.
    macro_rules! primitive {
        ($name:expr, $elements:expr, $op:expr) => {{
            let mut g = c.benchmark_group($name);
            g.throughput(Throughput::Elements($elements));
            g.bench_function("rust-tokio", |b| {
                use rt_tokio as rt;
                b.iter_custom(|n| tokio.time(n, || $op))
            });
            g.bench_function("rust-tokio-ct", |b| {
                use rt_tokio as rt;
                b.iter_custom(|n| tokio_ct.time(n, || $op))
            });
            g.bench_function("rust-async-std", |b| {
                use rt_async_std as rt;
                b.iter_custom(|n| async_std.time(n, || $op))
            });
            g.bench_function("rust-smol", |b| {
                use rt_smol as rt;
                b.iter_custom(|n| smol.time(n, || $op))
            });
            if let Some(monoio) = &monoio {
                g.bench_function("rust-monoio", |b| {
                    use rt_monoio as rt;
                    b.iter_custom(|n| monoio.time(n, || $op))
                });
            }
            if let Some(glommio) = &glommio {
                g.bench_function("rust-glommio", |b| {
                    use rt_glommio as rt;
                    b.iter_custom(|n| glommio.time(n, || $op))
                });
            }
            g.finish();
        }};
    }

    let _ = CHANNEL_CAPACITY; // the capacity is fixed in src/lib.rs, shared by every runtime
    primitive!("spawn_join_1", 1, rt::spawn_one());
    primitive!(
        format!("spawn_join_{SPAWN_MANY}"),
        SPAWN_MANY as u64,
        rt::spawn_join(SPAWN_MANY)
    );
    primitive!(
        format!("ping_pong_{ROUND_TRIPS}"),
        ROUND_TRIPS,
        rt::ping_pong(ROUND_TRIPS)
    );
    primitive!(
        format!("channel_{MESSAGES}"),
        MESSAGES,
        rt::channel(MESSAGES)
    );
    primitive!("yield_now", 1, rt::yield_now());
    primitive!("sleep_zero", 1, rt::sleep_zero());
    primitive!("select_ready", 1, rt::select_ready());
    primitive!(
        format!("timer_fan_in_{FAN_IN_TASKS}"),
        FAN_IN_TASKS as u64,
        rt::timer_fan_in(FAN_IN_TASKS, FAN_IN_SLEEP)
    );
}

criterion_group!(benches, micro);
criterion_main!(benches);
