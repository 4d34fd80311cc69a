//! The interference check of an echo trial whose server or load generator runs on other hosts: every
//! host's CPU counters over the window (the server host's through its probe, each client host's from
//! its load generator's report, this machine's from `/proc`), judged per machine by
//! [`crate::stats::hosts::per_machine`].

use super::driver::HostLoad;
use crate::process::HostMoment;
use crate::process::probe::HostTicks;
use crate::stats::echo_checks::{CpuTicks, Interference, Limits};
use crate::stats::hosts::{HostWindow, per_machine};

fn ticks(t: HostTicks) -> CpuTicks {
    CpuTicks {
        busy: t.busy,
        steal: t.steal,
        idle: t.idle,
    }
}

/// What was seen at the window's edges outside the client hosts.
pub struct Edges {
    /// This machine's counters (the watched CPUs; all when unpinned).
    pub local: (CpuTicks, CpuTicks),
    /// The server host's, through its probe (`None`: the server runs here, or the probe failed).
    pub server_host: Option<(HostMoment, HostMoment)>,
    /// `describe()` of the server host.
    pub server_label: Option<String>,
}

/// Interference per machine; also the worst other-processes and steal cores over all of them and the
/// reason when any machine exceeds `limits`.
pub fn judge(
    edges: &Edges,
    server_cpu_s: f64,
    local_client_cpu_s: f64,
    clients: &[HostLoad],
    window_s: f64,
    limits: &Limits,
) -> (Interference, Option<String>) {
    let local_machine = crate::process::probe::boot_id();
    let mut windows = Vec::new();
    match (&edges.server_host, &edges.server_label) {
        (Some((a, b)), Some(label)) => windows.push(HostWindow {
            label: format!("server {label}"),
            machine: a.boot_id.clone(),
            before: ticks(a.ticks),
            after: ticks(b.ticks),
            measured_cpu_s: server_cpu_s,
        }),
        // The server runs here: this machine's window carries its CPU.
        (None, None) => windows.push(HostWindow {
            label: "server (this machine)".into(),
            machine: local_machine.clone(),
            before: edges.local.0,
            after: edges.local.1,
            measured_cpu_s: server_cpu_s,
        }),
        // A remote server whose host could not be read: nothing to judge there.
        _ => {}
    }
    if clients.is_empty() {
        windows.push(HostWindow {
            label: "client (this machine)".into(),
            machine: local_machine,
            before: edges.local.0,
            after: edges.local.1,
            measured_cpu_s: local_client_cpu_s,
        });
    }
    for c in clients {
        if let Some((a, b)) = c.window_ticks {
            windows.push(HostWindow {
                label: format!("client {}", c.host),
                machine: c.boot_id.clone(),
                before: ticks(a),
                after: ticks(b),
                measured_cpu_s: c.cpu_s + c.spin_s,
            });
        }
    }
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let judged = per_machine(&windows, hz, window_s);
    let worst = Interference {
        other_cores: judged
            .iter()
            .map(|(_, i)| i.other_cores)
            .fold(0.0, f64::max),
        steal_cores: judged
            .iter()
            .map(|(_, i)| i.steal_cores)
            .fold(0.0, f64::max),
    };
    let reasons: Vec<String> = judged
        .iter()
        .filter_map(|(l, i)| i.verdict(limits).map(|v| format!("on {l}: {v}")))
        .collect();
    (worst, (!reasons.is_empty()).then(|| reasons.join("; ")))
}
