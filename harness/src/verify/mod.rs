//! Correctness checks run before any measurement: an implementation that gives a wrong answer is
//! excluded from that workload's measurements and never benchmarked there. The same code backs
//! `asyncbench verify`, the run, and the conformance tests.

pub mod echo;

use crate::protocol::Ready;
use crate::runner::Workload;
use crate::workload::fanout::{self, FanoutParams};
use crate::workload::stream::{self, StreamParams};
use crate::workload::{Launch, echo as echo_workload};
use std::time::Duration;

/// Verifies one workload of one implementation. `Ok` is a one-line description of what was checked;
/// the ready event (if any) tells which runtime actually ran.
pub fn workload(
    w: Workload,
    launch: &Launch,
    ready_timeout: Duration,
) -> (Result<String, String>, Option<Ready>) {
    match w {
        Workload::Echo => (echo_workload::verify(launch, ready_timeout), None),
        Workload::Fanout => verify_fanout(launch),
        Workload::Stream => verify_stream(launch),
        Workload::Cancel => crate::workload::cancel::verify(launch),
        Workload::Futures => verify_futures(launch),
        Workload::Micro => (Ok("criterion checks its own measurements".into()), None),
    }
}

fn verify_fanout(launch: &Launch) -> (Result<String, String>, Option<Ready>) {
    let mut ready = None;
    for variant in [fanout::Variant::Bare, fanout::Variant::State] {
        for tasks in [1, 1000] {
            let p = FanoutParams {
                tasks,
                sleep_ms: 200,
                variant,
            };
            match fanout::run_trial(launch, p) {
                Ok(t) => ready = ready.or(t.ready),
                Err(f) => {
                    return (
                        Err(format!(
                            "{} tasks, {}: {}",
                            tasks,
                            variant.as_str(),
                            f.reason
                        )),
                        ready,
                    );
                }
            }
        }
    }
    (
        Ok(
            "1 and 1000 tasks, bare and state: checksums right, tasks concurrent, clean exit"
                .into(),
        ),
        ready,
    )
}

fn verify_stream(launch: &Launch) -> (Result<String, String>, Option<Ready>) {
    let mut ready = None;
    // (items, stages, capacity, variant, warm-up items, min ms): exact counts, a warm-up pipeline with
    // a minimum duration (whole blocks past N), and a slow consumer pausing 10 times, never after the
    // last item.
    let cases = [
        (10_000, 4, 16, stream::Variant::Balanced, 0, 0),
        (10_000, 1, 1, stream::Variant::Balanced, 1_000, 50),
        (5_250, 2, 8, stream::Variant::SlowConsumer, 1_000, 0),
    ];
    for (items, stages, capacity, variant, warmup_items, min_ms) in cases {
        let p = StreamParams {
            items,
            stages,
            capacity,
            variant,
            pause_every: 500,
            pause_ms: 2,
            sample_every: 7,
            warmup_items,
            min_ms,
        };
        match stream::run_trial(launch, p) {
            Ok(t) => ready = ready.or(t.ready),
            Err(f) => {
                return (
                    Err(format!(
                        "{items} items, {stages} stages, capacity {capacity}, {}, warm-up {warmup_items}, min {min_ms} ms: {}",
                        variant.as_str(),
                        f.reason
                    )),
                    ready,
                );
            }
        }
    }
    (Ok("10k items through 4 stages (C=16) and 1 stage (C=1, warm-up, minimum duration), slow consumer: counts, order, checksum, samples and pauses right".into()), ready)
}

fn verify_futures(launch: &Launch) -> (Result<String, String>, Option<Ready>) {
    match crate::workload::run_finite(launch, "futures", &[], Duration::from_secs(60)) {
        Ok(run) => match crate::workload::futures::to_cells(&launch.implementation, &run.fields) {
            Ok(cells) => (
                Ok(format!(
                    "{} catalogue entries, each with pattern, runtime and size",
                    cells.len()
                )),
                Some(run.ready),
            ),
            Err(f) => (Err(f.reason), Some(run.ready)),
        },
        Err(f) => (Err(f.reason), None),
    }
}
