//! End-to-end checks of how the run sizes fan-out sleeps and stream lengths, against the fake
//! implementation (tests/fakes/fake_impl.py): the sleep follows each implementation's spawn time and
//! is recorded per trial (not in the cell key), a sleep shorter than spawning is re-run longer, and
//! stream cells carry the warm-up, minimum-duration and pause parameters and the net throughput.

use crate::common::{FakeProject, assert_valid_results};
use serde_json::{Value, json};

fn cell<'a>(r: &'a Value, workload: &str, imp: &str, params: &[(&str, Value)]) -> &'a Value {
    r["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["workload"] == workload
                && c["implementation"] == imp
                && params.iter().all(|(k, v)| &c["params"][*k] == v)
        })
        .unwrap_or_else(|| panic!("no {workload} cell of {imp} with {params:?}"))
}

fn trial_metric(c: &Value, i: usize, m: &str) -> f64 {
    c["trials"][i]["metrics"][m]
        .as_f64()
        .unwrap_or_else(|| panic!("trial {i} has no {m}: {c}"))
}

fn kinds(c: &Value) -> Vec<String> {
    c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn fanout_sleep_follows_each_implementations_spawn_time() {
    let p = FakeProject::new(&["ok", "slow-spawn", "slow-spawn-caps-sleep"], &["fanout"]);
    let out = p.run(&["run", "--quick", "--repeat", "2", "--workload", "fanout"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = p.results();
    assert_valid_results(&r);
    // The plan is said up front with the workload's estimate; the end says actual beside estimated,
    // and results.json keeps both per phase.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let said = format!("{stdout}{stderr}");
    assert!(said.contains("plan: fanout × 3 ≈ "), "{said}");
    assert!(said.contains("time: build "), "{said}");
    let phases = r["environment"]["phases"].as_array().expect("phases");
    let names: Vec<&str> = phases.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["build", "fanout"]);
    assert!(phases[0]["estimated_s"].is_null());
    assert!(phases[1]["estimated_s"].as_f64().unwrap() > 0.0);
    assert!(phases[1]["actual_s"].as_f64().unwrap() > 0.0);
    for c in r["cells"].as_array().unwrap() {
        assert_eq!(c["status"], "ok", "{c}");
        if c["implementation"] == "fake-slow-spawn-caps-sleep" {
            continue; // its second trial at 10k fails on purpose
        }
        assert!(
            c["params"].get("sleep_ms").is_none(),
            "the per-implementation sleep must not split cells: {c}"
        );
        for (i, t) in c["trials"].as_array().unwrap().iter().enumerate() {
            let m = &t["metrics"];
            let net = m["total_ms"].as_f64().unwrap() - m["sleep_ms"].as_f64().unwrap();
            assert!((trial_metric(c, i, "total_net_ms") - net).abs() < 1e-6);
        }
    }
    let at = |imp: &str, n: u64| {
        cell(
            &r,
            "fanout",
            imp,
            &[("variant", json!("bare")), ("tasks", json!(n))],
        )
    };
    // Fast spawning: the suite's floor everywhere.
    let ok = at("fake-ok", 10_000);
    assert_eq!(trial_metric(ok, 0, "sleep_ms"), 200.0);
    assert!(kinds(ok).is_empty(), "{ok}");
    // slow-spawn takes 3 ms at 1000 tasks, 300 ms at 10k: the extrapolated 60 ms (→ the 200 ms floor)
    // is too short, so the first trial is re-run with 3 × 300 ms; the second trial at 10k knows the
    // spawn time there and sleeps 1.5 × it (`fanout::SLEEP_PER_SPAWN`).
    assert_eq!(
        trial_metric(at("fake-slow-spawn", 1_000), 0, "sleep_ms"),
        200.0
    );
    let slow = at("fake-slow-spawn", 10_000);
    assert_eq!(trial_metric(slow, 0, "sleep_ms"), 900.0);
    assert_eq!(trial_metric(slow, 1, "sleep_ms"), 450.0);
    let k = kinds(slow);
    assert!(k.contains(&"sleep_resized".to_string()), "{k:?}");
    assert!(!k.contains(&"not_all_concurrent".to_string()), "{k:?}");
    // A re-run that fails keeps the first trial, saying both what happened and that not every task
    // was alive at once.
    let capped = at("fake-slow-spawn-caps-sleep", 10_000);
    assert_eq!(trial_metric(capped, 0, "sleep_ms"), 200.0);
    let k = kinds(capped);
    assert!(k.contains(&"sleep_resize_failed".to_string()), "{k:?}");
    assert!(k.contains(&"not_all_concurrent".to_string()), "{k:?}");
    // The report compares times beyond the sleep, since the sleeps differ.
    let md = std::fs::read_to_string(p.out().join("report.md")).unwrap();
    assert!(md.contains("spawn-to-done beyond the sleep"), "{md}");
}

#[test]
fn stream_runs_carry_their_length_rules_and_net_throughput() {
    let p = FakeProject::new(&["ok", "exact-items"], &["stream"]);
    let out = p.run(&["run", "--quick", "--workload", "stream"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = p.results();
    assert_valid_results(&r);
    // A program that ignores --min-ms fails verification with the rule it broke.
    let exact = crate::common::implementation(&r, "fake-exact-items");
    assert_eq!(exact["status"], "verify_failed");
    let reason = exact["reason"].as_str().unwrap();
    assert!(reason.contains("multiple of 4096"), "{reason}");
    let balanced = cell(&r, "stream", "fake-ok", &[("variant", json!("balanced"))]);
    assert_eq!(balanced["status"], "ok", "{balanced}");
    assert_eq!(balanced["params"]["min_ms"], json!(200));
    let items = trial_metric(balanced, 0, "items");
    assert!(items >= 20_000.0 && items % 4096.0 == 0.0, "{items}");
    assert!(trial_metric(balanced, 0, "elapsed_ms") >= 200.0);
    let slow = cell(
        &r,
        "stream",
        "fake-ok",
        &[
            ("variant", json!("slow-consumer")),
            ("items", json!(100_500)),
        ],
    );
    assert_eq!(slow["status"], "ok", "{slow}");
    assert_eq!(slow["params"]["pause_every"], json!(1_000));
    assert_eq!(slow["params"]["pause_ms"], json!(10));
    let (elapsed, paused) = (
        trial_metric(slow, 0, "elapsed_ms"),
        trial_metric(slow, 0, "paused_ms"),
    );
    let net = trial_metric(slow, 0, "throughput_net_items_per_s");
    assert!((net - 100_500.0 / ((elapsed - paused) / 1e3)).abs() < 1e-6 * net);
    assert!(trial_metric(slow, 0, "pause_overshoot") >= 0.9);
    assert!(
        kinds(slow).iter().any(|k| k.starts_with("backpressure_")),
        "the verdict still pairs N and 10·N: {slow}"
    );
    let md = std::fs::read_to_string(p.out().join("report.md")).unwrap();
    assert!(md.contains("throughput net of pauses"), "{md}");
    assert!(md.contains("10 ms pause every 1k items"), "{md}");
}
