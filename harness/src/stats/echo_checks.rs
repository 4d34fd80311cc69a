//! Self-checks of an echo cell, in the spirit of Lancet (USENIX ATC '19): a latency figure is reported
//! only when the evidence behind it holds. Pure functions, no I/O:
//!
//! * the achieved inter-arrival times follow the requested exponential law (Kolmogorov–Smirnov);
//! * throughput and latency are stationary across the window's sub-intervals (Mann–Kendall trend test
//!   plus a size threshold, so a statistically significant but tiny drift does not reject a cell);
//! * the client's scheduling error (actual − intended send) is small against the measured latency;
//! * there are enough samples for the reported percentile's confidence interval (order statistics);
//! * the machine's CPUs were not busy with work of neither server nor client (interference, steal).

/// Thresholds of the checks (documented in docs/METHODOLOGY.md).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Significance level of the arrival-process (KS) and trend (Mann–Kendall) tests.
    pub alpha: f64,
    /// At most this many inter-arrival gaps enter the KS test (evenly spaced). The test's power grows
    /// with n; a few thousand detect a bursty client without rejecting microsecond-level jitter.
    pub ks_max_sample: usize,
    /// A trend must also change the value by more than this fraction over the window.
    pub trend_min_change: f64,
    /// Scheduling error p99 must be at most this fraction of latency p99.
    pub max_sched_error_ratio: f64,
    /// The 95 % confidence interval of p99 must be at most this wide, relative to p99.
    pub max_p99_ci_width: f64,
    /// CPU time of other processes on the measured CPUs above this many cores is interference.
    pub max_other_cores: f64,
    /// Steal time above this many cores is interference.
    pub max_steal_cores: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            alpha: 0.01,
            ks_max_sample: 2_000,
            trend_min_change: 0.2,
            max_sched_error_ratio: 0.2,
            max_p99_ci_width: 0.2,
            max_other_cores: 0.15,
            max_steal_cores: 0.05,
        }
    }
}

/// Result of a one-sample Kolmogorov–Smirnov test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ks {
    pub n: usize,
    /// Largest distance between the empirical and the hypothesised distribution function.
    pub d: f64,
    pub p_value: f64,
}

/// KS test of `sample` against the exponential distribution with the given mean. `None` when the sample
/// has fewer than 20 values or the mean is not positive. At most `max_n` evenly spaced values are used.
pub fn ks_exponential(sample: &[f64], mean: f64, max_n: usize) -> Option<Ks> {
    if sample.len() < 20 || mean.is_nan() || mean <= 0.0 || max_n < 20 {
        return None;
    }
    let step = sample.len().div_ceil(max_n);
    let mut xs: Vec<f64> = sample.iter().step_by(step).copied().collect();
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len() as f64;
    let mut d: f64 = 0.0;
    for (i, x) in xs.iter().enumerate() {
        let f = 1.0 - (-x.max(0.0) / mean).exp();
        d = d.max((i as f64 + 1.0) / n - f).max(f - i as f64 / n);
    }
    // Stephens' small-sample correction of the asymptotic Kolmogorov distribution.
    let sqrt_n = n.sqrt();
    let lambda = (sqrt_n + 0.12 + 0.11 / sqrt_n) * d;
    Some(Ks {
        n: xs.len(),
        d,
        p_value: kolmogorov_q(lambda),
    })
}

/// P(K > λ) for the Kolmogorov distribution: 2 Σ (−1)^(k−1) e^(−2k²λ²).
pub fn kolmogorov_q(lambda: f64) -> f64 {
    if lambda < 0.2 {
        return 1.0;
    }
    let mut sum = 0.0;
    for k in 1..=100 {
        let k = k as f64;
        let term = (-2.0 * k * k * lambda * lambda).exp();
        sum += if k as u64 % 2 == 1 { term } else { -term };
        if term < 1e-12 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// A monotonic trend found by the Mann–Kendall test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trend {
    pub z: f64,
    pub p_value: f64,
    /// Theil–Sen slope × (n − 1) relative to the median: the change over the window as a fraction.
    pub relative_change: f64,
}

/// Mann–Kendall trend test with the Theil–Sen slope; `None` with fewer than 4 values.
pub fn mann_kendall(values: &[f64]) -> Option<Trend> {
    let n = values.len();
    if n < 4 {
        return None;
    }
    let mut s = 0i64;
    let mut slopes = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            let diff = values[j] - values[i];
            s += diff.partial_cmp(&0.0).map_or(0, |o| o as i64);
            slopes.push(diff / (j - i) as f64);
        }
    }
    let nf = n as f64;
    let var = nf * (nf - 1.0) * (2.0 * nf + 5.0) / 18.0;
    let z = match s {
        0 => 0.0,
        s if s > 0 => (s as f64 - 1.0) / var.sqrt(),
        s => (s as f64 + 1.0) / var.sqrt(),
    };
    slopes.sort_by(|a, b| a.total_cmp(b));
    let slope = slopes[slopes.len() / 2];
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let median = sorted[n / 2];
    let relative_change = if median.abs() > 0.0 {
        slope * (nf - 1.0) / median.abs()
    } else {
        0.0
    };
    Some(Trend {
        z,
        p_value: 2.0 * normal_upper_tail(z.abs()),
        relative_change,
    })
}

/// P(Z > z) for a standard normal Z.
pub fn normal_upper_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Complementary error function (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// The quantile positions bounding a two-sided 95 % confidence interval of the `q`-quantile from `n`
/// samples (binomial order statistics, normal approximation). `None` when the upper bound would need
/// a rank beyond the sample: too few samples to bound that percentile at all.
pub fn quantile_ci_positions(n: u64, q: f64) -> Option<(f64, f64)> {
    if n == 0 || !(0.0..1.0).contains(&q) {
        return None;
    }
    let nf = n as f64;
    let half = 1.96 * (nf * q * (1.0 - q)).sqrt();
    let lo = (nf * q - half).floor();
    let hi = (nf * q + half).ceil() + 1.0;
    if lo < 1.0 || hi > nf {
        return None;
    }
    Some((lo / nf, hi / nf))
}

/// Everything the checks look at for one trial of an echo cell.
#[derive(Debug, Clone, Default)]
pub struct Evidence<'a> {
    pub open_loop: bool,
    /// Open loop: gaps between consecutive actual sends, and the mean gap requested.
    pub send_gaps_ns: &'a [f64],
    pub requested_mean_gap_ns: f64,
    /// Per sub-interval: completions per second and latency p99.
    pub sub_rates: &'a [f64],
    pub sub_p99_ns: &'a [f64],
    pub sched_error_p99_ns: f64,
    pub latency_p99_ns: f64,
    /// The 95 % interval of p99 (ns), `None` when the samples cannot bound it.
    pub p99_ci_ns: Option<(f64, f64)>,
    pub samples: u64,
}

/// The KS distance the client's timing resolution can explain: the exponential's probability mass
/// below the scheduling-error p99 (0 when either figure is missing).
pub fn resolution_d(sched_error_p99_ns: f64, mean_gap_ns: f64) -> f64 {
    if sched_error_p99_ns.is_finite() && sched_error_p99_ns > 0.0 && mean_gap_ns > 0.0 {
        1.0 - (-sched_error_p99_ns / mean_gap_ns).exp()
    } else {
        0.0
    }
}

/// A check that did not hold, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Failed {
    /// `arrivals`, `stationarity`, `scheduling_error`, `samples`.
    pub check: &'static str,
    pub reason: String,
    /// Whether a longer window can make this check pass (more samples narrow p99's interval and let
    /// a transient settle); a late client or a broken arrival process stays broken however long it runs,
    /// so re-running those only spends the time budget.
    pub window_curable: bool,
}

/// Runs every check that applies; returns those that failed (empty: the cell's evidence holds).
pub fn evaluate(e: &Evidence, l: &Limits) -> Vec<Failed> {
    let mut failed = Vec::new();
    if e.open_loop {
        // Gaps shorter than the client's own timing error cannot be resolved (two sends cannot be
        // closer than a send takes): a CDF deviation up to the exponential's mass below the
        // scheduling-error p99 is the client's resolution, not a broken schedule. Larger deviations
        // (bursts, a constant rate) still fail, and the scheduling-error check bounds the resolution.
        let resolution_d = resolution_d(e.sched_error_p99_ns, e.requested_mean_gap_ns);
        match ks_exponential(e.send_gaps_ns, e.requested_mean_gap_ns, l.ks_max_sample) {
            Some(ks) if ks.p_value < l.alpha && ks.d > resolution_d => failed.push(Failed {
                check: "arrivals",
                reason: format!(
                    "sent inter-arrival times are not exponential (KS D = {:.3} > {:.3} allowed by the client's timing resolution, p = {:.1e}, n = {}): the client did not keep the Poisson schedule",
                    ks.d, resolution_d, ks.p_value, ks.n
                ),
                window_curable: false,
            }),
            Some(_) => {}
            None => failed.push(Failed {
                check: "arrivals",
                reason: format!(
                    "only {} inter-arrival gaps: too few to test the arrival process",
                    e.send_gaps_ns.len()
                ),
                window_curable: true,
            }),
        }
        if e.sched_error_p99_ns > l.max_sched_error_ratio * e.latency_p99_ns {
            failed.push(Failed {
                check: "scheduling_error",
                reason: format!(
                    "the client sent late by up to {:.0} µs (p99) against a latency p99 of {:.0} µs: more than {:.0} % of what it measures",
                    e.sched_error_p99_ns / 1e3,
                    e.latency_p99_ns / 1e3,
                    l.max_sched_error_ratio * 100.0
                ),
                window_curable: false,
            });
        }
    }
    for (what, values) in [("throughput", e.sub_rates), ("latency p99", e.sub_p99_ns)] {
        if let Some(t) = mann_kendall(values)
            && t.p_value < l.alpha
            && t.relative_change.abs() > l.trend_min_change
        {
            failed.push(Failed {
                check: "stationarity",
                reason: format!(
                    "{what} drifts by {:+.0} % across the window (Mann–Kendall p = {:.1e}): not a steady state",
                    t.relative_change * 100.0,
                    t.p_value
                ),
                window_curable: true,
            });
        }
    }
    match e.p99_ci_ns {
        None => failed.push(Failed {
            check: "samples",
            reason: format!("{} samples cannot bound p99", e.samples),
            window_curable: true,
        }),
        Some((lo, hi))
            if e.latency_p99_ns > 0.0 && (hi - lo) / e.latency_p99_ns > l.max_p99_ci_width =>
        {
            failed.push(Failed {
                check: "samples",
                reason: format!(
                    "p99's 95 % interval [{:.0}, {:.0}] µs is {:.0} % wide with {} samples",
                    lo / 1e3,
                    hi / 1e3,
                    (hi - lo) / e.latency_p99_ns * 100.0,
                    e.samples
                ),
                window_curable: true,
            })
        }
        Some(_) => {}
    }
    failed
}

/// Whether a trial's latency says more about the client than the server: its CPU was saturated, or it
/// sent later than the scheduling-error limit allows against the latency it measured (the `scheduling
/// error` self-check). Pure and re-derivable from a stored trial's metrics, so old results can be
/// re-judged. Such a trial did not offer the rate it was asked to: whatever it measured is unknown, and
/// a capacity bounded by it is a lower bound set by the client.
pub fn client_could_not_offer(
    client_saturated: bool,
    sched_error_p99_ns: Option<f64>,
    latency_p99_ns: f64,
    l: &Limits,
) -> bool {
    client_saturated
        || sched_error_p99_ns.is_some_and(|e| e > l.max_sched_error_ratio * latency_p99_ns)
}

/// Cumulative CPU time counters of one `/proc/stat` line, in clock ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTicks {
    /// user + nice + system + irq + softirq (guest time is already inside user).
    pub busy: u64,
    pub steal: u64,
    pub idle: u64,
}

/// Sums the per-CPU lines of a `/proc/stat` text for the given CPUs (all CPUs when `cpus` is empty).
pub fn parse_proc_stat(text: &str, cpus: &[usize]) -> CpuTicks {
    let mut t = CpuTicks::default();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let Some(name) = f.next() else { continue };
        let Some(idx) = name
            .strip_prefix("cpu")
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        if !cpus.is_empty() && !cpus.contains(&idx) {
            continue;
        }
        let v: Vec<u64> = f.map(|x| x.parse().unwrap_or(0)).collect();
        let at = |i: usize| v.get(i).copied().unwrap_or(0);
        t.busy += at(0) + at(1) + at(2) + at(5) + at(6);
        t.idle += at(3) + at(4);
        t.steal += at(7);
    }
    t
}

/// CPU used on the measured CPUs by something other than the server and the client, and steal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interference {
    /// Cores' worth of CPU time used by other processes (≥ 0).
    pub other_cores: f64,
    pub steal_cores: f64,
}

impl Interference {
    /// Counter deltas over a window, minus the server's and the client's own CPU time (s).
    pub fn between(
        before: CpuTicks,
        after: CpuTicks,
        ticks_per_s: f64,
        window_s: f64,
        server_cpu_s: f64,
        client_cpu_s: f64,
    ) -> Interference {
        let busy_s = after.busy.saturating_sub(before.busy) as f64 / ticks_per_s;
        let steal_s = after.steal.saturating_sub(before.steal) as f64 / ticks_per_s;
        Interference {
            other_cores: ((busy_s - server_cpu_s - client_cpu_s) / window_s).max(0.0),
            steal_cores: steal_s / window_s,
        }
    }

    /// Why this counts as interference, or `None`.
    pub fn verdict(&self, l: &Limits) -> Option<String> {
        (self.other_cores > l.max_other_cores || self.steal_cores > l.max_steal_cores).then(|| {
            format!(
                "other processes used {:.2} cores of the measured CPUs and steal was {:.2} cores",
                self.other_cores, self.steal_cores
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::SmallRng};

    fn exponential(n: usize, mean: f64, seed: u64) -> Vec<f64> {
        let mut rng = SmallRng::seed_from_u64(seed);
        (0..n)
            .map(|_| -(1.0 - rng.random::<f64>()).ln() * mean)
            .collect()
    }

    #[test]
    fn the_arrival_check_allows_only_what_the_clients_timing_resolution_explains() {
        // 100 µs mean gaps; the client cannot send two messages closer than 6 µs apart.
        let mut rng = SmallRng::seed_from_u64(7);
        let gaps: Vec<f64> = (0..20_000)
            .map(|_| (-(1.0 - rng.random::<f64>()).ln() * 100_000.0).max(6_000.0))
            .collect();
        let ks = ks_exponential(&gaps, 100_000.0, 5_000).unwrap();
        assert!(
            ks.p_value < 0.01,
            "the clipped gaps are detectably not exponential"
        );
        assert!(ks.d <= resolution_d(12_000.0, 100_000.0));
        assert!(ks.d > resolution_d(1_000.0, 100_000.0));
        // A constant rate is far beyond any such resolution.
        let constant = vec![100_000.0; 20_000];
        let ks = ks_exponential(&constant, 100_000.0, 5_000).unwrap();
        assert!(ks.d > resolution_d(12_000.0, 100_000.0));
        assert_eq!(resolution_d(f64::NAN, 100_000.0), 0.0);
    }

    #[test]
    fn ks_accepts_exponential_gaps_and_rejects_bursts_and_constant_rate() {
        let good = exponential(5000, 20_000.0, 1);
        let ks = ks_exponential(&good, 20_000.0, 2000).unwrap();
        assert!(ks.p_value > 0.01, "{ks:?}");
        assert!(ks.n <= 2000 && ks.n > 1000, "{ks:?}");
        // A constant-rate (deterministic) schedule is not Poisson.
        let constant = vec![20_000.0; 5000];
        assert!(ks_exponential(&constant, 20_000.0, 2000).unwrap().p_value < 1e-6);
        // A client that fell behind and sent in bursts: half the gaps near zero, half long.
        let bursty: Vec<f64> = (0..5000)
            .map(|i| if i % 2 == 0 { 100.0 } else { 39_900.0 })
            .collect();
        assert!(ks_exponential(&bursty, 20_000.0, 2000).unwrap().p_value < 1e-6);
        // Right shape, wrong rate.
        let slow = exponential(5000, 40_000.0, 2);
        assert!(ks_exponential(&slow, 20_000.0, 2000).unwrap().p_value < 1e-6);
        assert_eq!(ks_exponential(&good[..10], 20_000.0, 2000), None);
    }

    #[test]
    fn kolmogorov_tail_matches_tabulated_values() {
        // Critical values: λ = 1.36 at 5 %, 1.63 at 1 %.
        assert!((kolmogorov_q(1.358) - 0.05).abs() < 0.002);
        assert!((kolmogorov_q(1.628) - 0.01).abs() < 0.001);
        assert_eq!(kolmogorov_q(0.0), 1.0);
    }

    #[test]
    fn mann_kendall_finds_trends_not_noise() {
        let rising: Vec<f64> = (0..8).map(|i| 100.0 + 20.0 * i as f64).collect();
        let t = mann_kendall(&rising).unwrap();
        assert!(t.p_value < 0.01 && t.relative_change > 0.5, "{t:?}");
        let flat = [100.0, 103.0, 98.0, 101.0, 99.0, 102.0, 100.0, 97.0];
        let t = mann_kendall(&flat).unwrap();
        assert!(t.p_value > 0.05, "{t:?}");
        assert_eq!(mann_kendall(&[1.0, 2.0, 3.0]), None);
        assert!((normal_upper_tail(1.96) - 0.025).abs() < 1e-4);
    }

    #[test]
    fn percentile_intervals_need_enough_samples() {
        // 100 samples cannot bound p99: the interval's upper rank is beyond the sample.
        assert_eq!(quantile_ci_positions(100, 0.99), None);
        let (lo, hi) = quantile_ci_positions(100_000, 0.99).unwrap();
        assert!(lo < 0.99 && hi > 0.99 && hi - lo < 0.002, "{lo} {hi}");
        assert_eq!(quantile_ci_positions(0, 0.5), None);
    }

    fn healthy<'a>(gaps: &'a [f64], flat: &'a [f64], p99s: &'a [f64]) -> Evidence<'a> {
        Evidence {
            open_loop: true,
            send_gaps_ns: gaps,
            requested_mean_gap_ns: 20_000.0,
            sub_rates: flat,
            sub_p99_ns: p99s,
            sched_error_p99_ns: 5_000.0,
            latency_p99_ns: 100_000.0,
            p99_ci_ns: Some((95_000.0, 105_000.0)),
            samples: 100_000,
        }
    }

    #[test]
    fn a_healthy_cell_passes_and_each_defect_names_its_check() {
        let gaps = exponential(5000, 20_000.0, 3);
        let flat = [50_000.0, 50_100.0, 49_900.0, 50_050.0, 49_950.0, 50_000.0];
        let p99s = [100e3, 101e3, 99e3, 100e3, 102e3, 98e3];
        let l = Limits::default();
        assert_eq!(evaluate(&healthy(&gaps, &flat, &p99s), &l), vec![]);

        let late = Evidence {
            sched_error_p99_ns: 60_000.0,
            ..healthy(&gaps, &flat, &p99s)
        };
        assert_eq!(evaluate(&late, &l)[0].check, "scheduling_error");
        assert!(
            !evaluate(&late, &l)[0].window_curable,
            "a late client stays late"
        );

        let rising = [100e3, 140e3, 180e3, 220e3, 260e3, 300e3];
        let drift = healthy(&gaps, &flat, &rising);
        let f = evaluate(&drift, &l);
        assert!(
            f.len() == 1 && f[0].check == "stationarity" && f[0].reason.contains("latency p99"),
            "{f:?}"
        );

        let few = Evidence {
            p99_ci_ns: None,
            samples: 80,
            ..healthy(&gaps, &flat, &p99s)
        };
        assert_eq!(evaluate(&few, &l)[0].check, "samples");
        assert!(
            evaluate(&few, &l)[0].window_curable,
            "more samples narrow p99"
        );

        let constant = vec![20_000.0; 5000];
        let paced = healthy(&constant, &flat, &p99s);
        assert_eq!(evaluate(&paced, &l)[0].check, "arrivals");
        assert!(!evaluate(&paced, &l)[0].window_curable);

        // Closed loop: no arrival or scheduling checks.
        let closed = Evidence {
            open_loop: false,
            send_gaps_ns: &[],
            ..late
        };
        assert_eq!(evaluate(&closed, &l), vec![]);
    }

    #[test]
    fn proc_stat_is_summed_over_the_chosen_cpus() {
        let text = "cpu  10 0 10 100 0 0 0 5 0 0\ncpu0 4 1 2 50 3 1 1 2 0 0\ncpu1 6 0 8 50 0 0 0 3 0 0\nintr 1 2\n";
        let all = parse_proc_stat(text, &[]);
        assert_eq!(
            all,
            CpuTicks {
                busy: 23,
                steal: 5,
                idle: 103
            }
        );
        let one = parse_proc_stat(text, &[1]);
        assert_eq!(
            one,
            CpuTicks {
                busy: 14,
                steal: 3,
                idle: 50
            }
        );
        let before = CpuTicks {
            busy: 0,
            steal: 0,
            idle: 0,
        };
        let after = CpuTicks {
            busy: 200,
            steal: 10,
            idle: 0,
        };
        // 2 s busy in a 1 s window, 1.2 s of it server+client: 0.8 cores of others.
        let i = Interference::between(before, after, 100.0, 1.0, 0.7, 0.5);
        assert!((i.other_cores - 0.8).abs() < 1e-9 && (i.steal_cores - 0.1).abs() < 1e-9);
        assert!(i.verdict(&Limits::default()).is_some());
        let quiet = Interference::between(
            before,
            CpuTicks {
                busy: 120,
                steal: 0,
                idle: 0,
            },
            100.0,
            1.0,
            0.7,
            0.5,
        );
        assert_eq!(quiet.verdict(&Limits::default()), None);
    }
}
