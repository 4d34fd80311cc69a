//! What the harness knows about a workload, in one place: its [`Definition`]. Each workload's module
//! declares one (`DEFINITION`) and [`super::ALL`] lists them; the CLI, the engine, verification and the
//! reports iterate over the definitions instead of naming workloads.

use super::Launch;
use super::session::Session;
use crate::protocol::Ready;
use std::time::Duration;

/// What verifying one implementation found: `Ok` is a one-line description of what was checked; the
/// ready event (if any) tells which runtime actually ran.
pub type Verified = (Result<String, String>, Option<Ready>);

/// The facts of one workload.
#[derive(Debug)]
pub struct Definition {
    /// The name on the command line, in the protocol (`<start> <name> --flags`) and in results.
    pub name: &'static str,
    /// The section title in reports.
    pub title: &'static str,
    /// The cell parameters it records (documentation; the reports group cells by them).
    pub parameters: &'static [&'static str],
    /// The metrics rankings and `compare` judge, most important first.
    pub headlines: &'static [&'static str],
    /// The per-scenario table's columns, in order (empty: every metric present, sorted).
    pub columns: &'static [&'static str],
    /// The chart kinds its report section draws (documentation of `report/charts/`).
    pub charts: &'static [&'static str],
    /// The check run on every implementation before measuring; `None`: nothing to check beforehand
    /// (criterion checks its own measurements).
    pub verify: Option<fn(&Launch, Duration) -> Verified>,
    /// Plans and measures its cells through the session (which interleaves, saves and enforces the
    /// repeat rules).
    pub measure: fn(&mut dyn Session) -> anyhow::Result<()>,
    /// Seconds its plan should take for `implementations` implementations, when it can say.
    pub estimate_s: fn(&super::session::RunConfig, usize) -> Option<f64>,
}

/// No estimate.
pub fn no_estimate(_: &super::session::RunConfig, _: usize) -> Option<f64> {
    None
}

/// A workload: a handle to its [`Definition`] in [`super::ALL`]. Ordered as `ALL` lists them (the
/// order a run measures and reports present them); serialized as its name.
#[derive(Debug, Clone, Copy)]
pub struct Workload(pub &'static Definition);

impl Workload {
    pub fn as_str(self) -> &'static str {
        self.0.name
    }

    /// The workload called `name`.
    pub fn find(name: &str) -> Option<Workload> {
        super::ALL
            .iter()
            .copied()
            .find(|d| d.name == name)
            .map(Workload)
    }

    /// Every workload, in run order.
    pub fn all() -> Vec<Workload> {
        super::ALL.iter().copied().map(Workload).collect()
    }

    /// Position in [`super::ALL`].
    fn rank(self) -> usize {
        super::ALL
            .iter()
            .position(|d| d.name == self.0.name)
            .unwrap_or(usize::MAX)
    }

    /// A clap parser accepting exactly the registered names (its error lists them).
    pub fn value_parser() -> impl clap::builder::TypedValueParser<Value = Workload> {
        let names: Vec<&'static str> = super::ALL.iter().map(|d| d.name).collect();
        clap::builder::TypedValueParser::map(clap::builder::PossibleValuesParser::new(names), |s| {
            Workload::find(&s).expect("the parser accepts only registered names")
        })
    }
}

impl std::ops::Deref for Workload {
    type Target = Definition;
    fn deref(&self) -> &Definition {
        self.0
    }
}

impl PartialEq for Workload {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}
impl Eq for Workload {}
impl PartialOrd for Workload {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Workload {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl serde::Serialize for Workload {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name)
    }
}
