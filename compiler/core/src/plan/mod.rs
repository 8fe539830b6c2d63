//! The plan: every fact the targets need, worked out once by `analyse` from the
//! resolved model, and read by every emitter. Emitters never derive a fact
//! themselves; when two targets need the same one (which stacks a proxy fronts,
//! which middlewares a host uses, who may reach whom), it is here.
//!
//! The heart of it is the [`Reachability`] graph: the flows the tier model
//! allows. The Compose networks, the firewall's container rules and the
//! Kubernetes NetworkPolicies are all projections of it, and the tests that run
//! the artifacts compare what really connects with it.

pub mod images;
pub mod layout;

use std::collections::BTreeMap;

use crate::model::{BackupTargetId, ClusterId, HostId, MiddlewareId, ServiceId, StackId, Tier};

pub use layout::Layout;

#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub services: BTreeMap<ServiceId, ServicePlan>,
    /// Indexed like `Model::stacks`.
    pub stacks: Vec<StackPlan>,
    /// Indexed like `Model::hosts`.
    pub hosts: Vec<HostPlan>,
    /// Indexed like `Model::clusters`.
    pub clusters: Vec<ClusterPlan>,
    pub reachability: Reachability,
    /// Where data goes besides the flows: backups and shared volumes.
    pub data_paths: Vec<DataPath>,
    /// Services that services of another stack of their host reach.
    pub shared_services: Vec<SharedService>,
}

/// A service shared with another stack of its host (`share-service`, and
/// `reach` on the other side): a network of the pair, joined by the service
/// and the services that reach it, crossed only on the shared port.
#[derive(Clone, Debug)]
pub struct SharedService {
    pub owner: ServiceId,
    pub consumers: Vec<ServiceId>,
    /// Key `share-<service>-<stack>`, alias `<service>.<owner stack>`, the one port.
    pub network: EdgeNetwork,
}

/// A path data takes that is not a network flow of its own: `infrac graph`
/// draws it dashed next to the flows.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DataPath {
    /// A backup agent ships data to a backup target, over its `egress` flow.
    Backup {
        agent: ServiceId,
        target: BackupTargetId,
    },
    /// Services that mount the same named volume (its stack's, or another
    /// stack's that shares it), in source order.
    Volume {
        name: String,
        services: Vec<ServiceId>,
    },
}

impl Plan {
    pub fn service(&self, id: ServiceId) -> &ServicePlan {
        &self.services[&id]
    }

    pub fn stack(&self, id: StackId) -> &StackPlan {
        &self.stacks[id.0]
    }

    pub fn host(&self, id: HostId) -> &HostPlan {
        &self.hosts[id.0]
    }

    pub fn cluster(&self, id: ClusterId) -> &ClusterPlan {
        &self.clusters[id.0]
    }
}

/// What a service is, as far as targets care.
#[derive(Clone, Debug, Default)]
pub struct ServicePlan {
    /// A datastore lives on `internal` only (by `role`, or by a well-known image).
    pub datastore: bool,
    /// Hardened: no new privileges, every capability dropped but `capabilities`.
    pub hardened: bool,
    /// Capabilities the container keeps: what its image's entrypoint needs
    /// (when hardened) and what the source adds, sorted, without `CAP_`.
    pub capabilities: Vec<String>,
    /// The service's routers, in the order of its `route` nodes.
    pub routers: Vec<Router>,
    /// How the proxy reaches a routed service on a Docker host.
    pub edge: Option<EdgeNetwork>,
}

/// The network that carries a routed service's `Route` flows on a Docker host:
/// only the proxy and that service are on it, and the host's firewall lets new
/// connections across it only to the route ports.
#[derive(Clone, Debug, PartialEq)]
pub struct EdgeNetwork {
    /// The network's key in the stack's compose file: `ingress-<service>`.
    pub key: String,
    /// Its Docker name: `<stack>_ingress-<service>`.
    pub name: String,
    /// The Linux bridge's name (at most 15 characters), which the firewall matches.
    pub bridge: String,
    /// The DNS name the proxy uses for the service: `<stack>-<service>`.
    pub alias: String,
    /// The route ports, sorted.
    pub ports: Vec<u16>,
}

/// One route as the proxy serves it.
#[derive(Clone, Debug)]
pub struct Router {
    /// Unique on the host: `<stack>_<service>`, then `_2`, `_3`… for further routes.
    pub name: String,
    pub service: ServiceId,
    /// The index of the `route` node in its service.
    pub route: usize,
    pub hostname: String,
    /// The proxy's routing rule, e.g. ``Host(`a.example`) && PathPrefix(`/api`)``.
    pub rule: String,
    pub entrypoint: &'static str,
    /// The certificate resolver, when certificates come from ACME.
    pub cert_resolver: Option<&'static str>,
    pub middlewares: Vec<MiddlewareId>,
    pub port: u16,
    /// How the proxy speaks to the service: `http` or `h2c`.
    pub scheme: &'static str,
}

/// The strictest Pod Security Standard a cluster stack's workloads meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PodSecurity {
    Restricted,
    Baseline,
    Privileged,
}

impl PodSecurity {
    pub fn as_str(self) -> &'static str {
        match self {
            PodSecurity::Restricted => "restricted",
            PodSecurity::Baseline => "baseline",
            PodSecurity::Privileged => "privileged",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct StackPlan {
    pub host: Option<HostId>,
    pub cluster: Option<ClusterId>,
    /// On a cluster: the namespace's level, and why it is not `restricted`
    /// (the first service that keeps it from being so).
    pub pod_security: Option<(PodSecurity, Option<(ServiceId, String)>)>,
    /// The tiers some service of the stack joins, in tier order.
    pub tiers: Vec<Tier>,
}

/// The ports Traefik listens on inside its container. They are above 1024, so
/// Traefik needs no capability, and no route may use them, so a service on an
/// edge network can never reach the proxy.
pub const PROXY_HTTP_PORT: u16 = 10080;
pub const PROXY_HTTPS_PORT: u16 = 10443;
/// The ping entry point, bound to the container's loopback for its healthcheck.
pub const PROXY_PING_PORT: u16 = 10082;
pub const PROXY_PORTS: [u16; 3] = [PROXY_HTTP_PORT, PROXY_HTTPS_PORT, PROXY_PING_PORT];

/// Every edge network's bridge name starts with this (a hash follows).
pub const EDGE_BRIDGE_PREFIX: &str = "infr-";

#[derive(Clone, Debug, Default)]
pub struct HostPlan {
    /// The stacks that run on the host, in source order.
    pub stacks: Vec<StackId>,
    /// The same stacks in the order a deploy brings them up: a stack whose
    /// volume another mounts (`share`) before that one.
    pub deploy_order: Vec<StackId>,
    /// The routed services of the host's stacks, whose edge networks the proxy joins.
    pub edges: Vec<ServiceId>,
    /// The jobs of the host's stacks, each run by a systemd timer.
    pub jobs: Vec<ServiceId>,
    /// Every router the proxy serves, in source order.
    pub routers: Vec<Router>,
    /// The middlewares the host's routes and dashboard use, in declaration order.
    pub middlewares: Vec<MiddlewareId>,
    /// Every hostname the proxy serves, once, in source order (routes, then the dashboard).
    pub hostnames: Vec<String>,
    /// The certificate resolver every router names, when certificates come from ACME.
    pub cert_resolver: Option<&'static str>,
}

#[derive(Clone, Debug, Default)]
pub struct ClusterPlan {
    /// The stacks on the cluster, one namespace each, in source order.
    pub stacks: Vec<StackId>,
    /// One Ingress rule each, served by the cluster's ingress controller.
    pub routers: Vec<Router>,
}

/// Who may open connections to whom under the tier model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reachability {
    /// Sorted, without duplicates.
    pub flows: Vec<Flow>,
}

/// One allowed flow: `from` may open connections to `to` on `ports`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Flow {
    pub from: Endpoint,
    pub to: Endpoint,
    pub ports: Ports,
    pub kind: FlowKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// Anything outside the host or cluster.
    Internet,
    /// The reverse proxy of a host: the only thing with published ports.
    Proxy(HostId),
    /// The ingress controller of a cluster, which serves its routes.
    IngressController(ClusterId),
    Service(ServiceId),
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ports {
    Any,
    /// TCP ports, sorted.
    Tcp(Vec<u16>),
}

impl Ports {
    pub fn allows(&self, port: u16) -> bool {
        match self {
            Ports::Any => true,
            Ports::Tcp(ports) => ports.contains(&port),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Ports::Any => "any port".to_string(),
            Ports::Tcp(ports) => ports
                .iter()
                .map(|p| format!("tcp/{p}"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// Why a flow exists: the tier (or the edge) that allows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FlowKind {
    /// Services of one stack on `internal` reach each other on any port.
    Internal,
    /// The proxy reaches a routed service on its route ports (`ingress`).
    Route,
    /// A service of another stack reaches a shared service on its port.
    Shared,
    /// The proxy asks a service that is not routed whether to admit a request
    /// (a `forward-auth` middleware), on its port (`ingress`).
    ForwardAuth,
    /// A service on `egress` opens connections to the internet.
    Egress,
    /// Clients reach the proxy's published entry points.
    Entry,
    /// Clients reach the proxy through a Cloudflare Tunnel (no published port).
    Tunnel,
    /// The proxy itself reaches the internet (certificates, the tunnel's edge).
    ProxyEgress,
}

impl FlowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowKind::Internal => "internal",
            FlowKind::Route => "route",
            FlowKind::ForwardAuth => "forward-auth",
            FlowKind::Shared => "shared",
            FlowKind::Egress => "egress",
            FlowKind::Entry => "entry",
            FlowKind::Tunnel => "tunnel",
            FlowKind::ProxyEgress => "proxy-egress",
        }
    }
}

impl Reachability {
    /// The flow from `from` to `to`, if the model allows one.
    pub fn flow(&self, from: Endpoint, to: Endpoint) -> Option<&Flow> {
        self.flows.iter().find(|f| f.from == from && f.to == to)
    }

    /// Whether `from` may open a connection to `to` on `port`.
    pub fn allows(&self, from: Endpoint, to: Endpoint, port: u16) -> bool {
        self.flows
            .iter()
            .any(|f| f.from == from && f.to == to && f.ports.allows(port))
    }
}
