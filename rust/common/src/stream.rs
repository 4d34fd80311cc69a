//! The stream workload's data: the item, the source's sequence and stopping rule, the stage
//! transform, and the sink's bookkeeping (checksum fold, latency samples, pause time).
//!
//! Everything here is runtime-independent; a runtime's pipeline only moves [`Item`]s from
//! [`Source`] through its channels to [`Sink`], and awaits the pauses [`Sink`] asks for.

use std::time::{Duration, Instant};

use crate::args::Stream;
use crate::clock;

/// With `--min-ms T > 0` the source stops only at a multiple of this many items, so that the
/// harness can tell a complete run (`items % BLOCK_ITEMS == 0`) from a truncated one.
pub const BLOCK_ITEMS: u64 = 4096;

/// One item travelling source → stages → sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    pub value: u32,
    /// Set on the source's final item only: the sink stops its clock on it, before any pause
    /// (with `--min-ms` the sink cannot know the count in advance). Fits in `value`'s padding.
    pub last: bool,
    /// [`clock::now_ns`] when the source produced it, on every `sample_every`-th item.
    pub stamp_ns: Option<u64>,
}

impl Item {
    /// The source's item for `seq`: `value = seq` (as u32), stamped when `seq.is_multiple_of(sample_every)`.
    pub fn new(seq: u64, sample_every: u64) -> Item {
        let stamped = sample_every > 0 && seq.is_multiple_of(sample_every);
        Item {
            value: seq as u32,
            last: false,
            stamp_ns: stamped.then(clock::now_ns),
        }
    }
}

/// What the source produces, in order: `seq = 0, 1, 2, …` until the protocol's length rule says
/// stop (docs/PROTOCOL.md, stream "Length"), the final item marked [`Item::last`].
///
/// Create it inside the source task, when it starts producing: `--min-ms` counts from then.
#[derive(Debug)]
pub struct Source {
    next_seq: u64,
    items: u64,
    min_run: Duration,
    sample_every: u64,
    started: Instant,
    finished: bool,
}

impl Source {
    pub fn new(args: &Stream) -> Source {
        Source {
            next_seq: 0,
            items: args.items,
            min_run: args.min_run,
            sample_every: args.sample_every,
            started: Instant::now(),
            // N = 0 with no minimum duration: nothing at all (the rule below needs one item).
            finished: args.items == 0 && args.min_run.is_zero(),
        }
    }

    /// Whether the source stops after `produced` items: at least N, and either no minimum run
    /// time or a whole block produced after the minimum time (the clock is read once per block).
    fn enough(&self, produced: u64) -> bool {
        produced >= self.items
            && (self.min_run.is_zero()
                || (produced.is_multiple_of(BLOCK_ITEMS) && self.started.elapsed() >= self.min_run))
    }
}

impl Iterator for Source {
    type Item = Item;

    #[inline]
    fn next(&mut self) -> Option<Item> {
        if self.finished {
            return None;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.finished = self.enough(seq + 1);
        let mut item = Item::new(seq, self.sample_every);
        item.last = self.finished;
        Some(item)
    }
}

/// What every stage applies once: `value * 1664525 + 1013904223 (mod 2^32)`.
#[inline]
pub fn transform(value: u32) -> u32 {
    value.wrapping_mul(1_664_525).wrapping_add(1_013_904_223)
}

/// The sink's order-sensitive checksum (FNV-1a style over 32-bit values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checksum(pub u32);

impl Checksum {
    pub const INIT: Checksum = Checksum(2_166_136_261);

    /// Folds one value: `h = (h XOR value) * 16777619 (mod 2^32)`.
    #[inline]
    pub fn fold(self, value: u32) -> Checksum {
        Checksum((self.0 ^ value).wrapping_mul(16_777_619))
    }
}

impl Default for Checksum {
    fn default() -> Self {
        Checksum::INIT
    }
}

/// The sink's state. A runtime's sink loop is:
///
/// ```text
/// while let Some(item) = rx.recv().await {
///     if sink.receive(item) { break; }          // the last item: clock stopped, no pause
///     if let Some(pause) = sink.pause_due() {
///         let t = Instant::now();
///         sleep(pause).await;
///         sink.paused(t.elapsed());              // paused_ms: measured around each await
///     }
/// }
/// ```
#[derive(Debug)]
pub struct Sink {
    args: Stream,
    checksum: Checksum,
    samples_ns: Vec<u64>,
    received: u64,
    paused: Duration,
    finished: Option<Instant>,
}

impl Sink {
    pub fn new(args: &Stream) -> Sink {
        let expected_samples = args.items.checked_div(args.sample_every).unwrap_or(0) + 1;
        Sink {
            args: args.clone(),
            checksum: Checksum::INIT,
            samples_ns: Vec::with_capacity(expected_samples as usize),
            received: 0,
            paused: Duration::ZERO,
            finished: None,
        }
    }

    /// Folds one item into the checksum and records its latency if stamped; returns true (and
    /// stops the clock) if it was the source's last item.
    #[inline]
    pub fn receive(&mut self, item: Item) -> bool {
        self.checksum = self.checksum.fold(item.value);
        if let Some(stamp) = item.stamp_ns {
            self.samples_ns.push(clock::now_ns().saturating_sub(stamp));
        }
        self.received += 1;
        if item.last {
            self.finished = Some(Instant::now());
        }
        item.last
    }

    /// The pause the sink takes now, after its latest item, if any (slow-consumer only).
    #[inline]
    pub fn pause_due(&self) -> Option<Duration> {
        self.args.pause_after(self.received)
    }

    /// Adds the measured duration of one pause.
    pub fn paused(&mut self, took: Duration) {
        self.paused += took;
    }

    /// The outcome, timed from `start` (just before the source started); an error if the
    /// channel closed before the last item arrived.
    pub fn finish(self, start: Instant) -> Result<Outcome, String> {
        // N = 0 without a minimum duration: the source closes its channel without an item.
        let nothing_asked = self.args.items == 0 && self.args.min_run.is_zero();
        let empty = (nothing_asked && self.received == 0).then(Instant::now);
        let Some(finished) = self.finished.or(empty) else {
            return Err(format!(
                "the pipeline closed after {} items without delivering the last one",
                self.received
            ));
        };
        Ok(Outcome {
            items: self.received,
            checksum: self.checksum.0,
            elapsed_ms: clock::ms(finished.saturating_duration_since(start)),
            paused_ms: clock::ms(self.paused),
            latency_samples_ns: self.samples_ns,
        })
    }
}

/// What one timed pipeline reports (the stream `result` event).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Items the sink received (= items the source produced; the checksum covers exactly these).
    pub items: u64,
    pub checksum: u32,
    pub elapsed_ms: f64,
    /// The total time the sink spent inside pause awaits (0 for balanced, which never pauses).
    pub paused_ms: f64,
    pub latency_samples_ns: Vec<u64>,
}

/// The checksum a correct run of `items` items through `stages` stages reports.
pub fn expected_checksum(items: u64, stages: usize) -> u32 {
    (0..items)
        .map(|seq| (0..stages).fold(seq as u32, |v, _| transform(v)))
        .fold(Checksum::INIT, Checksum::fold)
        .0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Workload, parse};

    fn stream(line: &str) -> Stream {
        match parse(line.split_whitespace().map(String::from)) {
            Ok(Workload::Stream(s)) => s,
            other => panic!("{line}: {other:?}"),
        }
    }

    /// Runs `args` through a synchronous pipeline (no channels): what every runtime must report.
    fn run(args: &Stream) -> Outcome {
        let start = Instant::now();
        let mut sink = Sink::new(args);
        for mut item in Source::new(args) {
            for _ in 0..args.stages {
                item.value = transform(item.value);
            }
            if sink.receive(item) {
                break;
            }
            if let Some(pause) = sink.pause_due() {
                sink.paused(pause);
            }
        }
        sink.finish(start).expect("the last item arrived")
    }

    #[test]
    fn protocol_test_vectors() {
        assert_eq!(expected_checksum(10, 1), 1_162_576_678);
        assert_eq!(expected_checksum(1000, 4), 3_828_873_421);
        assert_eq!(expected_checksum(100_000, 4), 772_495_653);
    }

    #[test]
    fn without_min_ms_the_source_produces_exactly_n() {
        let out = run(&stream("stream --items 1000 --stages 4"));
        assert_eq!((out.items, out.checksum), (1000, 3_828_873_421));
        assert_eq!(out.paused_ms, 0.0, "balanced never pauses");
        let out = run(&stream("stream --items 1 --stages 1"));
        assert_eq!(out.items, 1);
        let none: Vec<Item> = Source::new(&stream("stream --items 0")).collect();
        assert!(none.is_empty());
        let out = run(&stream("stream --items 0 --stages 3"));
        assert_eq!((out.items, out.checksum), (0, Checksum::INIT.0));
    }

    #[test]
    fn only_the_final_item_is_last() {
        let items: Vec<Item> = Source::new(&stream("stream --items 5 --sample-every 2")).collect();
        let last: Vec<bool> = items.iter().map(|i| i.last).collect();
        assert_eq!(last, [false, false, false, false, true]);
        let values: Vec<u32> = items.iter().map(|i| i.value).collect();
        assert_eq!(values, [0, 1, 2, 3, 4]);
        let stamped: Vec<bool> = items.iter().map(|i| i.stamp_ns.is_some()).collect();
        assert_eq!(stamped, [true, false, true, false, true]);
    }

    #[test]
    fn with_min_ms_the_source_runs_whole_blocks_past_the_minimum() {
        let args = stream("stream --items 10 --stages 2 --min-ms 30");
        let start = Instant::now();
        let out = run(&args);
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert!(out.items >= BLOCK_ITEMS, "{}", out.items);
        assert_eq!(out.items % BLOCK_ITEMS, 0, "{}", out.items);
        assert_eq!(out.checksum, expected_checksum(out.items, 2));
        // N above the first block: never fewer than N, still whole blocks.
        let out = run(&stream("stream --items 5000 --stages 1 --min-ms 1"));
        assert!(out.items >= 5000 && out.items.is_multiple_of(BLOCK_ITEMS));
        // N = 0 with a minimum duration still produces whole blocks.
        let out = run(&stream("stream --items 0 --stages 1 --min-ms 1"));
        assert!(out.items >= BLOCK_ITEMS && out.items.is_multiple_of(BLOCK_ITEMS));
    }

    #[test]
    fn slow_consumer_counts_pauses_but_never_after_the_last_item() {
        let args = stream(
            "stream --items 30 --variant slow-consumer --pause-every 10 --pause-ms 7 --stages 1",
        );
        let out = run(&args);
        // Pauses after items 10 and 20; item 30 is the last, so no third pause.
        assert_eq!(out.paused_ms, 14.0);
        assert_eq!(out.checksum, expected_checksum(30, 1));
    }

    #[test]
    fn a_pipeline_that_loses_the_last_item_is_an_error() {
        let args = stream("stream --items 3");
        let mut sink = Sink::new(&args);
        for item in Source::new(&args).take(2) {
            assert!(!sink.receive(item));
        }
        let err = sink.finish(Instant::now()).unwrap_err();
        assert!(err.contains("after 2 items"), "{err}");
    }

    #[test]
    fn items_are_stamped_every_sample() {
        clock::init();
        assert!(Item::new(0, 10).stamp_ns.is_some());
        assert!(Item::new(5, 10).stamp_ns.is_none());
        assert!(Item::new(20, 10).stamp_ns.is_some());
        assert!(Item::new(0, 0).stamp_ns.is_none());
        assert_eq!(Item::new(1 << 32 | 7, 1).value, 7);
        assert_eq!(size_of::<Item>(), 24, "the last flag fits in the padding");
    }
}
