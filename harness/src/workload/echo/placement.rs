//! Where the echo server and the load generator run: disjoint CPU sets by default, so every server gets
//! the same CPU budget and never competes with the client for a core (a runtime that sizes its pool to
//! every CPU would otherwise take the client's core, and one that does not would leave it idle).
//!
//! Policy (docs/METHODOLOGY.md): take the CPUs this process may use, in ascending order; with 2 CPUs the
//! client gets the first and the server the second; with more, the client gets the lowest ⌈n/4⌉
//! (the client costs well under half the server's CPU per message) and the server the rest. With one
//! CPU nothing can be split and both run unpinned (labelled). `--pin` overrides, `--no-pin` disables.

/// The echo CPU placement of a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Placement {
    /// The default split of the allowed CPUs.
    Split {
        server: Vec<usize>,
        client: Vec<usize>,
    },
    /// Given with `--pin`.
    Given {
        server: Vec<usize>,
        client: Vec<usize>,
    },
    /// `--no-pin`, or a machine with one CPU.
    Unpinned { why: &'static str },
}

impl Placement {
    /// (server CPUs, client CPUs) when pinned.
    pub fn cpus(&self) -> Option<(Vec<usize>, Vec<usize>)> {
        match self {
            Placement::Split { server, client } | Placement::Given { server, client } => {
                Some((server.clone(), client.clone()))
            }
            Placement::Unpinned { .. } => None,
        }
    }

    /// One line for results and reports.
    pub fn describe(&self) -> String {
        let list = |c: &[usize]| {
            c.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        match self {
            Placement::Split { server, client } => format!(
                "pinned (default split): server CPUs {}, client CPUs {}",
                list(server),
                list(client)
            ),
            Placement::Given { server, client } => format!(
                "pinned (--pin): server CPUs {}, client CPUs {}",
                list(server),
                list(client)
            ),
            Placement::Unpinned { why } => format!("unpinned ({why})"),
        }
    }
}

/// The placement for `--pin` / `--no-pin` / the default on this machine.
pub fn choose(pin: Option<(Vec<usize>, Vec<usize>)>, no_pin: bool) -> Placement {
    if no_pin {
        return Placement::Unpinned { why: "--no-pin" };
    }
    if let Some((server, client)) = pin {
        return Placement::Given { server, client };
    }
    split(&allowed_cpus())
}

/// The default split of `cpus` (ascending ids this process may run on).
pub fn split(cpus: &[usize]) -> Placement {
    let n = cpus.len();
    if n < 2 {
        return Placement::Unpinned {
            why: "one CPU: server and client cannot be separated",
        };
    }
    let clients = n.div_ceil(4).max(1);
    Placement::Split {
        client: cpus[..clients].to_vec(),
        server: cpus[clients..].to_vec(),
    }
}

/// The CPUs in this process's affinity mask.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: sched_getaffinity writes into a cpu_set_t we own; CPU_ISSET reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

/// The launch of an echo server under `server_cpus`: pinned before exec, and a thread-per-core runtime
/// (one whose manifest sets `ASYNCBENCH_CORES`) told to start one executor per server CPU.
pub fn pin_launch(
    mut launch: crate::workload::Launch,
    server_cpus: Option<&[usize]>,
) -> crate::workload::Launch {
    let Some(cpus) = server_cpus else {
        return launch;
    };
    launch.cpus = Some(cpus.to_vec());
    for (k, v) in launch.env.iter_mut() {
        if k == "ASYNCBENCH_CORES" {
            *v = cpus.len().to_string();
        }
    }
    launch
}

/// A finding when a multi-threaded runtime's ready line disagrees with the server CPU set.
pub fn threads_mismatch(threads: Option<u32>, server_cpus: Option<&[usize]>) -> Option<String> {
    let (t, cpus) = (threads?, server_cpus?);
    (t > 1 && t as usize != cpus.len()).then(|| {
        format!(
            "the ready line reports {t} threads but the server set has {} CPU(s): the runtime did not size itself from its CPU affinity, so its threads share the server's CPUs",
            cpus.len()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_cpus_give_one_each_and_larger_machines_a_quarter_to_the_client() {
        assert_eq!(
            split(&[0, 1]),
            Placement::Split {
                server: vec![1],
                client: vec![0]
            }
        );
        assert_eq!(
            split(&[0, 1, 2, 3, 4, 5, 6, 7]).cpus(),
            Some((vec![2, 3, 4, 5, 6, 7], vec![0, 1]))
        );
        assert_eq!(split(&[2, 5, 7]).cpus(), Some((vec![5, 7], vec![2])));
        assert!(matches!(split(&[3]), Placement::Unpinned { .. }));
        assert!(choose(None, true).describe().contains("--no-pin"));
        assert_eq!(
            choose(Some((vec![1], vec![0])), false).describe(),
            "pinned (--pin): server CPUs 1, client CPUs 0"
        );
    }

    #[test]
    fn thread_per_core_runtimes_get_one_executor_per_server_cpu() {
        let l = crate::workload::Launch {
            implementation: "x".into(),
            start: vec![],
            env: vec![
                ("ASYNCBENCH_CORES".into(), "1".into()),
                ("A".into(), "b".into()),
            ],
            cwd: ".".into(),
            cpus: None,
            remote: None,
        };
        let p = pin_launch(l.clone(), Some(&[2, 3, 4]));
        assert_eq!(p.cpus, Some(vec![2, 3, 4]));
        assert_eq!(p.env[0].1, "3");
        assert_eq!(p.env[1].1, "b");
        assert_eq!(pin_launch(l.clone(), None).cpus, None);
    }

    #[test]
    fn a_pool_sized_to_every_cpu_is_a_finding() {
        assert!(threads_mismatch(Some(2), Some(&[1])).is_some());
        assert_eq!(threads_mismatch(Some(1), Some(&[1])), None);
        // Single-threaded by design: one thread on a larger set is the runtime's choice.
        assert_eq!(threads_mismatch(Some(1), Some(&[1, 2])), None);
        assert_eq!(threads_mismatch(Some(2), None), None);
    }
}
