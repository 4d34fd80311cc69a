//! Finding kinds as types: every kind the harness records in a cell (`results.json`'s
//! `findings[].kind`) or raises in a report, with its stable name, its severity and the sentence
//! reports use to say what it means. A leaf module (it imports nothing from the crate), so the
//! workloads that produce findings, aggregation and the reports that read them agree on one
//! definition instead of repeating strings (an architecture test keeps the names here).
//!
//! The names are a public contract: they are what `results.json` stores, so they never change.
//! Kinds this build does not know (older or newer results, a catalogue's own flags) survive a load
//! and a save unchanged as [`FindingKind::Unknown`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// How a finding bears on the numbers of the cell it is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Describes the cell (a catalogue entry's text, a verdict that held); not a warning.
    Info,
    /// Worth knowing next to the number; listed among the report's findings.
    Warning,
    /// Changes how the number reads (a bound, an undercount, a wrong result): also summarised
    /// under the decision matrix with its explanation.
    Caveat,
}

macro_rules! finding_kinds {
    ($($(#[$doc:meta])* $variant:ident = $name:literal, $severity:ident, $explanation:literal;)*) => {
        /// A finding's kind. Fixed kinds are unit variants; the future-size catalogue's threshold
        /// flags (`above_<threshold>`) and unknown names keep their text.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum FindingKind {
            $($(#[$doc])* $variant,)*
            /// A future-size catalogue flag: the future is larger than the named threshold
            /// (`above_<threshold>`, the thresholds come from the catalogue itself).
            SizeAbove(String),
            /// A name this build does not know, kept verbatim.
            Unknown(String),
        }

        impl FindingKind {
            /// Every fixed kind, in declaration order.
            pub const FIXED: &[FindingKind] = &[$(FindingKind::$variant,)*];

            /// The stable name stored in `results.json`.
            pub fn name(&self) -> &str {
                match self {
                    $(FindingKind::$variant => $name,)*
                    FindingKind::SizeAbove(n) | FindingKind::Unknown(n) => n,
                }
            }

            /// The kind with this stored name (never fails: unknown names are kept).
            pub fn from_name(name: &str) -> FindingKind {
                match name {
                    $($name => FindingKind::$variant,)*
                    n if n.starts_with(SIZE_ABOVE_PREFIX) => FindingKind::SizeAbove(n.to_string()),
                    n => FindingKind::Unknown(n.to_string()),
                }
            }

            /// How it bears on the number.
            pub fn severity(&self) -> Severity {
                match self {
                    $(FindingKind::$variant => Severity::$severity,)*
                    FindingKind::SizeAbove(_) => Severity::Info,
                    FindingKind::Unknown(_) => Severity::Warning,
                }
            }

            /// What it means for a reader, one sentence.
            pub fn explanation(&self) -> &'static str {
                match self {
                    $(FindingKind::$variant => $explanation,)*
                    FindingKind::SizeAbove(_) => "the future is larger than a size threshold the catalogue names",
                    FindingKind::Unknown(_) => "a finding this version of the harness does not know",
                }
            }
        }
    };
}

/// The prefix of the future-size catalogue's threshold flags.
const SIZE_ABOVE_PREFIX: &str = "above_";

finding_kinds! {
    // Aggregation (every workload).
    /// A headline metric varies more than the noise threshold between trials.
    Noisy = "noisy", Warning, "the value varies more between trials than the noise threshold: differences smaller than that are noise";
    /// Some trials of the cell failed; the cell aggregates the others.
    TrialFailed = "trial_failed", Warning, "some trials failed; the cell aggregates the ones that completed";
    /// Every trial failed.
    AllTrialsFailed = "all_trials_failed", Warning, "every trial failed: the cell has no number";
    // Echo trials.
    /// The trial ran while something else used the measured CPUs.
    Interference = "interference", Warning, "other work used the measured CPUs during the trial";
    /// The first attempt ran under interference and was re-run once.
    InterferenceRerun = "interference_rerun", Warning, "the first attempt ran under interference and was re-run once";
    /// A self-check failed and the window was doubled.
    CellExtended = "cell_extended", Warning, "a self-check failed, so the measuring window was lengthened";
    /// The sent inter-arrival times were not the requested Poisson process.
    CheckArrivals = "check_arrivals", Warning, "the client did not keep the Poisson arrival schedule: latency not measurable";
    /// The latency or throughput drifted across the window.
    CheckStationarity = "check_stationarity", Warning, "the trial did not reach a steady state: latency not measurable";
    /// The client sent late by a large share of what it measures.
    CheckSchedulingError = "check_scheduling_error", Warning, "the client sent late by a large share of the latency it measures: latency not measurable";
    /// Too few samples to bound p99.
    CheckSamples = "check_samples", Warning, "too few samples to bound p99: latency not measurable";
    /// The server reported a thread count other than the one requested.
    ThreadsMismatch = "threads_mismatch", Warning, "the server ran with a different number of threads than requested";
    /// The server did not exit on SIGTERM.
    IgnoredSigterm = "ignored_sigterm", Warning, "the server ignored SIGTERM and was killed";
    /// The server exited unsuccessfully.
    BadExit = "bad_exit", Warning, "the server exited unsuccessfully";
    /// The load generator saturated its CPU.
    ClientBottleneck = "client_bottleneck", Caveat, "the load generator saturated its CPU: the server's echo throughput is a lower bound (shown ≥), so ranks among these cells are uncertain";
    /// The offered load exceeded what the server sustained.
    OverCapacity = "over_capacity", Caveat, "the offered load exceeded what the server sustained: its latency measures a growing queue, not the server";
    // Echo capacity search.
    /// How the capacity search went (the rates it tried).
    CapacitySearch = "capacity_search", Warning, "how the capacity search went";
    /// The latency objective was missed at a rate below the capacity found.
    SloMissedBelowCapacity = "slo_missed_below_capacity", Warning, "the latency objective was missed at a rate below the capacity found";
    /// The search never found a rate the server missed.
    CapacityLowerBound = "capacity_lower_bound", Warning, "the search never reached a rate the server missed: the capacity is a lower bound";
    /// The server missed the objective at the lowest rate tried.
    CapacityBelowRange = "capacity_below_range", Warning, "the server missed the objective at the lowest rate tried: its capacity is below the searched range";
    /// The capacity was not confirmed by a second measurement.
    CapacityUnchecked = "capacity_unchecked", Warning, "the capacity was not confirmed by a repeat measurement";
    /// No rate tried met the objective with a measured latency, and none was missed.
    CapacityNotMeasured = "capacity_not_measured", Warning, "no rate met the objective with a measured latency and none was missed: no capacity is stated (not zero)";
    /// Rates inside the capacity's interval had no measurable latency.
    CapacityUnknownAbove = "capacity_unknown_above", Warning, "latency was not measurable at some rates above the capacity: the capacity lies in an interval";
    /// Single trials would have given different capacities than their majority.
    CapacityPerTrial = "capacity_per_trial", Info, "the capacity each grid trial would give on its own, beside the majority's";
    /// The `--full` server-set sweep could not run here.
    ServerSetSweepSkipped = "server_set_sweep_skipped", Info, "the sweep over server-set sizes was skipped on this machine (the reason says why)";
    // Fan-out.
    /// Spawning took longer than the sleep.
    NotAllConcurrent = "not_all_concurrent", Caveat, "spawning took longer than the sleep, so not every task was alive at once: peak RSS and bytes per task undercount";
    /// The sleep was lengthened so every task is alive at once.
    SleepResized = "sleep_resized", Warning, "the sleep was lengthened so every task could be alive at once";
    /// Lengthening the sleep did not help.
    SleepResizeFailed = "sleep_resize_failed", Warning, "lengthening the sleep did not make every task alive at once";
    // Stream.
    /// The bounded pipeline kept its queue within capacity.
    BackpressureOk = "backpressure_ok", Info, "the bounded pipeline kept its queue within its capacity";
    /// The bounded pipeline let its queue grow past capacity.
    BackpressureViolation = "backpressure_violation", Caveat, "a bounded pipeline let its queue grow past its capacity: its stream throughput is not comparable";
    /// A slow-consumer result without `paused_ms`.
    NoPausedMs = "no_paused_ms", Warning, "the result has no paused_ms, so there is no throughput net of the consumer's pauses";
    // Cancellation.
    /// Memory was not returned after cancellation.
    Leak = "leak", Caveat, "memory was not returned after tasks were cancelled: the runtime keeps what cancelled tasks held";
    /// Timer ticks were missed.
    ScheduleMisses = "schedule_misses", Warning, "the program missed timer ticks while cancelling";
    /// Items went missing.
    LostItems = "lost_items", Caveat, "items went missing: the result is wrong, not slow";
    /// The implementation's note on the idiom it uses.
    IdiomNote = "idiom_note", Warning, "how this implementation expresses cancellation";
    // Future sizes.
    /// The catalogue's description of an entry.
    Description = "description", Info, "what the catalogue entry measures";
    // Report-level (raised by the reports, never stored in results.json).
    /// The machine was busy when the run started.
    BusyMachine = "busy_machine", Warning, "other work competed with the measurements";
    /// The working tree had uncommitted changes.
    DirtyTree = "dirty_tree", Warning, "the commit alone does not reproduce this run";
    /// An implementation was skipped.
    Skipped = "skipped", Warning, "the implementation was skipped";
    /// An implementation failed to build.
    BuildFailed = "build_failed", Warning, "the implementation did not build";
    /// An implementation failed its check before measuring.
    VerifyFailed = "verify_failed", Warning, "the implementation failed its check before measuring";
    /// A cell failed.
    CellFailed = "cell_failed", Warning, "the cell failed";
    /// A cell timed out.
    CellTimeout = "cell_timeout", Warning, "the cell ran out of time";
    /// A cell's program crashed.
    CellCrashed = "cell_crashed", Warning, "the cell's program crashed";
    /// A cell's program ran out of memory (the name keeps the status text's space).
    CellOutOfMemory = "cell_out of memory", Warning, "the cell's program ran out of memory";
    /// Connections or messages failed during measurement.
    Errors = "errors", Caveat, "connections or messages failed during measurement";
    /// Implementations missing from every comparison.
    NotRun = "not_run", Caveat, "implementations missing from every comparison";
    /// Cells that did not complete.
    Failed = "failed", Caveat, "cells that did not complete: no number, so no rank there";
}

impl FindingKind {
    /// The kinds summarised under the decision matrix, in the order reports show them.
    pub const CAVEATS: &[FindingKind] = &[
        FindingKind::BackpressureViolation,
        FindingKind::ClientBottleneck,
        FindingKind::OverCapacity,
        FindingKind::NotAllConcurrent,
        FindingKind::Leak,
        FindingKind::LostItems,
        FindingKind::Errors,
    ];

    /// The finding for a failed echo self-check (`arrivals`, `stationarity`, `scheduling_error`,
    /// `samples`): `check_<check>`.
    pub fn failed_check(check: &str) -> FindingKind {
        FindingKind::from_name(&format!("check_{check}"))
    }

    /// An echo self-check's failure (latency not measurable).
    pub fn is_failed_check(&self) -> bool {
        matches!(
            self,
            FindingKind::CheckArrivals
                | FindingKind::CheckStationarity
                | FindingKind::CheckSchedulingError
                | FindingKind::CheckSamples
        )
    }

    /// A stream backpressure verdict, held or violated.
    pub fn is_backpressure_verdict(&self) -> bool {
        matches!(
            self,
            FindingKind::BackpressureOk | FindingKind::BackpressureViolation
        )
    }

    /// A future-size catalogue threshold flag.
    pub fn is_size_above(&self) -> bool {
        matches!(self, FindingKind::SizeAbove(_))
    }

    /// Describes rather than warns (not listed among the warnings).
    pub fn is_informational(&self) -> bool {
        self.severity() == Severity::Info
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Ordered by stored name, so anything sorted by kind sorts as the names did.
impl Ord for FindingKind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name().cmp(other.name())
    }
}

impl PartialOrd for FindingKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Serialize for FindingKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for FindingKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Ok(FindingKind::from_name(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut seen = BTreeSet::new();
        for k in FindingKind::FIXED {
            assert!(seen.insert(k.name()), "{} defined twice", k.name());
            assert_eq!(&FindingKind::from_name(k.name()), k);
            assert!(!k.explanation().is_empty(), "{k}");
            assert!(
                !k.name().starts_with(SIZE_ABOVE_PREFIX),
                "{k} would parse as a size flag"
            );
        }
        let flag = FindingKind::from_name("above_tokio_auto_box");
        assert!(flag.is_size_above() && flag.is_informational());
        assert_eq!(flag.name(), "above_tokio_auto_box");
        let unknown = FindingKind::from_name("something_new");
        assert_eq!(unknown, FindingKind::Unknown("something_new".into()));
        assert_eq!(unknown.name(), "something_new");
    }

    #[test]
    fn json_keeps_the_stored_names() {
        for name in [
            "client_bottleneck",
            "above_clippy_large_futures",
            "future_kind",
        ] {
            let json = format!("\"{name}\"");
            let k: FindingKind = serde_json::from_str(&json).unwrap();
            assert_eq!(serde_json::to_string(&k).unwrap(), json);
        }
    }

    #[test]
    fn failed_checks_map_to_their_kinds() {
        for (check, kind) in [
            ("arrivals", FindingKind::CheckArrivals),
            ("stationarity", FindingKind::CheckStationarity),
            ("scheduling_error", FindingKind::CheckSchedulingError),
            ("samples", FindingKind::CheckSamples),
        ] {
            assert_eq!(FindingKind::failed_check(check), kind);
            assert!(kind.is_failed_check());
        }
        assert!(!FindingKind::failed_check("new_check").is_failed_check());
    }

    #[test]
    fn caveats_are_the_caveat_kinds_except_the_report_level_ones() {
        for k in FindingKind::CAVEATS {
            assert_eq!(k.severity(), Severity::Caveat, "{k}");
        }
        let caveats: Vec<_> = FindingKind::FIXED
            .iter()
            .filter(|k| k.severity() == Severity::Caveat)
            .filter(|k| !matches!(k, FindingKind::NotRun | FindingKind::Failed))
            .collect();
        assert_eq!(caveats.len(), FindingKind::CAVEATS.len());
    }
}
