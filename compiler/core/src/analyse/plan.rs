//! Builds the [`Plan`] from the resolved model: service classification, the
//! proxy's routers and middlewares per host, and the reachability graph. Works
//! on a model with errors too (unresolved references are skipped), so checks
//! can use it; emitters only ever see the plan of an error-free model.

use std::collections::BTreeSet;

use crate::model::{
    Certificates, Host, HostId, MiddlewareId, Model, RouteProtocol, Service, ServiceId, StackId,
    Tier,
};
use crate::plan::{
    EDGE_BRIDGE_PREFIX, EdgeNetwork, Endpoint, Flow, FlowKind, HostPlan, Plan, Ports, Reachability,
    Router, ServicePlan, StackPlan, images,
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
    plan.reachability = reachability(model, &plan);
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

/// The edge network of a routed service. Its bridge is named from a hash of
/// stack and service: Linux allows 15 characters, and the name must be known
/// before Docker creates the network so the firewall can match it.
fn edge_network(model: &Model, id: ServiceId, ports: Vec<u16>) -> EdgeNetwork {
    use sha2::{Digest, Sha256};
    let stack = &model.stacks[id.stack.0].name.value;
    let service = &model.service(id).name.value;
    let digest = Sha256::digest(format!("{stack}/{service}").as_bytes());
    let hex: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    let key = format!("ingress-{service}");
    EdgeNetwork {
        name: format!("{stack}_{key}"),
        key,
        bridge: format!("{EDGE_BRIDGE_PREFIX}{hex}"),
        alias: format!("{stack}-{service}"),
        ports,
    }
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
    let mut routers = Vec::new();
    for stack_id in &stacks {
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
    HostPlan {
        stacks,
        edges: Vec::new(),
        routers,
        middlewares: middlewares.into_iter().collect(),
        hostnames,
        cert_resolver,
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
        for (service, ports) in routed {
            flows.push(Flow {
                from: proxy,
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
