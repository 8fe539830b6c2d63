//! The proxy of a host. In: a host with a `proxy` and the stacks it fronts.
//! Out: `hosts/<host>/proxy/compose.yaml`, the only compose file with `ports`.

use std::collections::BTreeMap;

use indexmap::IndexMap;

use super::compose_file::*;
use super::stack::ingress_network;
use crate::model::{Host, HostId, Model, Tier};

const SOCKET_PROXY_IMAGE: &str = "ghcr.io/tecnativa/docker-socket-proxy:v0.3.0";
const SOCKET_NETWORK: &str = "docker-api";

pub fn emit_proxy(
    model: &Model,
    host_id: HostId,
    host: &Host,
    artifacts: &mut BTreeMap<String, String>,
) {
    let Some(proxy) = &host.proxy else { return };
    let ingress_networks: Vec<String> = model
        .stacks
        .iter()
        .filter(|s| s.host.as_ref().and_then(|h| h.target) == Some(host_id))
        .filter(|s| s.services.iter().any(|svc| svc.on(Tier::Ingress)))
        .map(|s| ingress_network(&s.name.value))
        .collect();

    let mut traefik = ComposeService {
        image: image_reference(&proxy.image),
        command: Some(
            [
                "--providers.docker=true",
                "--providers.docker.exposedByDefault=false",
                "--providers.docker.endpoint=tcp://socket-proxy:2375",
                "--entrypoints.web.address=:80",
                "--entrypoints.web.http.redirections.entrypoint.to=websecure",
                "--entrypoints.web.http.redirections.entrypoint.scheme=https",
                "--entrypoints.websecure.address=:443",
                "--ping=true",
            ]
            .map(String::from)
            .into(),
        ),
        restart: "unless-stopped".to_string(),
        networks: std::iter::once(SOCKET_NETWORK.to_string())
            .chain(ingress_networks.iter().cloned())
            .collect(),
        ports: public_ports(host),
        depends_on: IndexMap::from([(
            "socket-proxy".to_string(),
            ComposeDependency {
                condition: "service_started",
            },
        )]),
        healthcheck: Some(ComposeHealthcheck {
            test: vec![
                "CMD".to_string(),
                "traefik".to_string(),
                "healthcheck".to_string(),
                "--ping".to_string(),
            ],
            interval: Some("30s".to_string()),
            timeout: None,
            retries: None,
            start_period: None,
        }),
        ..ComposeService::default()
    };
    harden(&mut traefik, ["NET_BIND_SERVICE".to_string()]);

    // Traefik reads the Docker API through a proxy that only allows reading
    // containers, so a compromised Traefik cannot drive the Docker daemon.
    let mut socket_proxy = ComposeService {
        image: SOCKET_PROXY_IMAGE.to_string(),
        restart: "unless-stopped".to_string(),
        networks: vec![SOCKET_NETWORK.to_string()],
        environment: IndexMap::from([("CONTAINERS".to_string(), "1".to_string())]),
        volumes: vec![ComposeMount {
            kind: "bind",
            source: "/var/run/docker.sock".to_string(),
            target: "/var/run/docker.sock".to_string(),
            read_only: true,
        }],
        ..ComposeService::default()
    };
    harden(&mut socket_proxy, []);

    let mut file = ComposeFile {
        name: format!("{}-proxy", host.name.value),
        services: IndexMap::new(),
        networks: IndexMap::new(),
        volumes: IndexMap::new(),
    };
    add_config_hash(&mut traefik);
    add_config_hash(&mut socket_proxy);
    file.services.insert("traefik".to_string(), traefik);
    file.services
        .insert("socket-proxy".to_string(), socket_proxy);
    file.networks.insert(
        SOCKET_NETWORK.to_string(),
        ComposeNetwork {
            driver: Some("bridge"),
            internal: true,
            ..ComposeNetwork::default()
        },
    );
    for network in ingress_networks {
        file.networks.insert(
            network.clone(),
            ComposeNetwork {
                name: Some(network),
                external: true,
                ..ComposeNetwork::default()
            },
        );
    }
    artifacts.insert(
        format!("hosts/{}/proxy/compose.yaml", host.name.value),
        format!("{GENERATED_HEADER}{}", to_yaml(&file)),
    );
}

/// 80 and 443 on every address. daemon.json binds ports to loopback by default,
/// so the proxy names its addresses, IPv6 too when the host has it.
fn public_ports(host: &Host) -> Vec<ComposePort> {
    let addresses: &[&str] = if host.has_ipv6() {
        &["0.0.0.0", "::"]
    } else {
        &["0.0.0.0"]
    };
    [80, 443]
        .iter()
        .flat_map(|port| {
            addresses.iter().map(move |address| ComposePort {
                target: *port,
                published: port.to_string(),
                host_ip: Some(address.to_string()),
                protocol: "tcp",
            })
        })
        .collect()
}
