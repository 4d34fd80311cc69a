//! Pieces every workload's time estimate shares: the harness's own cost per trial and the repeat
//! rule, as pure functions. Each workload's model (its `plan_seconds`) lives in its module, with
//! constants fitted to the reference run (results/reference, default suite, 2-core VM) and a test that
//! the model reproduces that run.

/// What a trial costs the harness beyond the program's own lifetime (`wall_ms`): spawning it,
/// reaping it and everything it spawned, parsing its result and saving results.json (≈ 4 MB at the
/// end of a default run). Fitted: the reference run's fan-out, stream and cancel phases lasted about
/// their trials' summed wall time plus this per trial.
pub const TRIAL_OVERHEAD_S: f64 = 0.02;

/// How many trials a cell runs: `repeat`, or one when its first trial is expected to take longer than
/// `long_trial_s` (the engine's rule, `engine::single_trial_reason`).
pub fn trials(first_trial_s: f64, repeat: usize, long_trial_s: f64) -> usize {
    if repeat > 1 && first_trial_s > long_trial_s {
        1
    } else {
        repeat
    }
}

/// `implementations` × the mean of `cost` over a reference profile of implementations: when a plan is
/// estimated, only the number of implementations is known, not which.
pub fn scaled_mean<T>(profile: &[T], implementations: usize, cost: impl Fn(&T) -> f64) -> f64 {
    if profile.is_empty() {
        return 0.0;
    }
    let sum: f64 = profile.iter().map(cost).sum();
    implementations as f64 * sum / profile.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_first_trials_run_once_and_a_single_repeat_stays_single() {
        assert_eq!(trials(7.0, 3, 6.0), 1);
        assert_eq!(trials(5.0, 3, 6.0), 3);
        assert_eq!(trials(7.0, 1, 6.0), 1);
        assert_eq!(trials(100.0, 5, f64::INFINITY), 5);
    }

    #[test]
    fn the_mean_is_scaled_to_the_number_of_implementations() {
        assert_eq!(scaled_mean(&[1.0, 3.0], 4, |x| *x), 8.0);
        assert_eq!(scaled_mean::<f64>(&[], 4, |x| *x), 0.0);
    }
}
