//! The tier model on a real Docker engine. For every example, each host's
//! artifacts are deployed as deploy.sh would (daemon.json, the firewall, the
//! stacks, then the proxy) on a Docker engine in a network namespace, and every
//! flow is tried by IP address from inside the containers: service to service
//! (same stack and others), service to the proxy, the proxy to services, all
//! of them to the internet, the cloud metadata address and Docker's API, and the
//! internet to the published ports. What connects must equal the plan's
//! reachability graph, port by port; then one wrong network is attached on
//! purpose and the comparison must notice.

mod support;

use std::collections::BTreeSet;

use infrac_core::emit::graph::endpoint_name;
use infrac_core::model::{HostId, Model, ServiceId, StackId};
use infrac_core::plan::{Endpoint, FlowKind, PROXY_HTTP_PORT, PROXY_HTTPS_PORT, Plan, Ports};
use support::engine::{
    CANARY_PORT, ENGINE_ADDRESS, Engine, INTERNET_ADDRESS, METADATA_ADDRESS, listening_service,
};
use support::{Check, Needs::*};

/// A container under test: where it sits in the graph, and where it listens.
struct Member {
    endpoint: Endpoint,
    id: String,
    addresses: Vec<String>,
    gateways: Vec<String>,
    ports: Vec<u16>,
}

#[derive(Default)]
struct Tally {
    allowed: usize,
    blocked: usize,
    mismatches: Vec<String>,
}

impl Tally {
    fn record(&mut self, what: String, expected: bool, observed: bool) {
        match (expected, observed) {
            (true, true) => self.allowed += 1,
            (false, false) => self.blocked += 1,
            (true, false) => self
                .mismatches
                .push(format!("{what}: the plan allows it, it does not connect")),
            (false, true) => self
                .mismatches
                .push(format!("{what}: connects, the plan forbids it")),
        }
    }
}

fn flows_match_the_plan_on_a_real_engine() {
    let mut negative_control_done = false;
    for example in support::examples() {
        let (dir, entry) = support::project_source(&example);
        let compilation = support::compile_in(&dir, &entry);
        let artifacts = compilation.artifacts.as_ref().expect("examples compile");
        let (model, plan) = (&compilation.model, &compilation.plan);
        for (index, host) in model.hosts.iter().enumerate() {
            let host_id = HostId(index);
            if plan.host(host_id).stacks.is_empty() {
                continue;
            }
            let out = support::write_tree(artifacts, &format!("engine-{example}"));
            let host_dir = out.join("hosts").join(&host.name.value);
            let engine = Engine::start(
                &format!("{index}"),
                &artifacts[&format!("hosts/{}/docker/daemon.json", host.name.value)],
                host.interface.as_deref().unwrap_or("eth0"),
            );
            let images: BTreeSet<String> = artifacts
                .iter()
                .filter(|(path, _)| path.ends_with("compose.yaml"))
                .flat_map(|(_, text)| {
                    text.lines()
                        .filter_map(|l| l.trim().strip_prefix("image: "))
                        .map(str::to_string)
                        .collect::<Vec<_>>()
                })
                .collect();
            engine.stub_images(images.iter().map(String::as_str));
            engine.apply_rules(
                "iptables-restore",
                &artifacts[&format!("hosts/{}/firewall/rules.v4", host.name.value)],
            );
            engine.apply_rules(
                "ip6tables-restore",
                &artifacts[&format!("hosts/{}/firewall/rules.v6", host.name.value)],
            );

            // Stacks are independent Compose projects, brought up at once, except
            // that, as in the deploy, a stack waits for the stacks whose volume or
            // service it uses (their volumes and networks must exist).
            for wave in deploy_waves(model, plan, host_id) {
                std::thread::scope(|scope| {
                    for stack_id in &wave {
                        let stack = &model.stacks[stack_id.0];
                        let mut override_yaml = String::from("services:\n");
                        for (i, service) in stack.services.iter().enumerate() {
                            let ports = service_ports(
                                plan,
                                ServiceId {
                                    stack: *stack_id,
                                    index: i,
                                },
                            );
                            override_yaml.push_str(&listening_service(&service.name.value, &ports));
                        }
                        let (engine, out) = (&engine, &out);
                        let host_dir = &host_dir;
                        scope.spawn(move || {
                            let dir = out.join("stacks").join(&stack.name.value);
                            // As the deploy: a stack of jobs only is not brought up.
                            if stack.services.iter().any(|s| s.schedule.is_none()) {
                                engine.compose_up(&dir, Some(&stack.name.value), &override_yaml);
                            }
                            // Jobs are left alone by `up` and run by their timer's unit.
                            let running = engine.containers();
                            for job in stack.services.iter().filter(|s| s.schedule.is_some()) {
                                let key = (stack.name.value.clone(), job.name.value.clone());
                                assert!(!running.contains_key(&key), "`up` started job {key:?}");
                                let unit =
                                    std::fs::read_to_string(host_dir.join("jobs").join(format!(
                                        "{}.service",
                                        infrac_core::plan::Layout::job_unit(stack, &job.name.value)
                                    )))
                                    .unwrap();
                                engine.run_job(&dir, &unit, &override_yaml);
                            }
                        });
                    }
                });
            }
            if host.proxy.is_some() {
                let mut override_yaml = String::from("services:\n");
                override_yaml.push_str(&listening_service(
                    "traefik",
                    &[PROXY_HTTP_PORT, PROXY_HTTPS_PORT, CANARY_PORT],
                ));
                if host.tunnel.is_some() {
                    override_yaml.push_str(&listening_service("cloudflared", &[]));
                }
                engine.compose_up(&host_dir.join("proxy"), None, &override_yaml);
            }

            let members = members(&engine, model, plan, host_id);
            let mut tally = probe_everything(&engine, model, plan, host_id, &members);
            println!(
                "{example}/{}: {} containers, {} flows open as planned, {} blocked as planned, {} mismatches",
                host.name.value,
                members.len(),
                tally.allowed,
                tally.blocked,
                tally.mismatches.len()
            );
            assert!(
                tally.mismatches.is_empty(),
                "{example}/{}: the engine does not enforce the plan:\n{}",
                host.name.value,
                tally.mismatches.join("\n")
            );

            // Show the comparison able to fail: attach a routed service that
            // has no `egress` to its stack's egress network.
            if let Some(member) = members.iter().find(|m| {
                let Endpoint::Service(id) = m.endpoint else {
                    return false;
                };
                plan.reachability
                    .flow(Endpoint::Proxy(host_id), m.endpoint)
                    .is_some()
                    && plan
                        .reachability
                        .flow(m.endpoint, Endpoint::Internet)
                        .is_none()
                    && plan
                        .stack(id.stack)
                        .tiers
                        .contains(&infrac_core::model::Tier::Egress)
            }) {
                let Endpoint::Service(id) = member.endpoint else {
                    unreachable!()
                };
                let network = format!("{}_egress", model.stacks[id.stack.0].name.value);
                let (ok, _, stderr) = support::run(
                    engine
                        .docker()
                        .args(["network", "connect", &network, &member.id]),
                );
                assert!(ok, "{stderr}");
                tally = Tally::default();
                let observed = engine.probe(&member.id, &[(INTERNET_ADDRESS.to_string(), 80)]);
                tally.record(
                    format!("{} → internet", endpoint_name(model, member.endpoint)),
                    plan.reachability
                        .allows(member.endpoint, Endpoint::Internet, 80),
                    observed.values().any(|open| *open),
                );
                assert_eq!(
                    tally.mismatches.len(),
                    1,
                    "with {network} attached by hand the comparison must find the extra flow"
                );
                negative_control_done = true;
            }
            drop(engine);
            std::fs::remove_dir_all(out).unwrap();
        }
    }
    assert!(
        negative_control_done,
        "no example let the comparison be shown able to fail"
    );
}

/// The host's stacks in waves: each after the waves holding the stacks whose
/// volumes it mounts or whose services it reaches, in the plan's deploy order.
fn deploy_waves(model: &Model, plan: &Plan, host: HostId) -> Vec<Vec<StackId>> {
    let mut wave_of: std::collections::BTreeMap<StackId, usize> = Default::default();
    let mut waves: Vec<Vec<StackId>> = Vec::new();
    for &stack in &plan.host(host).deploy_order {
        let owners = model.stacks_used_by(stack);
        let wave = owners
            .filter_map(|owner| wave_of.get(&owner).map(|w| w + 1))
            .max()
            .unwrap_or(0);
        wave_of.insert(stack, wave);
        if waves.len() <= wave {
            waves.resize(wave + 1, Vec::new());
        }
        waves[wave].push(stack);
    }
    waves
}

/// Where a service's stub listens: the ports the proxy reaches it on (routes,
/// forward-auth) and the canary.
fn service_ports(plan: &Plan, id: ServiceId) -> Vec<u16> {
    let mut ports: BTreeSet<u16> = plan
        .reachability
        .flows
        .iter()
        .filter(|f| f.to == Endpoint::Service(id))
        .filter_map(|f| match &f.ports {
            Ports::Tcp(ports) => Some(ports.iter().copied()),
            Ports::Any => None,
        })
        .flatten()
        .collect();
    ports.insert(CANARY_PORT);
    ports.into_iter().collect()
}

/// The running containers of the host, placed in the graph. cloudflared shares
/// Traefik's network namespace, so it is probed from, never to.
fn members(engine: &Engine, model: &Model, plan: &Plan, host: HostId) -> Vec<Member> {
    let containers = engine.containers();
    for container in containers.values() {
        assert!(
            !container.mounts.iter().any(|m| m.contains("docker.sock")),
            "a container mounts Docker's socket"
        );
    }
    let mut members = Vec::new();
    for stack_id in &plan.host(host).stacks {
        let stack = &model.stacks[stack_id.0];
        for (index, service) in stack.services.iter().enumerate() {
            let id = ServiceId {
                stack: StackId(stack_id.0),
                index,
            };
            let container = containers
                .get(&(stack.name.value.clone(), service.name.value.clone()))
                .unwrap_or_else(|| {
                    panic!("{}/{} is not running", stack.name.value, service.name.value)
                });
            members.push(Member {
                endpoint: Endpoint::Service(id),
                id: container.id.clone(),
                addresses: container.addresses.clone(),
                gateways: container.gateways.clone(),
                ports: service_ports(plan, id),
            });
        }
    }
    let project = format!("{}-proxy", model.hosts[host.0].name.value);
    if let Some(traefik) = containers.get(&(project, "traefik".to_string())) {
        members.push(Member {
            endpoint: Endpoint::Proxy(host),
            id: traefik.id.clone(),
            addresses: traefik.addresses.clone(),
            gateways: traefik.gateways.clone(),
            ports: vec![PROXY_HTTP_PORT, PROXY_HTTPS_PORT, CANARY_PORT],
        });
    }
    members
}

/// A flow's name, the (address, port) pairs that realise it, whether the plan allows it.
type Expectation = (String, Vec<(String, u16)>, bool);

/// What one container reaches: (flow, whether the plan allows it, whether it connected).
fn probe_from(
    engine: &Engine,
    model: &Model,
    plan: &Plan,
    members: &[Member],
    source: &Member,
) -> Vec<(String, bool, bool)> {
    let name = |e| endpoint_name(model, e);
    let mut targets: Vec<(String, u16)> = Vec::new();
    let mut expectations: Vec<Expectation> = Vec::new();
    for target in members.iter().filter(|t| t.id != source.id) {
        for port in &target.ports {
            let addresses: Vec<(String, u16)> = target
                .addresses
                .iter()
                .map(|a| (a.clone(), *port))
                .collect();
            targets.extend(addresses.iter().cloned());
            expectations.push((
                format!(
                    "{} → {} tcp/{port}",
                    name(source.endpoint),
                    name(target.endpoint)
                ),
                addresses,
                plan.reachability
                    .allows(source.endpoint, target.endpoint, *port),
            ));
        }
    }
    let internet = vec![(INTERNET_ADDRESS.to_string(), 80)];
    targets.extend(internet.iter().cloned());
    expectations.push((
        format!("{} → internet", name(source.endpoint)),
        internet,
        plan.reachability
            .allows(source.endpoint, Endpoint::Internet, 80),
    ));
    let metadata = vec![(METADATA_ADDRESS.to_string(), 80)];
    targets.extend(metadata.iter().cloned());
    expectations.push((
        format!("{} → cloud metadata", name(source.endpoint)),
        metadata,
        false,
    ));
    let docker_api: Vec<(String, u16)> = source
        .gateways
        .iter()
        .flat_map(|g| [(g.clone(), 2375), (g.clone(), 2376)])
        .collect();
    targets.extend(docker_api.iter().cloned());
    expectations.push((
        format!("{} → Docker's API", name(source.endpoint)),
        docker_api,
        false,
    ));

    let observed = engine.probe(&source.id, &targets);
    expectations
        .into_iter()
        .map(|(what, addresses, expected)| {
            let open = addresses
                .iter()
                .any(|a| observed.get(a).copied().unwrap_or(false));
            (what, expected, open)
        })
        .collect()
}

fn probe_everything(
    engine: &Engine,
    model: &Model,
    plan: &Plan,
    host: HostId,
    members: &[Member],
) -> Tally {
    let mut tally = Tally::default();
    let name = |e| endpoint_name(model, e);
    // Every source probes at once; each probe of a dropped flow waits out its timeout.
    let results: Vec<Vec<(String, bool, bool)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = members
            .iter()
            .map(|source| scope.spawn(move || probe_from(engine, model, plan, members, source)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (what, expected, open) in results.into_iter().flatten() {
        tally.record(what, expected, open);
    }
    // The edge: the internet reaches the published entry points (never behind
    // a tunnel); through a tunnel, cloudflared reaches Traefik on loopback.
    let proxy = Endpoint::Proxy(host);
    let entry = |port| {
        plan.reachability
            .flow(Endpoint::Internet, proxy)
            .is_some_and(|f| f.kind == FlowKind::Entry && f.ports.allows(port))
    };
    let published = engine.probe_from_internet(&[
        (ENGINE_ADDRESS.to_string(), 80),
        (ENGINE_ADDRESS.to_string(), 443),
    ]);
    for port in [80, 443] {
        tally.record(
            format!("internet → {} tcp/{port} (published)", name(proxy)),
            entry(port),
            published[&(ENGINE_ADDRESS.to_string(), port)],
        );
    }
    let through_tunnel = plan
        .reachability
        .flow(Endpoint::Internet, proxy)
        .is_some_and(|f| f.kind == FlowKind::Tunnel);
    let project = format!("{}-proxy", model.hosts[host.0].name.value);
    if let Some(cloudflared) = engine
        .containers()
        .get(&(project, "cloudflared".to_string()))
    {
        let observed = engine.probe(
            &cloudflared.id,
            &[("127.0.0.1".to_string(), PROXY_HTTPS_PORT)],
        );
        tally.record(
            format!("cloudflared → {} on loopback", name(proxy)),
            through_tunnel,
            observed.values().any(|open| *open),
        );
    } else {
        assert!(!through_tunnel, "a tunnel host runs no cloudflared");
    }
    tally
}

fn main() -> std::process::ExitCode {
    support::run_checks(vec![Check {
        name: "flows_match_the_plan_on_a_real_engine",
        needs: &[
            Root,
            Installed(".tools/engine/usr/sbin/dockerd"),
            Installed(".tools/engine/bin/busybox"),
            Venv("docker-compose"),
            System("ip"),
            System("nsenter"),
            System("unshare"),
            System("iptables-restore"),
            System("ip6tables-restore"),
            System("tar"),
        ],
        run: flows_match_the_plan_on_a_real_engine,
    }])
}
