//! The HTML report is one self-contained file: no scripts, no external references, every section.

use asyncbench::report::{self, Charts};
use asyncbench::results::{self, Results};
use std::path::Path;

fn fixture() -> Results {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/small.json");
    results::load(&path).expect("fixture loads")
}

fn html() -> String {
    let r = fixture();
    report::html::render(&r, &Charts::build(&r)).expect("renders")
}

/// Every tag of the document (text is escaped, so each `<` starts a tag or a comment).
fn tags(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let end = rest[start..]
            .find('>')
            .map(|e| start + e + 1)
            .expect("tag closes");
        out.push(&rest[start..end]);
        rest = &rest[end..];
    }
    out
}

#[test]
fn no_scripts_and_no_external_references() {
    let h = html();
    let lower = h.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "no scripts at all");
    assert!(!lower.contains("<iframe") && !lower.contains("<object") && !lower.contains("<embed"));
    assert!(!lower.contains("<link"), "no linked stylesheets or icons");
    assert!(!lower.contains("<img"), "charts are inline SVG, not images");
    for tag in tags(&h) {
        let t = tag.to_ascii_lowercase();
        assert!(
            !t.contains("http:") && !t.contains("https:") && !t.contains("//"),
            "external reference in tag: {tag}"
        );
        for attr in ["href=\"", "src=\"", "xlink:href=\"", "action=\""] {
            if let Some(i) = t.find(attr) {
                let value = &t[i + attr.len()..];
                assert!(value.starts_with('#'), "only in-page links allowed: {tag}");
            }
        }
    }
    let style_start = lower.find("<style>").expect("inline style");
    let style_end = lower.find("</style>").expect("style closes");
    let css = &lower[style_start..style_end];
    assert!(
        !css.contains("url(") && !css.contains("@import") && !css.contains("@font-face"),
        "CSS loads nothing"
    );
    // URLs in notes survive as plain text.
    assert!(h.contains("(see https://go.dev/ref/spec)"));
}

#[test]
fn has_every_section_and_inline_charts() {
    let h = html();
    for id in [
        "summary",
        "results",
        "charts",
        "environment",
        "implementations",
        "findings",
        "notes",
    ] {
        assert!(
            h.contains(&format!("<section id=\"{id}\">")),
            "section {id} missing"
        );
    }
    let r = fixture();
    let n = Charts::build(&r).charts.len();
    assert!(n >= 8, "fixture exercises every chart type, got {n}");
    assert_eq!(
        h.matches("<svg ").count(),
        n + 1,
        "one inline SVG per chart, plus the first chart again beside the summary"
    );
    // Summary first.
    assert!(h.find("id=\"summary\"") < h.find("id=\"results\""));
    assert!(h.contains("Highest echo throughput, secondary: the maximum under"));
    // Statuses and reasons of implementations that did not run.
    assert!(h.contains("io_uring is not available"));
    assert!(h.contains("build failed"));
    assert!(h.contains("verification failed"));
    // Findings and the backpressure verdicts.
    assert!(h.contains("client_bottleneck"));
    assert!(h.contains("VIOLATED"));
    // Text from the results is escaped.
    assert!(h.contains("&lt;with promises&gt;"));
}

/// `runtime_in_label`: the implementation is shown with its runtime's major.minor everywhere a reader
/// sees it (matrix, picks, tables, charts), while colours stay keyed by the name.
#[test]
fn runtime_in_label_names_the_runtime_everywhere() {
    let mut r = fixture();
    let go = r
        .implementations
        .iter_mut()
        .find(|i| i.name == "go")
        .unwrap();
    go.runtime_in_label = true;
    go.runtime_detail = Some("go1.26.8 linux/amd64".into());
    let charts = Charts::build(&r);
    let h = report::html::render(&r, &charts).unwrap();
    let md = report::markdown::render(&r, &charts);
    assert!(h.contains("go (go1.26)</th>"), "matrix row label");
    assert!(md.contains("| go (go1.26) |"), "Markdown matrix row label");
    assert!(
        charts
            .charts
            .iter()
            .any(|c| format!("{:?}", c.figure).contains("go (go1.26)")),
        "chart legends and bar labels"
    );
    let plain = report::html::render(&fixture(), &Charts::build(&fixture())).unwrap();
    assert!(!plain.contains("go (go1.26)"), "off by default");
    // The colour does not change with the label.
    let swatch = |html: &str| {
        let at = html
            .find("(go1.26)")
            .or_else(|| html.find(">go</th>"))
            .unwrap();
        html[..at]
            .rfind("background:")
            .map(|i| html[i..i + 18].to_string())
    };
    assert_eq!(swatch(&h), swatch(&plain));
}
