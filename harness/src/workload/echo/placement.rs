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

/// The server sets `--full` sweeps on a pinned run over `server ∪ client` CPUs: the client keeps its
/// set, the server gets its first 1, 2, 4, … CPUs and finally all of them, so scaling with cores is
/// measured at the same client. Err with the reason (recorded in the results) when the server set has
/// fewer than 2 CPUs: one size is not a sweep (on 2 CPUs the split gives the server one).
pub fn server_set_sweep(server: &[usize], client: &[usize]) -> Result<Vec<Placement>, String> {
    if server.len() < 2 {
        return Err(format!(
            "server-set sweep skipped: the server set has {} CPU(s) ({} CPU(s) in all, {} for the client); sweeping 1, 2, 4… server CPUs needs at least 3 CPUs",
            server.len(),
            server.len() + client.len(),
            client.len()
        ));
    }
    let mut sizes: Vec<usize> = std::iter::successors(Some(1usize), |k| Some(k * 2))
        .take_while(|k| *k < server.len())
        .collect();
    sizes.push(server.len());
    Ok(sizes
        .into_iter()
        .map(|k| Placement::Given {
            server: server[..k].to_vec(),
            client: client.to_vec(),
        })
        .collect())
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

    #[test]
    fn full_sweeps_the_server_set_over_powers_of_two_on_a_fake_8_cpu_machine() {
        let Placement::Split { server, client } = split(&(0..8).collect::<Vec<_>>()) else {
            panic!("8 CPUs split");
        };
        let sweep = server_set_sweep(&server, &client).unwrap();
        let sizes: Vec<usize> = sweep.iter().map(|p| p.cpus().unwrap().0.len()).collect();
        assert_eq!(sizes, vec![1, 2, 4, 6]);
        for p in &sweep {
            let (s, c) = p.cpus().unwrap();
            assert_eq!(c, vec![0, 1], "the client keeps its set");
            assert!(s.iter().all(|x| !c.contains(x)), "disjoint");
            assert_eq!(s[0], 2);
        }
    }

    #[test]
    fn two_cpus_skip_the_sweep_with_a_reason() {
        let Placement::Split { server, client } = split(&[0, 1]) else {
            panic!("2 CPUs split");
        };
        let why = server_set_sweep(&server, &client).unwrap_err();
        assert!(
            why.contains("1 CPU(s)") && why.contains("at least 3 CPUs"),
            "{why}"
        );
        // Three CPUs are the smallest sweep: 1 and 2 server CPUs.
        let sizes: Vec<usize> = server_set_sweep(&[1, 2], &[0])
            .unwrap()
            .iter()
            .map(|p| p.cpus().unwrap().0.len())
            .collect();
        assert_eq!(sizes, vec![1, 2]);
    }
}
