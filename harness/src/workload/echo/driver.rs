//! Where the echo load generator runs: here, or on the client hosts of `run --client-host`.
//!
//! The remote side lives in `remote::loadgen`, which sits above the workloads (it ships binaries and
//! opens ssh sessions); it registers a [`LoadDriver`] for the run, so this module needs no import of it.

use super::Failure;
use super::loadgen::{self, LoadResult, LoadSpec};
use std::sync::{Arc, Mutex};

/// One client host's part of a load: its own CPU and its CPU counters over the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostLoad {
    /// The host as given (`--client-host`).
    pub host: String,
    /// The load generator's CPU in the window, s (busy-polls included in `spin_s`, not here).
    pub cpu_s: f64,
    pub spin_s: f64,
    /// The host's `/proc/stat` totals at the window's start and end.
    pub window_ticks: Option<(
        crate::process::probe::HostTicks,
        crate::process::probe::HostTicks,
    )>,
    /// The host's boot id (one machine behind several roles has one).
    pub boot_id: Option<String>,
}

/// Runs a load somewhere else and merges what it measured.
pub trait LoadDriver: Send + Sync {
    /// The merged result and each host's part, or why there is none (the trial's failure reason, e.g.
    /// a lost ssh connection).
    fn drive(
        &self,
        spec: &LoadSpec,
        on_window: &(dyn Fn(bool) + Sync),
    ) -> Result<(LoadResult, Vec<HostLoad>), String>;
}

/// The run's driver (`None`: the load generator runs here).
static DRIVER: Mutex<Option<Arc<dyn LoadDriver>>> = Mutex::new(None);

/// Installs (or, with `None`, removes) the driver for the rest of the run.
pub fn set(driver: Option<Arc<dyn LoadDriver>>) {
    *DRIVER.lock().unwrap_or_else(|e| e.into_inner()) = driver;
}

/// Runs the load here or through the registered driver; also each client host's part (empty when the
/// load ran here). A driver's failure fails the trial with its reason.
pub fn drive_load(
    spec: &LoadSpec,
    on_window: &(dyn Fn(bool) + Sync),
) -> Result<(LoadResult, Vec<HostLoad>), Failure> {
    let driver = DRIVER.lock().unwrap_or_else(|e| e.into_inner()).clone();
    match driver {
        None => Ok((loadgen::run(spec, on_window), Vec::new())),
        Some(d) => d.drive(spec, on_window).map_err(Failure::failed),
    }
}
