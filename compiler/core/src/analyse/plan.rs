//! Builds the [`Plan`] from the resolved model: service classification, the
//! proxy's routers and middlewares per host, and the reachability graph. Works
//! on a model with errors too (unresolved references are skipped), so checks
//! can use it; emitters only ever see the plan of an error-free model.

use std::collections::BTreeSet;

use crate::model::{
    Certificates, ClusterId, Host, HostId, MiddlewareId, Model, RouteProtocol, Service, ServiceId,
    StackId, Tier,
};
use crate::plan::{
    ClusterPlan, DataPath, EDGE_BRIDGE_PREFIX, EdgeNetwork, Endpoint, Flow, FlowKind, HostPlan,
    Plan, PodSecurity, Ports, Reachability, Router, ServicePlan, SharedService, StackPlan, images,
};

/// The proxy's HTTPS entry point, which every router listens on.
pub const SECURE_ENTRY_POINT: &str = "websecure";
/// The certificate resolver routers name when certificates come from ACME.
pub const CERT_RESOLVER: &str = "letsencrypt";

pub fn build_plan(model: &Model) -> Plan {
    let mut plan = Plan {
        stacks: model
            .stacks
            .iter()
            .map(|stack| StackPlan {
                host: stack.host.as_ref().and_then(|h| h.target),
                cluster: stack.cluster.as_ref().and_then(|c| c.target),
                pod_security: None,
                tiers: Tier::ALL
                    .into_iter()
                    .filter(|t| stack.services.iter().any(|s| s.on(*t)))
                    .collect(),
            })
            .collect(),
        ..Plan::default()
    };
    for (id, _, service) in model.services() {
        plan.services.insert(id, classify(service));
    }
    for (index, host) in model.hosts.iter().enumerate() {
        let host_plan = plan_host(model, &plan, HostId(index), host);
        for router in &host_plan.routers {
            if let Some(service) = plan.services.get_mut(&router.service) {
                service.routers.push(router.clone());
            }
        }
        plan.hosts.push(host_plan);
    }
    for index in 0..model.clusters.len() {
        let cluster_plan = plan_cluster(&plan, model, ClusterId(index));
        for router in &cluster_plan.routers {
            if let Some(service) = plan.services.get_mut(&router.service) {
                service.routers.push(router.clone());
            }
        }
        plan.clusters.push(cluster_plan);
    }
    for index in 0..model.stacks.len() {
        if plan.stacks[index].cluster.is_some() {
            let level = pod_security(model, &plan, StackId(index));
            plan.stacks[index].pod_security = Some(level);
        }
    }
    plan.shared_services = shared_services(model, &plan);
    plan.reachability = reachability(model, &plan);
    plan.data_paths = data_paths(model);
    for flow in &plan.reachability.flows {
        if let (Endpoint::Proxy(host), Endpoint::Service(id), Ports::Tcp(ports)) =
            (flow.from, flow.to, &flow.ports)
        {
            let service = plan.services.get_mut(&id).map(|s| &mut s.edge);
            if let Some(edge) = service {
                *edge = Some(edge_network(model, id, ports.clone()));
                plan.hosts[host.0].edges.push(id);
            }
        }
    }
    plan
}

/// Backups (an agent and its target) and volumes mounted by several services.
fn data_paths(model: &Model) -> Vec<DataPath> {
    let mut paths = Vec::new();
    for (id, _, service) in model.services() {
        if let Some(target) = service.backup_to.as_ref().and_then(|t| t.target) {
            paths.push(DataPath::Backup { agent: id, target });
        }
    }
    // A volume is its owner's: the stack itself, or the one `from=` names.
    let mut by_volume: std::collections::BTreeMap<(StackId, &str), Vec<ServiceId>> =
        Default::default();
    for (id, _, service) in model.services() {
        for volume in &service.volumes {
            let owner = match &volume.from {
                Some(from) => match from.target {
                    Some(owner) => owner,
                    None => continue,
                },
                None => id.stack,
            };
            let users = by_volume
                .entry((owner, volume.name.value.as_str()))
                .or_default();
            if !users.contains(&id) {
                users.push(id);
            }
        }
    }
    for ((_, name), services) in by_volume {
        if services.len() > 1 {
            paths.push(DataPath::Volume {
                name: name.to_string(),
                services,
            });
        }
    }
    paths.sort();
    paths
}

/// The services shared between stacks, as both sides declare them on one host;
/// what does not match is E118 and gets nothing.
fn shared_services(model: &Model, plan: &Plan) -> Vec<SharedService> {
    let mut shared = Vec::new();
    for (stack_index, stack) in model.stacks.iter().enumerate() {
        let owner_stack = StackId(stack_index);
        for share in &stack.service_shares {
            let (Some(with), Some(owner)) = (share.with.target, share.target) else {
                continue;
            };
            let host = plan.stacks[owner_stack.0].host;
            if with == owner_stack || host.is_none() || plan.stacks[with.0].host != host {
                continue;
            }
            let consumers: Vec<ServiceId> = model
                .services()
                .filter(|(id, _, service)| {
                    id.stack == with && service.reaches.iter().any(|r| r.target == Some(owner))
                })
                .map(|(id, _, _)| id)
                .collect();
            if consumers.is_empty() {
                continue;
            }
            let (stack_name, service) = (&stack.name.value, &share.service.value);
            let with_name = &model.stacks[with.0].name.value;
            let key = format!("share-{service}-{with_name}");
            shared.push(SharedService {
                owner,
                consumers,
                network: EdgeNetwork {
                    name: format!("{stack_name}_{key}"),
                    key,
                    bridge: bridge_name(&format!("share/{stack_name}/{service}/{with_name}")),
                    // Not the edge alias `<stack>-<service>`: one name, one network.
                    alias: format!("{service}.{stack_name}"),
                    ports: vec![share.port],
                },
            });
        }
    }
    shared
}

/// The edge network of a routed service. Its bridge is named from a hash of
/// stack and service: Linux allows 15 characters, and the name must be known
/// before Docker creates the network so the firewall can match it.
fn edge_network(model: &Model, id: ServiceId, ports: Vec<u16>) -> EdgeNetwork {
    let stack = &model.stacks[id.stack.0].name.value;
    let service = &model.service(id).name.value;
    let key = format!("ingress-{service}");
    EdgeNetwork {
        name: format!("{stack}_{key}"),
        key,
        bridge: bridge_name(&format!("{stack}/{service}")),
        alias: format!("{stack}-{service}"),
        ports,
    }
}

/// A bridge name of the edge prefix, from a hash of what the network joins.
fn bridge_name(seed: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(seed.as_bytes());
    let hex: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    format!("{EDGE_BRIDGE_PREFIX}{hex}")
}

fn classify(service: &Service) -> ServicePlan {
    let known = service.image.as_ref().and_then(|i| images::known(&i.value));
    let datastore = match &service.role {
        Some(role) => role.value == crate::model::Role::Datastore,
        None => known.is_some_and(|k| k.datastore),
    };
    let capabilities = if service.hardening {
        let mut capabilities: Vec<String> = known
            .map(|k| k.capabilities.clone())
            .unwrap_or_default()
            .into_iter()
            .chain(service.capabilities.iter().cloned())
            .collect();
        capabilities.sort();
        capabilities.dedup();
        capabilities
    } else {
        service.capabilities.clone()
    };
    ServicePlan {
        datastore,
        hardened: service.hardening,
        capabilities,
        routers: Vec::new(),
        edge: None,
    }
}

fn plan_host(model: &Model, plan: &Plan, host_id: HostId, host: &Host) -> HostPlan {
    let stacks: Vec<StackId> = plan
        .stacks
        .iter()
        .enumerate()
        .filter(|(_, s)| s.host == Some(host_id))
        .map(|(index, _)| StackId(index))
        .collect();
    let cert_resolver = host
        .proxy
        .as_ref()
        .and_then(|p| matches!(p.certificates, Certificates::Acme { .. }).then_some(CERT_RESOLVER));
    let routers = routers_of(model, &stacks, cert_resolver);
    let dashboard = host.dashboard();
    let middlewares: BTreeSet<MiddlewareId> = routers
        .iter()
        .flat_map(|r| r.middlewares.iter().copied())
        .chain(dashboard.and_then(|d| d.middleware.as_ref()?.target))
        .collect();
    let mut hostnames: Vec<String> = Vec::new();
    for hostname in routers
        .iter()
        .map(|r| &r.hostname)
        .chain(dashboard.map(|d| &d.hostname.value))
    {
        if !hostnames.contains(hostname) {
            hostnames.push(hostname.clone());
        }
    }
    let jobs = model
        .services()
        .filter(|(id, _, service)| stacks.contains(&id.stack) && service.schedule.is_some())
        .map(|(id, _, _)| id)
        .collect();
    HostPlan {
        deploy_order: deploy_order(model, &stacks),
        stacks,
        jobs,
        edges: Vec::new(),
        routers,
        middlewares: middlewares.into_iter().collect(),
        hostnames,
        cert_resolver,
    }
}

/// Stacks in source order, except that a stack comes after every stack whose
/// volume it mounts or whose service it reaches (an external volume or network
/// must exist first). A cycle of sharing falls back to source order for the
/// stacks in it.
fn deploy_order(model: &Model, stacks: &[StackId]) -> Vec<StackId> {
    let owners_of = |stack: StackId| -> BTreeSet<StackId> {
        model
            .stacks_used_by(stack)
            .filter(|owner| stacks.contains(owner))
            .collect()
    };
    let mut order: Vec<StackId> = Vec::new();
    while order.len() < stacks.len() {
        let ready = stacks
            .iter()
            .copied()
            .find(|s| !order.contains(s) && owners_of(*s).iter().all(|o| order.contains(o)));
        match ready {
            Some(stack) => order.push(stack),
            None => {
                order.extend(
                    stacks
                        .iter()
                        .filter(|s| !order.contains(s))
                        .copied()
                        .collect::<Vec<_>>(),
                );
            }
        }
    }
    order
}

/// Capabilities a container may keep under the baseline Pod Security Standard.
const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// The strictest Pod Security Standard every service of a stack meets:
/// `restricted` needs a numeric non-root user, no privilege escalation and no
/// capability but NET_BIND_SERVICE; `baseline` allows root and a few more
/// capabilities; anything else is `privileged`.
fn pod_security(
    model: &Model,
    plan: &Plan,
    stack: StackId,
) -> (PodSecurity, Option<(ServiceId, String)>) {
    let mut level = (PodSecurity::Restricted, None);
    for (index, service) in model.stacks[stack.0].services.iter().enumerate() {
        let id = ServiceId { stack, index };
        let facts = plan.service(id);
        let (this, why) = if !facts.hardened {
            (
                PodSecurity::Privileged,
                "has `hardening #false`".to_string(),
            )
        } else if let Some(capability) = facts
            .capabilities
            .iter()
            .find(|c| !BASELINE_CAPABILITIES.contains(&c.as_str()))
        {
            (
                PodSecurity::Privileged,
                format!("keeps the capability {capability}"),
            )
        } else if let Some(capability) =
            facts.capabilities.iter().find(|c| *c != "NET_BIND_SERVICE")
        {
            (
                PodSecurity::Baseline,
                format!("keeps the capability {capability}"),
            )
        } else if !runs_as_non_root(service) {
            (
                PodSecurity::Baseline,
                "may run as root (no numeric non-root `user`)".to_string(),
            )
        } else {
            continue;
        };
        if this > level.0 {
            level = (this, Some((id, why)));
        }
    }
    level
}

/// A numeric user other than 0, so the pod can say `runAsNonRoot`.
pub fn runs_as_non_root(service: &Service) -> bool {
    service.user.as_ref().is_some_and(|user| {
        let uid = user.value.split(':').next().unwrap_or_default();
        uid.parse::<u32>().is_ok_and(|uid| uid != 0)
    })
}

/// The routers of the routes of `stacks`, in source order. Names are unique on
/// a host or cluster: `<stack>_<service>`, then `_2`, `_3`… for further routes;
/// no DNS label contains `_`, so they never collide.
fn routers_of(
    model: &Model,
    stacks: &[StackId],
    cert_resolver: Option<&'static str>,
) -> Vec<Router> {
    let mut routers = Vec::new();
    for stack_id in stacks {
        let stack = &model.stacks[stack_id.0];
        for (index, service) in stack.services.iter().enumerate() {
            let id = ServiceId {
                stack: *stack_id,
                index,
            };
            for (position, route) in service.routes.iter().enumerate() {
                let Some(port) = route.port else { continue };
                let mut name = format!("{}_{}", stack.name.value, service.name.value);
                if position > 0 {
                    name = format!("{name}_{}", position + 1);
                }
                let mut rule = format!("Host(`{}`)", route.hostname.value);
                if let Some(prefix) = &route.path_prefix {
                    rule.push_str(&format!(" && PathPrefix(`{prefix}`)"));
                }
                routers.push(Router {
                    name,
                    service: id,
                    route: position,
                    hostname: route.hostname.value.clone(),
                    rule,
                    entrypoint: SECURE_ENTRY_POINT,
                    cert_resolver,
                    middlewares: route.middlewares.iter().filter_map(|m| m.target).collect(),
                    port,
                    scheme: match route.protocol.value {
                        RouteProtocol::Http => "http",
                        RouteProtocol::Grpc => "h2c",
                    },
                });
            }
        }
    }
    routers
}

fn plan_cluster(plan: &Plan, model: &Model, cluster: ClusterId) -> ClusterPlan {
    let stacks: Vec<StackId> = plan
        .stacks
        .iter()
        .enumerate()
        .filter(|(_, s)| s.cluster == Some(cluster))
        .map(|(index, _)| StackId(index))
        .collect();
    ClusterPlan {
        routers: routers_of(model, &stacks, None),
        stacks,
    }
}

/// The flows the tier model allows:
/// - services of one stack that are both on `internal` reach each other on any port;
/// - the proxy of a host reaches each routed service (on `ingress`) on its route ports;
/// - a service on `egress` reaches the internet;
/// - the internet reaches the proxy's entry points, and the proxy the internet.
///
/// Nothing else: not across stacks, not between services that share only
/// `ingress` or `egress`, not from a service to the proxy.
fn reachability(model: &Model, plan: &Plan) -> Reachability {
    let mut flows = Vec::new();
    for (stack_index, stack) in model.stacks.iter().enumerate() {
        let id = |index| ServiceId {
            stack: StackId(stack_index),
            index,
        };
        let internal: Vec<usize> = stack
            .services
            .iter()
            .enumerate()
            .filter(|(_, s)| s.on(Tier::Internal))
            .map(|(index, _)| index)
            .collect();
        for &a in &internal {
            for &b in internal.iter().filter(|b| **b != a) {
                flows.push(Flow {
                    from: Endpoint::Service(id(a)),
                    to: Endpoint::Service(id(b)),
                    ports: Ports::Any,
                    kind: FlowKind::Internal,
                });
            }
        }
        for (index, service) in stack.services.iter().enumerate() {
            if service.on(Tier::Egress) {
                flows.push(Flow {
                    from: Endpoint::Service(id(index)),
                    to: Endpoint::Internet,
                    ports: Ports::Any,
                    kind: FlowKind::Egress,
                });
            }
        }
    }
    for (index, host) in model.hosts.iter().enumerate() {
        if host.proxy.is_none() {
            continue;
        }
        let proxy = Endpoint::Proxy(HostId(index));
        flows.push(match host.tunnel {
            Some(_) => Flow {
                from: Endpoint::Internet,
                to: proxy,
                ports: Ports::Tcp(vec![443]),
                kind: FlowKind::Tunnel,
            },
            None => Flow {
                from: Endpoint::Internet,
                to: proxy,
                ports: Ports::Tcp(vec![80, 443]),
                kind: FlowKind::Entry,
            },
        });
        flows.push(Flow {
            from: proxy,
            to: Endpoint::Internet,
            ports: Ports::Any,
            kind: FlowKind::ProxyEgress,
        });
        let mut routed: std::collections::BTreeMap<ServiceId, BTreeSet<u16>> = Default::default();
        for router in &plan.hosts[index].routers {
            if model.service(router.service).on(Tier::Ingress) {
                routed
                    .entry(router.service)
                    .or_default()
                    .insert(router.port);
            }
        }
        // A forward-auth service is asked on its port, routed or not, over
        // the same edge network.
        let mut asked: BTreeSet<ServiceId> = BTreeSet::new();
        for middleware in &plan.hosts[index].middlewares {
            if let Some(crate::model::MiddlewareKind::ForwardAuth(auth)) =
                &model.middlewares[middleware.0].kind
                && let Some(target) = auth.service.target
                && model.service(target).on(Tier::Ingress)
                && plan.stacks[target.stack.0].host == Some(HostId(index))
            {
                routed.entry(target).or_default().insert(auth.port);
                asked.insert(target);
            }
        }
        for (service, ports) in routed {
            let has_router = plan.hosts[index]
                .routers
                .iter()
                .any(|r| r.service == service);
            flows.push(Flow {
                from: proxy,
                to: Endpoint::Service(service),
                ports: Ports::Tcp(ports.into_iter().collect()),
                kind: if has_router || !asked.contains(&service) {
                    FlowKind::Route
                } else {
                    FlowKind::ForwardAuth
                },
            });
        }
    }
    for shared in &plan.shared_services {
        for consumer in &shared.consumers {
            flows.push(Flow {
                from: Endpoint::Service(*consumer),
                to: Endpoint::Service(shared.owner),
                ports: Ports::Tcp(shared.network.ports.clone()),
                kind: FlowKind::Shared,
            });
        }
    }
    for (index, cluster_plan) in plan.clusters.iter().enumerate() {
        let controller = Endpoint::IngressController(ClusterId(index));
        if cluster_plan.routers.is_empty() {
            continue;
        }
        flows.push(Flow {
            from: Endpoint::Internet,
            to: controller,
            ports: Ports::Tcp(vec![80, 443]),
            kind: FlowKind::Entry,
        });
        let mut routed: std::collections::BTreeMap<ServiceId, BTreeSet<u16>> = Default::default();
        for router in &cluster_plan.routers {
            if model.service(router.service).on(Tier::Ingress) {
                routed
                    .entry(router.service)
                    .or_default()
                    .insert(router.port);
            }
        }
        for (service, ports) in routed {
            flows.push(Flow {
                from: controller,
                to: Endpoint::Service(service),
                ports: Ports::Tcp(ports.into_iter().collect()),
                kind: FlowKind::Route,
            });
        }
    }
    flows.sort();
    flows.dedup();
    Reachability { flows }
}
