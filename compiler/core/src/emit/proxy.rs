//! The proxy of a host. In: a host with a `proxy` and the stacks it fronts.
//! Out: `hosts/<host>/proxy/compose.yaml` (Traefik and its Docker socket proxy,
//! the only compose file with `ports`), `.env.example` for the secrets it
//! mounts, and Traefik's static and dynamic configuration beside it.

use std::collections::BTreeMap;

use indexmap::IndexMap;

use super::compose_file::*;
use super::stack::{env_example, ingress_network};
use super::traefik;
use crate::model::{Certificates, Host, MiddlewareKind, Model};
use crate::plan::{HostPlan, Layout};

const SOCKET_PROXY_IMAGE: &str = "ghcr.io/tecnativa/docker-socket-proxy:v0.3.0";
const SOCKET_NETWORK: &str = "docker-api";
const ACME_VOLUME: &str = "letsencrypt";

pub fn emit_proxy(
    model: &Model,
    facts: &HostPlan,
    host: &Host,
    artifacts: &mut BTreeMap<String, String>,
) {
    let Some(proxy) = &host.proxy else { return };
    let dir = Layout::in_host(host, Layout::PROXY_DIR);
    let dynamic = Layout::in_host(host, Layout::TRAEFIK_DYNAMIC_DIR);
    let ingress_networks: Vec<String> = facts
        .ingress_stacks
        .iter()
        .map(|s| ingress_network(&model.stacks[s.0].name.value))
        .collect();

    let static_config = traefik::static_config(host, proxy);
    artifacts.insert(format!("{dynamic}/tls.yml"), traefik::tls_config(proxy));
    if let Some(http) = traefik::http_config(model, facts, host, proxy) {
        artifacts.insert(format!("{dynamic}/http.yml"), http);
    }

    let mut volumes = vec![
        read_only_bind("./traefik.yml", traefik::STATIC_CONFIG_PATH),
        read_only_bind("./dynamic", traefik::DYNAMIC_DIR),
    ];
    match &proxy.certificates {
        Certificates::Acme { .. } => volumes.push(ComposeMount {
            kind: "volume",
            source: ACME_VOLUME.to_string(),
            target: traefik::ACME_STORAGE_DIR.to_string(),
            read_only: false,
        }),
        Certificates::CloudflareOrigin { cert, key } => {
            volumes.push(read_only_bind(&literal(cert), traefik::CERT_FILE));
            volumes.push(read_only_bind(&literal(key), traefik::KEY_FILE));
        }
        Certificates::SelfSigned => {}
    }
    let mut variables = BTreeMap::new();
    let mut secrets = IndexMap::new();
    for middleware in facts.middlewares.iter().map(|m| &model.middlewares[m.0]) {
        if let Some(MiddlewareKind::BasicAuth(reference)) = &middleware.kind
            && let Some(secret) = reference.target.map(|id| &model.secrets[id.0])
        {
            variables.insert(secret.variable(), secret.name.value.clone());
            secrets.insert(
                secret.name.value.clone(),
                ComposeSecret {
                    environment: secret.variable(),
                },
            );
        }
    }

    let mut traefik = ComposeService {
        image: image_reference(&proxy.image),
        restart: "unless-stopped".to_string(),
        networks: std::iter::once(SOCKET_NETWORK.to_string())
            .chain(ingress_networks.iter().cloned())
            .collect(),
        ports: published_ports(host),
        volumes,
        secrets: secrets.keys().cloned().collect(),
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
    // Traefik reads its static configuration only at start: a change to it
    // must change the config hash so a rollout restarts Traefik.
    traefik.labels.insert(
        "infrac.static-config-hash".to_string(),
        short_hash(&static_config),
    );

    // Traefik reads the Docker API through a proxy that only allows reading
    // containers, so a compromised Traefik cannot drive the Docker daemon.
    let mut socket_proxy = ComposeService {
        image: SOCKET_PROXY_IMAGE.to_string(),
        restart: "unless-stopped".to_string(),
        networks: vec![SOCKET_NETWORK.to_string()],
        environment: IndexMap::from([("CONTAINERS".to_string(), "1".to_string())]),
        volumes: vec![read_only_bind(
            "/var/run/docker.sock",
            "/var/run/docker.sock",
        )],
        ..ComposeService::default()
    };
    harden(&mut socket_proxy, []);

    let mut file = ComposeFile {
        name: format!("{}-proxy", host.name.value),
        services: IndexMap::new(),
        networks: IndexMap::new(),
        volumes: IndexMap::new(),
        secrets,
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
    if matches!(proxy.certificates, Certificates::Acme { .. }) {
        file.volumes
            .insert(ACME_VOLUME.to_string(), ComposeVolume::default());
    }
    artifacts.insert(
        format!("{dir}/compose.yaml"),
        format!("{GENERATED_HEADER}{}", to_yaml(&file)),
    );
    artifacts.insert(
        format!("{dir}/.env.example"),
        env_example(
            &format!("the proxy of host `{}`", host.name.value),
            &variables,
        ),
    );
    artifacts.insert(Layout::in_host(host, Layout::TRAEFIK_STATIC), static_config);
}

fn read_only_bind(source: &str, target: &str) -> ComposeMount {
    ComposeMount {
        kind: "bind",
        source: source.to_string(),
        target: target.to_string(),
        read_only: true,
    }
}

/// 80 and 443. Behind a tunnel only cloudflared on the host connects, so they
/// are bound to loopback; otherwise to every address, IPv6 too when the host has
/// it (daemon.json binds unnamed addresses to loopback, so each is named).
fn published_ports(host: &Host) -> Vec<ComposePort> {
    let addresses: &[&str] = if host.tunnel.is_some() {
        &["127.0.0.1"]
    } else if host.has_ipv6() {
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
