//! `compare` on the tested fixture pair: base.json → new.json has, by construction (see
//! fixtures/make_fixtures.py), one improvement, one regression, changes within noise (by overlapping
//! intervals and by threshold), a cell that now fails, and a different kernel and Go toolchain.

use asyncbench::compare::{CompareOptions, Comparison, Thresholds, Verdict};
use asyncbench::results::{self, Results};
use std::path::Path;

fn compare(base: &Results, new: &Results, threshold_pct: f64) -> Comparison {
    let opts = CompareOptions {
        thresholds: Thresholds {
            default_pct: threshold_pct,
            ..Thresholds::default()
        },
        allow_missing: false,
    };
    asyncbench::compare::compare(base, new, &opts).expect("no duplicate cells")
}

fn fixture(name: &str) -> Results {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    results::load(&path).expect("fixture loads")
}

fn verdict(
    c: &asyncbench::compare::Comparison,
    workload: &str,
    implementation: &str,
    metric: &str,
) -> Verdict {
    c.changes
        .iter()
        .find(|ch| {
            ch.workload == workload && ch.implementation == implementation && ch.metric == metric
        })
        .unwrap_or_else(|| panic!("no change for {workload} {implementation} {metric}"))
        .verdict
}

#[test]
fn verdicts_of_the_fixture_pair() {
    let c = compare(&fixture("base.json"), &fixture("new.json"), 5.0);
    // +20 % throughput, intervals apart: improved.
    assert_eq!(
        verdict(&c, "echo", "rust-tokio", "throughput_msgs_per_s"),
        Verdict::Improved
    );
    // +1 %: within noise.
    assert_eq!(
        verdict(&c, "echo", "go", "throughput_msgs_per_s"),
        Verdict::WithinNoise
    );
    // Unchanged p99: within noise.
    assert_eq!(
        verdict(&c, "echo", "rust-tokio", "latency_ns.p99"),
        Verdict::WithinNoise
    );
    // +30 % memory per task (lower is better): regressed.
    assert_eq!(
        verdict(&c, "fanout", "rust-tokio", "bytes_per_task"),
        Verdict::Regressed
    );
    // −2 % with non-overlapping intervals, but below the 5 % threshold: within noise.
    assert_eq!(
        verdict(&c, "fanout", "go", "bytes_per_task"),
        Verdict::WithinNoise
    );
    // +3 % with overlapping intervals: within noise.
    assert_eq!(
        verdict(&c, "stream", "rust-tokio", "throughput_items_per_s"),
        Verdict::WithinNoise
    );
    // Completed before, crashes now.
    assert_eq!(
        verdict(&c, "stream", "go", "throughput_items_per_s"),
        Verdict::NowFailing
    );
    assert_eq!(c.count(Verdict::Improved), 1);
    assert_eq!(c.count(Verdict::Regressed), 1);
    assert_eq!(c.count(Verdict::NowFailing), 1);
    assert_eq!(c.exit_code(), 1);

    let regression = c
        .changes
        .iter()
        .find(|ch| ch.verdict == Verdict::Regressed)
        .unwrap();
    let pct = regression.change_pct.unwrap();
    assert!((pct - 30.0).abs() < 1e-9, "{pct}");
    assert!(regression.change_lo_pct.unwrap() < pct && pct < regression.change_hi_pct.unwrap());
}

#[test]
fn environment_differences_are_reported() {
    let c = compare(&fixture("base.json"), &fixture("new.json"), 5.0);
    assert_eq!(c.env_warnings.len(), 2, "{:?}", c.env_warnings);
    assert!(
        c.env_warnings
            .iter()
            .any(|w| w.starts_with("kernel differs"))
    );
    assert!(
        c.env_warnings
            .iter()
            .any(|w| w.starts_with("toolchain go differs"))
    );
    assert!(
        c.render_text()
            .contains("WARNING: the runs were measured in different environments")
    );
}

#[test]
fn identical_runs_are_within_noise_and_exit_zero() {
    let base = fixture("base.json");
    let c = compare(&base, &base, 5.0);
    assert!(
        c.changes
            .iter()
            .all(|ch| ch.verdict == Verdict::WithinNoise)
    );
    assert!(c.env_warnings.is_empty());
    assert_eq!(c.exit_code(), 0);
    assert!(
        c.render_text()
            .contains("0 improved, 0 regressed, 10 within noise; 0 of 6 compared cells flagged.")
    );
}

#[test]
fn threshold_decides_what_counts() {
    let base = fixture("base.json");
    let mut new = fixture("new.json");
    // Without the crash, only the +30 % regression keeps the exit code at 1 ...
    let crashed = new
        .cells
        .iter()
        .position(|c| c.status != results::CellStatus::Ok)
        .unwrap();
    new.cells[crashed] = base
        .cells
        .iter()
        .find(|c| c.key() == new.cells[crashed].key())
        .unwrap()
        .clone();
    assert_eq!(compare(&base, &new, 5.0).exit_code(), 1);
    // ... and a 50 % threshold tolerates it.
    let lenient = compare(&base, &new, 50.0);
    assert_eq!(lenient.exit_code(), 0);
    assert_eq!(lenient.count(Verdict::Regressed), 0);
    assert_eq!(lenient.count(Verdict::Improved), 0);
}

#[test]
fn cells_at_a_fraction_of_their_own_maximum_match_across_runs() {
    let base = fixture("small.json");
    let mut new = base.clone();
    for c in &mut new.cells {
        if c.params.contains_key("rate_fraction") {
            let rate = c.params["rate_msgs_per_s"].as_f64().unwrap();
            c.params
                .insert("rate_msgs_per_s".into(), serde_json::json!(rate * 1.1));
        }
    }
    let c = compare(&base, &new, 5.0);
    assert!(
        c.only_in_base.is_empty() && c.only_in_new.is_empty(),
        "{:?}",
        c.only_in_base
    );
    assert_eq!(c.exit_code(), 0);
}

#[test]
fn a_vanished_cell_fails_the_gate() {
    let base = fixture("base.json");
    let mut new = base.clone();
    let removed = new.cells.pop().unwrap();
    let c = compare(&base, &new, 5.0);
    assert_eq!(c.missing.len(), 1);
    assert_eq!(c.missing[0].key, removed.key());
    assert_eq!(c.exit_code(), 1);
    assert!(
        c.render_text()
            .contains("1 cell ok in the base run missing from the new run:"),
        "{}",
        c.render_text()
    );
}

#[test]
fn text_report() {
    let c = compare(&fixture("base.json"), &fixture("new.json"), 5.0);
    insta::with_settings!({
        snapshot_path => "../fixtures/snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!("compare_text", c.render_text());
    });
}

/// Instruction counts (valgrind, deterministic) are judged exactly against their own 1 % threshold,
/// whatever the default threshold: 2 % more instructions is a regression that fails the gate, 0.1 %
/// is not, and neither needs trials or an interval.
#[test]
fn instruction_counts_are_judged_exactly_against_one_percent() {
    use asyncbench::gungraun_import::InstructionCount;
    use asyncbench::workload::instructions::to_cell;
    let run = |counts: &[(&str, u64)]| {
        let mut r = fixture("base.json");
        r.cells = counts
            .iter()
            .map(|(primitive, n)| {
                to_cell(&InstructionCount {
                    primitive: (*primitive).into(),
                    implementation: "rust-tokio-ct".into(),
                    instructions: *n,
                })
            })
            .collect();
        r
    };
    let base = run(&[("spawn_join_1000", 1_932_093), ("yield_now", 6_762)]);
    let same = compare(&base, &base, 5.0);
    assert_eq!(same.exit_code(), 0);
    assert_eq!(same.count(Verdict::WithinNoise), 2);

    // +2 % on one primitive: regressed, exact interval, gate fails — with a 5 % default threshold.
    let slower = run(&[("spawn_join_1000", 1_970_735), ("yield_now", 6_762)]);
    let c = compare(&base, &slower, 5.0);
    let ch = c
        .changes
        .iter()
        .find(|ch| ch.metric == "instructions" && ch.scenario.contains("spawn_join_1000"))
        .unwrap();
    assert_eq!(ch.verdict, Verdict::Regressed);
    assert_eq!(ch.threshold_pct, 1.0);
    assert_eq!(
        ch.change_lo_pct, ch.change_hi_pct,
        "a count has no interval"
    );
    assert!((ch.change_pct.unwrap() - 2.0).abs() < 0.01);
    assert_eq!(c.exit_code(), 1, "{:?}", c.gate_failures());
    assert!(c.render_text().contains("instructions 1% (exact"));

    // +0.1 %: within the threshold, gate passes.
    let tiny = run(&[("spawn_join_1000", 1_934_025), ("yield_now", 6_769)]);
    let c = compare(&base, &tiny, 5.0);
    assert_eq!(c.count(Verdict::WithinNoise), 2);
    assert_eq!(c.exit_code(), 0, "{:?}", c.gate_failures());

    // 2 % fewer instructions: improved; an explicit threshold overrides the default.
    let faster = run(&[("spawn_join_1000", 1_893_451), ("yield_now", 6_762)]);
    assert_eq!(compare(&base, &faster, 5.0).count(Verdict::Improved), 1);
    let opts = CompareOptions {
        thresholds: Thresholds::parse(&["instructions=3".into()]).unwrap(),
        allow_missing: false,
    };
    let c = asyncbench::compare::compare(&base, &slower, &opts).unwrap();
    assert_eq!(c.exit_code(), 0);
}

#[test]
fn wall_clock_micro_medians_need_more_than_run_to_run_drift() {
    use asyncbench::criterion_import::MicroEstimate;
    use asyncbench::workload::micro::to_cell;
    // Criterion's interval is ±1 % (one process), the change 20 %: within the drift threshold that
    // two back-to-back runs of one commit showed (up to 30 %), so within noise by default.
    let run = |median_ns: f64| {
        let mut r = fixture("base.json");
        r.cells = vec![to_cell(&MicroEstimate {
            primitive: "yield_now".into(),
            implementation: "rust-tokio".into(),
            mean_ns: median_ns,
            mean_ci_low_ns: median_ns * 0.99,
            mean_ci_high_ns: median_ns * 1.01,
            median_ns,
            median_ci_low_ns: median_ns * 0.99,
            median_ci_high_ns: median_ns * 1.01,
            std_dev_ns: median_ns * 0.02,
            slope_ns: None,
            throughput_elements: None,
        })];
        r
    };
    let (base, drifted) = (run(400.0), run(480.0));
    let c = compare(&base, &drifted, 5.0);
    let ch = c
        .changes
        .iter()
        .find(|ch| ch.metric == "median_ns")
        .unwrap();
    assert_eq!(ch.threshold_pct, 35.0);
    assert_eq!(ch.verdict, Verdict::WithinNoise);
    assert_eq!(c.exit_code(), 0);
    assert!(c.render_text().contains("median_ns 35% (wall clock"));
    // Twice as slow is a regression; an explicit per-metric threshold still decides.
    let slow = compare(&base, &run(800.0), 5.0);
    assert_eq!(
        slow.changes
            .iter()
            .find(|ch| ch.metric == "median_ns")
            .unwrap()
            .verdict,
        Verdict::Regressed
    );
    let opts = CompareOptions {
        thresholds: Thresholds::parse(&["median_ns=10".into()]).unwrap(),
        allow_missing: false,
    };
    let strict = asyncbench::compare::compare(&base, &drifted, &opts).unwrap();
    assert_eq!(
        strict
            .changes
            .iter()
            .find(|ch| ch.metric == "median_ns")
            .unwrap()
            .verdict,
        Verdict::Regressed
    );
}
