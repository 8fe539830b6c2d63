//! The typed model that lowering builds and later stages read. Every value keeps
//! its span. A reference holds a name until `resolve` fills in its target.
//! Values that failed their type check are `None`: the error was already reported.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::source::{Span, Spanned};
use crate::values::{Duration, ImageRef};

/// The language's enumerations, generated from the schema.
pub use crate::schema::keys::{
    AcmeChallenge, Os, Protocol, RestartPolicy, Role, RouteProtocol, Tier,
};

/// A name that refers to a declaration of another node; `target` is set by `resolve`.
#[derive(Clone, Debug, PartialEq)]
pub struct Reference<Id> {
    pub name: Spanned<String>,
    pub target: Option<Id>,
}

impl<Id> Reference<Id> {
    pub fn new(name: Spanned<String>) -> Self {
        Reference { name, target: None }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostId(pub usize);
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretId(pub usize);
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StackId(pub usize);
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CidrSetId(pub usize);
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MiddlewareId(pub usize);
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClusterId(pub usize);
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BackupTargetId(pub usize);
macro_rules! list_index {
    ($($id:ident),*) => {$(
        /// The id's index in its list of the model.
        impl From<$id> for usize {
            fn from(id: $id) -> usize {
                id.0
            }
        }
    )*};
}
list_index!(
    HostId,
    SecretId,
    StackId,
    CidrSetId,
    MiddlewareId,
    ClusterId,
    BackupTargetId
);

/// A service is addressed by its stack and its index in that stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceId {
    pub stack: StackId,
    pub index: usize,
}

#[derive(Clone, Debug, Default)]
pub struct Model {
    pub project: Option<Project>,
    pub secrets: Vec<Secret>,
    pub cidr_sets: Vec<CidrSet>,
    pub middlewares: Vec<Middleware>,
    pub registries: Vec<Registry>,
    pub backup_targets: Vec<BackupTarget>,
    pub hosts: Vec<Host>,
    pub clusters: Vec<Cluster>,
    pub stacks: Vec<Stack>,
    pub gitops: Option<Gitops>,
}

impl Model {
    /// The other stacks whose volume a stack mounts or whose service it reaches:
    /// they must be up before it.
    pub fn stacks_used_by(&self, stack: StackId) -> impl Iterator<Item = StackId> + '_ {
        let services = &self.stacks[stack.0].services;
        services
            .iter()
            .flat_map(|s| s.volumes.iter().filter_map(|v| v.from.as_ref()?.target))
            .chain(
                services
                    .iter()
                    .flat_map(|s| s.reaches.iter().filter_map(|r| r.stack.target)),
            )
            .filter(move |owner| *owner != stack)
    }

    pub fn service(&self, id: ServiceId) -> &Service {
        &self.stacks[id.stack.0].services[id.index]
    }

    /// The stacks that run on a host, in source order.
    pub fn stacks_on(&self, host: HostId) -> impl Iterator<Item = &Stack> {
        self.stacks
            .iter()
            .filter(move |s| s.host.as_ref().and_then(|h| h.target) == Some(host))
    }

    /// The cluster a stack runs on, once resolved.
    pub fn cluster_of(&self, stack: &Stack) -> Option<&Cluster> {
        stack
            .cluster
            .as_ref()
            .and_then(|c| c.target)
            .map(|id| &self.clusters[id.0])
    }

    /// The host a stack runs on, once resolved.
    pub fn host_of(&self, stack: &Stack) -> Option<&Host> {
        stack
            .host
            .as_ref()
            .and_then(|h| h.target)
            .map(|id| &self.hosts[id.0])
    }

    /// The networks a source stands for; `None` when it is invalid or names no
    /// set (already reported), so checks do not pile follow-up errors on it.
    pub fn networks_of(&self, source: &AddressSource) -> Option<Vec<IpNet>> {
        match source {
            AddressSource::Cidr(net) => Some(vec![net.value]),
            AddressSource::Set(set) => set
                .target
                .map(|id| self.cidr_sets[id.0].cidrs.iter().map(|c| c.value).collect()),
            AddressSource::Invalid(_) => None,
        }
    }

    pub fn services(&self) -> impl Iterator<Item = (ServiceId, &Stack, &Service)> {
        self.stacks.iter().enumerate().flat_map(|(s, stack)| {
            stack
                .services
                .iter()
                .enumerate()
                .map(move |(index, service)| {
                    (
                        ServiceId {
                            stack: StackId(s),
                            index,
                        },
                        stack,
                        service,
                    )
                })
        })
    }
}

#[derive(Clone, Debug)]
pub struct Project {
    pub name: Spanned<String>,
    pub domains: Vec<Spanned<String>>,
}

#[derive(Clone, Debug)]
pub struct Secret {
    pub name: Spanned<String>,
    pub env: Option<Spanned<String>>,
}

impl Secret {
    /// The environment variable that carries the secret's value.
    pub fn variable(&self) -> String {
        match &self.env {
            Some(env) => env.value.clone(),
            None => self.name.value.to_ascii_uppercase().replace('-', "_"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct CidrSet {
    pub name: Spanned<String>,
    pub cidrs: Vec<Spanned<IpNet>>,
}

/// Where traffic may come from: a network written in place, or a `cidr-set`.
#[derive(Clone, Debug)]
pub enum AddressSource {
    Cidr(Spanned<IpNet>),
    Set(Reference<CidrSetId>),
    /// A value that failed its type check.
    Invalid(Span),
}

impl AddressSource {
    pub fn span(&self) -> Span {
        match self {
            AddressSource::Cidr(net) => net.span,
            AddressSource::Set(set) => set.name.span,
            AddressSource::Invalid(span) => *span,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Host {
    pub name: Spanned<String>,
    /// `None` only when it was not written or invalid (reported).
    pub os: Option<Os>,
    pub addresses: Vec<Spanned<IpAddr>>,
    pub interface: Option<String>,
    pub ssh: Ssh,
    pub firewall: Firewall,
    pub users: Vec<User>,
    pub packages: Vec<String>,
    pub address_pools: Vec<AddressPool>,
    pub proxy: Option<Proxy>,
    pub tunnel: Option<Tunnel>,
}

impl Host {
    /// The proxy's dashboard, when it is enabled.
    pub fn dashboard(&self) -> Option<&Dashboard> {
        self.proxy.as_ref()?.dashboard.as_ref()
    }

    pub fn has_ipv6(&self) -> bool {
        self.addresses.iter().any(|a| a.value.is_ipv6())
    }
}

/// SSH access. `span` is the `ssh` node, or the host's name when the node is absent.
#[derive(Clone, Debug)]
pub struct Ssh {
    pub port: u16,
    /// `None`: from anywhere.
    pub allow_from: Option<AddressSource>,
    /// Networks whose connections skip the rate limit.
    pub management: Option<AddressSource>,
    pub declared: bool,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortMatch {
    pub protocol: Protocol,
    pub port: u16,
}

#[derive(Clone, Debug)]
pub struct Firewall {
    pub allows: Vec<Allow>,
    /// Ports containers may not connect to; the default (SMTP) is already filled in.
    pub deny_egress: Vec<PortMatch>,
}

#[derive(Clone, Debug)]
pub struct Allow {
    pub protocol: Protocol,
    /// `None`: every port of the protocol.
    pub port: Option<u16>,
    /// `None`: from anywhere.
    pub from: Option<AddressSource>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct User {
    pub name: Spanned<String>,
    pub ssh_key: String,
    pub sudo: bool,
    pub docker: bool,
}

/// A private registry the deploys log in to.
/// An S3-compatible bucket that backup agents ship to.
#[derive(Clone, Debug)]
pub struct BackupTarget {
    pub name: Spanned<String>,
    /// Host and optional port.
    pub endpoint: String,
    /// `https` or `http`.
    pub scheme: String,
    pub bucket: String,
    pub region: String,
    pub access_key: Reference<SecretId>,
    pub secret_key: Reference<SecretId>,
}

#[derive(Clone, Debug)]
pub struct Registry {
    pub host: Spanned<String>,
    pub username: String,
    pub password: Reference<SecretId>,
}

#[derive(Clone, Debug)]
pub struct AddressPool {
    pub base: Spanned<IpNet>,
    pub size: u8,
}

#[derive(Clone, Debug)]
pub struct Proxy {
    pub image: Option<Spanned<ImageRef>>,
    pub span: Span,
    pub certificates: Certificates,
    pub access_log: Option<AccessLog>,
    /// Present when the dashboard is enabled.
    pub dashboard: Option<Dashboard>,
}

#[derive(Clone, Debug)]
pub enum Certificates {
    /// Traefik's own self-signed certificate.
    SelfSigned,
    /// A Cloudflare Origin CA certificate placed on the host.
    CloudflareOrigin { cert: String, key: String },
    Acme {
        email: String,
        challenge: AcmeChallenge,
        span: Span,
    },
}

#[derive(Clone, Debug)]
pub struct AccessLog {
    pub status: Option<String>,
    /// A directory of the host the log file is written to, instead of stdout.
    pub directory: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Dashboard {
    pub hostname: Spanned<String>,
    pub middleware: Option<Reference<MiddlewareId>>,
}

/// A Cloudflare Tunnel in front of the host.
#[derive(Clone, Debug)]
pub struct Tunnel {
    pub id: String,
    pub credentials: String,
    pub zone: Option<Spanned<String>>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Middleware {
    pub name: Spanned<String>,
    /// `None` when the node declared no kind or several (already reported).
    pub kind: Option<MiddlewareKind>,
}

#[derive(Clone, Debug)]
pub enum MiddlewareKind {
    Headers(Headers),
    RateLimit { average: u64, burst: Option<u64> },
    IpAllow(Vec<IpNet>),
    BasicAuth(Reference<SecretId>),
    ForwardAuth(ForwardAuth),
}

/// A service the proxy asks whether to admit each request.
#[derive(Clone, Debug)]
pub struct ForwardAuth {
    pub service: ServiceRef,
    pub port: u16,
    pub path: String,
    pub response_headers: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Headers {
    pub hsts_seconds: Option<u64>,
    pub hsts_include_subdomains: bool,
    pub frame_deny: bool,
    pub content_type_nosniff: bool,
    pub referrer_policy: Option<String>,
    pub content_security_policy: Option<String>,
}

/// A Kubernetes cluster that runs stacks, one namespace each.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub name: Spanned<String>,
    /// The minor release, e.g. 31 for `1.31`.
    pub kubernetes: Option<String>,
    pub ingress_class: Option<String>,
    pub ingress_namespace: Option<String>,
    /// `key=value`.
    pub ingress_selector: Option<(String, String)>,
    pub dns_namespace: Option<String>,
    pub dns_selector: Option<(String, String)>,
    pub runtime_class: Option<String>,
    pub cert_issuer: Option<String>,
    pub storage_class: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Stack {
    pub name: Spanned<String>,
    pub host: Option<Reference<HostId>>,
    pub cluster: Option<Reference<ClusterId>>,
    /// Volumes this stack lets other stacks mount.
    pub shares: Vec<VolumeShare>,
    /// Services this stack lets services of other stacks reach.
    pub service_shares: Vec<ServiceShare>,
    pub services: Vec<Service>,
}

#[derive(Clone, Debug)]
pub struct Service {
    pub name: Spanned<String>,
    /// The whole `service` node, for diagnostics about the service as such.
    pub span: Span,
    pub image: Option<Spanned<ImageRef>>,
    /// `None` when the service has no `networks` node, or one with a value
    /// that is not a tier (both reported).
    pub networks: Option<Vec<Spanned<Tier>>>,
    pub role: Option<Spanned<Role>>,
    pub routes: Vec<Route>,
    /// Published port mappings (always an error, E102).
    pub ports: Vec<Spanned<String>>,
    /// Ports the service listens on for its stack (`port` nodes).
    pub listens: Vec<u16>,
    /// `None`: not written (one).
    pub replicas: Option<Spanned<u64>>,
    pub env: Vec<EnvVar>,
    pub depends_on: Vec<Reference<ServiceId>>,
    /// Services of other stacks it reaches (`reach`).
    pub reaches: Vec<ServiceRef>,
    /// Set for a `job`: when it runs. A job is a service that is not kept running.
    pub schedule: Option<Schedule>,
    /// The backup target the service ships to, when it is a backup agent.
    pub backup_to: Option<Reference<BackupTargetId>>,
    pub healthcheck: Option<Healthcheck>,
    pub resources: Option<Resources>,
    pub volumes: Vec<VolumeMount>,
    pub files: Vec<ConfigFile>,
    pub binds: Vec<BindMount>,
    pub command: Option<Vec<String>>,
    pub user: Option<Spanned<String>>,
    pub labels: Vec<(Spanned<String>, String)>,
    /// `None` only when the written policy was invalid (reported).
    pub restart: Option<RestartPolicy>,
    /// Without the `CAP_` prefix.
    pub capabilities: Vec<String>,
    pub hardening: bool,
}

impl Service {
    pub fn tiers(&self) -> impl Iterator<Item = Tier> + '_ {
        self.networks.iter().flatten().map(|t| t.value)
    }

    pub fn on(&self, tier: Tier) -> bool {
        self.tiers().any(|t| t == tier)
    }
}

/// When a job runs.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// As written (cron), for a cluster's CronJob.
    pub cron: String,
    /// The same as systemd calendar events, for a host's timer.
    pub calendars: Vec<String>,
    pub timeout: Option<Duration>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Route {
    pub hostname: Spanned<String>,
    pub port: Option<u16>,
    pub path_prefix: Option<String>,
    pub protocol: Spanned<RouteProtocol>,
    pub middlewares: Vec<Reference<MiddlewareId>>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum EnvValue {
    Literal(String),
    /// A value with `{{secret:NAME}}` parts.
    Template(Vec<TextPart>),
    Secret(Reference<SecretId>),
}

impl EnvValue {
    /// The secrets the value reads.
    pub fn secrets(&self) -> Vec<&Reference<SecretId>> {
        match self {
            EnvValue::Literal(_) => Vec::new(),
            EnvValue::Secret(secret) => vec![secret],
            EnvValue::Template(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    TextPart::Secret(secret) => Some(secret),
                    TextPart::Text(_) => None,
                })
                .collect(),
        }
    }

    pub fn secrets_mut(&mut self) -> Vec<&mut Reference<SecretId>> {
        match self {
            EnvValue::Literal(_) => Vec::new(),
            EnvValue::Secret(secret) => vec![secret],
            EnvValue::Template(parts) => parts
                .iter_mut()
                .filter_map(|p| match p {
                    TextPart::Secret(secret) => Some(secret),
                    TextPart::Text(_) => None,
                })
                .collect(),
        }
    }
}

/// A piece of a templated value: text, or a secret's value.
#[derive(Clone, Debug)]
pub enum TextPart {
    Text(String),
    Secret(Reference<SecretId>),
}

/// What a variable that reads a secret gets when the secret is not set.
#[derive(Clone, Debug, PartialEq)]
pub enum IfUnset {
    /// The container does not start.
    Refuse,
    /// An empty value.
    Empty,
    Default(String),
}

#[derive(Clone, Debug)]
pub struct EnvVar {
    pub name: Spanned<String>,
    pub value: EnvValue,
    /// For a secret: what happens when it is not set.
    pub if_unset: IfUnset,
    /// The value's span (the literal or the `secret=` entry).
    pub value_span: Span,
}

#[derive(Clone, Debug)]
pub struct Healthcheck {
    pub command: String,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub retries: Option<u64>,
    pub start_period: Option<Duration>,
}

#[derive(Clone, Debug)]
pub struct Resources {
    pub cpus: Option<f64>,
    /// Bytes.
    pub memory: Option<u64>,
}

/// `share "<volume>" with="<stack>"`.
#[derive(Clone, Debug)]
pub struct VolumeShare {
    pub volume: Spanned<String>,
    pub with: Reference<StackId>,
}

/// `share-service`: a service of this stack that another stack may reach on one port.
#[derive(Clone, Debug)]
pub struct ServiceShare {
    pub service: Spanned<String>,
    /// The service, bound by `resolve` in the sharing stack.
    pub target: Option<ServiceId>,
    pub with: Reference<StackId>,
    pub port: u16,
}

/// A service named with its stack (`service=` and `stack=`, `reach … from=`).
#[derive(Clone, Debug)]
pub struct ServiceRef {
    pub stack: Reference<StackId>,
    pub name: Spanned<String>,
    /// Bound by `resolve` once `stack` is.
    pub target: Option<ServiceId>,
}

#[derive(Clone, Debug)]
pub struct VolumeMount {
    pub name: Spanned<String>,
    /// The stack whose volume this is, when it is not the service's own.
    pub from: Option<Reference<StackId>>,
    pub path: String,
    pub read_only: bool,
    /// Bytes, for a cluster's claim.
    pub size: Option<u64>,
}

/// A configuration file shipped with the artifacts.
#[derive(Clone, Debug)]
pub struct ConfigFile {
    /// Where the container sees it.
    pub path: String,
    /// As written, relative to the declaring source file; `None` when the
    /// text is written in place (`content=`).
    pub source: Option<Spanned<String>>,
    /// The text, once read (`None` when it could not be, reported).
    pub content: Option<String>,
}

#[derive(Clone, Debug)]
pub struct BindMount {
    pub source: String,
    pub path: String,
    pub read_only: bool,
    pub span: Span,
}

/// Workflows for a GitHub repository holding the sources.
#[derive(Clone, Debug)]
pub struct Gitops {
    /// Where the workflows build infrac from; `None` when missing (reported).
    pub infrac: Option<InfracSource>,
    pub branch: String,
    pub deploys: Vec<Deploy>,
    pub review: Option<Review>,
    pub actions: Vec<ActionPin>,
}

#[derive(Clone, Debug)]
pub struct InfracSource {
    pub git: String,
    pub rev: String,
}

#[derive(Clone, Debug)]
pub struct Deploy {
    pub host: Reference<HostId>,
    pub ssh_user: Spanned<String>,
    pub path: String,
    pub environment: Option<String>,
    pub runs_on: String,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Review {
    pub comment: bool,
    pub against: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ActionPin {
    pub name: String,
    pub sha: String,
    pub version: Option<String>,
}
