//! The proxy of a host. In: a host with a `proxy` and its plan. Out:
//! `hosts/<host>/proxy/compose.yaml` (Traefik, and cloudflared when a tunnel
//! fronts the host; the only compose file with `ports`), `.env.example` for the
//! secrets it mounts, and Traefik's static and dynamic configuration beside it.
//!
//! Traefik has no Docker socket: its routes come from the file provider, and it
//! reaches each routed service over that service's edge network by an alias.

use std::collections::BTreeMap;

use indexmap::IndexMap;

use super::cloudflared;
use super::compose_file::*;
use super::stack::env_example;
use super::traefik;
use crate::model::{Certificates, Host, MiddlewareKind, Model};
use crate::plan::{HostPlan, Layout, PROXY_HTTP_PORT, PROXY_HTTPS_PORT, Plan};

const ACME_VOLUME: &str = "letsencrypt";
/// The proxy's own network: published ports, certificates, the tunnel's way out.
const PUBLIC_NETWORK: &str = "public";
/// A release of cloudflared, pinned: a tunnel should not change under a deploy.
pub const CLOUDFLARED_IMAGE: &str = "cloudflare/cloudflared:2025.8.1";

pub fn emit_proxy(
    model: &Model,
    plan: &Plan,
    facts: &HostPlan,
    host: &Host,
    artifacts: &mut BTreeMap<String, String>,
) {
    let Some(proxy) = &host.proxy else { return };
    let dir = Layout::in_host(host, Layout::PROXY_DIR);
    let dynamic = Layout::in_host(host, Layout::TRAEFIK_DYNAMIC_DIR);
    let edges: Vec<&crate::plan::EdgeNetwork> = facts
        .edges
        .iter()
        .filter_map(|id| plan.service(*id).edge.as_ref())
        .collect();

    let static_config = traefik::static_config(host, proxy);
    artifacts.insert(format!("{dynamic}/tls.yml"), traefik::tls_config(proxy));
    if let Some(routes) = traefik::routes_config(model, plan, facts) {
        artifacts.insert(format!("{dynamic}/routes.yml"), routes);
    }
    if let Some(http) = traefik::http_config(model, plan, facts, host, proxy) {
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
    if let Some(directory) = proxy.access_log.as_ref().and_then(|l| l.directory.as_ref()) {
        volumes.push(ComposeMount {
            kind: "bind",
            source: directory.clone(),
            target: traefik::ACCESS_LOG_DIR.to_string(),
            read_only: false,
        });
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
        networks: ServiceNetworks::List(
            std::iter::once(PUBLIC_NETWORK.to_string())
                .chain(edges.iter().map(|e| e.name.clone()))
                .collect(),
        ),
        ports: published_ports(host),
        volumes,
        secrets: secrets.keys().cloned().collect(),
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
    harden(&mut traefik, []);
    // Traefik reads its static configuration only at start: a change to it
    // must change the config hash so a rollout restarts Traefik.
    traefik.labels.insert(
        "infrac.static-config-hash".to_string(),
        short_hash(&static_config),
    );
    add_config_hash(&mut traefik);

    let mut file = ComposeFile {
        name: format!("{}-proxy", host.name.value),
        services: IndexMap::new(),
        networks: IndexMap::new(),
        volumes: IndexMap::new(),
        secrets,
    };
    file.services.insert("traefik".to_string(), traefik);
    if let Some(tunnel) = &host.tunnel {
        let config = cloudflared::config(facts, host, tunnel);
        file.services.insert(
            "cloudflared".to_string(),
            cloudflared_service(tunnel, &config),
        );
    }
    file.networks.insert(
        PUBLIC_NETWORK.to_string(),
        ComposeNetwork {
            driver: Some("bridge"),
            ..ComposeNetwork::default()
        },
    );
    for edge in edges {
        file.networks.insert(
            edge.name.clone(),
            ComposeNetwork {
                name: Some(edge.name.clone()),
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

/// cloudflared in Traefik's network namespace: it reaches Traefik on the
/// container's loopback, so no port is published and Traefik trusts the
/// forwarded headers of loopback only. A changed config.yml changes the
/// config hash, which makes Compose recreate the container on deploy.
fn cloudflared_service(tunnel: &crate::model::Tunnel, config: &str) -> ComposeService {
    let mut service = ComposeService {
        image: CLOUDFLARED_IMAGE.to_string(),
        command: Some(
            [
                "tunnel",
                "--no-autoupdate",
                "--config",
                cloudflared::CONFIG_PATH,
                "run",
            ]
            .map(String::from)
            .to_vec(),
        ),
        // The credentials file is root's and private (0600); root without any
        // capability can read a file it owns and nothing else of note.
        user: Some("0:0".to_string()),
        restart: "unless-stopped".to_string(),
        network_mode: Some("service:traefik".to_string()),
        volumes: vec![
            read_only_bind(
                &format!("../{}/config.yml", Layout::CLOUDFLARED_DIR),
                cloudflared::CONFIG_PATH,
            ),
            read_only_bind(&literal(&tunnel.credentials), cloudflared::CREDENTIALS_PATH),
        ],
        depends_on: IndexMap::from([(
            "traefik".to_string(),
            ComposeDependency {
                condition: "service_healthy",
            },
        )]),
        ..ComposeService::default()
    };
    harden(&mut service, []);
    service
        .labels
        .insert("infrac.tunnel-config-hash".to_string(), short_hash(config));
    add_config_hash(&mut service);
    service
}

fn read_only_bind(source: &str, target: &str) -> ComposeMount {
    ComposeMount {
        kind: "bind",
        source: source.to_string(),
        target: target.to_string(),
        read_only: true,
    }
}

/// 80 and 443 on Traefik's unprivileged ports, on every address (IPv6 too when
/// the host has it; daemon.json binds unnamed addresses to loopback, so each is
/// named). Behind a tunnel nothing is published: cloudflared connects from
/// inside Traefik's network namespace.
fn published_ports(host: &Host) -> Vec<ComposePort> {
    if host.tunnel.is_some() {
        return Vec::new();
    }
    let addresses: &[&str] = if host.has_ipv6() {
        &["0.0.0.0", "::"]
    } else {
        &["0.0.0.0"]
    };
    [(80, PROXY_HTTP_PORT), (443, PROXY_HTTPS_PORT)]
        .iter()
        .flat_map(|(published, target)| {
            addresses.iter().map(move |address| ComposePort {
                target: *target,
                published: published.to_string(),
                host_ip: Some(address.to_string()),
                protocol: "tcp",
            })
        })
        .collect()
}
