//! CI-tracker exports validated against the formats' documented shapes: github-action-benchmark's
//! customBiggerIsBetter / customSmallerIsBetter (a JSON array of {name, unit, value, range?, extra?})
//! and Bencher Metric Format ({benchmark: {measure: {value, lower_value?, upper_value?}}}).

use asyncbench::export::{ExportFormat, render};
use asyncbench::results::{self, Results};
use serde_json::{Value, json};
use std::path::Path;

fn fixture(name: &str) -> Results {
    results::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

fn schema_valid(schema: Value, instance: &Value) {
    let v = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = v.iter_errors(instance).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}\n{instance:#}");
}

#[test]
fn github_action_benchmark_shape() {
    let r = fixture("small.json");
    let files = render(&r, ExportFormat::GithubActionBenchmark);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "github-action-benchmark-bigger.json",
            "github-action-benchmark-smaller.json"
        ]
    );
    // The tool's documented custom format.
    let schema = json!({
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "required": ["name", "unit", "value"],
            "additionalProperties": false,
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "unit": {"type": "string"},
                "value": {"type": "number"},
                "range": {"type": "string"},
                "extra": {"type": "string"}
            }
        }
    });
    let bigger: Value = serde_json::from_slice(&files[0].1).unwrap();
    let smaller: Value = serde_json::from_slice(&files[1].1).unwrap();
    schema_valid(schema.clone(), &bigger);
    schema_valid(schema, &smaller);
    // Directions land in the right file; names are unique; one entry per ok cell and headline metric.
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(names(&bigger).iter().all(|n| n.contains("throughput")));
    assert!(names(&smaller).iter().all(|n| !n.contains("throughput")));
    let mut all = names(&bigger);
    all.extend(names(&smaller));
    let unique: std::collections::BTreeSet<_> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "duplicate names");
    let expected: usize = r
        .cells
        .iter()
        .filter(|c| c.status == results::CellStatus::Ok)
        .map(|c| {
            asyncbench::report::metrics::cell_headline_metrics(c)
                .filter(|m| asyncbench::report::metrics::estimate(c, m).is_some())
                .count()
        })
        .sum();
    assert_eq!(all.len(), expected);
    let tokio = bigger
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "echo/rust-tokio/connections=64,message_bytes=64,mode=closed throughput_msgs_per_s")
        .expect("stable name");
    assert_eq!(tokio["unit"], "msgs/s");
    assert_eq!(tokio["value"], 310000.0);
}

#[test]
fn names_are_stable_across_runs() {
    let r = fixture("small.json");
    let mut again = r.clone();
    again.run_id = "another".into();
    for c in &mut again.cells {
        if let Some(rate) = c.params.get("rate_msgs_per_s").and_then(|v| v.as_f64())
            && c.params.contains_key("rate_fraction")
        {
            c.params
                .insert("rate_msgs_per_s".into(), json!(rate * 1.07));
        }
    }
    let keys = |r: &Results| -> Vec<String> {
        let v: Value = serde_json::from_slice(&render(r, ExportFormat::Bencher)[0].1).unwrap();
        v.as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(keys(&r), keys(&again));
}

#[test]
fn bencher_metric_format_shape() {
    let r = fixture("small.json");
    let files = render(&r, ExportFormat::Bencher);
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].0, "bencher.json");
    let v: Value = serde_json::from_slice(&files[0].1).unwrap();
    let schema = json!({
        "type": "object",
        "minProperties": 1,
        "additionalProperties": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {
                "type": "object",
                "required": ["value"],
                "additionalProperties": false,
                "properties": {
                    "value": {"type": "number"},
                    "lower_value": {"type": "number"},
                    "upper_value": {"type": "number"}
                }
            }
        }
    });
    schema_valid(schema, &v);
    for (_, measures) in v.as_object().unwrap() {
        for (_, m) in measures.as_object().unwrap() {
            let (val, lo, hi) = (
                m["value"].as_f64().unwrap(),
                m["lower_value"].as_f64().unwrap(),
                m["upper_value"].as_f64().unwrap(),
            );
            assert!(lo <= val && val <= hi, "{m}");
        }
    }
}
