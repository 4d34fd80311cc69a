//! Tests of the harness's shape rather than its behaviour: no import cycles among its top-level
//! modules, the workload registry in step with the results schema, and every definition's facts
//! pointing at things that exist (metrics with units, chart builders).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module → modules it imports.
type Graph = BTreeMap<String, BTreeSet<String>>;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .expect("reading harness/src")
        .flatten()
    {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file that builds into the library: comments and `#[cfg(test)]` modules dropped
/// (tests may import anything).
fn production_code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Top-level modules named by `crate::x` paths and `use crate::{x, y::z}` groups in `code`.
fn imports(code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            // Top-level names only: those at the group's start or after a comma at depth 0.
            let mut depth = 0;
            let mut start = true;
            for (j, c) in group[..end].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && !c.is_whitespace() => {
                        out.insert(ident(&group[j..]));
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest));
        }
    }
    out.retain(|m| modules.contains(m));
    out
}

/// The import graph of the crate's top-level modules (`lib.rs` and `main.rs` excluded: they only
/// declare and call).
fn module_graph() -> Graph {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let top = |p: &Path| -> String {
        let rel = p.strip_prefix(&src).expect("under src");
        let first = rel.components().next().expect("a component");
        let name = first.as_os_str().to_string_lossy();
        name.trim_end_matches(".rs").to_string()
    };
    let modules: BTreeSet<String> = files
        .iter()
        .map(|p| top(p))
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let mut graph = Graph::new();
    for f in &files {
        let m = top(f);
        if !modules.contains(&m) || m == "architecture_tests" {
            continue;
        }
        let code = production_code(&std::fs::read_to_string(f).expect("readable source"));
        let deps = graph.entry(m.clone()).or_default();
        deps.extend(imports(&code, &modules).into_iter().filter(|d| *d != m));
    }
    graph
}

/// A cycle in `graph` as a path `a → b → … → a`, if there is one (depth-first, deterministic).
pub fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let at = path
                    .iter()
                    .position(|n| n == node)
                    .expect("open nodes are on the path");
                let mut cycle = path[at..].to_vec();
                cycle.push(node.to_string());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.to_string(), Mark::Open);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, marks, path) {
                return Some(c);
            }
        }
        path.pop();
        marks.insert(node.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut marks, &mut Vec::new()))
}

fn graph_of(edges: &[(&str, &str)]) -> Graph {
    let mut g = Graph::new();
    for (a, b) in edges {
        g.entry(a.to_string()).or_default().insert(b.to_string());
        g.entry(b.to_string()).or_default();
    }
    g
}

#[test]
fn the_cycle_finder_finds_seeded_cycles_and_accepts_layers() {
    let layered = graph_of(&[
        ("app", "runner"),
        ("runner", "engine"),
        ("runner", "workload"),
        ("engine", "workload"),
        ("workload", "results"),
    ]);
    assert_eq!(find_cycle(&layered), None);
    let mut seeded = layered.clone();
    seeded
        .get_mut("workload")
        .unwrap()
        .insert("runner".to_string());
    let cycle = find_cycle(&seeded).expect("the seeded cycle");
    assert_eq!(cycle.first(), cycle.last());
    assert!(cycle.contains(&"runner".to_string()) && cycle.contains(&"workload".to_string()));
    assert_eq!(
        find_cycle(&graph_of(&[("a", "a")])),
        Some(vec!["a".to_string(), "a".to_string()])
    );
}

#[test]
fn the_import_parser_sees_paths_and_groups_but_not_comments_or_tests() {
    let modules: BTreeSet<String> = ["results", "workload", "runner", "ui"]
        .map(String::from)
        .into();
    let code = production_code(
        "use crate::results::{self, Cell};\nuse crate::{ui::Ui, workload::{Launch, params}};\n// crate::runner::Run\nfn f() { crate::results::x(); }\n#[cfg(test)]\nmod tests {\n use crate::runner::Run;\n}\n",
    );
    assert_eq!(
        imports(&code, &modules),
        ["results", "ui", "workload"].map(String::from).into()
    );
}

#[test]
fn top_level_modules_import_each_other_without_cycles() {
    let graph = module_graph();
    // The parser sees the real tree (a broken parser would find no edges and pass vacuously).
    assert!(graph["runner"].contains("workload"), "{graph:?}");
    assert!(graph["report"].contains("results"), "{graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "import cycle among harness modules: {}; move the shared piece into a leaf module (see docs/ARCHITECTURE.md)",
            cycle.join(" → ")
        );
    }
}

#[test]
fn the_results_schema_lists_exactly_the_registered_workloads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/results.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("the schema")).expect("JSON");
    let listed: Vec<&str> = schema["$defs"]
        .as_object()
        .expect("$defs")
        .values()
        .filter_map(|d| d.pointer("/properties/workload/enum"))
        .flat_map(|e| e.as_array().expect("an enum array"))
        .map(|v| v.as_str().expect("names"))
        .collect();
    let registered: Vec<&str> = crate::workload::ALL.iter().map(|d| d.name).collect();
    assert_eq!(
        listed, registered,
        "harness/schema/results.schema.json's cell workload enum must list workload::ALL in order"
    );
}

#[test]
fn every_definition_names_known_metrics_and_charts() {
    let mut names = BTreeSet::new();
    for d in crate::workload::ALL {
        assert!(names.insert(d.name), "{} registered twice", d.name);
        assert!(!d.title.is_empty() && !d.headlines.is_empty(), "{}", d.name);
        for m in d.headlines.iter().chain(d.columns) {
            assert!(
                crate::report::metrics::METRICS
                    .iter()
                    .any(|def| def.name == *m)
                    || m.starts_with("latency_ns."),
                "{}: metric {m} has no definition in report::metrics::METRICS",
                d.name
            );
        }
        for c in d.charts {
            assert!(
                crate::report::charts::BUILDERS
                    .iter()
                    .any(|(name, _)| name == c),
                "{}: no chart builder {c}",
                d.name
            );
        }
    }
    // The fan-out column the report derives for older results is the one the reports call overhead.
    let fanout = crate::workload::find("fanout").unwrap();
    assert!(
        fanout
            .columns
            .contains(&crate::report::metrics::OVERHEAD_MS)
    );
}

/// Literals that spell a finding name for another reason: metric names (`METRICS`, the echo
/// metrics the schema lists), status texts, protocol fields a finding is made from, a column header.
const NOT_FINDING_USES: &[&str] = &[
    "failed",             // CellStatus / ImplStatus text
    "skipped",            // ImplStatus text
    "leak",               // the cancellation table's column header
    "description",        // the futures catalogue's field
    "idiom_note",         // the cancellation result's field
    "interference_rerun", // the echo metric of the same name
];

/// Finding names written as strings outside `finding.rs` in `code` (production code of one file):
/// `(line, what)`.
fn finding_strings(code: &str) -> Vec<(usize, String)> {
    use crate::finding::FindingKind;
    let metric = |n: &str| crate::report::metrics::METRICS.iter().any(|d| d.name == n);
    let mut out = Vec::new();
    for (i, line) in code.lines().enumerate() {
        // Kind tests by text instead of by the enum.
        for pattern in [
            "kind: \"",
            "kind == \"",
            "kind != \"",
            "kind.starts_with(",
            "kind.as_str()",
            "has_finding(c, \"",
        ] {
            if line.contains(pattern) {
                out.push((i + 1, line.trim().to_string()));
            }
        }
        for lit in line.split('"').skip(1).step_by(2) {
            let known = FindingKind::FIXED.iter().any(|k| k.name() == lit);
            let prefix = ["check_", "above_", "backpressure_", "cell_"].contains(&lit);
            if (known && !metric(lit) && !NOT_FINDING_USES.contains(&lit)) || prefix {
                out.push((i + 1, format!("\"{lit}\"")));
            }
        }
    }
    out
}

#[test]
fn the_finding_string_scanner_sees_names_and_text_tests() {
    let code = "let f = Finding { kind: \"client_bottleneck\".into(), message };\nif f.kind.starts_with(\"check_\") {}\nm.set(\"lost_items\", 1.0);\nlet s = FindingKind::ClientBottleneck;";
    let hits = finding_strings(code);
    assert_eq!(
        hits.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
        vec![1, 1, 2, 2],
        "{hits:?}"
    );
}

#[test]
fn finding_names_are_spelled_only_in_the_finding_module() {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    for f in files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name == "finding.rs" || name == "architecture_tests.rs" {
            continue;
        }
        let code = production_code(&std::fs::read_to_string(&f).expect("readable source"));
        for (line, what) in finding_strings(&code) {
            found.push(format!("{}:{line}: {what}", f.display()));
        }
    }
    assert!(
        found.is_empty(),
        "finding kinds written as strings (use crate::finding::FindingKind):\n{}",
        found.join("\n")
    );
}

#[test]
fn every_finding_in_the_reference_results_has_a_known_kind() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results/reference/results.json");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("the reference results"))
            .expect("JSON");
    let cells = results["cells"].as_array().expect("cells");
    let mut kinds = BTreeSet::new();
    for c in cells {
        for f in c["findings"].as_array().into_iter().flatten() {
            kinds.insert(f["kind"].as_str().expect("a kind").to_string());
        }
    }
    assert!(kinds.len() > 5, "{kinds:?}");
    for k in kinds {
        let kind = crate::finding::FindingKind::from_name(&k);
        assert!(
            !matches!(kind, crate::finding::FindingKind::Unknown(_)),
            "results/reference/results.json has a finding kind {k} that crate::finding does not define"
        );
        assert_eq!(kind.name(), k);
    }
}
