//! Traefik's own configuration. In: a host with a `proxy` and its plan. Out:
//! `hosts/<host>/proxy/traefik.yml` (static: entry points, the file provider,
//! certificate resolvers, access log) and `hosts/<host>/proxy/dynamic/*.yml`
//! (TLS options and certificates, the routers and their servers, middlewares,
//! the dashboard's router). Traefik has no Docker provider and no socket.

use indexmap::IndexMap;
use serde::Serialize;

use super::compose_file::{GENERATED_HEADER, to_yaml};
use crate::analyse::plan::{CERT_RESOLVER, SECURE_ENTRY_POINT};
use crate::model::{AcmeChallenge, Certificates, Headers, Host, MiddlewareKind, Model, Proxy};
use crate::plan::{HostPlan, PROXY_HTTP_PORT, PROXY_HTTPS_PORT, PROXY_PING_PORT, Plan};

/// Where the compose file mounts what this module writes.
pub const STATIC_CONFIG_PATH: &str = "/etc/traefik/traefik.yml";
pub const DYNAMIC_DIR: &str = "/etc/traefik/dynamic";
/// Where the proxy writes `access.log` when the host names a directory for it.
pub const ACCESS_LOG_DIR: &str = "/var/log/traefik";
pub const ACME_STORAGE_DIR: &str = "/letsencrypt";
pub const CERT_FILE: &str = "/certs/origin.pem";
pub const KEY_FILE: &str = "/certs/origin.key";

/// Forward secrecy and AEAD only (TLS 1.2); TLS 1.3 suites are not configurable.
const CIPHER_SUITES: [&str; 6] = [
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
];

/// Behind a tunnel only cloudflared, in Traefik's own network namespace,
/// connects from loopback: its `X-Forwarded-For` is trusted, nobody else's.
const TUNNEL_TRUSTED_IPS: [&str; 2] = ["127.0.0.1/32", "::1/128"];
const PING_ENTRY_POINT: &str = "ping";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StaticConfig {
    global: Global,
    log: Log,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_log: Option<AccessLogConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api: Option<Api>,
    ping: Ping,
    entry_points: IndexMap<&'static str, EntryPoint>,
    providers: Providers,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    certificates_resolvers: IndexMap<&'static str, Resolver>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Global {
    check_new_version: bool,
    send_anonymous_usage: bool,
}

#[derive(Serialize)]
struct Log {
    level: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccessLogConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    file_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    filters: Option<AccessLogFilters>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccessLogFilters {
    status_codes: Vec<String>,
}

#[derive(Serialize)]
struct Api {
    dashboard: bool,
}

#[derive(Serialize, Default)]
struct Empty {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Ping {
    entry_point: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EntryPoint {
    address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    http: Option<EntryPointHttp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    forwarded_headers: Option<ForwardedHeaders>,
}

#[derive(Serialize)]
struct EntryPointHttp {
    redirections: Redirections,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Redirections {
    entry_point: RedirectEntryPoint,
}

#[derive(Serialize)]
struct RedirectEntryPoint {
    to: &'static str,
    scheme: &'static str,
    permanent: bool,
}

#[derive(Serialize)]
struct ForwardedHeaders {
    #[serde(rename = "trustedIPs")]
    trusted_ips: Vec<&'static str>,
}

#[derive(Serialize)]
struct Providers {
    file: FileProvider,
}

#[derive(Serialize)]
struct FileProvider {
    directory: &'static str,
    watch: bool,
}

#[derive(Serialize)]
struct Resolver {
    acme: Acme,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Acme {
    email: String,
    storage: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_challenge: Option<HttpChallenge>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_challenge: Option<Empty>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HttpChallenge {
    entry_point: &'static str,
}

/// The static configuration, read once when Traefik starts.
pub fn static_config(host: &Host, proxy: &Proxy) -> String {
    let mut entry_points = IndexMap::new();
    entry_points.insert(
        "web",
        EntryPoint {
            address: format!(":{PROXY_HTTP_PORT}"),
            http: Some(EntryPointHttp {
                redirections: Redirections {
                    entry_point: RedirectEntryPoint {
                        to: SECURE_ENTRY_POINT,
                        scheme: "https",
                        permanent: true,
                    },
                },
            }),
            forwarded_headers: None,
        },
    );
    entry_points.insert(
        SECURE_ENTRY_POINT,
        EntryPoint {
            address: format!(":{PROXY_HTTPS_PORT}"),
            http: None,
            forwarded_headers: host.tunnel.as_ref().map(|_| ForwardedHeaders {
                trusted_ips: TUNNEL_TRUSTED_IPS.to_vec(),
            }),
        },
    );
    entry_points.insert(
        PING_ENTRY_POINT,
        EntryPoint {
            address: format!("127.0.0.1:{PROXY_PING_PORT}"),
            http: None,
            forwarded_headers: None,
        },
    );
    let mut certificates_resolvers = IndexMap::new();
    if let Certificates::Acme {
        email, challenge, ..
    } = &proxy.certificates
    {
        certificates_resolvers.insert(
            CERT_RESOLVER,
            Resolver {
                acme: Acme {
                    email: email.clone(),
                    storage: format!("{ACME_STORAGE_DIR}/acme.json"),
                    http_challenge: (*challenge == AcmeChallenge::Http)
                        .then_some(HttpChallenge { entry_point: "web" }),
                    tls_challenge: (*challenge == AcmeChallenge::Tls).then(Empty::default),
                },
            },
        );
    }
    let config = StaticConfig {
        global: Global {
            check_new_version: false,
            send_anonymous_usage: false,
        },
        log: Log { level: "INFO" },
        access_log: proxy.access_log.as_ref().map(|log| AccessLogConfig {
            file_path: log
                .directory
                .as_ref()
                .map(|_| format!("{ACCESS_LOG_DIR}/access.log")),
            filters: log.status.as_ref().map(|status| AccessLogFilters {
                status_codes: vec![status.clone()],
            }),
        }),
        api: proxy.dashboard.as_ref().map(|_| Api { dashboard: true }),
        ping: Ping {
            entry_point: PING_ENTRY_POINT,
        },
        entry_points,
        providers: Providers {
            file: FileProvider {
                directory: DYNAMIC_DIR,
                watch: true,
            },
        },
        certificates_resolvers,
    };
    format!("{GENERATED_HEADER}{}", to_yaml(&config))
}

#[derive(Serialize)]
struct TlsFile {
    tls: Tls,
}

#[derive(Serialize)]
struct Tls {
    options: IndexMap<&'static str, TlsOptions>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    certificates: Vec<Certificate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stores: Option<IndexMap<&'static str, TlsStore>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TlsOptions {
    min_version: &'static str,
    cipher_suites: Vec<&'static str>,
    sni_strict: bool,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Certificate {
    cert_file: &'static str,
    key_file: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TlsStore {
    default_certificate: Certificate,
}

/// TLS options (TLS 1.2 at least, modern ciphers) and, for a Cloudflare Origin
/// certificate, the certificate as the default of every router.
pub fn tls_config(proxy: &Proxy) -> String {
    let origin = matches!(proxy.certificates, Certificates::CloudflareOrigin { .. }).then_some(
        Certificate {
            cert_file: CERT_FILE,
            key_file: KEY_FILE,
        },
    );
    let file = TlsFile {
        tls: Tls {
            options: IndexMap::from([(
                "default",
                TlsOptions {
                    min_version: "VersionTLS12",
                    cipher_suites: CIPHER_SUITES.to_vec(),
                    sni_strict: true,
                },
            )]),
            certificates: origin.iter().cloned().collect(),
            stores: origin.map(|certificate| {
                IndexMap::from([(
                    "default",
                    TlsStore {
                        default_certificate: certificate,
                    },
                )])
            }),
        },
    };
    format!("{GENERATED_HEADER}{}", to_yaml(&file))
}

#[derive(Serialize)]
struct RoutesFile {
    http: Routes,
}

#[derive(Serialize)]
struct Routes {
    routers: IndexMap<String, Router>,
    services: IndexMap<String, LoadBalancedService>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoadBalancedService {
    load_balancer: LoadBalancer,
}

#[derive(Serialize)]
struct LoadBalancer {
    servers: Vec<Server>,
}

#[derive(Serialize)]
struct Server {
    url: String,
}

/// The routers of the host's routes and their services: each server is the
/// routed service's alias on its edge network. `None` without routes.
pub fn routes_config(model: &Model, plan: &Plan, facts: &HostPlan) -> Option<String> {
    if facts.routers.is_empty() {
        return None;
    }
    let mut routers = IndexMap::new();
    let mut services = IndexMap::new();
    for router in &facts.routers {
        let Some(edge) = &plan.service(router.service).edge else {
            continue;
        };
        routers.insert(
            router.name.clone(),
            Router {
                rule: router.rule.clone(),
                entry_points: vec![router.entrypoint],
                service: router.name.clone(),
                middlewares: router
                    .middlewares
                    .iter()
                    .map(|m| model.middlewares[m.0].name.value.clone())
                    .collect(),
                tls: RouterTls {
                    cert_resolver: router.cert_resolver,
                },
            },
        );
        services.insert(
            router.name.clone(),
            LoadBalancedService {
                load_balancer: LoadBalancer {
                    servers: vec![Server {
                        url: format!("{}://{}:{}", router.scheme, edge.alias, router.port),
                    }],
                },
            },
        );
    }
    let file = RoutesFile {
        http: Routes { routers, services },
    };
    Some(format!("{GENERATED_HEADER}{}", to_yaml(&file)))
}

#[derive(Serialize)]
struct HttpFile {
    http: Http,
}

#[derive(Serialize)]
struct Http {
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    routers: IndexMap<String, Router>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    middlewares: IndexMap<String, MiddlewareConfig>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Router {
    rule: String,
    entry_points: Vec<&'static str>,
    service: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    middlewares: Vec<String>,
    tls: RouterTls,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RouterTls {
    #[serde(skip_serializing_if = "Option::is_none")]
    cert_resolver: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum MiddlewareConfig {
    Headers(HeadersConfig),
    RateLimit(RateLimitConfig),
    IpAllowList(IpAllowListConfig),
    BasicAuth(BasicAuthConfig),
    ForwardAuth(ForwardAuthConfig),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HeadersConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    sts_seconds: Option<u64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    sts_include_subdomains: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    frame_deny: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    content_type_nosniff: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    referrer_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_security_policy: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RateLimitConfig {
    average: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    burst: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_criterion: Option<SourceCriterion>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SourceCriterion {
    ip_strategy: IpStrategy,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IpAllowListConfig {
    source_range: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip_strategy: Option<IpStrategy>,
}

#[derive(Serialize)]
struct IpStrategy {
    depth: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BasicAuthConfig {
    users_file: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ForwardAuthConfig {
    address: String,
    trust_forward_header: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    auth_response_headers: Vec<String>,
}

/// The file where a basic-auth secret appears inside the Traefik container.
pub fn secret_file(secret: &str) -> String {
    format!("/run/secrets/{secret}")
}

/// The middlewares the host's routes use, and the dashboard's router; `None`
/// when there is neither.
pub fn http_config(
    model: &Model,
    plan: &Plan,
    facts: &HostPlan,
    host: &Host,
    proxy: &Proxy,
) -> Option<String> {
    let mut routers = IndexMap::new();
    if let Some(dashboard) = &proxy.dashboard {
        routers.insert(
            "dashboard".to_string(),
            Router {
                rule: format!("Host(`{}`)", dashboard.hostname.value),
                entry_points: vec![SECURE_ENTRY_POINT],
                service: "api@internal".to_string(),
                middlewares: dashboard
                    .middleware
                    .iter()
                    .map(|m| m.name.value.clone())
                    .collect(),
                tls: RouterTls {
                    cert_resolver: facts.cert_resolver,
                },
            },
        );
    }
    let middlewares: IndexMap<String, MiddlewareConfig> = facts
        .middlewares
        .iter()
        .map(|m| &model.middlewares[m.0])
        .filter_map(|m| {
            let kind = m.kind.as_ref()?;
            Some((
                m.name.value.clone(),
                middleware_config(model, plan, host, kind)?,
            ))
        })
        .collect();
    if routers.is_empty() && middlewares.is_empty() {
        return None;
    }
    let file = HttpFile {
        http: Http {
            routers,
            middlewares,
        },
    };
    Some(format!("{GENERATED_HEADER}{}", to_yaml(&file)))
}

fn middleware_config(
    model: &Model,
    plan: &Plan,
    host: &Host,
    kind: &MiddlewareKind,
) -> Option<MiddlewareConfig> {
    Some(match kind {
        MiddlewareKind::Headers(headers) => MiddlewareConfig::Headers(headers_config(headers)),
        MiddlewareKind::RateLimit { average, burst } => {
            MiddlewareConfig::RateLimit(RateLimitConfig {
                average: *average,
                burst: *burst,
                // Behind a tunnel every request comes from cloudflared: count
                // per client, as cloudflared appends it to X-Forwarded-For.
                source_criterion: host.tunnel.as_ref().map(|_| SourceCriterion {
                    ip_strategy: IpStrategy { depth: 1 },
                }),
            })
        }
        MiddlewareKind::IpAllow(ranges) => MiddlewareConfig::IpAllowList(IpAllowListConfig {
            source_range: ranges.iter().map(ToString::to_string).collect(),
            // cloudflared appends the client's address to X-Forwarded-For.
            ip_strategy: host.tunnel.as_ref().map(|_| IpStrategy { depth: 1 }),
        }),
        MiddlewareKind::BasicAuth(secret) => {
            let secret = &model.secrets[secret.target?.0];
            MiddlewareConfig::BasicAuth(BasicAuthConfig {
                users_file: secret_file(&secret.name.value),
            })
        }
        MiddlewareKind::ForwardAuth(auth) => {
            let edge = plan.service(auth.service.target?).edge.as_ref()?;
            MiddlewareConfig::ForwardAuth(ForwardAuthConfig {
                address: format!("http://{}:{}{}", edge.alias, auth.port, auth.path),
                // The entry points already dropped X-Forwarded-* from untrusted
                // clients; what is left (cloudflared's client address) is what
                // the service must judge, not the proxy's own peer.
                trust_forward_header: true,
                auth_response_headers: auth.response_headers.clone(),
            })
        }
    })
}

fn headers_config(headers: &Headers) -> HeadersConfig {
    HeadersConfig {
        sts_seconds: headers.hsts_seconds,
        sts_include_subdomains: headers.hsts_include_subdomains,
        frame_deny: headers.frame_deny,
        content_type_nosniff: headers.content_type_nosniff,
        referrer_policy: headers.referrer_policy.clone(),
        content_security_policy: headers.content_security_policy.clone(),
    }
}
