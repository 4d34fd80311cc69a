//! Which host does what in a run: opening the `--server-host` session for `run`, and the hosts and
//! roles recorded in `results.json`.

use super::{HostSpec, Session};
use crate::results::{Environment, HostRecord};
use crate::ui::Ui;
use anyhow::{Context, bail};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

/// The address echo servers bind on the server host: `--bind`, or the host part of `--server-host`
/// when it is an IP address.
pub fn bind_address(server: &HostSpec, bind: Option<IpAddr>) -> anyhow::Result<IpAddr> {
    match (bind, server.host.parse::<IpAddr>()) {
        (Some(b), _) => Ok(b),
        (None, Ok(ip)) => Ok(ip),
        (None, Err(_)) => bail!(
            "--server-host {server} is a name: pass --bind with the server's IP address that this machine reaches, e.g. --bind 10.0.0.2"
        ),
    }
}

/// Connects to `--server-host` (if given), ships the harness and the working tree. A host that cannot
/// be reached or written to ends the run before anything is measured, with ssh's reason.
/// Takes the `run` options it needs one by one (not `cli::RunArgs`: the command line sits above
/// every module, so depending on it would close an import cycle through the workloads).
pub fn open(
    root: &Path,
    server_host: Option<HostSpec>,
    bind: Option<std::net::IpAddr>,
    ssh_options: &[String],
    ui: &mut Ui,
) -> anyhow::Result<Option<Arc<Session>>> {
    let Some(spec) = server_host else {
        if bind.is_some() {
            bail!(
                "--bind only applies with --server-host (echo servers here always bind 127.0.0.1)"
            );
        }
        return Ok(None);
    };
    let bind = bind_address(&spec, bind)?;
    ui.line(&format!(
        "connecting to the server host {spec} (ssh, batch mode)"
    ));
    let session = Session::open(spec.clone(), "server", ssh_options, bind)
        .with_context(|| format!("cannot use --server-host {spec}; check `ssh {spec} true` works without a prompt (keys, known_hosts)"))?;
    let t0 = std::time::Instant::now();
    session
        .ship_repo(root)
        .with_context(|| format!("shipping the repository to {spec}"))?;
    ui.line(&format!(
        "shipped the harness and the working tree to {spec}:{} in {:.1} s",
        session.run_dir,
        t0.elapsed().as_secs_f64()
    ));
    Ok(Some(Arc::new(session)))
}

/// Connects to every `--client-host` (one session each) and ships the harness binary there (the load
/// generator needs nothing else); registers them for the echo workload. A host that cannot be reached
/// ends the run before anything is measured.
pub fn open_clients(
    client_hosts: &[HostSpec],
    ssh_options: &[String],
    server: Option<&Session>,
    ui: &mut Ui,
) -> anyhow::Result<super::loadgen::ClientHosts> {
    let mut sessions = Vec::new();
    for spec in client_hosts {
        ui.line(&format!(
            "connecting to the client host {spec} (ssh, batch mode)"
        ));
        // The load generator connects to the server's address; it binds nothing itself.
        let target = server.map_or(std::net::Ipv4Addr::LOCALHOST.into(), |s| {
            crate::process::Remote::bind_ip(s)
        });
        let session = Session::open(spec.clone(), "client", ssh_options, target)
            .with_context(|| format!("cannot use --client-host {spec}; check `ssh {spec} true` works without a prompt (keys, known_hosts)"))?;
        ui.line(&format!(
            "shipped the harness binary to the client host {spec}:{}",
            session.run_dir
        ));
        sessions.push(Arc::new(session));
    }
    Ok(super::loadgen::ClientHosts::register(sessions))
}

/// The hosts of a run with their roles: this machine ("local"; "client" when programs run on a
/// server host and the load generator here; "server" when only the load generator runs elsewhere;
/// "controller" when both do), the server host and the client hosts.
pub fn hosts(server: Option<&Session>, here: &Environment) -> Vec<HostRecord> {
    let clients = super::loadgen::clients();
    let local = HostRecord {
        role: match (server.is_some(), clients.is_empty()) {
            (true, false) => "controller",
            (true, true) => "client",
            (false, false) => "server",
            (false, true) => "local",
        }
        .into(),
        address: "localhost".into(),
        cpu_model: here.cpu_model.clone(),
        cores: here.cores,
        memory_bytes: here.memory_bytes,
        kernel: here.kernel.clone(),
        os: here.os.clone(),
        toolchains: Default::default(),
        containment: here.containment.clone(),
    };
    let mut hosts = vec![local];
    if let Some(s) = server {
        hosts.insert(0, s.host_record());
    }
    hosts.extend(clients.iter().map(|c| c.host_record()));
    hosts
}

/// Copies the toolchains the run found onto the host that ran the programs (the server, or this one).
pub fn record_toolchains(env: &mut Environment) {
    let toolchains = env.toolchains.clone();
    if let Some(h) = env
        .hosts
        .iter_mut()
        .find(|h| h.role == "server" || h.role == "local")
    {
        h.toolchains = toolchains;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_warns_when_topologies_differ() {
        let here = crate::results::Environment {
            cpu_model: "X".into(),
            cores: 2,
            ..Default::default()
        };
        let mut local = here.clone();
        local.hosts = hosts(None, &here);
        assert_eq!(local.hosts[0].role, "local");
        let mut remote = here.clone();
        remote.hosts = vec![
            HostRecord {
                role: "server".into(),
                address: "root@10.0.0.2".into(),
                ..HostRecord::default()
            },
            HostRecord {
                role: "client".into(),
                ..local.hosts[0].clone()
            },
        ];
        // A run from before topologies were recorded counts as one machine.
        assert!(crate::compare::environment_differences(&here, &local).is_empty());
        let w = crate::compare::environment_differences(&local, &remote);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("topology differs: one machine"), "{w:?}");
        assert!(w[0].contains("server: root@10.0.0.2"), "{w:?}");
    }

    #[test]
    fn bind_defaults_to_an_ip_server_host_and_names_need_it() {
        let ip: HostSpec = "root@10.0.0.2:22".parse().unwrap();
        assert_eq!(bind_address(&ip, None).unwrap().to_string(), "10.0.0.2");
        let name: HostSpec = "lab".parse().unwrap();
        let e = bind_address(&name, None).unwrap_err().to_string();
        assert!(e.contains("--bind"), "{e}");
        assert!(
            crate::cli::parse_bind("0.0.0.0")
                .unwrap_err()
                .contains("wildcard")
        );
        assert!(crate::cli::parse_bind("::").is_err());
    }
}
