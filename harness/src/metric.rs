//! Metric facts shared by the engine, the workloads and the reports: a leaf module (it imports nothing
//! from the crate), so none of them has to import another to agree on a threshold.

/// A cell's coefficient of variation above this is flagged as noisy (aggregation marks the cell,
/// reports say so next to the number).
pub const NOISY_CV: f64 = 0.10;
