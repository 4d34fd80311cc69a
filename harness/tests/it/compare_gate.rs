//! `compare` as a CI gate: vanished, skipped and failing cells fail it; duplicate keys are an error;
//! per-metric thresholds; the text, JSON and Markdown outputs; linear matching of thousands of cells.

use crate::common::synth;

use asyncbench::compare::{CompareError, CompareOptions, Format, Thresholds, Verdict, compare};
use asyncbench::results::{CellStatus, ImplStatus, ImplementationInfo, Results};
use serde_json::json;
use synth::{cell, run};

fn opts() -> CompareOptions {
    CompareOptions::default()
}

fn echo_cell(implementation: &str, conns: u64, tput: [f64; 3]) -> asyncbench::results::Cell {
    cell(
        "echo",
        implementation,
        &[("mode", json!("closed")), ("connections", json!(conns))],
        &[
            ("throughput_msgs_per_s", tput.to_vec()),
            ("latency_ns.p99", vec![100_000.0, 101_000.0, 99_000.0]),
            ("peak_rss_bytes", vec![10e6, 10.01e6, 9.99e6]),
        ],
    )
}

fn info(name: &str, status: ImplStatus, reason: Option<&str>) -> ImplementationInfo {
    ImplementationInfo {
        name: name.into(),
        language: "rust".into(),
        runtime: "x".into(),
        runtime_detail: None,
        toolchain: None,
        toolchain_version: None,
        threads: None,
        status,
        reason: reason.map(String::from),
        notes: String::new(),
        env: Default::default(),
        verification: Vec::new(),
        reference: false,
        reference_label: None,
        runtime_in_label: false,
    }
}

fn two_impls() -> Results {
    run(
        "base",
        vec![
            echo_cell("a", 1, [100.0, 101.0, 99.0]),
            echo_cell("a", 64, [200.0, 202.0, 198.0]),
            echo_cell("b", 1, [50.0, 51.0, 49.0]),
            echo_cell("b", 64, [80.0, 81.0, 79.0]),
        ],
    )
}

#[test]
fn an_implementation_that_stopped_building_fails_the_gate() {
    let base = two_impls();
    let mut new = base.clone();
    new.run_id = "new".into();
    new.cells.retain(|c| c.implementation != "b");
    new.implementations = vec![
        info("a", ImplStatus::Ok, None),
        info("b", ImplStatus::BuildFailed, Some("cargo build exited 101")),
    ];
    let c = compare(&base, &new, &opts()).unwrap();
    assert_eq!(c.missing.len(), 2);
    assert!(
        c.missing
            .iter()
            .all(|m| m.reason == "build_failed: cargo build exited 101")
    );
    assert_eq!(c.exit_code(), 1);
    let text = c.render_text();
    assert!(text.contains("Gate: FAIL"), "{text}");
    assert!(
        text.contains("vanished (build_failed: cargo build exited 101)"),
        "{text}"
    );

    // Skipped and absent implementations are vanished cells too.
    new.implementations[1] = info("b", ImplStatus::Skipped, Some("go not found"));
    let c = compare(&base, &new, &opts()).unwrap();
    assert_eq!(c.missing[0].reason, "skipped: go not found");
    assert_eq!(c.exit_code(), 1);
    new.implementations.pop();
    let c = compare(&base, &new, &opts()).unwrap();
    assert_eq!(
        c.missing[0].reason,
        "implementation absent from the new run"
    );
    assert_eq!(c.exit_code(), 1);

    // --allow-missing lists them and passes.
    let lenient = CompareOptions {
        allow_missing: true,
        ..opts()
    };
    let c = compare(&base, &new, &lenient).unwrap();
    assert_eq!(c.missing.len(), 2);
    assert_eq!(c.exit_code(), 0);
    assert!(c.render_text().contains("(allowed by --allow-missing)"));
}

#[test]
fn a_cell_that_fails_now_fails_the_gate_unless_allowed() {
    let base = two_impls();
    let mut new = base.clone();
    new.cells[0].status = CellStatus::Timeout;
    new.cells[0].reason = Some("no result within 60 s".into());
    new.cells[0].stats.clear();
    new.cells[0].metrics = Default::default();
    new.cells[0].trials.clear();
    let c = compare(&base, &new, &opts()).unwrap();
    assert_eq!(c.count(Verdict::NowFailing), 1);
    assert_eq!(c.exit_code(), 1);
    assert!(c.gate_failures()[0].contains("timeout: no result within 60 s"));
    let lenient = CompareOptions {
        allow_missing: true,
        ..opts()
    };
    assert_eq!(compare(&base, &new, &lenient).unwrap().exit_code(), 0);
}

#[test]
fn duplicate_cell_keys_are_an_error_naming_them() {
    let mut base = two_impls();
    base.cells.push(echo_cell("a", 64, [1.0, 2.0, 3.0]));
    let new = two_impls();
    let err = compare(&base, &new, &opts()).unwrap_err();
    let CompareError::DuplicateCells { run, keys } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*run, "base");
    assert_eq!(keys, &vec![base.cells[1].key()]);
    assert!(
        err.to_string()
            .contains("echo/a/connections=64,mode=\"closed\""),
        "{err}"
    );
    assert!(
        compare(&new, &base, &opts())
            .unwrap_err()
            .to_string()
            .contains("the new run")
    );
}

#[test]
fn per_metric_thresholds() {
    let t = Thresholds::parse(&["3".into(), "p99=20,peak_rss_bytes=2".into()]).unwrap();
    assert_eq!(t.default_pct, 3.0);
    assert_eq!(t.for_metric("latency_ns.p99"), 20.0);
    assert_eq!(t.for_metric("peak_rss_bytes"), 2.0);
    assert_eq!(t.for_metric("throughput_msgs_per_s"), 3.0);
    let err = Thresholds::parse(&["p98=3".into()])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown metric 'p98'") && err.contains("peak_rss_bytes"),
        "{err}"
    );
    assert!(Thresholds::parse(&["-1".into()]).is_err());
    assert!(Thresholds::parse(&["p99=x".into()]).is_err());

    // p99 +10 %: a regression at the default 5 %, not with p99=20. peak RSS +4 %: compared only when
    // given a threshold, and then a regression at 2 %.
    let base = two_impls();
    let mut new = base.clone();
    for c in &mut new.cells {
        for t in &mut c.trials {
            let l = t.metrics.latency_ns.as_mut().unwrap();
            l.p99 *= 1.10;
            let rss = t.metrics.get("peak_rss_bytes").unwrap();
            t.metrics.set("peak_rss_bytes", rss * 1.04);
        }
    }
    let default = compare(&base, &new, &opts()).unwrap();
    assert!(default.changes.iter().all(|c| c.metric != "peak_rss_bytes"));
    assert_eq!(default.count(Verdict::Regressed), 4);
    let tuned = CompareOptions {
        thresholds: Thresholds::parse(&["p99=20,peak_rss_bytes=2".into()]).unwrap(),
        ..opts()
    };
    let c = compare(&base, &new, &tuned).unwrap();
    let regressed: Vec<&str> = c
        .changes
        .iter()
        .filter(|c| c.verdict == Verdict::Regressed)
        .map(|c| c.metric)
        .collect();
    assert_eq!(regressed, vec!["peak_rss_bytes"; 4], "{}", c.render_text());
    assert_eq!(c.exit_code(), 1);
}

#[test]
fn json_output_has_the_verdicts_and_the_gate() {
    let base = two_impls();
    let mut new = base.clone();
    new.cells.pop();
    let c = compare(&base, &new, &opts()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&c.render(Format::Json)).unwrap();
    assert_eq!(v["exit_code"], 1);
    assert_eq!(v["missing"][0]["implementation"], "b");
    assert_eq!(v["thresholds_pct"]["default_pct"], 5.0);
    let first = &v["changes"][0];
    assert_eq!(first["verdict"], "within_noise");
    assert_eq!(first["metric"], "throughput_msgs_per_s");
    assert!(first["change_lo_pct"].as_f64().unwrap() < 0.0);
    assert_eq!(v["implementations"][0]["cells"], 2);
}

#[test]
fn markdown_is_ready_for_a_pull_request_and_escapes_what_it_interpolates() {
    let mut base = two_impls();
    for c in &mut base.cells {
        c.implementation = format!("{}|<b>*", c.implementation);
    }
    let mut new = base.clone();
    for c in &mut new.cells {
        for t in &mut c.trials {
            t.metrics.latency_ns.as_mut().unwrap().p99 *= 1.5;
        }
    }
    new.run_id = "run `x` | <script>".into();
    let c = compare(&base, &new, &opts()).unwrap();
    let md = c.render(Format::Markdown);
    assert!(md.starts_with("### asyncbench compare: ❌ FAIL"), "{md}");
    assert!(!md.contains("<script>") && !md.contains("<b>"), "{md}");
    assert!(md.contains("run \\`x\\` \\| &lt;script&gt;"), "{md}");
    assert!(md.contains("<details><summary>"), "{md}");
    // Every table row has exactly 8 cells: no unescaped pipe breaks the table.
    for line in md
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| workload"))
    {
        let unescaped = line.replace("\\|", "");
        assert_eq!(unescaped.matches('|').count(), 9, "{line}");
    }
    assert_eq!(asyncbench::compare::md("a_b*c"), "a\\_b\\*c");
}

#[test]
fn thousands_of_cells_match_by_key() {
    // 5,000 cells in each run, the new one in reverse order with every 10th cell of implementation
    // "b" 30 % slower: each must be matched with its own base cell (a quadratic scan would take
    // seconds in a debug build; the behaviour is what is asserted).
    let mk = |i: usize, f: f64| {
        let imp = if i.is_multiple_of(10) { "b" } else { "a" };
        cell(
            "echo",
            imp,
            &[("mode", json!("closed")), ("connections", json!(i))],
            &[(
                "throughput_msgs_per_s",
                vec![1000.0 * f, 1010.0 * f, 990.0 * f],
            )],
        )
    };
    let base = run("base", (0..5000).map(|i| mk(i, 1.0)).collect());
    let new = run(
        "new",
        (0..5000)
            .rev()
            .map(|i| mk(i, if i.is_multiple_of(10) { 0.7 } else { 1.0 }))
            .collect(),
    );
    let c = compare(&base, &new, &opts()).unwrap();
    assert!(c.missing.is_empty() && c.only_in_new.is_empty());
    let throughput: Vec<_> = c
        .changes
        .iter()
        .filter(|c| c.metric == "throughput_msgs_per_s")
        .collect();
    assert_eq!(throughput.len(), 5000);
    assert_eq!(c.count(Verdict::Regressed), 500);
    assert!(
        c.changes
            .iter()
            .filter(|c| c.verdict == Verdict::Regressed)
            .all(|c| c.implementation == "b")
    );
    assert_eq!(c.exit_code(), 1);
}

/// A closed-loop throughput the client limited (in either run) and a latency the self-checks could
/// not measure say nothing about the server: a 30 % drop in them is "not judged" with the reason —
/// listed and counted, never a regression, never pooled into the gate — while the same drop in a
/// server-bound cell still regresses.
#[test]
fn client_bound_and_unmeasurable_cells_are_not_judged_with_the_reason() {
    let closed = |imp: &str, tput: [f64; 3], client_saturated: f64| {
        cell(
            "echo",
            imp,
            &[("mode", json!("closed")), ("connections", json!(64))],
            &[
                ("throughput_msgs_per_s", tput.to_vec()),
                ("client_saturated", vec![client_saturated; 3]),
            ],
        )
    };
    let open = |p99: [f64; 3], measurable: f64| {
        cell(
            "echo",
            "go",
            &[
                ("mode", json!("open")),
                ("connections", json!(64)),
                ("rate_msgs_per_s", json!(50_000.0)),
            ],
            &[
                ("throughput_msgs_per_s", vec![50_000.0, 50_010.0, 49_990.0]),
                ("latency_ns.p99", p99.to_vec()),
                ("latency_measurable", vec![measurable; 3]),
            ],
        )
    };
    let base = run(
        "base",
        vec![
            closed("rust-tokio", [179e3, 180e3, 179.5e3], 1.0),
            closed("node", [116e3, 116.5e3, 115.5e3], 0.0),
            open([200e3, 201e3, 199e3], 1.0),
        ],
    );
    let new = run(
        "new",
        vec![
            closed("rust-tokio", [125e3, 126e3, 125.5e3], 1.0),
            closed("node", [81e3, 81.5e3, 80.5e3], 0.0),
            open([400e3, 401e3, 399e3], 0.0),
        ],
    );
    let c = compare(&base, &new, &opts()).unwrap();
    let find = |imp: &str, metric: &str| {
        c.changes
            .iter()
            .find(|ch| ch.implementation == imp && ch.metric == metric)
            .unwrap_or_else(|| panic!("no change for {imp} {metric}"))
    };
    let tokio = find("rust-tokio", "throughput_msgs_per_s");
    assert_eq!(tokio.verdict, Verdict::NotJudged);
    assert!(
        tokio.note.as_deref().unwrap().contains("client-bound"),
        "{:?}",
        tokio.note
    );
    let p99 = find("go", "latency_ns.p99");
    assert_eq!(p99.verdict, Verdict::NotJudged);
    assert!(
        p99.note
            .as_deref()
            .unwrap()
            .contains("not measurable in the new run")
    );
    // The server-bound cell's drop is still caught.
    assert_eq!(
        find("node", "throughput_msgs_per_s").verdict,
        Verdict::Regressed
    );
    // Never pooled: the only pooled regression is node's, and the excluded cells are counted.
    assert!(
        c.groups
            .iter()
            .all(|g| g.implementation == "node" || g.verdict != Verdict::Regressed)
    );
    assert_eq!(c.count(Verdict::NotJudged), 2);
    let text = c.render_text();
    assert!(text.contains("2 not judged"), "{text}");
    assert!(
        text.contains("not judged (client-bound throughput in both run(s)"),
        "{text}"
    );
}
