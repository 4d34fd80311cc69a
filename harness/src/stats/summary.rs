//! Summaries of one metric across trials (or across sub-intervals of a trial): median, a
//! distribution-free confidence interval of the median, and the coefficient of variation. Pure
//! functions, no I/O.
//!
//! The interval is the order-statistic interval [x(k), x(n+1−k)] of the sorted values with the largest k
//! whose coverage 1 − 2·P(Binomial(n, ½) < k) is still ≥ 95 %. It assumes only independent trials from
//! one continuous distribution, and its coverage is exact, not asymptotic. With fewer than six values no
//! such interval reaches 95 %: the interval is then the range [min, max], whose coverage is
//! 1 − 2^(1−n) (75 % for 3 trials, 87.5 % for 4, 93.75 % for 5), and [`interval_label`] says so. A
//! percentile bootstrap of the median gives the same [min, max] for 3 values while calling it 95 %,
//! which is why it is not used. Non-finite values (NaN, ±∞) are ignored: they are not measurements.

use super::dist::binomial_half_cdf;
use crate::results::Summary;

/// Confidence level the interval aims for.
pub const CONFIDENCE: f64 = 0.95;

/// Values needed before the order-statistic interval reaches [`CONFIDENCE`] (1 − 2⁻⁵ = 96.9 % at 6).
pub const MIN_N_FOR_CONFIDENCE: usize = 6;

/// Median, distribution-free interval of the median, CV and n of `values`; `None` when there is no
/// finite value.
///
/// With a single value the interval collapses to it and the CV is `None`.
pub fn summarize(values: &[f64]) -> Option<Summary> {
    let mut finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return None;
    }
    finite.sort_by(f64::total_cmp);
    let med = quantile_sorted(&finite, 0.5);
    let (k, _) = median_interval_rank(finite.len());
    let n = finite.len();
    Some(Summary {
        n,
        median: med,
        ci_low: finite[k - 1].min(med),
        ci_high: finite[n - k].max(med),
        cv: cv(&finite),
    })
}

/// The rank k of the median interval [x(k), x(n+1−k)] (1-based) for `n` values, and its exact coverage.
pub fn median_interval_rank(n: usize) -> (usize, f64) {
    if n < 2 {
        return (1, 0.0);
    }
    let coverage = |k: usize| 1.0 - 2.0 * binomial_half_cdf(k - 1, n);
    let mut k = 1;
    while k < n.div_ceil(2) && coverage(k + 1) >= CONFIDENCE {
        k += 1;
    }
    (k, coverage(k))
}

/// The exact coverage of the interval [`summarize`] gives for `n` values (0 for a single value).
pub fn median_interval_coverage(n: usize) -> f64 {
    median_interval_rank(n).1
}

/// What the interval of `n` values is, in words, for captions and tables: "95 % CI of the median" when
/// it reaches 95 %, else "range of 3 trials (75 % interval of the median)".
pub fn interval_label(n: usize) -> String {
    let cov = median_interval_coverage(n);
    if n < 2 {
        "single value, no interval".into()
    } else if cov >= CONFIDENCE {
        format!("{:.0} % CI of the median", CONFIDENCE * 100.0)
    } else {
        format!(
            "range of {n} trials ({} % interval of the median)",
            trim_pct(cov * 100.0)
        )
    }
}

/// 75 → "75", 93.75 → "93.75", 87.5 → "87.5".
fn trim_pct(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Arithmetic mean; `None` for no values.
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(values.iter().sum::<f64>() / values.len() as f64)
}

/// Median (mean of the two middle values for an even count); `None` for no values.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    Some(quantile_sorted(&v, 0.5))
}

/// Sample standard deviation (n − 1 denominator); `None` with fewer than two values.
pub fn stddev(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let m = mean(values)?;
    let ss: f64 = values.iter().map(|v| (v - m) * (v - m)).sum();
    Some((ss / (values.len() - 1) as f64).sqrt())
}

/// Coefficient of variation, stddev / mean; `None` with fewer than two values or a zero mean.
pub fn cv(values: &[f64]) -> Option<f64> {
    let m = mean(values)?;
    let s = stddev(values)?;
    if m == 0.0 {
        return None;
    }
    Some(s / m.abs())
}

/// Linear-interpolated quantile `q` ∈ [0, 1] of already sorted values (`sorted` must be non-empty).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    debug_assert!(!sorted.is_empty());
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * a.abs().max(b.abs()).max(1.0)
    }

    #[test]
    fn helpers_on_known_values() {
        let v = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert!(close(mean(&v).unwrap(), 5.0));
        assert!(close(median(&v).unwrap(), 4.5));
        // Sample variance = 32 / 7.
        assert!(close(stddev(&v).unwrap(), (32.0f64 / 7.0).sqrt()));
        assert!(close(cv(&v).unwrap(), (32.0f64 / 7.0).sqrt() / 5.0));
        assert!(close(median(&[3.0, 1.0, 2.0]).unwrap(), 2.0));
        assert!(close(median(&[1.0, 10.0]).unwrap(), 5.5));
    }

    #[test]
    fn quantiles_interpolate() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert!(close(quantile_sorted(&v, 0.0), 1.0));
        assert!(close(quantile_sorted(&v, 0.5), 3.0));
        assert!(close(quantile_sorted(&v, 1.0), 5.0));
        assert!(close(quantile_sorted(&v, 0.125), 1.5));
    }

    #[test]
    fn empty_and_degenerate_inputs() {
        assert!(summarize(&[]).is_none());
        assert!(summarize(&[f64::NAN, f64::INFINITY]).is_none());
        assert!(mean(&[]).is_none());
        assert!(median(&[]).is_none());
        assert!(stddev(&[1.0]).is_none());
        assert!(cv(&[0.0, 0.0]).is_none());
    }

    #[test]
    fn single_value() {
        let s = summarize(&[42.0]).unwrap();
        assert_eq!(s.n, 1);
        assert_eq!(s.median, 42.0);
        assert_eq!(s.ci_low, 42.0);
        assert_eq!(s.ci_high, 42.0);
        assert_eq!(s.cv, None);
    }

    #[test]
    fn non_finite_values_are_ignored() {
        let s = summarize(&[1.0, f64::NAN, 3.0, 2.0]).unwrap();
        assert_eq!(s.n, 3);
        assert_eq!(s.median, 2.0);
    }

    #[test]
    fn identical_values_have_zero_width_and_zero_cv() {
        let s = summarize(&[7.0; 10]).unwrap();
        assert_eq!((s.ci_low, s.median, s.ci_high), (7.0, 7.0, 7.0));
        assert_eq!(s.cv, Some(0.0));
    }

    #[test]
    fn interval_contains_median_and_lies_within_the_data() {
        let v: Vec<f64> = (0..25).map(|i| 100.0 + ((i * 37) % 17) as f64).collect();
        let s = summarize(&v).unwrap();
        let min = v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert!(s.ci_low <= s.median && s.median <= s.ci_high, "{s:?}");
        assert!(min <= s.ci_low && s.ci_high <= max, "{s:?}");
        assert!(
            s.ci_high > s.ci_low,
            "spread data gives a non-empty interval: {s:?}"
        );
    }

    #[test]
    fn deterministic() {
        let v = [10.0, 12.0, 9.5, 11.0, 30.0, 10.5, 10.2];
        assert_eq!(summarize(&v), summarize(&v));
        assert_eq!(summarize(&v).unwrap().median, 10.5);
    }

    #[test]
    fn more_data_narrows_the_interval() {
        let small: Vec<f64> = (0..5).map(|i| 100.0 + (i % 5) as f64 * 4.0).collect();
        let large: Vec<f64> = (0..200).map(|i| 100.0 + (i % 5) as f64 * 4.0).collect();
        let (s, l) = (summarize(&small).unwrap(), summarize(&large).unwrap());
        assert!(
            l.ci_high - l.ci_low <= s.ci_high - s.ci_low,
            "{s:?} vs {l:?}"
        );
    }

    #[test]
    fn three_trials_are_labelled_as_their_range() {
        // The rust-tokio-ct cell: three trials, and the interval is exactly their range.
        let s = summarize(&[155_504.0, 109_802.0, 156_020.0]).unwrap();
        assert_eq!(
            (s.ci_low, s.median, s.ci_high),
            (109_802.0, 155_504.0, 156_020.0)
        );
        assert_eq!(median_interval_coverage(3), 0.75);
        assert_eq!(
            interval_label(3),
            "range of 3 trials (75 % interval of the median)"
        );
        assert_eq!(
            interval_label(5),
            "range of 5 trials (93.75 % interval of the median)"
        );
        assert_eq!(interval_label(6), "95 % CI of the median");
    }

    #[test]
    fn order_statistic_interval_reaches_95_percent_from_six_values() {
        for n in 2..MIN_N_FOR_CONFIDENCE {
            assert_eq!(median_interval_rank(n).0, 1, "range below 6 values");
            assert!(median_interval_coverage(n) < CONFIDENCE);
        }
        for n in MIN_N_FOR_CONFIDENCE..200 {
            let (k, cov) = median_interval_rank(n);
            assert!(cov >= CONFIDENCE, "n={n} k={k} cov={cov}");
            // k is the largest such rank: one more would drop below 95 %.
            if k < n.div_ceil(2) {
                assert!(1.0 - 2.0 * binomial_half_cdf(k, n) < CONFIDENCE, "n={n}");
            }
        }
        // n = 20: the textbook interval is [x(6), x(15)], coverage 95.86 %.
        assert_eq!(median_interval_rank(20).0, 6);
    }

    /// The coverage is a property of the data, not of a formula: draw many samples from a skewed
    /// distribution whose median is known and count how often the interval holds it.
    #[test]
    fn empirical_coverage_matches_the_stated_coverage() {
        use rand::rngs::SmallRng;
        use rand::{Rng, SeedableRng};
        let mut rng = SmallRng::seed_from_u64(13);
        // Exponential(1): median ln 2.
        let true_median = std::f64::consts::LN_2;
        for n in [3usize, 5, 8, 20] {
            let reps = 4000;
            let mut hit = 0;
            for _ in 0..reps {
                let v: Vec<f64> = (0..n).map(|_| -(1.0 - rng.random::<f64>()).ln()).collect();
                let s = summarize(&v).unwrap();
                if s.ci_low <= true_median && true_median <= s.ci_high {
                    hit += 1;
                }
            }
            let observed = hit as f64 / reps as f64;
            let stated = median_interval_coverage(n);
            assert!(
                (observed - stated).abs() < 0.025,
                "n={n}: observed {observed}, stated {stated}"
            );
        }
    }
}
