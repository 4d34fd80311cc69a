//! `asyncbench compare <base.json> <new.json> [--threshold 5]`: what changed between two runs.
//!
//! Cells are matched by workload, implementation and parameters (open-loop echo cells whose rate is a
//! fraction of the implementation's own maximum are matched without their absolute rate, which differs
//! between runs by construction). For each workload's headline metrics the change is computed with a
//! conservative interval, and judged:
//! - **within noise** when the two 95 % intervals overlap or the change is smaller than the threshold;
//! - otherwise **improved** or **regressed**, depending on whether higher or lower is better.
//!
//! A cell that completed in the base run but not in the new one is **now failing**. [`Comparison::
//! exit_code`] is 1 when anything regressed or now fails, 0 otherwise. Pure: loading is `results::load`.

use crate::report::format::{fmt_estimate, fmt_pct};
use crate::report::metrics::{
    Better, Estimate, cell_headline_metrics, describe_scenario, estimate, metric_def, scenario_key,
};
use crate::results::{Cell, CellStatus, Environment, Results};
use std::fmt::Write;

/// The judgement of one metric of one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Improved,
    Regressed,
    WithinNoise,
    /// Completed in the base run, did not complete in the new one.
    NowFailing,
    /// Did not complete in the base run, completes now.
    NowPassing,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Improved => "improved",
            Verdict::Regressed => "REGRESSED",
            Verdict::WithinNoise => "within noise",
            Verdict::NowFailing => "NOW FAILING",
            Verdict::NowPassing => "now passing",
        }
    }
}

/// One compared metric of one cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub workload: String,
    pub implementation: String,
    pub scenario: String,
    pub metric: &'static str,
    pub base: Option<Estimate>,
    pub new: Option<Estimate>,
    /// new / base − 1, in percent.
    pub change_pct: Option<f64>,
    /// Conservative interval of the change: (new.lo / base.hi − 1, new.hi / base.lo − 1), in percent.
    pub change_lo_pct: Option<f64>,
    pub change_hi_pct: Option<f64>,
    pub verdict: Verdict,
}

/// The result of comparing two runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub threshold_pct: f64,
    pub base_run: String,
    pub new_run: String,
    /// Environment differences that make the numbers less comparable.
    pub env_warnings: Vec<String>,
    pub changes: Vec<Change>,
    /// Cell keys present in only one run.
    pub only_in_base: Vec<String>,
    pub only_in_new: Vec<String>,
}

/// Compares `new` against `base`.
pub fn compare(base: &Results, new: &Results, threshold_pct: f64) -> Comparison {
    let key = |c: &Cell| format!("{}|{}", scenario_key(c), c.implementation);
    let mut changes = Vec::new();
    let mut only_in_base = Vec::new();
    for b in &base.cells {
        let Some(n) = new.cells.iter().find(|n| key(n) == key(b)) else {
            only_in_base.push(b.key());
            continue;
        };
        for metric in cell_headline_metrics(b) {
            if let Some(c) = compare_metric(b, n, metric, threshold_pct) {
                changes.push(c);
            }
        }
    }
    let only_in_new = new
        .cells
        .iter()
        .filter(|n| !base.cells.iter().any(|b| key(b) == key(n)))
        .map(|n| n.key())
        .collect();
    Comparison {
        threshold_pct,
        base_run: base.run_id.clone(),
        new_run: new.run_id.clone(),
        env_warnings: environment_differences(&base.environment, &new.environment),
        changes,
        only_in_base,
        only_in_new,
    }
}

fn compare_metric(b: &Cell, n: &Cell, metric: &'static str, threshold_pct: f64) -> Option<Change> {
    let def = metric_def(metric);
    let (be, ne) = (estimate(b, metric), estimate(n, metric));
    let base_ok = b.status == CellStatus::Ok;
    let new_ok = n.status == CellStatus::Ok;
    let mk = |verdict, change: Option<(f64, f64, f64)>| Change {
        workload: b.workload.clone(),
        implementation: b.implementation.clone(),
        scenario: describe_scenario(b),
        metric,
        base: be,
        new: ne,
        change_pct: change.map(|c| c.0),
        change_lo_pct: change.map(|c| c.1),
        change_hi_pct: change.map(|c| c.2),
        verdict,
    };
    match (be, ne) {
        (Some(be), Some(ne)) => {
            if be.median == 0.0 {
                let verdict = if ne.median == 0.0 {
                    Verdict::WithinNoise
                } else {
                    direction(def.better, ne.median > 0.0)
                };
                return Some(mk(verdict, None));
            }
            let pct = |v: f64, base: f64| {
                if base != 0.0 {
                    (v / base - 1.0) * 100.0
                } else {
                    f64::NAN
                }
            };
            let change = pct(ne.median, be.median);
            let lo = pct(ne.lo, be.hi);
            let hi = pct(ne.hi, be.lo);
            let verdict = if be.overlaps(&ne)
                || change.abs() < threshold_pct
                || def.better == Better::Neither
            {
                Verdict::WithinNoise
            } else {
                direction(def.better, change > 0.0)
            };
            Some(mk(verdict, Some((change, lo, hi))))
        }
        // A cell that stopped (or started) completing is reported once, against its first headline metric.
        (Some(_), None) if !new_ok && first_measured(b) == Some(metric) => {
            Some(mk(Verdict::NowFailing, None))
        }
        (None, Some(_)) if !base_ok && first_measured(n) == Some(metric) => {
            Some(mk(Verdict::NowPassing, None))
        }
        _ => None,
    }
}

/// The first headline metric the cell has a value for (a cell's failure is reported once, against it).
fn first_measured(c: &Cell) -> Option<&'static str> {
    cell_headline_metrics(c).find(|m| estimate(c, m).is_some())
}

/// The verdict of a confident change that went up (`up`) for a metric with direction `better`.
fn direction(better: Better, up: bool) -> Verdict {
    match (better, up) {
        (Better::Higher, true) | (Better::Lower, false) => Verdict::Improved,
        (Better::Higher, false) | (Better::Lower, true) => Verdict::Regressed,
        (Better::Neither, _) => Verdict::WithinNoise,
    }
}

/// Differences between two environments that make numbers less comparable.
pub fn environment_differences(a: &Environment, b: &Environment) -> Vec<String> {
    let mut out = Vec::new();
    let mut diff = |what: &str, x: String, y: String| {
        if x != y {
            out.push(format!("{what} differs: {x:?} (base) vs {y:?} (new)"));
        }
    };
    diff("CPU model", a.cpu_model.clone(), b.cpu_model.clone());
    diff("core count", a.cores.to_string(), b.cores.to_string());
    diff(
        "memory",
        a.memory_bytes.to_string(),
        b.memory_bytes.to_string(),
    );
    diff("kernel", a.kernel.clone(), b.kernel.clone());
    diff("OS", a.os.clone(), b.os.clone());
    diff(
        "CPU pinning",
        format!("{:?}", a.cpu_pinning),
        format!("{:?}", b.cpu_pinning),
    );
    let mut names: Vec<&String> = a.toolchains.keys().chain(b.toolchains.keys()).collect();
    names.sort();
    names.dedup();
    for n in names {
        match (a.toolchains.get(n), b.toolchains.get(n)) {
            (Some(x), Some(y)) if x != y => out.push(format!(
                "toolchain {n} differs: {x:?} (base) vs {y:?} (new)"
            )),
            (Some(_), None) => out.push(format!("toolchain {n} only in the base run")),
            (None, Some(_)) => out.push(format!("toolchain {n} only in the new run")),
            _ => {}
        }
    }
    out
}

impl Comparison {
    /// Changes with a given verdict.
    pub fn count(&self, v: Verdict) -> usize {
        self.changes.iter().filter(|c| c.verdict == v).count()
    }

    /// 1 when any metric regressed beyond the threshold with non-overlapping intervals, or a cell that
    /// completed in the base run fails now; 0 otherwise.
    pub fn exit_code(&self) -> i32 {
        if self
            .changes
            .iter()
            .any(|c| matches!(c.verdict, Verdict::Regressed | Verdict::NowFailing))
        {
            1
        } else {
            0
        }
    }

    /// A plain-text report: environment warnings, one aligned row per compared metric, a summary line.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Comparing {} (base) → {} (new); threshold {}%, 95 % intervals.",
            self.base_run, self.new_run, self.threshold_pct
        );
        if !self.env_warnings.is_empty() {
            let _ = writeln!(
                out,
                "\nWARNING: the runs were measured in different environments; changes may not be caused by the code:"
            );
            for w in &self.env_warnings {
                let _ = writeln!(out, "  - {w}");
            }
        }
        let _ = writeln!(out);
        let header = [
            "workload",
            "implementation",
            "scenario",
            "metric",
            "base",
            "new",
            "change [interval]",
            "verdict",
        ];
        let mut rows: Vec<[String; 8]> = Vec::new();
        for c in &self.changes {
            let def = metric_def(c.metric);
            let fmt = |e: &Option<Estimate>| {
                e.as_ref()
                    .map(|e| fmt_estimate(def.unit, e))
                    .unwrap_or_else(|| "–".into())
            };
            let change = match (c.change_pct, c.change_lo_pct, c.change_hi_pct) {
                (Some(p), Some(lo), Some(hi)) if lo != hi => {
                    format!("{} [{} … {}]", fmt_pct(p), fmt_pct(lo), fmt_pct(hi))
                }
                (Some(p), _, _) => fmt_pct(p),
                _ => "–".into(),
            };
            rows.push([
                c.workload.clone(),
                c.implementation.clone(),
                c.scenario.clone(),
                def.label.to_string(),
                fmt(&c.base),
                fmt(&c.new),
                change,
                c.verdict.as_str().to_string(),
            ]);
        }
        let mut widths = header.map(|h| h.chars().count());
        for r in &rows {
            for (i, f) in r.iter().enumerate() {
                widths[i] = widths[i].max(f.chars().count());
            }
        }
        let line = |fields: &[String]| {
            let mut s = String::new();
            for (i, f) in fields.iter().enumerate() {
                if i + 1 == fields.len() {
                    s.push_str(f);
                } else {
                    let pad = widths[i] - f.chars().count();
                    s.push_str(f);
                    s.push_str(&" ".repeat(pad + 2));
                }
            }
            s.trim_end().to_string()
        };
        if rows.is_empty() {
            let _ = writeln!(out, "No cells in common.");
        } else {
            let _ = writeln!(out, "{}", line(&header.map(String::from)));
            for r in &rows {
                let _ = writeln!(out, "{}", line(r));
            }
        }
        for (what, keys) in [
            ("only in the base run", &self.only_in_base),
            ("only in the new run", &self.only_in_new),
        ] {
            if !keys.is_empty() {
                let _ = writeln!(
                    out,
                    "\n{} cell{} {what}:",
                    keys.len(),
                    if keys.len() == 1 { "" } else { "s" }
                );
                for k in keys {
                    let _ = writeln!(out, "  {k}");
                }
            }
        }
        let _ = writeln!(
            out,
            "\n{} improved, {} regressed, {} within noise{}{}.",
            self.count(Verdict::Improved),
            self.count(Verdict::Regressed),
            self.count(Verdict::WithinNoise),
            match self.count(Verdict::NowFailing) {
                0 => String::new(),
                n => format!(", {n} now failing"),
            },
            match self.count(Verdict::NowPassing) {
                0 => String::new(),
                n => format!(", {n} now passing"),
            },
        );
        out
    }
}
