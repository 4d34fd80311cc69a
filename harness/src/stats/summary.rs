//! Summaries of one metric across trials (or across sub-intervals of a trial): median, a 95 % bootstrap
//! confidence interval of the median, and the coefficient of variation. Pure functions, no I/O.
//!
//! The bootstrap uses a fixed seed, so the same values always give the same interval (reports and
//! snapshot tests are reproducible). Non-finite values (NaN, ±∞) are ignored: they are not measurements.

use crate::results::Summary;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Resamples drawn for the bootstrap interval. 2,000 keeps the 2.5 % / 97.5 % quantiles stable to well
/// under the width of the interval while costing microseconds for the handful of values a cell has.
pub const BOOTSTRAP_RESAMPLES: usize = 2_000;

/// Confidence level of the interval.
pub const CONFIDENCE: f64 = 0.95;

/// Fixed seed: the interval is a deterministic function of the values.
const SEED: u64 = 0x6173_796e_6362_656e; // "asyncben"

/// Median, 95 % bootstrap CI of the median, CV and n of `values`; `None` when there is no finite value.
///
/// With a single value the interval collapses to it and the CV is `None`.
pub fn summarize(values: &[f64]) -> Option<Summary> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return None;
    }
    let med = median(&finite)?;
    let (ci_low, ci_high) = bootstrap_median_ci(&finite, BOOTSTRAP_RESAMPLES, CONFIDENCE, SEED);
    Some(Summary {
        n: finite.len(),
        median: med,
        // The percentile interval contains the sample median in practice; clamp so it always does.
        ci_low: ci_low.min(med),
        ci_high: ci_high.max(med),
        cv: cv(&finite),
    })
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
    Some(median_in_place(&mut v))
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

/// Median of a non-empty slice, reordering it (O(n) selection).
fn median_in_place(v: &mut [f64]) -> f64 {
    let n = v.len();
    let mid = n / 2;
    let (_, upper, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        upper
    } else {
        // The lower middle is the largest value left of `mid` after selection.
        let lower = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lower + upper) / 2.0
    }
}

/// Percentile bootstrap interval of the median.
fn bootstrap_median_ci(values: &[f64], resamples: usize, confidence: f64, seed: u64) -> (f64, f64) {
    let n = values.len();
    if n == 1 {
        return (values[0], values[0]);
    }
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut sample = vec![0.0; n];
    let mut medians = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        for slot in sample.iter_mut() {
            *slot = values[rng.random_range(0..n)];
        }
        medians.push(median_in_place(&mut sample));
    }
    medians.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    (
        quantile_sorted(&medians, tail),
        quantile_sorted(&medians, 1.0 - tail),
    )
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
}
