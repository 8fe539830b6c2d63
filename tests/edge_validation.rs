//! The edge artifacts are accepted by what consumes them:
//! - traefik.yml by SchemaStore's Traefik v3 static schema, every dynamic file by
//!   the file-provider schema (check-jsonschema; no Traefik binary is packaged);
//! - the routers Traefik would build from the stacks' labels are complete and
//!   consistent with the dynamic files (middlewares, certificate resolver);
//! - cloudflared's config passes cloudflared's own ingress-rule validation,
//!   re-implemented here (no cloudflared is packaged), and names every routed
//!   hostname (cloudflared#1081);
//! - every generated shell script (dns-routes.sh, deploy.sh) passes shellcheck.

mod support;

use support::{Check, Needs::*};

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use infrac_core::Artifacts;
use serde_json::Value;

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap()
}

fn check_schema(check_jsonschema: &Path, schema: &Path, file: &Path) -> (bool, String) {
    let (ok, stdout, stderr) = support::run(
        Command::new(check_jsonschema)
            .arg("--schemafile")
            .arg(schema)
            .arg(file),
    );
    (ok, stdout + &stderr)
}

fn traefik_files_pass_the_traefik_v3_schemas() {
    let (Some(check_jsonschema), Some(static_schema), Some(dynamic_schema)) = (
        support::validator("check-jsonschema"),
        support::schema_file("traefik-v3.json"),
        support::schema_file("traefik-v3-file-provider.json"),
    ) else {
        return;
    };
    // The schemas reject what Traefik would reject: a misspelt key in each kind.
    let (ok, _) = check_schema(
        &check_jsonschema,
        &static_schema,
        &support::scratch_file(
            "bad-static.yml",
            "entryPoints:\n  web:\n    adress: \":80\"\n",
        ),
    );
    assert!(!ok, "the static schema accepted a misspelt key");
    let (ok, _) = check_schema(
        &check_jsonschema,
        &dynamic_schema,
        &support::scratch_file(
            "bad-dynamic.yml",
            "http:\n  middlewares:\n    x:\n      rateLimit:\n        avrage: 1\n",
        ),
    );
    assert!(!ok, "the file-provider schema accepted a misspelt key");

    let mut checked = (0, 0);
    for (example, artifacts) in support::validated_projects() {
        let dir = support::write_tree(&artifacts, &format!("edge-{example}"));
        for path in artifacts.keys() {
            let schema = if path.ends_with("/proxy/traefik.yml") {
                checked.0 += 1;
                &static_schema
            } else if path.contains("/proxy/dynamic/") {
                checked.1 += 1;
                &dynamic_schema
            } else {
                continue;
            };
            let (ok, output) = check_schema(&check_jsonschema, schema, &dir.join(path));
            assert!(ok, "{example}/{path}:\n{output}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
    assert!(
        checked.0 >= 2 && checked.1 >= 4,
        "checked {checked:?} static/dynamic files"
    );
}

/// Every router of a host's file provider is complete: a rule, entry points
/// the static configuration defines, TLS, a resolver that exists, middlewares
/// that `http.yml` defines, and a service whose server is a routed service's
/// alias on an edge network that both it and the proxy join. No container
/// carries a `traefik.*` label: Traefik has no Docker provider.
fn routers_are_complete() {
    let mut routers_checked = 0;
    for (example, artifacts) in support::validated_projects() {
        // alias → (stack compose network name, the service's port numbers unknown here)
        let mut aliases: BTreeMap<String, String> = BTreeMap::new();
        for (path, compose) in artifacts
            .iter()
            .filter(|(p, _)| p.starts_with("stacks/") && p.ends_with("compose.yaml"))
        {
            let compose = yaml(compose);
            for (name, service) in compose["services"].as_object().unwrap() {
                let labels = service["labels"].as_object().cloned().unwrap_or_default();
                assert!(
                    labels.keys().all(|k| !k.starts_with("traefik.")),
                    "{example}/{path}: {name} has Traefik labels"
                );
                for (key, attachment) in service["networks"].as_object().into_iter().flatten() {
                    let network = compose["networks"][key]["name"].as_str();
                    for alias in attachment["aliases"].as_array().into_iter().flatten() {
                        aliases.insert(
                            alias.as_str().unwrap().to_string(),
                            network
                                .unwrap_or_else(|| panic!("{path}: {key} has no name"))
                                .to_string(),
                        );
                    }
                }
            }
        }
        for (path, routes) in artifacts
            .iter()
            .filter(|(p, _)| p.ends_with("/dynamic/routes.yml"))
        {
            let proxy_dir = path.trim_end_matches("/dynamic/routes.yml");
            let static_config = yaml(&artifacts[&format!("{proxy_dir}/traefik.yml")]);
            let proxy = yaml(&artifacts[&format!("{proxy_dir}/compose.yaml")]);
            let proxy_networks: BTreeSet<&str> = proxy["services"]["traefik"]["networks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap())
                .collect();
            let file_middlewares: BTreeSet<String> = artifacts
                .get(&format!("{proxy_dir}/dynamic/http.yml"))
                .and_then(|http| {
                    yaml(http)["http"]["middlewares"]
                        .as_object()
                        .map(|m| m.keys().cloned().collect())
                })
                .unwrap_or_default();
            let routes = yaml(routes);
            for (name, router) in routes["http"]["routers"].as_object().unwrap() {
                let here = format!("{example}/{path} router {name}");
                let rule = router["rule"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{here}: no rule"));
                assert!(
                    rule.starts_with("Host(`") && rule.matches('`').count() % 2 == 0,
                    "{here}: {rule}"
                );
                for entrypoint in router["entryPoints"].as_array().unwrap() {
                    assert!(
                        static_config["entryPoints"][entrypoint.as_str().unwrap()].is_object(),
                        "{here}: entry point {entrypoint} is not defined"
                    );
                }
                assert!(router["tls"].is_object(), "{here}: no TLS");
                if let Some(resolver) = router["tls"]["certResolver"].as_str() {
                    assert!(
                        static_config["certificatesResolvers"][resolver].is_object(),
                        "{here}: resolver {resolver} is not defined"
                    );
                }
                for middleware in router["middlewares"].as_array().into_iter().flatten() {
                    let middleware = middleware.as_str().unwrap();
                    assert!(
                        file_middlewares.contains(middleware),
                        "{here}: middleware {middleware} is not in dynamic/http.yml"
                    );
                }
                let service = router["service"].as_str().unwrap();
                let servers = routes["http"]["services"][service]["loadBalancer"]["servers"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{here}: service {service} is not defined"));
                for server in servers {
                    let url = url::Url::parse(server["url"].as_str().unwrap()).unwrap();
                    assert!(["http", "h2c"].contains(&url.scheme()), "{here}: {url}");
                    assert!(
                        url.port_or_known_default().is_some_and(|p| p > 0),
                        "{here}: {url} has no port"
                    );
                    let alias = url.host_str().unwrap();
                    let network = aliases
                        .get(alias)
                        .unwrap_or_else(|| panic!("{here}: no service answers to {alias}"));
                    assert!(
                        proxy_networks.contains(network.as_str()),
                        "{here}: the proxy is not on {network}, where {alias} lives"
                    );
                }
                routers_checked += 1;
            }
        }
    }
    assert!(
        routers_checked >= 10,
        "only {routers_checked} routers checked"
    );
}

/// cloudflared's ingress validation (ingress/ingress.go, validateIngress): the
/// last rule matches everything; every other rule has a hostname; a hostname
/// holds at most one `*`, only as its whole leftmost label, and no port; every
/// service is an origin URL with a scheme and a host, or `http_status:NNN`.
fn cloudflared_ingress_errors(config: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let Some(rules) = config["ingress"].as_array().filter(|r| !r.is_empty()) else {
        return vec!["no ingress rules".to_string()];
    };
    for (index, rule) in rules.iter().enumerate() {
        let last = index + 1 == rules.len();
        let hostname = rule["hostname"].as_str().unwrap_or("");
        let path = rule["path"].as_str().unwrap_or("");
        let catch_all = (hostname.is_empty() || hostname == "*") && path.is_empty();
        if last && !catch_all {
            errors.push(format!(
                "rule {index}: the last rule must match every request"
            ));
        }
        if !last && hostname.is_empty() {
            errors.push(format!(
                "rule {index}: only the last rule may omit the hostname"
            ));
        }
        if !last && catch_all {
            errors.push(format!(
                "rule {index}: a catch-all before the last rule hides the rest"
            ));
        }
        if hostname.contains(':') {
            errors.push(format!("rule {index}: hostname {hostname} has a port"));
        }
        if hostname.matches('*').count() > 1
            || (hostname.contains('*') && hostname != "*" && !hostname.starts_with("*."))
        {
            errors.push(format!(
                "rule {index}: hostname {hostname}: `*` only as the whole leftmost label"
            ));
        }
        let service = rule["service"].as_str().unwrap_or("");
        if let Some(status) = service.strip_prefix("http_status:") {
            if !status
                .parse::<u16>()
                .is_ok_and(|s| (100..=599).contains(&s))
            {
                errors.push(format!("rule {index}: bad status {status}"));
            }
        } else {
            match url::Url::parse(service) {
                Ok(origin)
                    if origin.host_str().is_some()
                        && ["http", "https", "tcp", "ssh", "rdp", "unix", "ws", "wss"]
                            .contains(&origin.scheme()) =>
                {
                    if origin.path() != "/" && !origin.path().is_empty() {
                        errors.push(format!("rule {index}: origin {service} has a path"));
                    }
                }
                _ => errors.push(format!(
                    "rule {index}: service {service} is not an origin URL"
                )),
            }
        }
        if let Some(server_name) = rule["originRequest"]["originServerName"].as_str()
            && server_name != hostname
        {
            errors.push(format!(
                "rule {index}: originServerName {server_name} differs from {hostname}"
            ));
        }
    }
    errors
}

fn cloudflared_validation_rejects_broken_configs() {
    let broken = [
        "ingress:\n- hostname: a.example\n  service: https://127.0.0.1:443\n",
        "ingress:\n- service: https://127.0.0.1:443\n- service: http_status:404\n",
        "ingress:\n- hostname: a.*.example\n  service: https://127.0.0.1:443\n- service: http_status:404\n",
        "ingress:\n- hostname: a.example:443\n  service: https://127.0.0.1:443\n- service: http_status:404\n",
        "ingress:\n- hostname: a.example\n  service: 127.0.0.1:443\n- service: http_status:404\n",
        "ingress:\n- hostname: a.example\n  service: https://127.0.0.1/x\n- service: http_status:404\n",
    ];
    for config in broken {
        assert!(
            !cloudflared_ingress_errors(&yaml(config)).is_empty(),
            "accepted:\n{config}"
        );
    }
}

fn cloudflared_configs_pass_ingress_validation_and_name_every_route() {
    let mut checked = 0;
    for (example, artifacts) in support::validated_projects() {
        for (path, text) in artifacts
            .iter()
            .filter(|(p, _)| p.ends_with("/cloudflared/config.yml"))
        {
            let config = yaml(text);
            let errors = cloudflared_ingress_errors(&config);
            assert!(errors.is_empty(), "{example}/{path}: {errors:?}");
            assert!(
                config["tunnel"].as_str().is_some_and(|t| !t.is_empty()),
                "{example}/{path}"
            );
            assert!(
                config["credentials-file"]
                    .as_str()
                    .is_some_and(|c| c.starts_with('/')),
                "{example}/{path}"
            );
            assert!(
                config["metrics"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("127.0.0.1:")),
                "{example}/{path}: metrics off loopback"
            );
            let named: BTreeSet<&str> = config["ingress"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|r| r["hostname"].as_str())
                .collect();
            let host_dir = path.trim_end_matches("/cloudflared/config.yml");
            let routed = routed_hostnames(&artifacts, host_dir);
            assert!(
                !routed.is_empty(),
                "{example}/{path}: the host routes nothing"
            );
            let missing: Vec<&String> = routed
                .iter()
                .filter(|h| !named.contains(h.as_str()))
                .collect();
            assert!(
                missing.is_empty(),
                "{example}/{path}: no ingress rule for {missing:?}"
            );
            let script = &artifacts[&format!("{host_dir}/cloudflared/dns-routes.sh")];
            for hostname in &routed {
                assert!(
                    script.contains(&format!(" '{hostname}'\n")),
                    "{example}: dns-routes.sh misses {hostname}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 1, "no example has a tunnel");
}

/// Hostnames of every router that the host's proxy serves: the stacks' labels
/// and the dynamic files.
fn routed_hostnames(artifacts: &Artifacts, host_dir: &str) -> BTreeSet<String> {
    let mut rules: Vec<String> = Vec::new();
    for file in ["routes.yml", "http.yml"] {
        let Some(text) = artifacts.get(&format!("{host_dir}/proxy/dynamic/{file}")) else {
            continue;
        };
        for router in yaml(text)["http"]["routers"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, r)| r)
        {
            rules.push(router["rule"].as_str().unwrap().to_string());
        }
    }
    rules
        .iter()
        .map(|rule| {
            let start = rule.find("Host(`").unwrap() + "Host(`".len();
            rule[start..].split('`').next().unwrap().to_string()
        })
        .collect()
}

fn shell_scripts_pass_shellcheck() {
    let Some(shellcheck) = support::system_tool("shellcheck") else {
        return;
    };
    let (ok, _, _) = support::run(
        Command::new(&shellcheck).arg(support::scratch_file("bad.sh", "#!/bin/sh\necho $1\n")),
    );
    assert!(!ok, "shellcheck accepted an unquoted expansion");
    let mut checked = 0;
    for (example, artifacts) in support::validated_projects() {
        for (path, script) in artifacts.iter().filter(|(p, _)| p.ends_with(".sh")) {
            let file = support::scratch_file(&format!("{example}-{checked}.sh"), script);
            let (ok, stdout, stderr) = support::run(Command::new(&shellcheck).arg(&file));
            assert!(ok, "{example}/{path}:\n{stdout}{stderr}");
            checked += 1;
        }
    }
    assert!(checked >= 1, "no shell script was generated");
}

fn main() -> std::process::ExitCode {
    support::run_checks(vec![
        Check {
            name: "traefik_files_pass_the_traefik_v3_schemas",
            needs: &[
                Venv("check-jsonschema"),
                Schema("traefik-v3.json"),
                Schema("traefik-v3-file-provider.json"),
            ],
            run: traefik_files_pass_the_traefik_v3_schemas,
        },
        Check {
            name: "routers_are_complete",
            needs: &[],
            run: routers_are_complete,
        },
        Check {
            name: "cloudflared_validation_rejects_broken_configs",
            needs: &[],
            run: cloudflared_validation_rejects_broken_configs,
        },
        Check {
            name: "cloudflared_configs_pass_ingress_validation_and_name_every_route",
            needs: &[],
            run: cloudflared_configs_pass_ingress_validation_and_name_every_route,
        },
        Check {
            name: "shell_scripts_pass_shellcheck",
            needs: &[System("shellcheck")],
            run: shell_scripts_pass_shellcheck,
        },
    ])
}
