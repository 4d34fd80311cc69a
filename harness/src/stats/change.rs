//! The change of one metric between two runs, with the interval that decides `compare`'s verdict. Pure.
//!
//! Changes are computed on the log scale: benchmark noise is multiplicative (a busier machine slows
//! everything by a factor), so ln(new/base) has roughly the same spread at every magnitude, and a ratio
//! interval is symmetric in log space. The point estimate is the ratio of the two medians the reports
//! show. Its standard error comes, in order of preference, from:
//! 1. **the trials of both runs** (≥ 2 each): the pooled variance of ln(trial value) across both runs
//!    (under "no change" both runs measure the same distribution, so pooling doubles the degrees of
//!    freedom), times π/2 because a median varies more than a mean (π/2 is the large-sample factor;
//!    for 3 normal trials it is 1.35, so π/2 errs on the wide side), with n₁ + n₂ − 2 degrees of
//!    freedom and Student's t;
//! 2. **stored intervals** (results without raw trials, criterion's own intervals): each interval is read
//!    as a normal interval of its stated coverage;
//! 3. **nothing** (a single trial with no sub-intervals): unknown. [`moderate`] then lends the cell the
//!    typical variance of the same implementation's other cells of that workload and metric.
//!
//! A metric with no trials at all and no interval (a future's size in bytes) is deterministic: its change
//! is exact (standard error 0).
//!
//! Verdicts ([`judge`]): a change is a regression or an improvement only when its interval lies entirely
//! on one side of zero **and** the point change is beyond the threshold. The interval shown is the one
//! that decides. [`pool`] combines one implementation's cells of a workload into one change
//! (precision-weighted mean of the log ratios, variances moderated towards the group's typical one so a
//! cell whose three trials happened to agree does not dominate): a slowdown that touches every cell of an
//! implementation is found with far more power than any single 3-trial cell has.

use super::dist::t_critical;
use serde::Serialize;

/// Confidence of the interval of one cell's change (shown in `compare`, decides the cell's verdict).
pub const CELL_CONFIDENCE: f64 = 0.99;
/// Confidence of an implementation's pooled change (decides the exit code).
pub const GROUP_CONFIDENCE: f64 = 0.999;
/// Var(median) / Var(mean) for normal data, large-sample value (conservative for few trials).
const MEDIAN_VARIANCE_FACTOR: f64 = std::f64::consts::FRAC_PI_2;
/// Degrees of freedom the group's typical variance counts for when it moderates a cell's own.
pub const PRIOR_DF: f64 = 4.0;
/// Smallest standard error a cell may have in a pooled estimate (0.5 %): no cell's weight is infinite.
pub const SE_FLOOR: f64 = 0.005;
/// Degrees of freedom standing for "as good as normal".
const LARGE_DF: f64 = 1e4;

/// ln(new / base) of one metric with its standard error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LogChange {
    pub log_ratio: f64,
    /// `None`: the noise is unknown (single trials, no interval). `Some(0.0)`: deterministic metric.
    pub se: Option<f64>,
    /// Degrees of freedom of `se` (Student's t).
    pub df: f64,
}

/// An estimate as stored in a results file: median and an interval of stated coverage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoredInterval {
    pub median: f64,
    pub lo: f64,
    pub hi: f64,
    /// Probability that the interval holds the true median (e.g. 0.75 for the range of 3 trials).
    pub coverage: f64,
    /// Trials behind it.
    pub n: usize,
}

/// The judgement of one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Judgement {
    /// Confidently better by more than the threshold.
    Better,
    /// Confidently worse by more than the threshold.
    Worse,
    /// Interval includes no change, or the change is within the threshold.
    WithinNoise,
    /// No interval could be computed (unknown noise): not judged.
    Unknown,
}

fn positive(v: &[f64]) -> Option<Vec<f64>> {
    let logs: Vec<f64> = v
        .iter()
        .filter(|x| x.is_finite())
        .map(|x| if *x > 0.0 { x.ln() } else { f64::NAN })
        .collect();
    (!logs.is_empty() && logs.iter().all(|l| l.is_finite())).then_some(logs)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    super::summary::quantile_sorted(&s, 0.5)
}

fn var(v: &[f64]) -> f64 {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64
}

impl LogChange {
    /// From every trial's value in both runs; `None` when a value is ≤ 0 (no log scale) or a run has
    /// none. With fewer than two trials on either side the noise is unknown.
    pub fn from_trials(base: &[f64], new: &[f64]) -> Option<Self> {
        let (b, n) = (positive(base)?, positive(new)?);
        let log_ratio = median(&n) - median(&b);
        if b.len() < 2 || n.len() < 2 {
            return Some(LogChange {
                log_ratio,
                se: None,
                df: 0.0,
            });
        }
        let df = (b.len() + n.len() - 2) as f64;
        let pooled = ((b.len() - 1) as f64 * var(&b) + (n.len() - 1) as f64 * var(&n)) / df;
        let se = (MEDIAN_VARIANCE_FACTOR * pooled * (1.0 / b.len() as f64 + 1.0 / n.len() as f64))
            .sqrt();
        Some(LogChange {
            log_ratio,
            se: Some(se),
            df,
        })
    }

    /// From two stored intervals, each read as a normal interval of its coverage.
    pub fn from_intervals(base: StoredInterval, new: StoredInterval) -> Option<Self> {
        let se_of = |s: StoredInterval| -> Option<f64> {
            let valid = s.lo > 0.0 && s.hi >= s.lo && s.median > 0.0 && s.coverage > 0.0;
            if !valid {
                return None;
            }
            let z = t_critical(s.coverage.min(0.9999), LARGE_DF);
            Some((s.hi / s.lo).ln() / (2.0 * z))
        };
        let log_ratio = (new.median / base.median).ln();
        if !log_ratio.is_finite() {
            return None;
        }
        let (sb, sn) = (se_of(base), se_of(new));
        let df = if base.n > 1 && new.n > 1 {
            (base.n + new.n - 2) as f64
        } else {
            LARGE_DF
        };
        Some(LogChange {
            log_ratio,
            se: match (sb, sn) {
                (Some(a), Some(b)) => Some((a * a + b * b).sqrt()),
                _ => None,
            },
            df,
        })
    }

    /// An exact change between two deterministic values (no noise).
    pub fn exact(base: f64, new: f64) -> Option<Self> {
        let log_ratio = (new / base).ln();
        log_ratio.is_finite().then_some(LogChange {
            log_ratio,
            se: Some(0.0),
            df: LARGE_DF,
        })
    }

    /// The change in percent: (new / base − 1) · 100.
    pub fn pct(&self) -> f64 {
        pct(self.log_ratio)
    }

    /// The `confidence` interval of the change in percent; `None` when the noise is unknown.
    pub fn interval_pct(&self, confidence: f64) -> Option<(f64, f64)> {
        let se = self.se?;
        let half = if se == 0.0 {
            0.0
        } else {
            t_critical(confidence, self.df.max(1.0)) * se
        };
        Some((pct(self.log_ratio - half), pct(self.log_ratio + half)))
    }
}

fn pct(log_ratio: f64) -> f64 {
    (log_ratio.exp() - 1.0) * 100.0
}

/// Judges a change: `higher_is_better` gives the direction; `threshold_pct` ≥ 0.
pub fn judge(
    c: &LogChange,
    confidence: f64,
    threshold_pct: f64,
    higher_is_better: bool,
) -> Judgement {
    let Some((lo, hi)) = c.interval_pct(confidence) else {
        return Judgement::Unknown;
    };
    let p = c.pct();
    let up = lo > 0.0 && p > threshold_pct;
    let down = hi < 0.0 && -p > threshold_pct;
    match (up, down, higher_is_better) {
        (true, _, true) | (_, true, false) => Judgement::Better,
        (true, _, false) | (_, true, true) => Judgement::Worse,
        _ => Judgement::WithinNoise,
    }
}

/// Moderates each change's variance towards the group's typical (median) variance with [`PRIOR_DF`]
/// degrees of freedom, and gives changes of unknown noise the typical variance. Deterministic changes
/// (standard error 0) and a group without any noise estimate are left as they are.
pub fn moderate(changes: &[LogChange]) -> Vec<LogChange> {
    let mut vars: Vec<f64> = changes
        .iter()
        .filter_map(|c| c.se.filter(|s| *s > 0.0).map(|s| s * s))
        .collect();
    if vars.is_empty() {
        return changes.to_vec();
    }
    vars.sort_by(f64::total_cmp);
    let typical = super::summary::quantile_sorted(&vars, 0.5);
    changes
        .iter()
        .map(|c| match c.se {
            Some(0.0) => *c,
            Some(se) => {
                let df = c.df.min(LARGE_DF);
                LogChange {
                    se: Some(((PRIOR_DF * typical + df * se * se) / (PRIOR_DF + df)).sqrt()),
                    df: df + PRIOR_DF,
                    ..*c
                }
            }
            None => LogChange {
                se: Some(typical.sqrt()),
                df: PRIOR_DF,
                ..*c
            },
        })
        .collect()
}

/// One change for a group of cells: the precision-weighted mean of their (moderated) log ratios.
/// `None` for an empty group or one where no cell's noise is known.
pub fn pool(changes: &[LogChange]) -> Option<LogChange> {
    let moderated = moderate(changes);
    let known: Vec<&LogChange> = moderated.iter().filter(|c| c.se.is_some()).collect();
    if known.is_empty() {
        return None;
    }
    if known.iter().all(|c| c.se == Some(0.0)) {
        let mean = known.iter().map(|c| c.log_ratio).sum::<f64>() / known.len() as f64;
        return Some(LogChange {
            log_ratio: mean,
            se: Some(0.0),
            df: LARGE_DF,
        });
    }
    let weight = |c: &LogChange| 1.0 / c.se.unwrap_or(0.0).max(SE_FLOOR).powi(2);
    let total: f64 = known.iter().map(|c| weight(c)).sum();
    let mean = known.iter().map(|c| weight(c) * c.log_ratio).sum::<f64>() / total;
    Some(LogChange {
        log_ratio: mean,
        se: Some(total.sqrt().recip()),
        df: known.iter().map(|c| c.df).sum::<f64>().min(LARGE_DF),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trials_give_a_t_interval_around_the_ratio_of_medians() {
        let c = LogChange::from_trials(&[100.0, 102.0, 98.0], &[115.0, 117.0, 113.0]).unwrap();
        assert!((c.pct() - 15.0).abs() < 1e-9);
        assert_eq!(c.df, 4.0);
        let (lo, hi) = c.interval_pct(0.99).unwrap();
        assert!(lo > 0.0 && lo < 15.0 && hi > 15.0, "{lo} {hi}");
        assert_eq!(judge(&c, 0.99, 5.0, true), Judgement::Better);
        assert_eq!(judge(&c, 0.99, 5.0, false), Judgement::Worse);
        // Beyond the threshold is required as well as a confident interval.
        assert_eq!(judge(&c, 0.99, 20.0, true), Judgement::WithinNoise);
    }

    #[test]
    fn noisy_trials_are_within_noise() {
        let c = LogChange::from_trials(&[100.0, 130.0, 80.0], &[115.0, 150.0, 90.0]).unwrap();
        assert_eq!(judge(&c, 0.99, 5.0, true), Judgement::WithinNoise);
    }

    #[test]
    fn unknown_noise_is_not_judged_until_moderated() {
        let single = LogChange::from_trials(&[100.0], &[150.0]).unwrap();
        assert_eq!(single.se, None);
        assert_eq!(judge(&single, 0.99, 5.0, true), Judgement::Unknown);
        let other = LogChange::from_trials(&[100.0, 101.0, 99.0], &[100.0, 101.0, 99.0]).unwrap();
        let m = moderate(&[single, other]);
        assert!(m[0].se.is_some());
        assert_eq!(judge(&m[0], 0.99, 5.0, true), Judgement::Better);
    }

    #[test]
    fn deterministic_values_change_exactly() {
        let c = LogChange::exact(200.0, 240.0).unwrap();
        assert_eq!(c.interval_pct(0.99), Some((c.pct(), c.pct())));
        assert_eq!(judge(&c, 0.99, 5.0, false), Judgement::Worse);
        assert!(LogChange::exact(0.0, 1.0).is_none());
        assert!(LogChange::from_trials(&[0.0, 1.0], &[1.0, 2.0]).is_none());
    }

    #[test]
    fn stored_intervals() {
        let b = StoredInterval {
            median: 100.0,
            lo: 98.0,
            hi: 102.0,
            coverage: 0.95,
            n: 5,
        };
        let n = StoredInterval {
            median: 130.0,
            lo: 128.0,
            hi: 132.0,
            ..b
        };
        let c = LogChange::from_intervals(b, n).unwrap();
        assert!((c.pct() - 30.0).abs() < 1e-9);
        assert_eq!(judge(&c, 0.99, 5.0, false), Judgement::Worse);
    }

    #[test]
    fn pooling_many_cells_is_more_precise_than_one() {
        let cells: Vec<LogChange> = (0..7)
            .map(|i| {
                let j = i as f64;
                LogChange::from_trials(
                    &[100.0 + j, 108.0 - j, 95.0 + j],
                    &[112.0 - j, 121.0 + j, 107.0],
                )
                .unwrap()
            })
            .collect();
        let pooled = pool(&cells).unwrap();
        let width = |c: &LogChange| {
            let (lo, hi) = c.interval_pct(0.99).unwrap();
            hi - lo
        };
        assert!(width(&pooled) < width(&cells[0]) / 2.0);
        assert!(pool(&[]).is_none());
    }
}
