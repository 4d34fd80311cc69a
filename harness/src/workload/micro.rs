//! The micro workload: criterion micro-benchmarks of runtime primitives (`rust/micro`), run with
//! `cargo bench` and imported from criterion's own estimates (point estimate and confidence interval).
//! Criterion owns the statistics here; the harness only records them, one cell per primitive and runtime.

use crate::runner::Run;

/// Runs the criterion suite and records its estimates.
pub fn measure(run: &mut Run) -> anyhow::Result<()> {
    run.ui.line("micro: criterion benchmarks are wired in by crate::criterion_import (pending)");
    Ok(())
}
