//! Interference when the measured processes run on several hosts (`run --server-host`,
//! `--client-host`): each host's CPU counters over the window, minus the measured processes on it.
//! Hosts that are one machine (the same boot id, e.g. every role through ssh to 127.0.0.1) are judged
//! once, with the CPU of every measured process on them subtracted: their counters are the same
//! counters.

use super::echo_checks::{CpuTicks, Interference};

/// One host's view of the measured window.
#[derive(Debug, Clone, PartialEq)]
pub struct HostWindow {
    /// How the host is named in findings (`server root@10.0.0.2`, `client 10.0.0.3`, `this machine`).
    pub label: String,
    /// The host's boot id (`None`: unknown, judged on its own).
    pub machine: Option<String>,
    pub before: CpuTicks,
    pub after: CpuTicks,
    /// CPU time of the measured processes on this host in the window (server, load generator), s.
    pub measured_cpu_s: f64,
}

/// Interference per machine, in the order machines first appear: the hosts' labels joined with " = "
/// and what other processes and steal took there.
pub fn per_machine(
    windows: &[HostWindow],
    ticks_per_s: f64,
    window_s: f64,
) -> Vec<(String, Interference)> {
    let mut groups: Vec<(Vec<&HostWindow>, f64)> = Vec::new();
    for w in windows {
        let same = groups.iter_mut().find(|(g, _)| {
            w.machine.is_some() && g.first().is_some_and(|f| f.machine == w.machine)
        });
        match same {
            Some((g, cpu)) => {
                g.push(w);
                *cpu += w.measured_cpu_s;
            }
            None => groups.push((vec![w], w.measured_cpu_s)),
        }
    }
    groups
        .into_iter()
        .map(|(g, cpu)| {
            let mut labels: Vec<&str> = g.iter().map(|w| w.label.as_str()).collect();
            labels.dedup();
            let i = Interference::between(
                g[0].before,
                g[0].after,
                ticks_per_s,
                window_s.max(1e-3),
                cpu,
                0.0,
            );
            (labels.join(" = "), i)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(label: &str, machine: Option<&str>, busy: u64, steal: u64, cpu_s: f64) -> HostWindow {
        HostWindow {
            label: label.into(),
            machine: machine.map(str::to_string),
            before: CpuTicks::default(),
            after: CpuTicks {
                busy,
                steal,
                idle: 0,
            },
            measured_cpu_s: cpu_s,
        }
    }

    #[test]
    fn one_machine_behind_two_roles_is_judged_once_with_both_roles_subtracted() {
        // 100 ticks/s, 1 s window: server 0.5 s and client 0.4 s of a 1.0 s busy machine.
        let r = per_machine(
            &[
                w("server a", Some("m1"), 100, 0, 0.5),
                w("client a", Some("m1"), 100, 0, 0.4),
            ],
            100.0,
            1.0,
        );
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].0, "server a = client a");
        assert!((r[0].1.other_cores - 0.1).abs() < 1e-9, "{r:?}");
    }

    #[test]
    fn separate_machines_are_judged_separately_and_unknown_ones_never_merge() {
        let r = per_machine(
            &[
                w("server", Some("m1"), 50, 0, 0.5),
                w("client 1", Some("m2"), 80, 20, 0.2),
                w("client 2", None, 10, 0, 0.0),
                w("client 3", None, 10, 0, 0.0),
            ],
            100.0,
            1.0,
        );
        let labels: Vec<&str> = r.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(labels, ["server", "client 1", "client 2", "client 3"]);
        assert_eq!(r[0].1.other_cores, 0.0);
        assert!((r[1].1.other_cores - 0.6).abs() < 1e-9);
        assert!((r[1].1.steal_cores - 0.2).abs() < 1e-9);
        assert!((r[2].1.other_cores - 0.1).abs() < 1e-9);
    }
}
