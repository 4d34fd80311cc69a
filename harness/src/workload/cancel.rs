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

use super::{Failure, Launch, TrialData, process_metrics};
use crate::process::{Exit, WaitError};
use crate::protocol::{Event, f64_field, u64_field};
use crate::results::{self, Finding};
use crate::runner::{Run, params};
use crate::suite::SuiteKind;
use serde_json::{Map, Value, json};
use std::time::{Duration, Instant};

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
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeadlineResult {
    pub elapsed_ms: f64,
    pub timeouts: u64,
    /// Timeouts beyond the seed's: responses that by schedule won (T/4 < T) but lost the race
    /// because the runtime ran them late. Always 0 under [`DeadlineCheck::Exact`].
    pub deadline_misses: u64,
    /// `deadline_misses` / (M − expected timeouts); `None` when no response should win.
    pub deadline_miss_fraction: Option<f64>,
}

/// How strictly a deadline result's outcome counts are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineCheck {
    /// Verification (generous T, small P): timeouts and response_sum exactly as the seed says.
    Exact,
    /// Measured trials: under load, or when a round of P ops costs more CPU than the T − T/4
    /// margin (Python at P = 1000, T = 20), a response due at T/4 can be run after its timeout.
    /// That is a measurement (`deadline_misses`), not a wrong answer. Still a failure: fewer
    /// timeouts than the seed's or a response_sum above it (a late response cannot win), or extra
    /// timeouts whose sum does not add up.
    Measured,
}

/// Checks a deadline result against the seed's outcomes and the least time the timers allow.
pub fn check_deadline(
    p: &CancelParams,
    fields: &Map<String, Value>,
    check: DeadlineCheck,
) -> Result<DeadlineResult, Failure> {
    check_variant(p, fields)?;
    let want = deadline_expected(p);
    let ops = u64_field(fields, "ops").map_err(bad)?;
    let timeouts = u64_field(fields, "timeouts").map_err(bad)?;
    let sum = u64_field(fields, "response_sum").map_err(bad)?;
    let elapsed_ms = f64_field(fields, "elapsed_ms").map_err(bad)?;
    expect_eq("reported", ops, p.ops, " ops")?;
    const WHY_TIMEOUTS: &str = " (from the seed: ops with x_i % 4 == 0 time out)";
    const WHY_SUM: &str = " (Σ i over the ops whose response wins)";
    if check == DeadlineCheck::Exact || timeouts == want.timeouts {
        expect_eq("timeouts", timeouts, want.timeouts, WHY_TIMEOUTS)?;
        expect_eq("response_sum", sum, want.response_sum, WHY_SUM)?;
    } else if timeouts < want.timeouts || timeouts > p.ops {
        return Err(Failure::failed(format!(
            "timeouts {timeouts}, expected at least {} and at most {}{WHY_TIMEOUTS}: a response due after its timeout cannot win",
            want.timeouts, p.ops
        )));
    } else if sum > want.response_sum {
        return Err(Failure::failed(format!(
            "response_sum {sum}, expected at most {} (with {} late responses){WHY_SUM}: a late response cannot win",
            want.response_sum,
            timeouts - want.timeouts
        )));
    }
    let deadline_misses = timeouts - want.timeouts;
    let should_win = p.ops - want.timeouts;
    let deadline_miss_fraction = if should_win > 0 {
        Some(deadline_misses as f64 / should_win as f64)
    } else {
        None
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
        deadline_misses,
        deadline_miss_fraction,
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
                    kind: "lost_items".into(),
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
            kind: "idiom_note".into(),
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

/// The mass metrics derived from the phase samples: (bytes_per_task, rss_reclaimed_fraction). The
/// fraction is `None` when arming grew nothing (no memory to reclaim, so no ratio to report).
pub fn mass_memory(rss: PhaseRss, tasks: u64) -> (f64, Option<f64>) {
    let grown = rss.armed_bytes - rss.start_bytes;
    let per_task = grown / tasks.max(1) as f64;
    let reclaimed = (grown > 0.0).then(|| (rss.armed_bytes - rss.cancelled_bytes) / grown);
    (per_task, reclaimed)
}

/// Runs one mass trial: phases acknowledged on stdin with RSS sampled at each, then the result.
fn run_mass(launch: &Launch, p: &CancelParams) -> Result<TrialData, Failure> {
    let limit = timeout(p);
    let mut child = launch.spawn("cancel", &p.flags())?;
    let sampler = crate::process::RssSampler::start(child.pid);
    let deadline = child.started + limit;
    // Whatever happens below, the child never outlives the trial.
    let outcome = (|| {
        let ready = super::await_ready(&mut child, "cancel", limit)?;
        let startup_ms = child.started.elapsed().as_secs_f64() * 1e3;
        let mut samples = Vec::new();
        let fields = loop {
            match child.next_event(deadline) {
                Ok(Event::Phase(phase)) => {
                    let want = PHASES.get(samples.len()).copied();
                    if Some(phase.as_str()) != want {
                        return Err(Failure::failed(format!(
                            "protocol error: phase {phase:?}, expected {}",
                            want.map_or("the result".to_string(), |w| format!("{w:?}"))
                        )));
                    }
                    let rss = vm_rss_bytes(child.pid).ok_or_else(|| {
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
                Ok(Event::Result(f)) if samples.len() == PHASES.len() => break f,
                Ok(Event::Result(_)) => {
                    return Err(Failure::failed(format!(
                        "protocol error: result before phase {:?}",
                        PHASES[samples.len()]
                    )));
                }
                Ok(Event::Ready(_)) => return Err(Failure::failed("a second ready event")),
                Err(WaitError::Timeout(_)) => {
                    let at = samples
                        .len()
                        .checked_sub(1)
                        .map_or("after ready".to_string(), |i| {
                            format!("after phase {:?}", PHASES[i])
                        });
                    return Err(Failure::timeout(format!(
                        "no progress within {limit:.0?} ({at}); killed"
                    )));
                }
                Err(e) => return Err(Failure::from_wait("the next phase or result", e)),
            }
        };
        Ok((ready, startup_ms, samples, fields))
    })();
    let (ready, startup_ms, samples, fields) = match outcome {
        Ok(v) => v,
        Err(f) => {
            child.kill();
            return Err(f);
        }
    };
    let (usage, wall_ms) = finish_exit(&mut child)?;
    let memory = sampler.finish();
    let r = check_mass(p, &fields)?;
    let rss = PhaseRss {
        start_bytes: samples[0],
        armed_bytes: samples[1],
        cancelled_bytes: samples[2],
    };
    let (per_task, reclaimed) = mass_memory(rss, p.tasks);
    let mut m = process_metrics(&usage, &memory, startup_ms, &ready);
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
    m.set("wall_ms", wall_ms);
    Ok(TrialData {
        metrics: m,
        rss_timeline: memory.timeline,
        ready: Some(ready),
        ..TrialData::default()
    })
}

/// After the result: a clean exit 0 within 10 s and nothing more on stdout. Returns (usage, wall ms).
fn finish_exit(
    child: &mut crate::process::Running,
) -> Result<(crate::process::Usage, f64), Failure> {
    let Some((exit, usage)) = child.wait(Instant::now() + Duration::from_secs(10)) else {
        child.kill();
        return Err(Failure::timeout(
            "printed its result but did not exit within 10 s",
        ));
    };
    let wall_ms = child.started.elapsed().as_secs_f64() * 1e3;
    if let Some(extra) = child.extra_stdout() {
        return Err(Failure::failed(format!(
            "protocol error: unexpected stdout after the result: {extra:?}"
        )));
    }
    if exit != Exit::Code(0) {
        return Err(Failure::crashed(format!(
            "{exit} after printing its result{}",
            child.tail_suffix()
        )));
    }
    Ok((usage, wall_ms))
}

/// Runs one measured trial of any variant (deadline outcomes checked per [`DeadlineCheck::Measured`]).
pub fn run_trial(launch: &Launch, p: &CancelParams) -> Result<TrialData, Failure> {
    run_trial_checked(launch, p, DeadlineCheck::Measured)
}

/// Runs one trial of any variant, checking deadline outcomes as `check` says.
fn run_trial_checked(
    launch: &Launch,
    p: &CancelParams,
    check: DeadlineCheck,
) -> Result<TrialData, Failure> {
    if p.variant == Variant::Mass {
        return run_mass(launch, p);
    }
    let run = super::run_finite(launch, "cancel", &p.flags(), timeout(p))?;
    let mut m = process_metrics(&run.usage, &run.memory, run.startup_ms, &run.ready);
    m.set("wall_ms", run.wall_ms);
    let mut findings = Vec::new();
    match p.variant {
        Variant::Deadline => {
            let r = check_deadline(p, &run.fields, check)?;
            let cpu_s = run.usage.cpu_user_s + run.usage.cpu_sys_s;
            m.set("elapsed_ms", r.elapsed_ms);
            m.set("timeouts", r.timeouts as f64);
            if let Some(f) = r.deadline_miss_fraction {
                m.set("deadline_miss_fraction", f);
            }
            if r.deadline_misses > 0 {
                findings.push(Finding {
                    kind: "deadline_misses".into(),
                    message: format!(
                        "{} of {} responses due at T/4 lost the race to their T = {} ms timeout: the runtime ran them late",
                        r.deadline_misses,
                        p.ops - (r.timeouts - r.deadline_misses),
                        p.timeout_ms
                    ),
                });
            }
            m.set("cpu_ns_per_op", cpu_s * 1e9 / p.ops.max(1) as f64);
        }
        Variant::Safety => {
            let r = check_safety(p, &run.fields)?;
            m.set("received", r.received as f64);
            m.set("lost_items", r.lost_items as f64);
            m.set("ticks", r.ticks as f64);
            findings = r.findings;
        }
        Variant::Mass => unreachable!("handled above"),
    }
    Ok(TrialData {
        metrics: m,
        findings,
        rss_timeline: run.memory.timeline,
        ready: Some(run.ready),
        ..TrialData::default()
    })
}

/// Verification: small points of every variant, both idioms, all checks on. The deadline point
/// is exact, with settings generous enough that no runtime should run a response 75 ms late:
/// T = 100 ms, P = 100, M = 2000.
pub fn verify(launch: &Launch) -> (Result<String, String>, Option<crate::protocol::Ready>) {
    let points = [
        CancelParams::mass(1_000),
        CancelParams::deadline(2_000, 100, 100, 1),
        CancelParams::safety(2_000, Idiom::Safe),
        CancelParams::safety(2_000, Idiom::Unsafe),
    ];
    let mut ready = None;
    for p in points {
        match run_trial_checked(launch, &p, DeadlineCheck::Exact) {
            Ok(t) => ready = ready.or(t.ready),
            Err(f) => {
                let desc: Vec<String> = p
                    .cell_params()
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                return (Err(format!("{}: {}", desc.join(" "), f.reason)), ready);
            }
        }
    }
    (
        Ok("mass 1k (cleanups, checksum, 3 phases), deadline 2k at T=100 ms, P=100 (exact timeouts, response sum, timing), safety 2k safe (exact) and unsafe (consistent)".into()),
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
    /// trial), deadline at 20k (3 trials, ≥ 0.2 s of timers each) and 200k (1 trial, ≥ 1.8 s of timers;
    /// CPU-bound runtimes take several seconds), safety at 20k with both idioms (≥ 0.3 s of producer
    /// sleeps each).
    pub fn new(kind: SuiteKind) -> Self {
        match kind {
            SuiteKind::Quick => CancelSuite {
                mass_tasks: vec![1_000, 10_000],
                deadline_ops: vec![2_000],
                timeout_ms: 20,
                concurrency: 100,
                seed: 1,
                safety_items: vec![5_000],
            },
            SuiteKind::Default => CancelSuite {
                mass_tasks: vec![10_000, 100_000],
                deadline_ops: vec![20_000],
                timeout_ms: 20,
                concurrency: 1_000,
                seed: 1,
                safety_items: vec![20_000],
            },
            SuiteKind::Full => CancelSuite {
                mass_tasks: vec![10_000, 100_000, 1_000_000],
                deadline_ops: vec![100_000],
                timeout_ms: 20,
                concurrency: 1_000,
                seed: 1,
                safety_items: vec![100_000],
            },
        }
    }
}

/// Measures every cancel point, then attaches `leak` findings to the 10·M deadline cells.
pub fn measure(run: &mut Run) -> anyhow::Result<()> {
    let s = CancelSuite::new(run.cfg.suite.kind);
    let impls: Vec<String> = run
        .prepared
        .iter()
        .filter(|p| p.runs("cancel"))
        .map(|p| p.imp.name.clone())
        .collect();
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
    let repeat = run.cfg.suite.repeat;
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
    attach_leak_findings(&mut run.results.cells, &cells);
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
    run.save()
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
        kind: "leak".into(),
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
        cells[large].findings.retain(|f| f.kind != "leak");
        if let Some(f) = leak_verdict(a, b, m, m * 10) {
            cells[large].findings.push(f);
        }
    }
}

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
        // N = 1: task 0's buffer ends in 1023 mod 256 = 255.
        assert_eq!(mass_expected_checksum(1), 255);
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
        let flat = PhaseRss {
            start_bytes: 10e6,
            armed_bytes: 10e6,
            cancelled_bytes: 10e6,
        };
        assert_eq!(mass_memory(flat, 10).1, None);
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
    fn deadline_checks() {
        use DeadlineCheck::{Exact, Measured};
        let p = CancelParams::deadline(2_000, 20, 100, 1);
        let e = deadline_expected(&p);
        let result = |timeouts: u64, sum: u64, elapsed: f64| {
            fields(
                json!({"variant":"deadline","ops":2000,"timeouts":timeouts,"response_sum":sum,"elapsed_ms":elapsed}),
            )
        };
        let ok = |elapsed: f64| result(e.timeouts, e.response_sum, elapsed);
        for check in [Exact, Measured] {
            let r = check_deadline(&p, &ok(e.min_elapsed_ms as f64 + 50.0), check).unwrap();
            assert_eq!((r.timeouts, r.deadline_misses), (e.timeouts, 0));
            assert_eq!(r.deadline_miss_fraction, Some(0.0));
            assert!(
                check_deadline(&p, &ok(1.0), check)
                    .unwrap_err()
                    .reason
                    .contains("did not wait")
            );
            // Fewer timeouts than the seed's: a response due after its timeout won. Always wrong.
            let too_few = result(e.timeouts - 1, e.response_sum, 1000.0);
            assert!(
                check_deadline(&p, &too_few, check)
                    .unwrap_err()
                    .reason
                    .contains("timeouts")
            );
            // The right timeouts but another sum: always wrong.
            let wrong_y = result(e.timeouts, e.response_sum - 1, 1000.0);
            assert!(
                check_deadline(&p, &wrong_y, check)
                    .unwrap_err()
                    .reason
                    .contains("response_sum")
            );
        }
        // More timeouts, yet a larger sum: a late response won.
        let sum_too_high = result(e.timeouts + 1, e.response_sum + 1, 1000.0);
        assert!(
            check_deadline(&p, &sum_too_high, Measured)
                .unwrap_err()
                .reason
                .contains("response_sum")
        );
        // Late responses (3 that should have won lost to their timeouts, values 7 + 8 + 9):
        // exact in verification, a measurement in measured trials.
        let late = result(e.timeouts + 3, e.response_sum - 24, 1000.0);
        assert!(
            check_deadline(&p, &late, Exact)
                .unwrap_err()
                .reason
                .contains("timeouts")
        );
        let r = check_deadline(&p, &late, Measured).unwrap();
        assert_eq!((r.timeouts, r.deadline_misses), (e.timeouts + 3, 3));
        let should_win = (2_000 - e.timeouts) as f64;
        assert_eq!(r.deadline_miss_fraction, Some(3.0 / should_win));
        let impossible = result(2_001, 0, 1000.0);
        assert!(check_deadline(&p, &impossible, Measured).is_err());
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
        assert_eq!(r.findings[0].kind, "lost_items");
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
            "idiom_note"
        );
    }

    #[test]
    fn leak_verdicts() {
        let mib = 1024.0 * 1024.0;
        assert!(leak_verdict(20.0 * mib, 22.0 * mib, 20_000, 200_000).is_none());
        let f = leak_verdict(20.0 * mib, 60.0 * mib, 20_000, 200_000).unwrap();
        assert_eq!(f.kind, "leak");
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
}
