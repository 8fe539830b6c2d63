//! The reachability graph: `graph.mmd` of every project is accepted by the real
//! Mermaid parser and `infrac graph --format dot` by Graphviz; the edges read
//! back from the Mermaid file, and the flows of `--format json`, equal the
//! plan's reachability; and the plan keeps the tier model's invariants.

mod support;

use support::{Check, Needs::*};

use std::collections::{BTreeMap, BTreeSet};

use infrac_core::emit::graph::endpoint_name;
use infrac_core::model::Tier;
use infrac_core::plan::{Endpoint, FlowKind, Ports};

/// (from, to, kind, ports) of every flow, by endpoint name.
type Flows = BTreeSet<(String, String, String, String)>;

fn plan_flows(compilation: &infrac_core::Compilation) -> Flows {
    compilation
        .plan
        .reachability
        .flows
        .iter()
        .map(|f| {
            (
                endpoint_name(&compilation.model, f.from),
                endpoint_name(&compilation.model, f.to),
                f.kind.as_str().to_string(),
                match &f.ports {
                    Ports::Any => String::new(),
                    ports => ports.describe(),
                },
            )
        })
        .collect()
}

/// Reads the edges back out of a Mermaid flowchart as infrac writes it: node
/// ids are defined inside `subgraph host__…` / `cluster__…` / `stack__…` blocks.
fn mermaid_flows(text: &str) -> Flows {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut stack = String::new();
    let mut host = String::new();
    let mut flows = Flows::new();
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("subgraph host__") {
            host = rest
                .split('"')
                .nth(1)
                .unwrap()
                .trim_start_matches("host ")
                .to_string();
        } else if let Some(rest) = line.strip_prefix("subgraph stack__") {
            stack = rest
                .split('"')
                .nth(1)
                .unwrap()
                .trim_start_matches("stack ")
                .to_string();
        } else if let Some(rest) = line.strip_prefix("subgraph cluster__") {
            host = rest
                .split('"')
                .nth(1)
                .unwrap()
                .trim_start_matches("cluster ")
                .to_string();
        } else if let Some(id) = line.strip_suffix("{{\"ingress controller\"}}") {
            names.insert(id.to_string(), format!("ingress@{host}"));
        } else if let Some(id) = line.strip_suffix("{{\"proxy\"}}") {
            names.insert(id.to_string(), format!("proxy@{host}"));
        } else if line.starts_with("internet((") {
            names.insert("internet".to_string(), "internet".to_string());
        } else if line.contains("-->") {
            let (from, rest) = line.split_once(' ').unwrap();
            let (arrow, rest) = rest.split_once('|').unwrap();
            let (label, to) = rest.rsplit_once('|').unwrap();
            let label = label.trim_matches('"');
            let (kind, ports) = label.split_once(' ').unwrap_or((label, ""));
            let (from, to) = (names[from].clone(), names[to.trim()].clone());
            flows.insert((from.clone(), to.clone(), kind.into(), ports.into()));
            if arrow.trim() == "<-->" {
                flows.insert((to, from, kind.into(), ports.into()));
            }
        } else if let Some((id, label)) = line.split_once('[') {
            let service = label.trim_matches(|c| "[](\")".contains(c));
            names.insert(id.to_string(), format!("{stack}/{service}"));
        }
    }
    flows
}

fn graph_files_equal_the_plan_and_pass_their_parsers() {
    let node = support::system_tool("node");
    let mermaid = support::required(
        "npm mermaid",
        Some(support::workspace().join(".tools/node/node_modules/mermaid")).filter(|p| p.is_dir()),
    );
    let dot = support::system_tool("dot");
    let scratch = support::scratch_dir("graph");
    let mut mermaid_files = Vec::new();
    for (name, artifacts) in support::validated_projects() {
        let (dir, entry) = support::project_source(&name);
        let compilation = support::compile_in(&dir, &entry);
        let expected = plan_flows(&compilation);
        assert!(!expected.is_empty(), "{name}: the plan has no flows");
        assert_eq!(
            mermaid_flows(&artifacts["graph.mmd"]),
            expected,
            "{name}: graph.mmd differs from the plan"
        );

        let (ok, json, stderr) = support::run(
            support::infrac()
                .arg("graph")
                .arg(dir.join(&entry))
                .args(["--format", "json"]),
        );
        assert!(ok, "{name}: {stderr}");
        let json: serde_json::Value = serde_json::from_str(&json).unwrap();
        let from_json: Flows = json["flows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let ports = f["tcp"].as_array().map_or(String::new(), |ports| {
                    ports
                        .iter()
                        .map(|p| format!("tcp/{p}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                });
                (
                    f["from"].as_str().unwrap().to_string(),
                    f["to"].as_str().unwrap().to_string(),
                    f["kind"].as_str().unwrap().to_string(),
                    ports,
                )
            })
            .collect();
        assert_eq!(
            from_json, expected,
            "{name}: `graph --format json` differs from the plan"
        );

        let file = scratch.join(format!("{name}.mmd"));
        std::fs::write(&file, &artifacts["graph.mmd"]).unwrap();
        mermaid_files.push(file);

        if let Some(dot) = &dot {
            let (ok, text, stderr) = support::run(
                support::infrac()
                    .arg("graph")
                    .arg(dir.join(&entry))
                    .args(["--format", "dot"]),
            );
            assert!(ok, "{stderr}");
            let file = scratch.join(format!("{name}.dot"));
            std::fs::write(&file, text).unwrap();
            let (ok, _, stderr) =
                support::run(std::process::Command::new(dot).arg("-Tcanon").arg(&file));
            assert!(ok, "{name}: Graphviz rejects the DOT output: {stderr}");
        }
    }
    if let (Some(node), Some(_)) = (node, mermaid) {
        // ES modules resolve packages next to the script, not through NODE_PATH.
        let parser = support::workspace().join(".tools/node/mermaid-parse.mjs");
        std::fs::copy(
            support::workspace().join("tests/support/mermaid-parse.mjs"),
            &parser,
        )
        .unwrap();
        let broken = scratch.join("broken.mmd");
        std::fs::write(&broken, "flowchart LR\n    a -->|\"x\" b\n").unwrap();
        let run = |files: &[std::path::PathBuf]| {
            support::run(
                std::process::Command::new(&node)
                    .arg(&parser)
                    .args(files)
                    .env(
                        "NODE_PATH",
                        support::workspace().join(".tools/node/node_modules"),
                    ),
            )
        };
        let (ok, out, _) = run(std::slice::from_ref(&broken));
        assert!(
            !ok && out.contains("FAIL"),
            "the Mermaid parser accepts a broken file: {out}"
        );
        let (ok, out, stderr) = run(&mermaid_files);
        assert!(ok, "Mermaid rejects graph.mmd:\n{out}{stderr}");
        assert_eq!(out.matches("ok ").count(), mermaid_files.len());
    }
}

/// What the tier model promises, checked on every plan: no flow between
/// stacks but to a service both declare shared, none from a service to a proxy, no datastore on the internet, and
/// every route of an `ingress` service a flow from its host's proxy.
fn the_plan_keeps_the_tier_model() {
    for (name, _) in support::validated_projects() {
        let (dir, entry) = support::project_source(&name);
        let compilation = support::compile_in(&dir, &entry);
        let (model, plan) = (&compilation.model, &compilation.plan);
        for flow in &plan.reachability.flows {
            match (flow.from, flow.to) {
                (Endpoint::Service(a), Endpoint::Service(b)) if flow.kind == FlowKind::Shared => {
                    let reaches = model.service(a).reaches.iter().any(|r| r.target == Some(b));
                    let shared = model.stacks[b.stack.0].service_shares.iter().any(|s| {
                        s.target == Some(b)
                            && s.with.target == Some(a.stack)
                            && flow.ports == Ports::Tcp(vec![s.port])
                    });
                    assert!(
                        a.stack != b.stack && reaches && shared,
                        "{name}: a shared flow that both stacks do not declare"
                    );
                }
                (Endpoint::Service(a), Endpoint::Service(b)) => {
                    assert_eq!(a.stack, b.stack, "{name}: a flow crosses stacks");
                    assert_eq!(flow.kind, FlowKind::Internal);
                    assert!(
                        model.service(a).on(Tier::Internal) && model.service(b).on(Tier::Internal)
                    );
                }
                (Endpoint::Service(_), Endpoint::Proxy(_) | Endpoint::IngressController(_)) => {
                    panic!("{name}: a service may open connections to the proxy")
                }
                (Endpoint::Service(a), Endpoint::Internet) => {
                    assert!(
                        !plan.service(a).datastore,
                        "{name}: a datastore reaches the internet"
                    );
                    assert!(model.service(a).on(Tier::Egress));
                }
                _ => {}
            }
        }
        for (id, stack, service) in model.services() {
            let host = stack.host.as_ref().and_then(|h| h.target);
            for route in &service.routes {
                let (Some(host), Some(port)) = (host, route.port) else {
                    continue;
                };
                assert!(
                    plan.reachability
                        .allows(Endpoint::Proxy(host), Endpoint::Service(id), port),
                    "{name}: route {} has no flow",
                    route.hostname.value
                );
            }
        }
    }
}

fn main() -> std::process::ExitCode {
    support::run_checks(vec![
        Check {
            name: "graph_files_equal_the_plan_and_pass_their_parsers",
            needs: &[
                System("node"),
                Installed(".tools/node/node_modules/mermaid"),
                System("dot"),
            ],
            run: graph_files_equal_the_plan_and_pass_their_parsers,
        },
        Check {
            name: "the_plan_keeps_the_tier_model",
            needs: &[],
            run: the_plan_keeps_the_tier_model,
        },
    ])
}
