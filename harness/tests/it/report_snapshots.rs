//! Snapshot tests of the text reports (Markdown and CSV) rendered from `fixtures/small.json`.
//! Snapshots live in `fixtures/snapshots/`; review changes with `cargo insta review` or
//! `INSTA_UPDATE=always cargo test --test it report_snapshots::`.

use asyncbench::report::{self, Charts};
use asyncbench::results::{self, Results};
use std::path::Path;

fn fixture(name: &str) -> Results {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    results::load(&path).expect("fixture loads")
}

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({
            snapshot_path => "../fixtures/snapshots",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

#[test]
fn markdown_report() {
    let r = fixture("small.json");
    let charts = Charts::build(&r);
    snapshot!("report_md", report::markdown::render(&r, &charts));
}

#[test]
fn csv_results() {
    let r = fixture("small.json");
    snapshot!("results_csv", report::csv::render(&r));
}

#[test]
fn csv_has_one_row_per_cell_and_metric() {
    let r = fixture("small.json");
    let csv = report::csv::render(&r);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    // One column per parameter (sorted), a unit column.
    assert_eq!(
        header,
        [
            "workload",
            "implementation",
            "status",
            "capacity",
            "connections",
            "items",
            "message_bytes",
            "mode",
            "pattern",
            "primitive",
            "rate_fraction",
            "rate_msgs_per_s",
            "runtime",
            "sleep_ms",
            "stages",
            "tasks",
            "variant",
            "metric",
            "unit",
            "median",
            "ci_low",
            "ci_high",
            "cv",
            "n"
        ]
    );
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(
        rows.iter().all(|r| r.len() == header.len()),
        "no field needs quoting in the fixture"
    );
    // The timed-out cell is present once, with an empty metric.
    let timeout: Vec<_> = rows
        .iter()
        .filter(|r| r[col("status")] == "timeout")
        .collect();
    assert_eq!(timeout.len(), 1);
    assert_eq!(timeout[0][col("metric")], "");
    // Latency percentiles are flattened with dotted names; intervals come from the stats; units stated.
    let p99 = rows
        .iter()
        .find(|r| {
            r[0] == "echo"
                && r[1] == "rust-tokio"
                && r[col("connections")] == "64"
                && r[col("message_bytes")] == "64"
                && r[col("mode")] == "closed"
                && r[col("rate_msgs_per_s")].is_empty()
                && r[col("metric")] == "latency_ns.p99"
        })
        .expect("p99 row");
    assert!(
        !p99[col("ci_low")].is_empty() && !p99[col("ci_high")].is_empty(),
        "{p99:?}"
    );
    assert_eq!(p99[col("unit")], "ns");
}

#[test]
fn csv_and_markdown_defuse_text_from_the_results() {
    let mut r = fixture("small.json");
    let c = r
        .cells
        .iter_mut()
        .find(|c| c.status != asyncbench::results::CellStatus::Ok)
        .unwrap();
    c.reason = Some("=HYPERLINK(\"http://x\") | *bold* [link](y)\n# heading".into());
    c.implementation = "@evil".into();
    let csv = report::csv::render(&r);
    assert!(csv.contains("'@evil"), "{csv}");
    assert!(
        !csv.lines()
            .any(|l| l.starts_with('@') || l.starts_with('='))
    );
    let md = report::markdown::render(&r, &Charts::build(&r));
    assert!(
        md.contains("\\| \\*bold\\* \\[link\\](y) \\# heading"),
        "escaped reason"
    );
    assert!(!md.contains("*bold*"));
}

#[test]
fn markdown_links_every_chart_relatively() {
    let r = fixture("small.json");
    let charts = Charts::build(&r);
    let md = report::markdown::render(&r, &charts);
    assert!(!charts.charts.is_empty());
    for c in &charts.charts {
        assert!(
            md.contains(&format!("](charts/{}.png)", c.id)),
            "{} not linked",
            c.id
        );
    }
    assert!(
        !md.contains("http://") || md.contains("https://go.dev"),
        "only plain-text URLs from notes"
    );
}

#[test]
fn empty_results_render_without_charts() {
    let mut r = fixture("small.json");
    r.cells.clear();
    r.implementations.clear();
    let charts = Charts::build(&r);
    assert!(charts.charts.is_empty());
    let artifacts = report::render_all(&r).expect("renders");
    let names: Vec<String> = artifacts
        .iter()
        .map(|a| a.path.display().to_string())
        .collect();
    assert_eq!(names, ["report.html", "report.md", "results.csv"]);
    let md = report::markdown::render(&r, &charts);
    assert!(md.contains("No completed measurements to summarise."));
}

#[test]
fn write_all_writes_every_file() {
    let r = fixture("small.json");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nested/report");
    let paths = report::write_all(&r, &out).expect("writes");
    for p in &paths {
        assert!(p.starts_with(&out));
        assert!(
            std::fs::metadata(p).unwrap().len() > 0,
            "{} is empty",
            p.display()
        );
    }
    for name in ["report.html", "report.md", "results.csv"] {
        assert!(paths.contains(&out.join(name)), "{name} missing");
    }
    let pngs: Vec<_> = paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    assert_eq!(pngs.len(), Charts::build(&r).charts.len());
    for p in pngs {
        let bytes = std::fs::read(p).unwrap();
        assert_eq!(
            &bytes[..8],
            b"\x89PNG\r\n\x1a\n",
            "{} is a PNG",
            p.display()
        );
    }
}

#[test]
fn degenerate_values_still_render() {
    // Zeros on log axes, a single point per series, NaN-free but identical values, huge spreads.
    let mut r = fixture("small.json");
    r.cells
        .retain(|c| c.implementation == "rust-tokio" || c.workload == "futures");
    for (i, c) in r.cells.iter_mut().enumerate() {
        for v in c.metrics.values.values_mut() {
            *v = if i % 3 == 0 { 0.0 } else { *v * 1e9 };
        }
        if let Some(l) = c.metrics.latency_ns.as_mut() {
            l.p99 = 0.0;
        }
        for s in c.stats.values_mut() {
            s.ci_low = s.median;
            s.ci_high = s.median;
        }
    }
    let charts = Charts::build(&r);
    for c in &charts.charts {
        c.svg().unwrap_or_else(|e| panic!("{}: {e}", c.id));
        c.png().unwrap_or_else(|e| panic!("{}: {e}", c.id));
    }
    report::render_all(&r).expect("renders");
}

#[test]
fn end_of_run_summary() {
    let r = fixture("small.json");
    snapshot!("summary_text", asyncbench::summary::render(&r));
}
