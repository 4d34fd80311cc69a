//! Where the echo load generator runs: here, or on the client hosts of `run --client-host`.
//!
//! The remote side lives in `remote::loadgen`, which sits above the workloads (it ships binaries and
//! opens ssh sessions); it registers a [`LoadDriver`] for the run, so this module needs no import of it.

use super::Failure;
use super::loadgen::{self, LoadResult, LoadSpec};
use std::sync::{Arc, Mutex};

/// Runs a load somewhere else and merges what it measured.
pub trait LoadDriver: Send + Sync {
    /// The merged result and each host's client CPU in the window (s), or why there is none (the
    /// trial's failure reason, e.g. a lost ssh connection).
    fn drive(
        &self,
        spec: &LoadSpec,
        on_window: &(dyn Fn(bool) + Sync),
    ) -> Result<(LoadResult, Vec<f64>), String>;
}

/// The run's driver (`None`: the load generator runs here).
static DRIVER: Mutex<Option<Arc<dyn LoadDriver>>> = Mutex::new(None);

/// Installs (or, with `None`, removes) the driver for the rest of the run.
pub fn set(driver: Option<Arc<dyn LoadDriver>>) {
    *DRIVER.lock().unwrap_or_else(|e| e.into_inner()) = driver;
}

/// Runs the load here or through the registered driver; also each client host's CPU (s) in the window
/// (empty when the load ran here). A driver's failure fails the trial with its reason.
pub fn drive_load(
    spec: &LoadSpec,
    on_window: &(dyn Fn(bool) + Sync),
) -> Result<(LoadResult, Vec<f64>), Failure> {
    let driver = DRIVER.lock().unwrap_or_else(|e| e.into_inner()).clone();
    match driver {
        None => Ok((loadgen::run(spec, on_window), Vec::new())),
        Some(d) => d.drive(spec, on_window).map_err(Failure::failed),
    }
}
