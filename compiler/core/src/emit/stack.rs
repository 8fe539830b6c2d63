//! The Compose target for a stack. In: one stack of the model and its plan.
//! Out: `stacks/<stack>/compose.yaml` and `stacks/<stack>/.env.example`.

use std::collections::BTreeMap;

use indexmap::IndexMap;

use super::compose_file::*;
use crate::model::{
    EnvValue, IfUnset, Model, Reference, SecretId, Service, ServiceId, Stack, StackId, TextPart,
    Tier, VolumeMount,
};
use crate::plan::{EdgeNetwork, Layout, Plan, ServicePlan};
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
        let shared = shared_attachments(plan, id);
        file.services.insert(
            service.name.value.clone(),
            compose_service(model, plan.service(id), service, &shared, &mut variables),
        );
        for config in &service.files {
            if let Some(content) = &config.content {
                artifacts.insert(
                    Layout::in_stack(
                        stack,
                        &Layout::config_file(&service.name.value, &config.path),
                    ),
                    content.clone(),
                );
            }
        }
        for volume in &service.volumes {
            let owner = volume_owner(model, volume);
            let shared = owner
                .filter(|o| *o != stack.name.value)
                .map(|owner| ComposeVolume {
                    external: Some(true),
                    name: Some(format!("{owner}_{}", volume.name.value)),
                });
            file.volumes
                .insert(volume_key(model, volume), shared.unwrap_or_default());
        }
    }
    file.volumes.sort_keys();
    for (index, _) in stack.services.iter().enumerate() {
        let id = ServiceId {
            stack: stack_id,
            index,
        };
        if let Some(edge) = &plan.service(id).edge {
            file.networks.insert(edge.key.clone(), edge_network(edge));
        }
    }
    for shared in &plan.shared_services {
        let network = &shared.network;
        if shared.owner.stack == stack_id {
            file.networks
                .insert(network.key.clone(), edge_network(network));
        } else if shared.consumers.iter().any(|c| c.stack == stack_id) {
            file.networks.insert(
                network.key.clone(),
                ComposeNetwork {
                    name: Some(network.name.clone()),
                    external: true,
                    ..ComposeNetwork::default()
                },
            );
        }
    }
    for tier in &plan.stack(stack_id).tiers {
        if let Some(network) = tier_network(*tier) {
            file.networks.insert(tier.as_str().to_string(), network);
        }
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

/// The networks of shared services the service joins: as the owner (with the
/// alias the other stack reaches it by) or as one that reaches it.
fn shared_attachments(plan: &Plan, id: ServiceId) -> Vec<(String, Option<String>)> {
    plan.shared_services
        .iter()
        .filter_map(|shared| {
            let network = &shared.network;
            if shared.owner == id {
                Some((network.key.clone(), Some(network.alias.clone())))
            } else if shared.consumers.contains(&id) {
                Some((network.key.clone(), None))
            } else {
                None
            }
        })
        .collect()
}

/// An edge network: a routed service's, shared with the proxy only, or a shared
/// service's; no route out, no traffic between its members but what the host's
/// firewall admits.
fn edge_network(edge: &EdgeNetwork) -> ComposeNetwork {
    ComposeNetwork {
        name: Some(edge.name.clone()),
        driver: Some("bridge"),
        internal: true,
        external: false,
        driver_opts: IndexMap::from([
            (BRIDGE_NAME, edge.bridge.clone()),
            (BRIDGE_ICC, "false".to_string()),
        ]),
    }
}

/// The stack's network of a tier. `ingress` has none of its own: each routed
/// service gets an edge network. `internal` has no route out; on `egress` the
/// services reach the internet but not each other.
fn tier_network(tier: Tier) -> Option<ComposeNetwork> {
    match tier {
        Tier::Ingress => None,
        Tier::Internal => Some(ComposeNetwork {
            driver: Some("bridge"),
            internal: true,
            ..ComposeNetwork::default()
        }),
        Tier::Egress => Some(ComposeNetwork {
            driver: Some("bridge"),
            driver_opts: IndexMap::from([(BRIDGE_ICC, "false".to_string())]),
            ..ComposeNetwork::default()
        }),
    }
}

/// A short hash of a service's configuration files: paths and contents.
pub fn files_hash(service: &Service) -> String {
    let mut all = String::new();
    for file in &service.files {
        all.push_str(&format!(
            "{}\n{}\n{}\n",
            file.path,
            file.content.as_deref().unwrap_or_default().len(),
            file.content.as_deref().unwrap_or_default()
        ));
    }
    short_hash(&all)
}

/// The stack a volume belongs to when `from=` names another one.
fn volume_owner<'m>(model: &'m Model, volume: &VolumeMount) -> Option<&'m str> {
    let owner = volume.from.as_ref()?.target?;
    Some(model.stacks[owner.0].name.value.as_str())
}

/// A volume's key in the stack's compose file: its name, or for another
/// stack's volume `<owner>_<name>` (Compose's own name for it), so it cannot
/// collide with one of the stack's own.
fn volume_key(model: &Model, volume: &VolumeMount) -> String {
    match volume_owner(model, volume) {
        Some(owner) => format!("{owner}_{}", volume.name.value),
        None => volume.name.value.clone(),
    }
}

/// The Compose profile of jobs: `up` skips them, the timer `run`s them.
pub const JOB_PROFILE: &str = "job";

fn compose_service(
    model: &Model,
    facts: &ServicePlan,
    service: &Service,
    shared: &[(String, Option<String>)],
    variables: &mut BTreeMap<String, String>,
) -> ComposeService {
    let mut compose = ComposeService {
        image: image_reference(&service.image),
        command: service
            .command
            .as_ref()
            .map(|words| words.iter().map(|w| literal(w)).collect()),
        user: service.user.as_ref().map(|u| literal(&u.value)),
        restart: match (&service.schedule, service.restart) {
            (Some(_), _) => "no".to_string(),
            (None, restart) => restart.map(|r| r.as_str().to_string()).unwrap_or_default(),
        },
        profiles: service
            .schedule
            .as_ref()
            .map(|_| vec![JOB_PROFILE.to_string()])
            .unwrap_or_default(),
        networks: service_networks(facts, service, shared),
        ..ComposeService::default()
    };
    for env in &service.env {
        // A secret's value comes from the stack's .env through Compose's
        // interpolation: `${VAR:?…}` refuses to start without it.
        let mut interpolate = |reference: &Reference<SecretId>, if_unset: &IfUnset| {
            let secret = &model.secrets[reference.target?.0];
            let variable = secret.variable();
            variables.insert(variable.clone(), secret.name.value.clone());
            Some(match if_unset {
                IfUnset::Refuse => {
                    format!("${{{variable}:?secret {} is not set}}", secret.name.value)
                }
                IfUnset::Empty => format!("${{{variable}:-}}"),
                IfUnset::Default(default) => format!("${{{variable}:-{}}}", literal(default)),
            })
        };
        let value = match &env.value {
            EnvValue::Literal(value) => literal(value),
            EnvValue::Secret(reference) => match interpolate(reference, &env.if_unset) {
                Some(value) => value,
                None => continue,
            },
            EnvValue::Template(parts) => {
                let mut value = String::new();
                for part in parts {
                    match part {
                        TextPart::Text(text) => value.push_str(&literal(text)),
                        TextPart::Secret(reference) => value.push_str(
                            &interpolate(reference, &IfUnset::Refuse).unwrap_or_default(),
                        ),
                    }
                }
                value
            }
        };
        compose.environment.insert(env.name.value.clone(), value);
    }
    compose.volumes = service
        .volumes
        .iter()
        .map(|v| ComposeMount {
            kind: "volume",
            source: volume_key(model, v),
            target: literal(&v.path),
            read_only: v.read_only,
        })
        .chain(service.binds.iter().map(|b| ComposeMount {
            kind: "bind",
            source: literal(&b.source),
            target: literal(&b.path),
            read_only: b.read_only,
        }))
        // Relative to the compose file: the stack's directory ships them.
        .chain(service.files.iter().map(|f| ComposeMount {
            kind: "bind",
            source: literal(&format!(
                "./{}",
                Layout::config_file(&service.name.value, &f.path)
            )),
            target: literal(&f.path),
            read_only: true,
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
    for (key, value) in &service.labels {
        compose.labels.insert(key.value.clone(), literal(value));
    }
    // A file's content is not in the compose file: its hash is, so an edit
    // changes the configuration hash and Compose recreates the container.
    if !service.files.is_empty() {
        compose
            .labels
            .insert("infrac.files-hash".to_string(), files_hash(service));
    }
    add_config_hash(&mut compose);
    compose
}

/// The service's networks: its edge network (with the alias the proxy uses),
/// the networks of services shared with other stacks (the owner with the alias
/// the other stack uses), and its tiers.
fn service_networks(
    facts: &ServicePlan,
    service: &Service,
    shared: &[(String, Option<String>)],
) -> ServiceNetworks {
    let attachments: Vec<(String, Vec<String>)> = facts
        .edge
        .iter()
        .map(|edge| (edge.key.clone(), vec![edge.alias.clone()]))
        .chain(
            shared
                .iter()
                .map(|(key, alias)| (key.clone(), alias.iter().cloned().collect())),
        )
        .chain(
            [Tier::Internal, Tier::Egress]
                .into_iter()
                .filter(|t| service.on(*t))
                .map(|t| (t.as_str().to_string(), Vec::new())),
        )
        .collect();
    if attachments.iter().all(|(_, aliases)| aliases.is_empty()) {
        return ServiceNetworks::List(attachments.into_iter().map(|(key, _)| key).collect());
    }
    ServiceNetworks::Map(
        attachments
            .into_iter()
            .map(|(key, aliases)| (key, NetworkAttachment { aliases }))
            .collect(),
    )
}

fn compose_duration(duration: &Duration) -> String {
    duration.written.clone()
}

/// `.env.example`: the variables (secret name → variable) a compose file reads.
pub fn env_example(owner: &str, variables: &BTreeMap<String, String>) -> String {
    let mut text = format!(
        "# Variables {owner} reads from `.env` beside this file.\n# Generated by infrac: copy to `.env` and fill in the values; never commit `.env`.\n"
    );
    if variables.is_empty() {
        text.push_str("# No variables are needed.\n");
    }
    for (variable, secret) in variables {
        text.push_str(&format!("\n# secret `{secret}`\n{variable}=\n"));
    }
    text
}
