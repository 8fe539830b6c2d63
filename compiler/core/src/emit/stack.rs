//! The Compose target for a stack. In: one stack of the model and its plan.
//! Out: `stacks/<stack>/compose.yaml` and `stacks/<stack>/.env.example`.

use std::collections::BTreeMap;

use indexmap::IndexMap;

use super::compose_file::*;
use crate::model::{EnvValue, Model, Service, ServiceId, Stack, StackId, Tier};
use crate::plan::{Layout, Plan, ServicePlan};
use crate::values::Duration;

/// Writes the stack's files into `artifacts`.
pub fn emit_stack(
    model: &Model,
    plan: &Plan,
    stack_id: StackId,
    stack: &Stack,
    artifacts: &mut BTreeMap<String, String>,
) {
    let mut variables: BTreeMap<String, String> = BTreeMap::new();
    let mut file = ComposeFile {
        name: stack.name.value.clone(),
        services: IndexMap::new(),
        networks: IndexMap::new(),
        volumes: IndexMap::new(),
        secrets: IndexMap::new(),
    };
    for (index, service) in stack.services.iter().enumerate() {
        let id = ServiceId {
            stack: stack_id,
            index,
        };
        file.services.insert(
            service.name.value.clone(),
            compose_service(model, plan.service(id), stack, service, &mut variables),
        );
        for volume in &service.volumes {
            file.volumes
                .insert(volume.name.value.clone(), ComposeVolume::default());
        }
    }
    file.volumes.sort_keys();
    for tier in &plan.stack(stack_id).tiers {
        file.networks
            .insert(tier.as_str().to_string(), network(&stack.name.value, *tier));
    }
    artifacts.insert(
        Layout::in_stack(stack, Layout::COMPOSE_FILE),
        format!("{GENERATED_HEADER}{}", to_yaml(&file)),
    );
    artifacts.insert(
        Layout::in_stack(stack, Layout::ENV_EXAMPLE),
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
    facts: &ServicePlan,
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
    if facts.hardened {
        harden(&mut compose, facts.capabilities.iter().cloned());
    } else {
        compose.cap_add = facts.capabilities.clone();
    }
    compose.labels = route_labels(model, facts, stack);
    for (key, value) in &service.labels {
        compose.labels.insert(key.value.clone(), literal(value));
    }
    add_config_hash(&mut compose);
    compose
}

/// Traefik labels for the service's routers (names from the plan: stack and
/// service joined with `_`, which no DNS label contains, so they never collide).
fn route_labels(model: &Model, facts: &ServicePlan, stack: &Stack) -> IndexMap<String, String> {
    let mut labels = IndexMap::new();
    if facts.routers.is_empty() {
        return labels;
    }
    labels.insert("traefik.enable".to_string(), "true".to_string());
    labels.insert(
        "traefik.docker.network".to_string(),
        ingress_network(&stack.name.value),
    );
    for router in &facts.routers {
        let name = &router.name;
        let prefix = format!("traefik.http.routers.{name}");
        labels.insert(format!("{prefix}.rule"), router.rule.clone());
        labels.insert(
            format!("{prefix}.entrypoints"),
            router.entrypoint.to_string(),
        );
        labels.insert(format!("{prefix}.tls"), "true".to_string());
        if let Some(resolver) = router.cert_resolver {
            labels.insert(format!("{prefix}.tls.certresolver"), resolver.to_string());
        }
        let middlewares: Vec<String> = router
            .middlewares
            .iter()
            .map(|m| format!("{}@file", model.middlewares[m.0].name.value))
            .collect();
        if !middlewares.is_empty() {
            labels.insert(format!("{prefix}.middlewares"), middlewares.join(","));
        }
        labels.insert(format!("{prefix}.service"), name.clone());
        let server = format!("traefik.http.services.{name}.loadbalancer.server");
        labels.insert(format!("{server}.port"), router.port.to_string());
        if router.scheme != "http" {
            labels.insert(format!("{server}.scheme"), router.scheme.to_string());
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
