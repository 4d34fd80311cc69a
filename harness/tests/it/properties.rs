//! Property tests: the protocol parser and the results loader take untrusted text (a program's stdout,
//! a file someone hands to `report`/`compare`) and must answer every input with a value or an error,
//! never a panic. Inputs are generated at random (proptest; the case counts are fixed below so the
//! runtime stays small and the coverage is known).

use asyncbench::protocol::{self, Event};
use asyncbench::results;
use proptest::prelude::*;
use std::io::BufReader;

/// Generated inputs per property.
const CASES: u32 = 2_000;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Arbitrary JSON values, a few levels deep.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("ready"),
            Just("result"),
            Just("echo"),
            Just("fanout"),
            Just("port"),
            Just("")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("event".to_string()),
                    Just("workload".to_string()),
                    Just("port".to_string()),
                    Just("runtime".to_string()),
                    Just("threads".to_string()),
                    Just("future_bytes".to_string()),
                    Just("checksum".to_string()),
                    "[a-z_]{1,10}",
                ],
                inner,
                0..7
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A protocol-shaped object: an `event` of a known or unknown kind with arbitrary fields.
fn event_line() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("ready"), Just("result"), Just("progress"), Just("")],
        prop::collection::btree_map(
            prop_oneof![
                Just("workload".to_string()),
                Just("port".to_string()),
                Just("runtime".to_string()),
                Just("threads".to_string()),
                Just("future_bytes".to_string()),
                "[a-z_]{1,8}",
            ],
            json_value(),
            0..6,
        ),
    )
        .prop_map(|(event, fields)| {
            let mut m: serde_json::Map<String, serde_json::Value> = fields.into_iter().collect();
            m.insert("event".into(), event.into());
            serde_json::Value::Object(m).to_string()
        })
}

/// A real results file, damaged by a few random byte edits.
fn mutated_results() -> impl Strategy<Value = Vec<u8>> {
    let base = include_bytes!("../fixtures/base.json").to_vec();
    let len = base.len();
    prop::collection::vec((0..len, any::<u8>(), 0u8..3), 1..8).prop_map(move |edits| {
        let mut b = base.clone();
        for (at, byte, kind) in edits {
            let at = at.min(b.len().saturating_sub(1));
            match kind {
                0 => b[at] = byte,
                1 => b.insert(at, byte),
                _ => {
                    if !b.is_empty() {
                        b.remove(at);
                    }
                }
            }
        }
        b
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn parse_line_never_panics_on_any_text(line in any::<String>()) {
        let _ = protocol::parse_line(&line);
    }

    #[test]
    fn parse_line_never_panics_on_protocol_shaped_json(line in event_line()) {
        if let Ok(Event::Ready(r)) = protocol::parse_line(&line) {
            // An accepted ready event always names its workload and runtime, and a valid port.
            prop_assert!(r.fields.contains_key("workload"));
            prop_assert!(r.fields.contains_key("runtime"));
        }
    }

    #[test]
    fn bounded_line_reader_never_panics_and_splits_on_newlines(
        bytes in prop::collection::vec(
            prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'{'), any::<u8>()], 0..4096),
        capacity in 1usize..64,
    ) {
        let mut reader = BufReader::with_capacity(capacity, &bytes[..]);
        let mut lines = 0usize;
        while let Ok(Ok(Some(line))) = protocol::read_line_bounded(&mut reader) {
            prop_assert!(!line.contains('\n'));
            lines += 1;
            prop_assert!(lines <= bytes.len() + 1);
        }
    }

    #[test]
    fn results_parse_never_panics_on_any_text(text in any::<String>()) {
        let _ = results::parse(&text);
    }

    #[test]
    fn results_parse_never_panics_on_damaged_results(bytes in mutated_results()) {
        if let Ok(text) = std::str::from_utf8(&bytes)
            && let Ok(r) = results::parse(text)
        {
            // Whatever loads can be compared and rendered without a panic too.
            if let Ok(c) =
                asyncbench::compare::compare(&r, &r, &asyncbench::compare::CompareOptions::default())
            {
                let _ = c.render_text();
            }
        }
    }

    #[test]
    fn results_parse_never_panics_on_arbitrary_json_with_the_right_version(
        fields in prop::collection::btree_map(
            prop_oneof![
                Just("run_id".to_string()),
                Just("environment".to_string()),
                Just("implementations".to_string()),
                Just("cells".to_string()),
                "[a-z_]{1,8}",
            ],
            json_value(),
            0..6,
        )
    ) {
        let mut m: serde_json::Map<String, serde_json::Value> = fields.into_iter().collect();
        m.insert("schema_version".into(), results::SCHEMA_VERSION.into());
        let _ = results::parse(&serde_json::Value::Object(m).to_string());
    }
}

/// The damaged-file generator does produce files that still load, so the property is not vacuous.
#[test]
fn the_undamaged_fixture_loads() {
    let text = include_str!("../fixtures/base.json");
    assert!(results::parse(text).is_ok());
}
