//! `results.csv`: one row per cell and metric, for spreadsheets and scripts. Cells that produced no
//! metric (failed, timed out) still get one row, with an empty metric, so they are not silently missing.

use super::metrics::{estimate, metric_names, params_kv};
use super::{Artifact, Charts, Report};
use crate::results::Results;

/// The CSV exporter.
pub struct Csv;

const HEADER: &[&str] = &[
    "workload",
    "implementation",
    "params",
    "status",
    "metric",
    "median",
    "ci_low",
    "ci_high",
    "cv",
    "n",
];

impl Report for Csv {
    fn name(&self) -> &'static str {
        "CSV"
    }

    fn render(&self, results: &Results, _charts: &Charts) -> anyhow::Result<Vec<Artifact>> {
        Ok(vec![Artifact::new("results.csv", render(results))])
    }
}

/// The CSV text.
pub fn render(results: &Results) -> String {
    let mut out = String::new();
    line(&mut out, HEADER.iter().map(|s| s.to_string()));
    for c in &results.cells {
        let status = super::analysis::status_text(c.status).to_string();
        let base = [
            c.workload.clone(),
            c.implementation.clone(),
            params_kv(c),
            status,
        ];
        let names = metric_names(c);
        let mut any = false;
        for m in names {
            let e = estimate(c, &m);
            let Some(e) = e else { continue };
            any = true;
            let (lo, hi) = if e.has_interval {
                (num(e.lo), num(e.hi))
            } else {
                (String::new(), String::new())
            };
            let cv = e.cv.map(num).unwrap_or_default();
            let row = base
                .iter()
                .cloned()
                .chain([m, num(e.median), lo, hi, cv, e.n.to_string()]);
            line(&mut out, row);
        }
        if !any {
            let row = base
                .iter()
                .cloned()
                .chain(std::iter::repeat_n(String::new(), 5))
                .chain(["0".into()]);
            line(&mut out, row);
        }
    }
    out
}

fn num(v: f64) -> String {
    format!("{v}")
}

/// Appends one RFC 4180-style line (LF line ends; fields quoted when they contain a comma, quote or line break).
fn line(out: &mut String, fields: impl Iterator<Item = String>) {
    let fields: Vec<String> = fields
        .map(|f| {
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f
            }
        })
        .collect();
    out.push_str(&fields.join(","));
    out.push('\n');
}
