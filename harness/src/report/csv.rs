//! `results.csv`: one row per cell and metric, for spreadsheets and scripts. Every workload parameter has
//! its own column (empty where a cell lacks it) and every value its unit, so a spreadsheet can filter and
//! pivot without parsing. Cells that produced no metric (failed, timed out) still get one row, with an
//! empty metric, so they are not silently missing.
//!
//! Text that a spreadsheet would run as a formula (a field starting with `=`, `+`, `-`, `@`, tab or
//! carriage return that is not a number) is prefixed with `'`, so opening the file never executes
//! anything a results file carried (CSV injection).

use super::metrics::{Unit, estimate, metric_def, metric_names, value_text};
use super::{Artifact, Charts, Report};
use crate::results::Results;

/// The CSV exporter.
pub struct Csv;

/// Columns before the parameters.
const LEAD: &[&str] = &["workload", "implementation", "status"];
/// Columns after the parameters.
const TAIL: &[&str] = &["metric", "unit", "median", "ci_low", "ci_high", "cv", "n"];

impl Report for Csv {
    fn name(&self) -> &'static str {
        "CSV"
    }

    fn render(&self, results: &Results, _charts: &Charts) -> anyhow::Result<Vec<Artifact>> {
        Ok(vec![Artifact::new("results.csv", render(results))])
    }
}

/// The unit of a metric's raw values, as the CSV's `unit` column states it.
pub fn unit_text(unit: Unit) -> &'static str {
    match unit {
        Unit::MsgsPerS => "msg/s",
        Unit::ItemsPerS => "items/s",
        Unit::BytesPerS => "B/s",
        Unit::Nanos => "ns",
        Unit::Millis => "ms",
        Unit::Seconds => "s",
        Unit::MicrosPerMsg => "us/msg",
        Unit::Bytes => "B",
        Unit::Cores => "cores",
        Unit::Count => "count",
        Unit::Plain => "",
    }
}

/// The parameter columns: every parameter name of any cell, sorted. A name that clashes with a fixed
/// column is prefixed `param_`.
fn param_columns(results: &Results) -> Vec<(String, String)> {
    let mut keys: Vec<&String> = results.cells.iter().flat_map(|c| c.params.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|k| {
            let header = if LEAD.contains(&k.as_str()) || TAIL.contains(&k.as_str()) {
                format!("param_{k}")
            } else {
                k.clone()
            };
            (k.clone(), header)
        })
        .collect()
}

/// The CSV text.
pub fn render(results: &Results) -> String {
    let params = param_columns(results);
    let mut out = String::new();
    line(
        &mut out,
        LEAD.iter()
            .map(|s| s.to_string())
            .chain(params.iter().map(|(_, h)| h.clone()))
            .chain(TAIL.iter().map(|s| s.to_string())),
    );
    for c in &results.cells {
        let status = super::analysis::status_text(c.status).to_string();
        let base: Vec<String> = [c.workload.clone(), c.implementation.clone(), status]
            .into_iter()
            .chain(
                params
                    .iter()
                    .map(|(k, _)| c.params.get(k).map(value_text).unwrap_or_default()),
            )
            .collect();
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
            let unit = unit_text(metric_def(&m).unit).to_string();
            let row =
                base.iter()
                    .cloned()
                    .chain([m, unit, num(e.median), lo, hi, cv, e.n.to_string()]);
            line(&mut out, row);
        }
        if !any {
            let row = base
                .iter()
                .cloned()
                .chain(std::iter::repeat_n(String::new(), TAIL.len() - 1))
                .chain(["0".into()]);
            line(&mut out, row);
        }
    }
    out
}

fn num(v: f64) -> String {
    format!("{v}")
}

/// Defuses a field a spreadsheet would evaluate as a formula; numbers (e.g. `-3.5`) stay numbers.
pub fn neutralise(field: &str) -> String {
    let risky = field.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && field.trim().parse::<f64>().is_err() {
        format!("'{field}")
    } else {
        field.to_string()
    }
}

/// Appends one RFC 4180-style line (LF line ends; fields quoted when they contain a comma, quote or line
/// break), every field neutralised first.
fn line(out: &mut String, fields: impl Iterator<Item = String>) {
    let fields: Vec<String> = fields
        .map(|f| {
            let f = neutralise(&f);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_numbers_are_not() {
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("+cmd"), "'+cmd");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("-x"), "'-x");
        assert_eq!(neutralise("-3.5"), "-3.5");
        assert_eq!(neutralise("rust-tokio"), "rust-tokio");
        let mut out = String::new();
        line(&mut out, ["=1+2,3".to_string()].into_iter());
        assert_eq!(out, "\"'=1+2,3\"\n");
    }
}
