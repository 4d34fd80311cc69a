//! The cancellation workload (issue 16, protocol in docs/PROTOCOL.md "cancel"): what giving up costs
//! and which idioms lose data. Three variants, every expected value computed here from the parameters
//! alone (never taken from an implementation):
//!
//! * `mass`: N armed tasks cancelled at once. The program stops at three phases (`start`, `armed`,
//!   `cancelled`) and waits on stdin; the harness samples the program's `VmRSS` at each one, so memory
//!   is read at known points rather than guessed from a timeline. Checked: every cleanup guard ran
//!   exactly once, with its buffer alive (cleanup checksum).
//! * `deadline`: M request/timeout races whose outcomes follow from a splitmix64 sequence, so the
//!   number of timeouts and the sum of the responses that won are known exactly. Measured at M and
//!   10·M: peak RSS growing with M is a `leak` finding.
//! * `safety`: a consumer racing a bounded channel's receive against a 1 ms tick. With the safe idiom
//!   every item must arrive; with the unsafe idiom lost items are a finding, never a failure.

use super::definition::Definition;
use super::estimate::{TRIAL_OVERHEAD_S, trials};
use super::params;
use super::session::{RunConfig, Session};
use super::{Failure, Launch, TrialData, process_metrics};
use crate::finding::FindingKind;
use crate::process::WaitError;
use crate::protocol::{Event, f64_field, u64_field};
use crate::results::{self, Finding};
use crate::suite::SuiteKind;
use serde_json::{Map, Value, json};
use std::time::Duration;

/// Which question a trial asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Mass,
    Deadline,
    Safety,
}

impl Variant {
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Mass => "mass",
            Variant::Deadline => "deadline",
            Variant::Safety => "safety",
        }
    }
}

/// The receive idiom of the safety variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idiom {
    Safe,
    Unsafe,
}

impl Idiom {
    pub fn as_str(self) -> &'static str {
        match self {
            Idiom::Safe => "safe",
            Idiom::Unsafe => "unsafe",
        }
    }
}

/// One cancel point. Every field is passed on every invocation (the protocol says the harness always
/// passes all flags); each variant reads only its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancelParams {
    pub variant: Variant,
    /// mass: N tasks.
    pub tasks: u64,
    /// deadline: M operations.
    pub ops: u64,
    /// deadline: T, the timeout of each operation.
    pub timeout_ms: u64,
    /// deadline: P worker tasks.
    pub concurrency: u64,
    /// deadline: S, the splitmix64 seed.
    pub seed: u64,
    /// safety: K items.
    pub items: u64,
    pub idiom: Idiom,
}

/// The protocol's defaults (what a program uses when run by hand).
pub const DEFAULTS: CancelParams = CancelParams {
    variant: Variant::Mass,
    tasks: 10_000,
    ops: 100_000,
    timeout_ms: 20,
    concurrency: 1_000,
    seed: 1,
    items: 20_000,
    idiom: Idiom::Safe,
};

impl CancelParams {
    pub fn mass(tasks: u64) -> Self {
        CancelParams {
            variant: Variant::Mass,
            tasks,
            ..DEFAULTS
        }
    }
    pub fn deadline(ops: u64, timeout_ms: u64, concurrency: u64, seed: u64) -> Self {
        CancelParams {
            variant: Variant::Deadline,
            ops,
            timeout_ms,
            concurrency,
            seed,
            ..DEFAULTS
        }
    }
    pub fn safety(items: u64, idiom: Idiom) -> Self {
        CancelParams {
            variant: Variant::Safety,
            items,
            idiom,
            ..DEFAULTS
        }
    }

    /// The command-line flags, all of them, in the protocol's order.
    pub fn flags(&self) -> Vec<(&'static str, String)> {
        vec![
            ("variant", self.variant.as_str().to_string()),
            ("tasks", self.tasks.to_string()),
            ("ops", self.ops.to_string()),
            ("timeout-ms", self.timeout_ms.to_string()),
            ("concurrency", self.concurrency.to_string()),
            ("seed", self.seed.to_string()),
            ("items", self.items.to_string()),
            ("idiom", self.idiom.as_str().to_string()),
        ]
    }

    /// The cell parameters: only the ones this variant reads, so scenarios group sensibly.
    pub fn cell_params(&self) -> std::collections::BTreeMap<String, Value> {
        match self.variant {
            Variant::Mass => params(&[("variant", json!("mass")), ("tasks", json!(self.tasks))]),
            Variant::Deadline => params(&[
                ("variant", json!("deadline")),
                ("ops", json!(self.ops)),
                ("timeout_ms", json!(self.timeout_ms)),
                ("concurrency", json!(self.concurrency)),
                ("seed", json!(self.seed)),
            ]),
            Variant::Safety => params(&[
                ("variant", json!("safety")),
                ("items", json!(self.items)),
                ("idiom", json!(self.idiom.as_str())),
            ]),
        }
    }
}

/// The protocol's PRNG, identical in every language: splitmix64 (Steele, Lea, Flood 2014).
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// What a correct deadline run reports, and the least time it can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineExpected {
    /// Ops whose timeout wins (x_i % 4 == 0).
    pub timeouts: u64,
    /// Σ i over the ops whose response wins.
    pub response_sum: u64,
    /// The busiest worker's sum of min(d_i, T): no correct run finishes sooner.
    pub min_elapsed_ms: u64,
}

/// The response delay of a winning response: T/4, at least 1 ms.
pub fn fast_delay_ms(timeout_ms: u64) -> u64 {
    (timeout_ms / 4).max(1)
}

/// Computes the deadline variant's expected values from (seed, M, T, P) alone.
pub fn deadline_expected(p: &CancelParams) -> DeadlineExpected {
    let mut rng = SplitMix64::new(p.seed);
    let workers = p.concurrency.clamp(1, p.ops.max(1)) as usize;
    let mut per_worker_ms = vec![0u64; workers];
    let (mut timeouts, mut response_sum) = (0u64, 0u64);
    for i in 0..p.ops {
        let w = (i % workers as u64) as usize;
        if rng.next().is_multiple_of(4) {
            timeouts += 1;
            per_worker_ms[w] += p.timeout_ms;
        } else {
            response_sum += i;
            per_worker_ms[w] += fast_delay_ms(p.timeout_ms);
        }
    }
    DeadlineExpected {
        timeouts,
        response_sum,
        min_elapsed_ms: per_worker_ms.into_iter().max().unwrap_or(0),
    }
}

/// The mass variant's cleanup checksum: Σ_{i<N} (i + buf_i[1023]) with buf_i[1023] = (i + 1023) mod 256.
pub fn mass_expected_checksum(tasks: u64) -> u64 {
    // Closed form for Σ (i + 1023) mod 256: full cycles of 0..=255 plus the partial one starting at 255.
    let n = tasks;
    let full = n / 256;
    let rem = n % 256;
    let partial: u64 = (0..rem).map(|i| (i + 1023) % 256).sum();
    n * n.saturating_sub(1) / 2 + full * (255 * 256 / 2) + partial
}

/// The safety variant's checksum when every item arrives: Σ_{v<K} v.
pub fn safety_expected_checksum(items: u64) -> u64 {
    items * items.saturating_sub(1) / 2
}

/// How long a trial may take: generous (a slow runtime is data, not an error), but bounded.
pub fn timeout(p: &CancelParams) -> Duration {
    match p.variant {
        Variant::Mass => Duration::from_secs(20 + p.tasks / 2_000),
        Variant::Deadline => {
            let floor_ms = p.ops.div_ceil(p.concurrency.max(1)) * p.timeout_ms;
            Duration::from_millis(3 * floor_ms + 4 * p.timeout_ms)
                + Duration::from_secs(20 + p.ops / 4_000)
        }
        // The producer sleeps 2 ms every 63 sends; the rest is per-item work.
        Variant::Safety => {
            Duration::from_millis(3 * 2 * p.items / 63) + Duration::from_secs(20 + p.items / 2_000)
        }
    }
}

fn bad(e: crate::protocol::ProtocolError) -> Failure {
    Failure::failed(e.to_string())
}

fn expect_eq(what: &str, got: u64, want: u64, why: &str) -> Result<(), Failure> {
    if got == want {
        Ok(())
    } else {
        Err(Failure::failed(format!(
            "{what} {got}, expected {want}{why}"
        )))
    }
}

fn check_variant(p: &CancelParams, fields: &Map<String, Value>) -> Result<(), Failure> {
    match fields.get("variant").and_then(Value::as_str) {
        Some(v) if v == p.variant.as_str() => Ok(()),
        other => Err(Failure::failed(format!(
            "result names variant {other:?}, expected {:?}",
            p.variant.as_str()
        ))),
    }
}

/// The mass variant's checked result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MassResult {
    pub cancel_ms: f64,
}

/// Checks a mass result: N tasks, every cleanup exactly once, the buffer alive at cleanup.
pub fn check_mass(p: &CancelParams, fields: &Map<String, Value>) -> Result<MassResult, Failure> {
    check_variant(p, fields)?;
    let tasks = u64_field(fields, "tasks").map_err(bad)?;
    let cleanups = u64_field(fields, "cleanups").map_err(bad)?;
    let checksum = u64_field(fields, "cleanup_checksum").map_err(bad)?;
    let cancel_ms = f64_field(fields, "cancel_ms").map_err(bad)?;
    expect_eq("reported", tasks, p.tasks, " tasks")?;
    expect_eq(
        "cleanups",
        cleanups,
        p.tasks,
        ": every task's cleanup guard must run exactly once when it is cancelled",
    )?;
    expect_eq(
        "cleanup_checksum",
        checksum,
        mass_expected_checksum(p.tasks),
        ": a guard ran with the wrong task index or a buffer that was no longer intact",
    )?;
    if !(cancel_ms.is_finite() && cancel_ms >= 0.0) {
        return Err(Failure::failed(format!(
            "cancel_ms {cancel_ms} is not a duration"
        )));
    }
    Ok(MassResult { cancel_ms })
}

/// The deadline variant's checked result.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadlineResult {
    pub elapsed_ms: f64,
    pub timeouts: u64,
    /// Responses due at T/4 that lost to their timeout (0 when the counts match the seed exactly).
    pub schedule_misses: u64,
    pub finding: Option<Finding>,
}

/// How strictly the deadline outcome counts are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// Verification: the counts must match the seed exactly (a wrong program fails deterministically).
    Exact,
    /// Measurement: up to 10 % of the races (at least 2) may be responses due at T/4 that lost to their
    /// timeout, because a loop stalled for more than 3T/4 (a busy machine) lets the timeout win.
    /// Recorded as a `schedule_misses` finding; more than that fails the trial.
    TolerateLag,
}

/// The indices of the ops whose response wins (fast) and of those whose timeout wins (slow), ascending.
fn split_ops(p: &CancelParams) -> (Vec<u64>, Vec<u64>) {
    let mut rng = SplitMix64::new(p.seed);
    (0..p.ops).partition(|_| !rng.next().is_multiple_of(4))
}

/// The number of fast ops that timed out (a ≤ `max`) that explains `timeouts_delta` = reported −
/// expected timeouts and `sum_delta` = expected − reported response sum; `None` if none does.
///
/// Only that direction is tolerated: a stalled loop makes a response due at T/4 lose to the timeout at
/// T (a stall of 3T/4), while the opposite flip needs a stall of 3T *and* a runtime that prefers the
/// response when both are due. Allowing both would let a swap (one of each) explain any shift of the
/// response sum, hiding a wrong value in every response.
fn min_flips(p: &CancelParams, timeouts_delta: i128, sum_delta: i128, max: u64) -> Option<u64> {
    if timeouts_delta <= 0 || timeouts_delta > max as i128 {
        return None;
    }
    let (fast, _) = split_ops(p);
    let a = timeouts_delta as usize;
    if a > fast.len() {
        return None;
    }
    let lo: i128 = fast[..a].iter().map(|&i| i as i128).sum();
    let hi: i128 = fast[fast.len() - a..].iter().map(|&i| i as i128).sum();
    (lo..=hi).contains(&sum_delta).then_some(a as u64)
}

/// Checks a deadline result against the seed's outcomes and the least time the timers allow.
pub fn check_deadline(
    p: &CancelParams,
    fields: &Map<String, Value>,
    strictness: Strictness,
) -> Result<DeadlineResult, Failure> {
    check_variant(p, fields)?;
    let want = deadline_expected(p);
    let ops = u64_field(fields, "ops").map_err(bad)?;
    let timeouts = u64_field(fields, "timeouts").map_err(bad)?;
    let sum = u64_field(fields, "response_sum").map_err(bad)?;
    let elapsed_ms = f64_field(fields, "elapsed_ms").map_err(bad)?;
    expect_eq("reported", ops, p.ops, " ops")?;
    let exact = timeouts == want.timeouts && sum == want.response_sum;
    let mismatch = || {
        format!(
            "timeouts {timeouts} and response_sum {sum}, expected {} and {} from the seed (ops with x_i % 4 == 0 time out; the others' indices are summed)",
            want.timeouts, want.response_sum
        )
    };
    let (schedule_misses, finding) = if exact {
        (0, None)
    } else {
        let max = match strictness {
            Strictness::Exact => 0,
            Strictness::TolerateLag => (p.ops / 10).max(2),
        };
        let flips = min_flips(
            p,
            timeouts as i128 - want.timeouts as i128,
            want.response_sum as i128 - sum as i128,
            max,
        );
        match flips {
            Some(k) => (
                k,
                Some(Finding {
                    kind: FindingKind::ScheduleMisses,
                    message: format!(
                        "{}: {k} of {} responses due at T/4 lost to their T timeout; the loop was more than 3T/4 late (stalled on a busy machine, or timers that lag under load)",
                        mismatch(),
                        p.ops
                    ),
                }),
            ),
            None => {
                let why = match strictness {
                    Strictness::Exact => "",
                    Strictness::TolerateLag => {
                        "; timer lag (up to 10 % of the ops being responses due at T/4 lost to their timeouts) cannot explain it: the race is not implemented as specified"
                    }
                };
                return Err(Failure::failed(format!("{}{why}", mismatch())));
            }
        }
    };
    // Timers may fire a little early on coarse clocks; 10 % and 5 ms of slack.
    let floor = want.min_elapsed_ms as f64 * 0.9 - 5.0;
    if !(elapsed_ms.is_finite() && elapsed_ms >= floor) {
        return Err(Failure::failed(format!(
            "elapsed_ms {elapsed_ms:.1}, but the busiest worker's delays and timeouts add up to {} ms: the races did not wait",
            want.min_elapsed_ms
        )));
    }
    Ok(DeadlineResult {
        elapsed_ms,
        timeouts,
        schedule_misses,
        finding,
    })
}

/// The safety variant's checked result.
#[derive(Debug, Clone, PartialEq)]
pub struct SafetyResult {
    pub received: u64,
    pub lost_items: u64,
    pub ticks: u64,
    pub findings: Vec<Finding>,
}

/// Checks a safety result: exact with the safe idiom; with the unsafe one, losses are a finding but
/// the counts must still be possible (no more than K items, a checksum some R distinct items can have).
pub fn check_safety(
    p: &CancelParams,
    fields: &Map<String, Value>,
) -> Result<SafetyResult, Failure> {
    check_variant(p, fields)?;
    match fields.get("idiom").and_then(Value::as_str) {
        Some(i) if i == p.idiom.as_str() => {}
        other => {
            return Err(Failure::failed(format!(
                "result names idiom {other:?}, expected {:?}",
                p.idiom.as_str()
            )));
        }
    }
    let k = p.items;
    let items = u64_field(fields, "items").map_err(bad)?;
    let received = u64_field(fields, "received").map_err(bad)?;
    let checksum = u64_field(fields, "checksum").map_err(bad)?;
    let ticks = u64_field(fields, "ticks").map_err(bad)?;
    expect_eq("reported", items, k, " items")?;
    let mut findings = Vec::new();
    match p.idiom {
        Idiom::Safe => {
            expect_eq(
                "received",
                received,
                k,
                " items with the cancellation-safe receive",
            )?;
            expect_eq(
                "checksum",
                checksum,
                safety_expected_checksum(k),
                " with the cancellation-safe receive",
            )?;
        }
        Idiom::Unsafe => {
            if received > k {
                return Err(Failure::failed(format!(
                    "received {received} items, but only {k} were sent"
                )));
            }
            // R distinct values of 0..K sum to at least 0+…+(R−1) and at most (K−R)+…+(K−1).
            let (r, k128) = (received as u128, k as u128);
            let lo = r * r.saturating_sub(1) / 2;
            let hi = r * (2 * k128 - r).saturating_sub(1) / 2;
            let z = checksum as u128;
            if z < lo || z > hi {
                return Err(Failure::failed(format!(
                    "checksum {checksum} is impossible for {received} distinct items of 0..{k} (range {lo}..={hi}): items were duplicated or invented"
                )));
            }
            if received < k {
                findings.push(Finding {
                    kind: FindingKind::LostItems,
                    message: format!(
                        "the unsafe idiom lost {} of {k} items ({:.2} %): a receive cancelled by the tick had already taken them",
                        k - received,
                        100.0 * (k - received) as f64 / k as f64
                    ),
                });
            }
        }
    }
    if let Some(note) = fields.get("idiom_note").and_then(Value::as_str) {
        findings.push(Finding {
            kind: FindingKind::IdiomNote,
            message: note.to_string(),
        });
    }
    Ok(SafetyResult {
        received,
        lost_items: k - received,
        ticks,
        findings,
    })
}

/// The phases a mass run stops at, in order.
pub const PHASES: [&str; 3] = ["start", "armed", "cancelled"];

/// `VmRSS` in bytes from the text of `/proc/<pid>/status`.
pub fn parse_vm_rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut it = line["VmRSS:".len()..].split_whitespace();
    let value: u64 = it.next()?.parse().ok()?;
    match it.next() {
        Some("kB") | None => Some(value * 1024),
        Some(_) => None,
    }
}

/// The resident set of a live process now. Its pid is the measured program's own (the launcher
/// reports it; see `process::child`), so the launcher's few hundred KiB are not counted.
#[cfg(test)]
fn vm_rss_bytes(pid: i32) -> Option<u64> {
    parse_vm_rss_bytes(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// RSS sampled at each phase of a mass run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhaseRss {
    pub start_bytes: f64,
    pub armed_bytes: f64,
    pub cancelled_bytes: f64,
}

/// Growth below which a reclaimed fraction is noise (allocator and GC heap jitter), not a ratio.
pub const MIN_GROWTH_FOR_FRACTION_BYTES: f64 = 4.0 * 1024.0 * 1024.0;

/// The mass metrics derived from the phase samples: (bytes_per_task, rss_reclaimed_fraction). The
/// fraction is `None` when arming grew less than [`MIN_GROWTH_FOR_FRACTION_BYTES`]: a ratio of two
/// small differences of noisy RSS readings says nothing (it can even come out negative).
pub fn mass_memory(rss: PhaseRss, tasks: u64) -> (f64, Option<f64>) {
    let grown = rss.armed_bytes - rss.start_bytes;
    let per_task = grown / tasks.max(1) as f64;
    let reclaimed = (grown >= MIN_GROWTH_FOR_FRACTION_BYTES)
        .then(|| (rss.armed_bytes - rss.cancelled_bytes) / grown);
    (per_task, reclaimed)
}

/// What one cancel process did, seen from outside.
struct Observed {
    ready: crate::protocol::Ready,
    fields: Map<String, Value>,
    startup_ms: f64,
    /// The program's CPU time (user + system) when it printed `ready`: the runtime's start-up cost,
    /// subtracted so per-op CPU covers only the work (`None` if `/proc` could not be read).
    cpu_at_ready_s: Option<f64>,
    /// `VmRSS` at each phase, in [`PHASES`] order (mass only).
    phase_rss_bytes: Vec<f64>,
    usage: crate::process::Usage,
    memory: crate::process::MemoryReport,
    wall_ms: f64,
}

/// Runs one cancel process to its result and exit. The mass variant stops at each of [`PHASES`]: the
/// harness samples the program's RSS and answers `continue` on stdin. Any other variant announcing a
/// phase is a protocol error, as is a phase out of order or a result before the last phase.
fn observe(launch: &Launch, p: &CancelParams) -> Result<Observed, Failure> {
    let phases: &[&str] = if p.variant == Variant::Mass {
        &PHASES
    } else {
        &[]
    };
    let limit = timeout(p);
    let mut child = launch.spawn("cancel", &p.flags())?;
    // Samples the program where it runs (over ssh with `--server-host`).
    let sampler = crate::process::RssSampler::of(&child);
    let deadline = child.started + limit;
    // Whatever happens below, the child never outlives the trial.
    let outcome = (|| {
        let ready = super::await_ready(&mut child, "cancel", limit)?;
        let startup_ms = child.started.elapsed().as_secs_f64() * 1e3;
        let cpu_at_ready_s = sampler.cpu_s();
        let mut samples = Vec::new();
        let fields = loop {
            match child.next_event(deadline) {
                Ok(Event::Phase(phase)) if phases.is_empty() => {
                    return Err(super::unexpected_phase(&phase));
                }
                Ok(Event::Phase(phase)) => {
                    let want = phases.get(samples.len()).copied();
                    if Some(phase.as_str()) != want {
                        return Err(Failure::failed(format!(
                            "protocol error: phase {phase:?}, expected {}",
                            want.map_or("the result".to_string(), |w| format!("phase {w:?}"))
                        )));
                    }
                    let rss = sampler.rss_bytes().ok_or_else(|| {
                        Failure::crashed(format!(
                            "gone before its RSS could be sampled at phase {phase:?}{}",
                            child.tail_suffix()
                        ))
                    })?;
                    samples.push(rss as f64);
                    child.send_line("continue").map_err(|e| {
                        Failure::crashed(format!(
                            "could not acknowledge phase {phase:?} on stdin: {e}{}",
                            child.tail_suffix()
                        ))
                    })?;
                }
                Ok(Event::Result(f)) if samples.len() == phases.len() => break f,
                Ok(Event::Result(_)) => {
                    return Err(Failure::failed(format!(
                        "protocol error: result before phase {:?}",
                        phases[samples.len()]
                    )));
                }
                Ok(Event::Ready(_)) => return Err(Failure::failed("a second ready event")),
                Err(WaitError::Timeout(_)) => {
                    let at = samples
                        .len()
                        .checked_sub(1)
                        .map_or("after ready".to_string(), |i| {
                            format!("after phase {:?}", phases[i])
                        });
                    return Err(Failure::timeout(format!(
                        "no progress within {limit:.0?} ({at}); killed"
                    )));
                }
                Err(e) => return Err(Failure::from_wait("the next phase or result", e)),
            }
        };
        Ok((ready, startup_ms, cpu_at_ready_s, samples, fields))
    })();
    let (ready, startup_ms, cpu_at_ready_s, phase_rss_bytes, fields) = match outcome {
        Ok(v) => v,
        Err(f) => {
            child.kill();
            return Err(f);
        }
    };
    let (usage, wall_ms, memory) = super::finish_after_result(&mut child, sampler)?;
    Ok(Observed {
        ready,
        fields,
        startup_ms,
        cpu_at_ready_s,
        phase_rss_bytes,
        usage,
        memory,
        wall_ms,
    })
}

/// Runs one measured trial of any variant and checks it (deadline counts tolerate timer lag).
pub fn run_trial(launch: &Launch, p: &CancelParams) -> Result<TrialData, Failure> {
    run_checked(launch, p, Strictness::TolerateLag)
}

/// Runs one trial and checks it with the given strictness.
pub fn run_checked(
    launch: &Launch,
    p: &CancelParams,
    strictness: Strictness,
) -> Result<TrialData, Failure> {
    let o = observe(launch, p)?;
    let mut m = process_metrics(&o.usage, &o.memory, o.startup_ms, &o.ready);
    m.set("wall_ms", o.wall_ms);
    let mut findings = Vec::new();
    match p.variant {
        Variant::Mass => {
            let r = check_mass(p, &o.fields)?;
            let rss = PhaseRss {
                start_bytes: o.phase_rss_bytes[0],
                armed_bytes: o.phase_rss_bytes[1],
                cancelled_bytes: o.phase_rss_bytes[2],
            };
            let (per_task, reclaimed) = mass_memory(rss, p.tasks);
            m.set("cancel_ms", r.cancel_ms);
            m.set(
                "cancel_ns_per_task",
                r.cancel_ms * 1e6 / p.tasks.max(1) as f64,
            );
            m.set("rss_start_bytes", rss.start_bytes);
            m.set("rss_armed_bytes", rss.armed_bytes);
            m.set("rss_cancelled_bytes", rss.cancelled_bytes);
            m.set("bytes_per_task", per_task);
            if let Some(f) = reclaimed {
                m.set("rss_reclaimed_fraction", f);
            }
        }
        Variant::Deadline => {
            let r = check_deadline(p, &o.fields, strictness)?;
            m.set("elapsed_ms", r.elapsed_ms);
            m.set("timeouts", r.timeouts as f64);
            m.set("schedule_misses", r.schedule_misses as f64);
            // CPU of the races only: the runtime's start-up (an interpreter's imports, a JIT's
            // warm-up before ready) is not a cost of racing timeouts.
            let total_s = o.usage.cpu_user_s + o.usage.cpu_sys_s;
            let work_s = (total_s - o.cpu_at_ready_s.unwrap_or(0.0)).max(0.0);
            m.set("cpu_ns_per_op", work_s * 1e9 / p.ops.max(1) as f64);
            findings.extend(r.finding);
        }
        Variant::Safety => {
            let r = check_safety(p, &o.fields)?;
            m.set("received", r.received as f64);
            m.set("lost_items", r.lost_items as f64);
            m.set("ticks", r.ticks as f64);
            findings = r.findings;
        }
    }
    Ok(TrialData {
        metrics: m,
        findings,
        rss_timeline: o.memory.timeline,
        ready: Some(o.ready),
        ..TrialData::default()
    })
}

/// Verification: small points of every variant, both idioms, every count exact. The deadline point
/// uses T = 100 ms (a response due at 25 ms flips only if the loop stalls for 75 ms) and, if its counts
/// are off, runs once more: a wrong program is wrong twice, a stall on a busy machine rarely repeats.
pub fn verify(launch: &Launch) -> (Result<String, String>, Option<crate::protocol::Ready>) {
    let points = verify_points();
    let mut ready = None;
    let mut retried = false;
    for p in points {
        let mut outcome = run_checked(launch, &p, Strictness::Exact);
        if p.variant == Variant::Deadline
            && outcome
                .as_ref()
                .is_err_and(|f| f.reason.contains("from the seed"))
        {
            retried = true;
            outcome = run_checked(launch, &p, Strictness::Exact);
        }
        match outcome {
            Ok(t) => ready = ready.or(t.ready),
            Err(f) => {
                let desc: Vec<String> = p
                    .cell_params()
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let again = if retried {
                    " (and on a second try)"
                } else {
                    ""
                };
                return (
                    Err(format!("{}: {}{again}", desc.join(" "), f.reason)),
                    ready,
                );
            }
        }
    }
    let note = if retried {
        " (deadline counts exact on the second try)"
    } else {
        ""
    };
    (
        Ok(format!(
            "mass 1k (cleanups, checksum, 3 phases), deadline 2k (timeouts, response sum, timing), safety 2k safe (exact) and unsafe (consistent){note}"
        )),
        ready,
    )
}

/// The points each suite measures. Kept here (not in `suite.rs`) so the workload is one module.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CancelSuite {
    pub mass_tasks: Vec<u64>,
    /// Deadline op counts; each M is paired with 10·M for the leak check, which runs once (it is long
    /// and measures memory, which noise threatens less than time).
    pub deadline_ops: Vec<u64>,
    pub timeout_ms: u64,
    pub concurrency: u64,
    pub seed: u64,
    pub safety_items: Vec<u64>,
}

impl CancelSuite {
    /// Default suite ≈ 4 minutes for ~13 implementations on 2 cores: mass at 10k and 100k (≈ 1–3 s a
    /// trial), deadline at 20k (3 trials, ≥ 0.4 s of timers each) and 200k (1 trial, ≥ 4 s of timers),
    /// safety at 20k with both idioms (≥ 0.3 s of producer sleeps each). T = 50 ms rather than the
    /// protocol's default 20: a response due at T/4 then loses to its timeout only after a 38 ms stall,
    /// so the seed's schedule survives a busy machine; P = 1000 keeps that many timers armed at once.
    pub fn new(kind: SuiteKind) -> Self {
        match kind {
            SuiteKind::Quick => CancelSuite {
                mass_tasks: vec![1_000, 10_000],
                deadline_ops: vec![2_000],
                timeout_ms: 50,
                concurrency: 100,
                seed: 1,
                safety_items: vec![5_000],
            },
            SuiteKind::Default => CancelSuite {
                mass_tasks: vec![10_000, 100_000],
                deadline_ops: vec![20_000],
                timeout_ms: 50,
                concurrency: 1_000,
                seed: 1,
                safety_items: vec![20_000],
            },
            SuiteKind::Full => CancelSuite {
                mass_tasks: vec![10_000, 100_000, 1_000_000],
                deadline_ops: vec![100_000],
                timeout_ms: 50,
                concurrency: 1_000,
                seed: 1,
                safety_items: vec![100_000],
            },
        }
    }
}

/// Measures every cancel point, then attaches `leak` findings to the 10·M deadline cells.
pub fn measure(run: &mut dyn Session) -> anyhow::Result<()> {
    let s = CancelSuite::new(run.config().suite.kind);
    let impls: Vec<String> = run.runnable("cancel").into_iter().map(|(n, _)| n).collect();
    let points = |ps: &[CancelParams]| {
        let mut out = Vec::new();
        for p in ps {
            for imp in &impls {
                out.push((imp.clone(), p.cell_params(), *p));
            }
        }
        out
    };
    let trial = |l: &Launch, p: &CancelParams, _r: usize| run_trial(l, p);
    let repeat = run.config().suite.repeat;
    let mass: Vec<CancelParams> = s
        .mass_tasks
        .iter()
        .map(|&n| CancelParams::mass(n))
        .collect();
    run.measure(
        "cancel",
        "cancel mass",
        points(&mass),
        "cancel_ns_per_task",
        repeat,
        &trial,
    )?;
    let dl = |m: u64| CancelParams::deadline(m, s.timeout_ms, s.concurrency, s.seed);
    let small: Vec<CancelParams> = s.deadline_ops.iter().map(|&m| dl(m)).collect();
    let large: Vec<CancelParams> = s.deadline_ops.iter().map(|&m| dl(m * 10)).collect();
    let mut cells = run.measure(
        "cancel",
        "cancel deadline",
        points(&small),
        "cpu_ns_per_op",
        repeat,
        &trial,
    )?;
    cells.extend(run.measure(
        "cancel",
        "cancel deadline ×10",
        points(&large),
        "cpu_ns_per_op",
        1,
        &trial,
    )?);
    attach_leak_findings(run.cells(), &cells);
    let safety: Vec<CancelParams> = s
        .safety_items
        .iter()
        .flat_map(|&k| [Idiom::Safe, Idiom::Unsafe].map(|i| CancelParams::safety(k, i)))
        .collect();
    run.measure(
        "cancel",
        "cancel safety",
        points(&safety),
        "lost_items",
        repeat,
        &trial,
    )?;
    Ok(())
}

/// Judges peak RSS at M and 10·M deadline ops: late responders and abandoned timers must not
/// accumulate, so with P ops in flight the working set is the same at both sizes. `None` within noise.
pub fn leak_verdict(
    rss_small: f64,
    rss_large: f64,
    ops_small: u64,
    ops_large: u64,
) -> Option<Finding> {
    let growth = rss_large - rss_small;
    // GC heaps settle at different sizes from run to run; 25 % or 8 MiB is beyond that noise.
    let tolerance = (0.25 * rss_small).max(8.0 * 1024.0 * 1024.0);
    let mib = |b: f64| b / (1024.0 * 1024.0);
    (growth > tolerance).then(|| Finding {
        kind: FindingKind::Leak,
        message: format!(
            "peak RSS grew from {:.1} MiB at {ops_small} ops to {:.1} MiB at {ops_large} ops (+{:.1} MiB, ≈ {:.0} B per extra op; tolerance {:.1} MiB): late responses or abandoned timers accumulate",
            mib(rss_small),
            mib(rss_large),
            mib(growth),
            growth / (ops_large - ops_small).max(1) as f64,
            mib(tolerance)
        ),
    })
}

/// Pairs deadline cells at M and 10·M (same implementation, T, P, seed) and records `leak` findings
/// on the larger one.
pub fn attach_leak_findings(cells: &mut [results::Cell], indices: &[usize]) {
    let key = |c: &results::Cell| {
        (
            c.implementation.clone(),
            c.params.get("timeout_ms").cloned(),
            c.params.get("concurrency").cloned(),
            c.params.get("seed").cloned(),
        )
    };
    let ok: Vec<usize> = indices
        .iter()
        .copied()
        .filter(|&i| {
            cells[i].params.get("variant") == Some(&json!("deadline"))
                && cells[i].status == results::CellStatus::Ok
        })
        .collect();
    for &small in &ok {
        let m = cells[small].params["ops"].as_u64().unwrap_or(0);
        let Some(&large) = ok.iter().find(|&&j| {
            key(&cells[j]) == key(&cells[small]) && cells[j].params["ops"].as_u64() == Some(m * 10)
        }) else {
            continue;
        };
        let (Some(a), Some(b)) = (
            cells[small].metrics.get("peak_rss_bytes"),
            cells[large].metrics.get("peak_rss_bytes"),
        ) else {
            continue;
        };
        cells[large]
            .findings
            .retain(|f| f.kind != FindingKind::Leak);
        if let Some(f) = leak_verdict(a, b, m, m * 10) {
            cells[large].findings.push(f);
        }
    }
}

/// Mean start-up of a cancel program in the reference run (0.27 s for Python, ≈ 1 ms for Rust).
const STARTUP_S: f64 = 0.06;

/// Mass cancellation: fixed cost and mean cost per task (spawn, cancel, clean up) over the reference
/// run's implementations, fitted to its 10k and 100k cells (node ≈ 41 µs a task, Rust ≈ 2 µs).
const MASS_FIXED_S: f64 = 0.05;
const MASS_S_PER_TASK: f64 = 10.7e-6;

/// Deadline: beyond the least time the seed's schedule allows ([`deadline_expected`]), each of a
/// worker's sequential operations fires its timer ≈ 2.75 ms late on a 2-core machine, plus a fixed
/// 0.15 s (fitted to the reference's 20k and 200k cells: 0.86 and 5.72 s against 0.66 and 5.02 s).
const DEADLINE_FIXED_S: f64 = 0.15;
const DEADLINE_LATE_S_PER_OP: f64 = 2.75e-3;

/// Safety: the producer's 2 ms sleep every 63 sends (see [`timeout`]) plus a fixed 0.15 s (fitted:
/// 0.79 s for 20k items against 0.63 s of sleeps).
const SAFETY_FIXED_S: f64 = 0.15;

/// One trial's expected seconds.
fn trial_s(p: &CancelParams) -> f64 {
    let run_s = match p.variant {
        Variant::Mass => MASS_FIXED_S + p.tasks as f64 * MASS_S_PER_TASK,
        Variant::Deadline => {
            let per_worker_ops = p.ops.div_ceil(p.concurrency.clamp(1, p.ops.max(1)));
            let least_s = deadline_expected(p).min_elapsed_ms as f64 / 1e3;
            DEADLINE_FIXED_S + least_s + per_worker_ops as f64 * DEADLINE_LATE_S_PER_OP
        }
        Variant::Safety => SAFETY_FIXED_S + (p.items / 63) as f64 * 2e-3,
    };
    STARTUP_S + run_s + TRIAL_OVERHEAD_S
}

/// The verification runs (see [`verify`]).
fn verify_points() -> [CancelParams; 4] {
    [
        CancelParams::mass(1_000),
        CancelParams::deadline(2_000, 100, 100, 1),
        CancelParams::safety(2_000, Idiom::Safe),
        CancelParams::safety(2_000, Idiom::Unsafe),
    ]
}

/// Every measured point with its trial count: mass and deadline at M and safety `repeat` times (one
/// when the first trial is a long one), deadline at 10·M once.
fn plan_points(s: &CancelSuite, repeat: usize, long_trial_s: f64) -> Vec<(CancelParams, usize)> {
    let dl = |m: u64| CancelParams::deadline(m, s.timeout_ms, s.concurrency, s.seed);
    let repeated = s
        .mass_tasks
        .iter()
        .map(|&n| CancelParams::mass(n))
        .chain(s.deadline_ops.iter().map(|&m| dl(m)))
        .chain(
            s.safety_items
                .iter()
                .flat_map(|&k| [Idiom::Safe, Idiom::Unsafe].map(|i| CancelParams::safety(k, i))),
        )
        .map(|p| (p, trials(trial_s(&p), repeat, long_trial_s)));
    let once = s.deadline_ops.iter().map(|&m| (dl(10 * m), 1));
    repeated.chain(once).collect()
}

/// Expected seconds of verifying and measuring cancel on `implementations` implementations.
pub fn plan_seconds(
    s: &CancelSuite,
    repeat: usize,
    long_trial_s: f64,
    implementations: usize,
) -> f64 {
    let verify: f64 = verify_points().iter().map(trial_s).sum();
    let measure: f64 = plan_points(s, repeat, long_trial_s)
        .iter()
        .map(|(p, n)| *n as f64 * trial_s(p))
        .sum();
    implementations as f64 * (verify + measure)
}

/// The plan line's figure (see [`plan_seconds`]).
fn estimate_s(cfg: &RunConfig, implementations: usize) -> Option<f64> {
    let suite = &cfg.suite;
    Some(plan_seconds(
        &CancelSuite::new(suite.kind),
        suite.repeat,
        suite.long_trial_s,
        implementations,
    ))
}

/// The cancel workload's facts (see [`Definition`]).
pub const DEFINITION: Definition = Definition {
    name: "cancel",
    title: "Cancellation",
    parameters: &[
        "variant",
        "tasks",
        "ops",
        "timeout_ms",
        "concurrency",
        "seed",
        "items",
        "idiom",
    ],
    headlines: &["cancel_ns_per_task", "cpu_ns_per_op"],
    columns: &[
        "cancel_ns_per_task",
        "cancel_ms",
        "bytes_per_task",
        "rss_reclaimed_fraction",
        "rss_armed_bytes",
        "cpu_ns_per_op",
        "elapsed_ms",
        "schedule_misses",
        "lost_items",
        "ticks",
        "peak_rss_bytes",
        "cpu_user_s",
    ],
    charts: &[],
    verify: Some(|launch, _ready_timeout| verify(launch)),
    measure,
    estimate_s,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn splitmix64_matches_the_protocol_vectors() {
        let mut r = SplitMix64::new(1);
        assert_eq!(r.next(), 0x910A_2DEC_8902_5CC1);
        assert_eq!(r.next(), 0xBEEB_8DA1_658E_EC67);
        // The reference implementation's first output for seed 0.
        assert_eq!(SplitMix64::new(0).next(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn deadline_expectations_match_the_protocol_vectors() {
        let e = deadline_expected(&CancelParams::deadline(100_000, 20, 1000, 1));
        assert_eq!(e.timeouts, 25_009);
        assert_eq!(e.response_sum, 3_749_933_481);
        // 100 ops per worker, each 5 ms or 20 ms: between 500 and 2000 ms for the busiest.
        assert!((500..=2000).contains(&e.min_elapsed_ms), "{e:?}");
        // Independent of P, the outcome counts; dependent on the seed.
        let p1 = deadline_expected(&CancelParams::deadline(100_000, 20, 7, 1));
        assert_eq!((p1.timeouts, p1.response_sum), (25_009, 3_749_933_481));
        assert_ne!(
            deadline_expected(&CancelParams::deadline(100_000, 20, 1000, 2)).timeouts,
            25_009
        );
    }

    #[test]
    fn mass_checksum_closed_form_matches_the_definition() {
        for n in [0u64, 1, 2, 255, 256, 257, 1000, 10_000, 100_003] {
            let direct: u64 = (0..n).map(|i| i + (i + 1023) % 256).sum();
            assert_eq!(mass_expected_checksum(n), direct, "n = {n}");
        }
        // N = 1: task 0's buffer ends in 1023 mod 256 = 255. The rest are docs/PROTOCOL.md's vectors.
        assert_eq!(mass_expected_checksum(1), 255);
        assert_eq!(mass_expected_checksum(1000), 624_240);
        assert_eq!(safety_expected_checksum(20_000), 199_990_000);
        let e = deadline_expected(&CancelParams::deadline(2000, 20, 100, 1));
        assert_eq!((e.timeouts, e.response_sum), (488, 1_505_278));
    }

    #[test]
    fn mass_checks() {
        let p = CancelParams::mass(1000);
        let x = mass_expected_checksum(1000);
        let good = fields(
            json!({"variant":"mass","tasks":1000,"cleanups":1000,"cleanup_checksum":x,"cancel_ms":2.5}),
        );
        assert_eq!(check_mass(&p, &good).unwrap().cancel_ms, 2.5);
        let missing = fields(
            json!({"variant":"mass","tasks":1000,"cleanups":999,"cleanup_checksum":x,"cancel_ms":2.5}),
        );
        assert!(
            check_mass(&p, &missing)
                .unwrap_err()
                .reason
                .contains("cleanups 999")
        );
        let twice = fields(
            json!({"variant":"mass","tasks":1000,"cleanups":1000,"cleanup_checksum":x + 5,"cancel_ms":2.5}),
        );
        assert!(
            check_mass(&p, &twice)
                .unwrap_err()
                .reason
                .contains("cleanup_checksum")
        );
        let wrong_variant = fields(
            json!({"variant":"deadline","tasks":1000,"cleanups":1000,"cleanup_checksum":x,"cancel_ms":2.5}),
        );
        assert!(
            check_mass(&p, &wrong_variant)
                .unwrap_err()
                .reason
                .contains("variant")
        );
        let no_time =
            fields(json!({"variant":"mass","tasks":1000,"cleanups":1000,"cleanup_checksum":x}));
        assert!(
            check_mass(&p, &no_time)
                .unwrap_err()
                .reason
                .contains("cancel_ms")
        );
    }

    #[test]
    fn mass_memory_derivations() {
        let rss = PhaseRss {
            start_bytes: 10e6,
            armed_bytes: 30e6,
            cancelled_bytes: 15e6,
        };
        let (per_task, reclaimed) = mass_memory(rss, 10_000);
        assert_eq!(per_task, 2000.0);
        assert_eq!(reclaimed, Some(0.75));
        let small = PhaseRss {
            start_bytes: 10e6,
            armed_bytes: 11e6,
            cancelled_bytes: 12e6,
        };
        assert_eq!(mass_memory(small, 1000), (1000.0, None));
    }

    #[test]
    fn vm_rss_parsing() {
        let status = "Name:\tx\nVmHWM:\t  9000 kB\nVmRSS:\t    1234 kB\nThreads:\t1\n";
        assert_eq!(parse_vm_rss_bytes(status), Some(1234 * 1024));
        assert_eq!(parse_vm_rss_bytes("Name:\tx\n"), None);
        // Our own status parses to something plausible.
        let me = vm_rss_bytes(std::process::id() as i32).unwrap();
        assert!(me > 100 * 1024, "{me}");
    }

    #[test]
    fn deadline_tolerates_only_what_timer_lag_can_explain() {
        let p = CancelParams::deadline(2_000, 20, 100, 1);
        let e = deadline_expected(&p);
        let (fast, slow) = split_ops(&p);
        let res = |t: u64, y: u64| {
            fields(
                json!({"variant":"deadline","ops":2000,"timeouts":t,"response_sum":y,"elapsed_ms":5000.0}),
            )
        };
        let lag = Strictness::TolerateLag;
        // Two fast ops lost to their timeouts: explained by two flips, recorded as a finding.
        let two_late = res(e.timeouts + 2, e.response_sum - fast[10] - fast[500]);
        let r = check_deadline(&p, &two_late, lag).unwrap();
        assert_eq!(r.schedule_misses, 2);
        assert_eq!(r.finding.unwrap().kind, FindingKind::ScheduleMisses);
        // Verification does not tolerate it.
        assert!(check_deadline(&p, &two_late, Strictness::Exact).is_err());
        // A slow op's response winning is not lag (its response is due at 4T): one of each fails.
        let swapped = res(e.timeouts, e.response_sum - fast[3] + slow[7]);
        assert!(check_deadline(&p, &swapped, lag).is_err());
        // An off-by-one in every response value cannot be explained by lost responses.
        let off_by_one = res(e.timeouts, e.response_sum + (2000 - e.timeouts));
        assert!(
            check_deadline(&p, &off_by_one, lag)
                .unwrap_err()
                .reason
                .contains("not implemented as specified")
        );
        // Never timing out is far beyond lag.
        assert!(check_deadline(&p, &res(0, (0..2000).sum()), lag).is_err());
        // More timeouts but a larger response sum: no set of lost responses gives that.
        assert!(check_deadline(&p, &res(e.timeouts + 2, e.response_sum + 5), lag).is_err());
        // Beyond 10 % of the races (here 200), even in the lag direction.
        let many: u64 = fast[..201].iter().sum();
        assert!(check_deadline(&p, &res(e.timeouts + 201, e.response_sum - many), lag).is_err());
        let limit: u64 = fast[..200].iter().sum();
        assert!(check_deadline(&p, &res(e.timeouts + 200, e.response_sum - limit), lag).is_ok());
    }

    #[test]
    fn safety_checks() {
        let k = 1000u64;
        let full = safety_expected_checksum(k);
        let safe = CancelParams::safety(k, Idiom::Safe);
        let unsafe_ = CancelParams::safety(k, Idiom::Unsafe);
        let res = |idiom: &str, r: u64, z: u64| {
            fields(
                json!({"variant":"safety","idiom":idiom,"items":k,"received":r,"checksum":z,"ticks":12}),
            )
        };
        let r = check_safety(&safe, &res("safe", k, full)).unwrap();
        assert_eq!((r.lost_items, r.ticks), (0, 12));
        assert!(r.findings.is_empty());
        // Losing items with the safe idiom fails the trial.
        assert!(
            check_safety(&safe, &res("safe", k - 1, full - 5))
                .unwrap_err()
                .reason
                .contains("received")
        );
        assert!(
            check_safety(&safe, &res("safe", k, full + 1))
                .unwrap_err()
                .reason
                .contains("checksum")
        );
        // With the unsafe idiom it is a finding...
        let r = check_safety(&unsafe_, &res("unsafe", k - 2, full - 3 - 700)).unwrap();
        assert_eq!(r.lost_items, 2);
        assert_eq!(r.findings[0].kind, FindingKind::LostItems);
        // ...but impossible counts still fail.
        assert!(
            check_safety(&unsafe_, &res("unsafe", k + 1, full))
                .unwrap_err()
                .reason
                .contains("only")
        );
        assert!(
            check_safety(&unsafe_, &res("unsafe", 2, full))
                .unwrap_err()
                .reason
                .contains("impossible")
        );
        assert!(
            check_safety(&unsafe_, &res("safe", k, full))
                .unwrap_err()
                .reason
                .contains("idiom")
        );
        // A language without the hazard says why.
        let mut noted = res("unsafe", k, full);
        noted.insert("idiom_note".into(), json!("Go's select is atomic"));
        assert_eq!(
            check_safety(&unsafe_, &noted).unwrap().findings[0].kind,
            FindingKind::IdiomNote
        );
    }

    #[test]
    fn leak_verdicts() {
        let mib = 1024.0 * 1024.0;
        assert!(leak_verdict(20.0 * mib, 22.0 * mib, 20_000, 200_000).is_none());
        let f = leak_verdict(20.0 * mib, 60.0 * mib, 20_000, 200_000).unwrap();
        assert_eq!(f.kind, FindingKind::Leak);
        assert!(f.message.contains("B per extra op"), "{}", f.message);
        // A large GC heap gets proportionally more slack.
        assert!(leak_verdict(200.0 * mib, 240.0 * mib, 20_000, 200_000).is_none());
    }

    #[test]
    fn every_flag_is_passed() {
        let names: Vec<&str> = CancelParams::mass(5)
            .flags()
            .iter()
            .map(|(k, _)| *k)
            .collect();
        assert_eq!(
            names,
            [
                "variant",
                "tasks",
                "ops",
                "timeout-ms",
                "concurrency",
                "seed",
                "items",
                "idiom"
            ]
        );
    }

    #[test]
    fn the_estimate_reproduces_the_reference_run() {
        // 12 implementations (rust-threads fails the 100k and deadline cells at once); their 185
        // trials lasted 201 s (summed wall time), verification ≈ 20 s, the harness ≈ 4 s: ≈ 225 s.
        let s = plan_seconds(&CancelSuite::new(SuiteKind::Default), 3, 12.0, 12);
        assert!((205.0..260.0).contains(&s), "{s:.0} s");
    }

    #[test]
    fn the_estimate_follows_the_plan() {
        let suite = CancelSuite::new(SuiteKind::Default);
        let points = plan_points(&suite, 3, 12.0);
        // mass × 2, deadline, safety × 2 idioms repeated; deadline at 10·M once.
        let counts: Vec<usize> = points.iter().map(|(_, n)| *n).collect();
        assert_eq!(counts, [3, 3, 3, 3, 3, 1]);
        assert_eq!(points[5].0.ops, 200_000);
        // The 200k-op deadline trial is the seed's 5.0 s schedule plus lateness: ≈ 5.8 s.
        let long = trial_s(&points[5].0);
        assert!((5.5..6.2).contains(&long), "{long}");
        assert!(
            (plan_seconds(&suite, 3, 12.0, 4) - 4.0 * plan_seconds(&suite, 3, 12.0, 1)).abs()
                < 1e-6
        );
        // A threshold below a point's trial runs that point once.
        let once = plan_points(&suite, 3, 0.5);
        assert_eq!(once[0].1, 3, "10k-task mass (≈ 0.2 s) stays repeated");
        assert_eq!(once[1].1, 1, "100k-task mass (≈ 1.2 s) runs once");
    }
}
