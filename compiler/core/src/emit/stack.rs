//! The Compose target for a stack. In: one stack of the model. Out:
//! `stacks/<stack>/compose.yaml` and `stacks/<stack>/.env.example`.

use std::collections::BTreeMap;

use indexmap::IndexMap;

use super::compose_file::*;
use super::traefik;
use crate::model::{EnvValue, Model, RouteProtocol, Service, Stack, Tier};
use crate::values::Duration;

/// Official images whose entrypoints start as root, fix ownership of their data
/// directory and then drop to an unprivileged user: without these capabilities
/// they cannot start, so they keep them by default.
const ENTRYPOINT_CAPABILITY_IMAGES: &[&str] = &[
    "postgres",
    "postgis",
    "timescaledb",
    "mysql",
    "mariadb",
    "redis",
    "valkey",
    "mongo",
    "clickhouse",
];
const ENTRYPOINT_CAPABILITIES: &[&str] = &["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"];

/// Writes the stack's files into `artifacts`.
pub fn emit_stack(model: &Model, stack: &Stack, artifacts: &mut BTreeMap<String, String>) {
    let dir = format!("stacks/{}", stack.name.value);
    let mut variables: BTreeMap<String, String> = BTreeMap::new();
    let mut file = ComposeFile {
        name: stack.name.value.clone(),
        services: IndexMap::new(),
        networks: IndexMap::new(),
        volumes: IndexMap::new(),
        secrets: IndexMap::new(),
    };
    for service in &stack.services {
        file.services.insert(
            service.name.value.clone(),
            compose_service(model, stack, service, &mut variables),
        );
        for volume in &service.volumes {
            file.volumes
                .insert(volume.name.value.clone(), ComposeVolume::default());
        }
    }
    file.volumes.sort_keys();
    for tier in Tier::ALL {
        if stack.services.iter().any(|s| s.on(tier)) {
            file.networks
                .insert(tier.as_str().to_string(), network(&stack.name.value, tier));
        }
    }
    artifacts.insert(
        format!("{dir}/compose.yaml"),
        format!("{GENERATED_HEADER}{}", to_yaml(&file)),
    );
    artifacts.insert(
        format!("{dir}/.env.example"),
        env_example(&format!("the stack `{}`", stack.name.value), &variables),
    );
}

/// The stack's network of a tier. `ingress` gets a fixed name so the proxy can
/// join it and Traefik's labels can name it.
fn network(stack: &str, tier: Tier) -> ComposeNetwork {
    ComposeNetwork {
        name: (tier == Tier::Ingress).then(|| ingress_network(stack)),
        driver: Some("bridge"),
        internal: tier == Tier::Internal,
        external: false,
    }
}

pub fn ingress_network(stack: &str) -> String {
    format!("{stack}_ingress")
}

fn compose_service(
    model: &Model,
    stack: &Stack,
    service: &Service,
    variables: &mut BTreeMap<String, String>,
) -> ComposeService {
    let mut compose = ComposeService {
        image: image_reference(&service.image),
        command: service
            .command
            .as_ref()
            .map(|words| words.iter().map(|w| literal(w)).collect()),
        user: service.user.as_deref().map(literal),
        restart: service
            .restart
            .map(|r| r.as_str().to_string())
            .unwrap_or_default(),
        networks: Tier::ALL
            .into_iter()
            .filter(|t| service.on(*t))
            .map(|t| t.as_str().to_string())
            .collect(),
        ..ComposeService::default()
    };
    for env in &service.env {
        let value = match &env.value {
            EnvValue::Literal(value) => literal(value),
            EnvValue::Secret(reference) => {
                let Some(secret) = reference.target.map(|id| &model.secrets[id.0]) else {
                    continue;
                };
                let variable = secret.variable();
                variables.insert(variable.clone(), secret.name.value.clone());
                format!("${{{variable}:?secret {} is not set}}", secret.name.value)
            }
        };
        compose.environment.insert(env.name.value.clone(), value);
    }
    compose.volumes = service
        .volumes
        .iter()
        .map(|v| ComposeMount {
            kind: "volume",
            source: v.name.value.clone(),
            target: literal(&v.path),
            read_only: v.read_only,
        })
        .chain(service.binds.iter().map(|b| ComposeMount {
            kind: "bind",
            source: literal(&b.source),
            target: literal(&b.path),
            read_only: b.read_only,
        }))
        .collect();
    for dependency in &service.depends_on {
        let Some(target) = dependency.target else {
            continue;
        };
        let other = model.service(target);
        let condition = if other.healthcheck.is_some() {
            "service_healthy"
        } else {
            "service_started"
        };
        compose
            .depends_on
            .insert(other.name.value.clone(), ComposeDependency { condition });
    }
    compose.healthcheck = service.healthcheck.as_ref().map(|h| ComposeHealthcheck {
        test: vec!["CMD-SHELL".to_string(), literal(&h.command)],
        interval: h.interval.as_ref().map(compose_duration),
        timeout: h.timeout.as_ref().map(compose_duration),
        retries: h.retries,
        start_period: h.start_period.as_ref().map(compose_duration),
    });
    compose.deploy = service.resources.as_ref().map(|r| ComposeDeploy {
        resources: ComposeResources {
            limits: ComposeLimits {
                cpus: r.cpus.map(|c| c.to_string()),
                memory: r.memory.map(memory),
            },
        },
    });
    if service.hardening {
        let base = service
            .image
            .as_ref()
            .map(|i| i.value.base_name())
            .unwrap_or_default();
        let entrypoint: &[&str] = if ENTRYPOINT_CAPABILITY_IMAGES
            .iter()
            .any(|known| base.starts_with(known))
        {
            ENTRYPOINT_CAPABILITIES
        } else {
            &[]
        };
        harden(
            &mut compose,
            entrypoint
                .iter()
                .map(|c| c.to_string())
                .chain(service.capabilities.iter().cloned()),
        );
    } else {
        compose.cap_add = service.capabilities.clone();
    }
    compose.labels = route_labels(model, stack, service);
    for (key, value) in &service.labels {
        compose.labels.insert(key.value.clone(), literal(value));
    }
    add_config_hash(&mut compose);
    compose
}

/// Traefik labels for the service's routes. Router and service names join stack
/// and service with `_`, which no DNS label contains, so they never collide.
fn route_labels(model: &Model, stack: &Stack, service: &Service) -> IndexMap<String, String> {
    let mut labels = IndexMap::new();
    if service.routes.is_empty() {
        return labels;
    }
    let cert_resolver = model
        .host_of(stack)
        .and_then(|h| h.proxy.as_ref())
        .and_then(traefik::cert_resolver);
    labels.insert("traefik.enable".to_string(), "true".to_string());
    labels.insert(
        "traefik.docker.network".to_string(),
        ingress_network(&stack.name.value),
    );
    for (index, route) in service.routes.iter().enumerate() {
        let mut name = format!("{}_{}", stack.name.value, service.name.value);
        if index > 0 {
            name = format!("{name}_{}", index + 1);
        }
        let router = format!("traefik.http.routers.{name}");
        let mut rule = format!("Host(`{}`)", route.hostname.value);
        if let Some(prefix) = &route.path_prefix {
            rule.push_str(&format!(" && PathPrefix(`{prefix}`)"));
        }
        labels.insert(format!("{router}.rule"), rule);
        labels.insert(format!("{router}.entrypoints"), "websecure".to_string());
        labels.insert(format!("{router}.tls"), "true".to_string());
        if let Some(resolver) = cert_resolver {
            labels.insert(format!("{router}.tls.certresolver"), resolver.to_string());
        }
        let middlewares: Vec<String> = route
            .middlewares
            .iter()
            .map(|m| format!("{}@file", m.name.value))
            .collect();
        if !middlewares.is_empty() {
            labels.insert(format!("{router}.middlewares"), middlewares.join(","));
        }
        labels.insert(format!("{router}.service"), name.clone());
        let server = format!("traefik.http.services.{name}.loadbalancer.server");
        if let Some(port) = route.port {
            labels.insert(format!("{server}.port"), port.to_string());
        }
        if route.protocol.value == RouteProtocol::Grpc {
            labels.insert(format!("{server}.scheme"), "h2c".to_string());
        }
    }
    labels
}

fn compose_duration(duration: &Duration) -> String {
    duration.written.clone()
}

/// `.env.example`: the variables (secret name → variable) a compose file reads.
pub fn env_example(owner: &str, variables: &BTreeMap<String, String>) -> String {
    let mut text = format!(
        "# Variables {owner} reads from `.env` beside compose.yaml.\n# Generated by infrac: copy to `.env` and fill in the values; never commit `.env`.\n"
    );
    if variables.is_empty() {
        text.push_str("# No variables are needed.\n");
    }
    for (variable, secret) in variables {
        text.push_str(&format!("\n# secret `{secret}`\n{variable}=\n"));
    }
    text
}
