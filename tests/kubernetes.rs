//! The Kubernetes target, judged by real tools. Every manifest of every cluster
//! project passes `kubernetes-validate --strict` for the cluster's release; the
//! NetworkPolicies, analysed by network-config-analyzer (nca) over the emitted
//! workloads and stand-ins for the ingress controller and DNS, allow exactly
//! the plan's flows, pair by pair and port by port (and dropping one policy is
//! noticed); and one source compiled for a host and for a cluster has the same
//! graph.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use infrac_core::emit::graph::endpoint_name;
use infrac_core::plan::{Endpoint, FlowKind, Ports};
use infrac_core::{Artifacts, Compilation};
use support::{Check, Needs::*};

const K8S_VENV: &str = ".tools/venv-k8s/bin";

/// Every project with a cluster: the examples that have one, and the fixture.
fn cluster_projects() -> Vec<(String, Compilation)> {
    let mut projects: Vec<(String, Compilation)> = support::examples()
        .into_iter()
        .map(|e| {
            let (dir, entry) = support::project_source(&e);
            (e, support::compile_in(&dir, &entry))
        })
        .filter(|(_, c)| !c.model.clusters.is_empty())
        .collect();
    projects.push((
        "cluster-fixture".to_string(),
        support::compile_in(
            &support::workspace().join("tests/fixtures/cluster"),
            "infrac.kdl",
        ),
    ));
    for (name, compilation) in &projects {
        assert!(compilation.artifacts.is_some(), "{name} does not compile");
    }
    assert!(projects.len() >= 2, "no cluster example");
    projects
}

fn manifests(artifacts: &Artifacts) -> Vec<(&String, &String)> {
    artifacts
        .iter()
        .filter(|(p, _)| p.starts_with("clusters/") && p.ends_with(".yaml"))
        .filter(|(p, _)| !p.ends_with("kustomization.yaml"))
        .collect()
}

fn manifests_pass_kubernetes_validate() {
    let validate = support::workspace()
        .join(K8S_VENV)
        .join("kubernetes-validate");
    let scratch = support::scratch_dir("k8s-validate");
    let run = |version: &str, files: &[PathBuf]| {
        support::run(
            Command::new(&validate)
                .args(["--strict", "--quiet", "-k", version])
                .args(files),
        )
    };
    let broken = scratch.join("broken.yaml");
    std::fs::write(
        &broken,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: y}\nspec: {podSelector: {}, policyType: [Ingress]}\n",
    )
    .unwrap();
    let (ok, _, _) = run("1.31", std::slice::from_ref(&broken));
    assert!(!ok, "kubernetes-validate accepted a misspelt field");
    let mut checked = 0;
    for (name, compilation) in cluster_projects() {
        let artifacts = compilation.artifacts.as_ref().unwrap();
        let out = support::write_tree(artifacts, &format!("k8s-{name}"));
        for cluster in &compilation.model.clusters {
            let version = cluster.kubernetes.clone().unwrap();
            let prefix = format!("clusters/{}/", cluster.name.value);
            let files: Vec<PathBuf> = manifests(artifacts)
                .into_iter()
                .filter(|(p, _)| p.starts_with(&prefix))
                .map(|(p, _)| out.join(p))
                .collect();
            let (ok, stdout, stderr) = run(&version, &files);
            assert!(
                ok,
                "{name}: kubernetes-validate {version}:\n{stdout}{stderr}"
            );
            checked += files.len();
        }
        for (path, text) in manifests(artifacts) {
            assert!(
                !text.contains("kind: Secret"),
                "{name}/{path} holds a Secret"
            );
        }
        let kustomization = &artifacts[&format!(
            "clusters/{}/kustomization.yaml",
            compilation.model.clusters[0].name.value
        )];
        let listed = kustomization.matches("\n- ").count();
        let emitted = manifests(artifacts).len();
        assert_eq!(
            listed, emitted,
            "{name}: the kustomization lists {listed} of {emitted} files"
        );
    }
    assert!(checked >= 10, "only {checked} manifests validated");
}

/// One flow as nca reports it, by endpoint name: `ns/name`, `internet`, `dns`.
type Observed = BTreeMap<(String, String), String>;
/// The address ranges each pod reaches: (first, last, IPv6).
type Ranges = BTreeMap<String, BTreeSet<(u128, u128, bool)>>;

/// nca's connectivity for the cluster's policies over its workloads and the
/// stand-ins (nca takes one file of each: the documents are joined).
fn nca_connectivity(out: &Path, policies: &[PathBuf], resources: &[PathBuf]) -> String {
    let nca = support::workspace().join(K8S_VENV).join("nca");
    let join = |files: &[PathBuf], name: &str| {
        let text: Vec<String> = files
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect();
        let joined = out.join(name);
        std::fs::write(&joined, text.join("\n---\n")).unwrap();
        joined
    };
    let (ok, stdout, stderr) = support::run(
        Command::new(nca)
            .current_dir(out)
            .arg("--connectivity")
            .arg(join(policies, "all-policies.yaml"))
            .arg("--resource_list")
            .arg(join(resources, "all-resources.yaml"))
            .args(["--output_format", "txt_no_fw_rules", "--print_ipv6"]),
    );
    assert!(ok, "nca failed:\n{stdout}{stderr}");
    stdout
}

/// An IPv4 or IPv6 range `a-b` or a single address or CIDR, as nca prints it.
fn range(text: &str) -> Option<(u128, u128, bool)> {
    let (start, end) = text.split_once('-').unwrap_or((text, text));
    if let (Ok(a), Ok(b)) = (start.parse::<Ipv4Addr>(), end.parse::<Ipv4Addr>()) {
        return Some((u32::from(a) as u128, u32::from(b) as u128, false));
    }
    if let (Ok(a), Ok(b)) = (start.parse::<Ipv6Addr>(), end.parse::<Ipv6Addr>()) {
        return Some((u128::from(a), u128::from(b), true));
    }
    if let Ok(net) = text.parse::<ipnet::IpNet>() {
        let v6 = matches!(net, ipnet::IpNet::V6(_));
        let (a, b) = match net {
            ipnet::IpNet::V4(n) => (
                u32::from(n.network()) as u128,
                u32::from(n.broadcast()) as u128,
            ),
            ipnet::IpNet::V6(n) => (u128::from(n.network()), u128::from(n.broadcast())),
        };
        return Some((a, b, v6));
    }
    None
}

/// The internet as the policies mean it: everything but the private ranges.
fn internet_ranges() -> BTreeSet<(u128, u128, bool)> {
    let mut out = BTreeSet::new();
    for (whole, except, v6) in [
        (
            "0.0.0.0/0",
            &[
                "10.0.0.0/8",
                "172.16.0.0/12",
                "192.168.0.0/16",
                "100.64.0.0/10",
                "169.254.0.0/16",
            ][..],
            false,
        ),
        ("::/0", &["fc00::/7", "fe80::/10"][..], true),
    ] {
        let (mut start, end, _) = range(whole).unwrap();
        let mut holes: Vec<(u128, u128, bool)> = except.iter().map(|e| range(e).unwrap()).collect();
        holes.sort();
        for (a, b, _) in holes {
            if a > start {
                out.insert((start, a - 1, v6));
            }
            start = b + 1;
        }
        out.insert((start, end, v6));
    }
    out
}

/// Merges adjacent ranges, so nca's way of cutting them does not matter.
fn merged(ranges: &BTreeSet<(u128, u128, bool)>) -> BTreeSet<(u128, u128, bool)> {
    let mut out: Vec<(u128, u128, bool)> = Vec::new();
    for &(a, b, v6) in ranges {
        match out.last_mut() {
            Some(last) if last.2 == v6 && last.1.checked_add(1) == Some(a) => last.1 = b,
            _ => out.push((a, b, v6)),
        }
    }
    out.into_iter().collect()
}

/// `{protocols:TCP,dst_ports:8080}` → `tcp/8080`; `All connections` → ``.
fn connection(text: &str) -> String {
    if text == "All connections" {
        return String::new();
    }
    let inner = text.trim_matches(|c| c == '{' || c == '}');
    let protocols = inner
        .split("protocols:")
        .nth(1)
        .and_then(|r| r.split(",dst_ports").next())
        .unwrap_or_default();
    let ports = inner.split("dst_ports:").nth(1).unwrap_or_default();
    let mut out: Vec<String> = Vec::new();
    for protocol in protocols.split(',').map(str::trim) {
        for port in ports.split(',').map(str::trim) {
            out.push(format!("{}/{port}", protocol.to_ascii_lowercase()));
        }
    }
    out.sort();
    out.join(", ")
}

/// Reads nca's `src => dst : connections` lines for the namespaces under test.
fn observed_flows(
    output: &str,
    namespaces: &BTreeSet<String>,
    controller: &str,
    dns: &str,
) -> (Observed, Ranges) {
    let mut flows = Observed::new();
    let mut to_ip = Ranges::new();
    let pod = |text: &str| text.split('[').next().unwrap().to_string();
    for line in output.lines() {
        let Some((pair, conn)) = line.split_once(" : ") else {
            continue;
        };
        let Some((src, dst)) = pair.split_once(" => ") else {
            continue;
        };
        let (src, dst) = (src.trim(), dst.trim());
        let in_scope = |text: &str| {
            text.split('/')
                .next()
                .is_some_and(|ns| namespaces.contains(ns))
        };
        let src_name = if src.contains('[') {
            pod(src)
        } else {
            "ip".to_string()
        };
        let dst_name = if dst.contains('[') {
            pod(dst)
        } else {
            "ip".to_string()
        };
        if !in_scope(&src_name) && !in_scope(&dst_name) {
            continue;
        }
        if dst_name == "ip" {
            if let Some(r) = range(dst) {
                to_ip.entry(src_name).or_default().insert(r);
            }
            continue;
        }
        let src_name = if src_name == controller {
            "controller".to_string()
        } else {
            src_name
        };
        let dst_name = if dst_name == dns {
            "dns".to_string()
        } else {
            dst_name
        };
        flows.insert((src_name, dst_name), connection(conn.trim()));
    }
    (flows, to_ip)
}

/// What nca should report for a cluster: the plan's flows between pods and
/// from the controller, the internet for `egress` pods, and DNS for every pod.
fn expected_flows(compilation: &Compilation, cluster: usize) -> (Observed, BTreeSet<String>) {
    let (model, plan) = (&compilation.model, &compilation.plan);
    let name = |e: Endpoint| match e {
        Endpoint::Service(id) => format!(
            "{}/{}",
            model.stacks[id.stack.0].name.value,
            model.service(id).name.value
        ),
        Endpoint::IngressController(_) => "controller".to_string(),
        other => endpoint_name(model, other),
    };
    let mut expected = Observed::new();
    let mut egress = BTreeSet::new();
    for flow in &plan.reachability.flows {
        let on_cluster = |e: Endpoint| match e {
            Endpoint::Service(id) => plan.stacks[id.stack.0].cluster.map(|c| c.0) == Some(cluster),
            Endpoint::IngressController(c) => c.0 == cluster,
            _ => false,
        };
        if flow.kind == FlowKind::Entry || !(on_cluster(flow.from) || on_cluster(flow.to)) {
            continue;
        }
        if flow.to == Endpoint::Internet {
            egress.insert(name(flow.from));
            continue;
        }
        let ports = match &flow.ports {
            Ports::Any => String::new(),
            ports => ports.describe(),
        };
        expected.insert((name(flow.from), name(flow.to)), ports);
    }
    for (id, _, _) in model.services() {
        if plan.stacks[id.stack.0].cluster.map(|c| c.0) == Some(cluster) {
            expected.insert(
                (name(Endpoint::Service(id)), "dns".to_string()),
                "tcp/53, udp/53".to_string(),
            );
        }
    }
    (expected, egress)
}

/// Differences between what nca reports and what the plan says; empty when equal.
fn compare(
    compilation: &Compilation,
    out: &Path,
    artifacts: &Artifacts,
    drop_policy: Option<&str>,
) -> Vec<String> {
    let standins = support::workspace().join("tests/fixtures/cluster/standins.yaml");
    let mut differences = Vec::new();
    for (index, cluster) in compilation.model.clusters.iter().enumerate() {
        let prefix = format!("clusters/{}/", cluster.name.value);
        let mut policies = Vec::new();
        let mut resources = vec![standins.clone()];
        let mut namespaces = BTreeSet::new();
        for (path, text) in manifests(artifacts)
            .into_iter()
            .filter(|(p, _)| p.starts_with(&prefix))
        {
            namespaces.insert(path[prefix.len()..].split('/').next().unwrap().to_string());
            if path.ends_with("network-policies.yaml") {
                let file = out.join(path);
                if let Some(dropped) = drop_policy {
                    let kept: Vec<&str> = text
                        .split("---\n")
                        .filter(|doc| !doc.contains(&format!("  name: {dropped}\n")))
                        .collect();
                    std::fs::write(&file, kept.join("---\n")).unwrap();
                }
                policies.push(file);
            } else {
                resources.push(out.join(path));
            }
        }
        let output = nca_connectivity(out, &policies, &resources);
        let controller = format!(
            "{}/{}",
            cluster.ingress_namespace.clone().unwrap(),
            if cluster.ingress_class.as_deref() == Some("traefik") {
                "traefik"
            } else {
                "ingress-nginx-controller"
            }
        );
        let (observed, to_ip) =
            observed_flows(&output, &namespaces, &controller, "kube-system/coredns");
        let (expected, egress) = expected_flows(compilation, index);
        for key in expected
            .keys()
            .chain(observed.keys())
            .collect::<BTreeSet<_>>()
        {
            let (want, got) = (expected.get(key), observed.get(key));
            if want != got {
                differences.push(format!("{} → {}: plan {want:?}, nca {got:?}", key.0, key.1));
            }
        }
        let internet = merged(&internet_ranges());
        for pod in egress.iter().chain(to_ip.keys()).collect::<BTreeSet<_>>() {
            let got = to_ip.get(pod).map(merged).unwrap_or_default();
            let want = if egress.contains(pod) {
                internet.clone()
            } else {
                BTreeSet::new()
            };
            if got != want {
                differences.push(format!(
                    "{pod} → the internet: plan {} ranges, nca {} ranges",
                    want.len(),
                    got.len()
                ));
            }
        }
    }
    differences
}

fn policies_allow_exactly_the_plan() {
    let mut pairs = 0;
    for (name, compilation) in cluster_projects() {
        let artifacts = compilation.artifacts.as_ref().unwrap();
        let out = support::write_tree(artifacts, &format!("nca-{name}"));
        let differences = compare(&compilation, &out, artifacts, None);
        assert!(
            differences.is_empty(),
            "{name}: nca and the plan differ:\n{}",
            differences.join("\n")
        );
        pairs += compilation.plan.reachability.flows.len();
        // Without one service's policy its flows are gone: the comparison notices.
        let (id, _, service) = compilation
            .model
            .services()
            .find(|(id, _, _)| {
                compilation.plan.stacks[id.stack.0].cluster.is_some()
                    && compilation
                        .plan
                        .reachability
                        .flows
                        .iter()
                        .any(|f| f.to == Endpoint::Service(*id))
            })
            .unwrap();
        let _ = id;
        let differences = compare(&compilation, &out, artifacts, Some(&service.name.value));
        assert!(
            !differences.is_empty(),
            "{name}: dropping the policy of {} went unnoticed",
            service.name.value
        );
    }
    assert!(pairs > 20, "only {pairs} flows compared");
}

/// The same stacks with `host=` instead of `cluster=` allow the same flows
/// between services, and the proxy reaches what the ingress controller reaches.
fn one_source_two_targets_one_graph() {
    let dir = support::workspace().join("tests/fixtures/cluster");
    let source = std::fs::read_to_string(dir.join("infrac.kdl")).unwrap();
    let host_dir = support::scratch_dir("two-targets");
    support::copy_dir(&dir, &host_dir);
    std::fs::write(
        host_dir.join("infrac.kdl"),
        source.replace("cluster=\"lab\"", "host=\"box\""),
    )
    .unwrap();
    let graph = |compilation: &Compilation| -> BTreeSet<(String, String, String)> {
        let edge = |e: Endpoint| match e {
            Endpoint::Proxy(_) | Endpoint::IngressController(_) => "edge".to_string(),
            other => endpoint_name(&compilation.model, other),
        };
        compilation
            .plan
            .reachability
            .flows
            .iter()
            .filter(|f| {
                matches!(
                    f.kind,
                    FlowKind::Internal | FlowKind::Route | FlowKind::Egress
                )
            })
            .map(|f| (edge(f.from), edge(f.to), format!("{:?}", f.ports)))
            .collect()
    };
    let on_cluster = support::compile_in(&dir, "infrac.kdl");
    let on_host = support::compile_in(&host_dir, "infrac.kdl");
    assert!(
        on_cluster.artifacts.is_some() && on_host.artifacts.is_some(),
        "both targets compile"
    );
    assert!(
        on_host
            .artifacts
            .as_ref()
            .unwrap()
            .contains_key("stacks/front/compose.yaml")
    );
    assert!(
        on_cluster
            .artifacts
            .as_ref()
            .unwrap()
            .contains_key("clusters/lab/front/workloads.yaml")
    );
    let (a, b) = (graph(&on_cluster), graph(&on_host));
    assert!(a.len() > 10, "only {} flows", a.len());
    assert_eq!(a, b, "the cluster and the host allow different flows");
}

fn main() -> std::process::ExitCode {
    support::run_checks(vec![
        Check {
            name: "manifests_pass_kubernetes_validate",
            needs: &[Installed(".tools/venv-k8s/bin/kubernetes-validate")],
            run: manifests_pass_kubernetes_validate,
        },
        Check {
            name: "policies_allow_exactly_the_plan",
            needs: &[Installed(".tools/venv-k8s/bin/nca")],
            run: policies_allow_exactly_the_plan,
        },
        Check {
            name: "one_source_two_targets_one_graph",
            needs: &[],
            run: one_source_two_targets_one_graph,
        },
    ])
}
