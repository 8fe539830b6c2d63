//! Stage 3. In: the parsed KDL documents and the components' expansions. Out: the typed [`Model`], every value
//! checked against the schema and every default taken from it, plus diagnostics
//! for anything the schema or the node's own rules reject. References stay
//! names here; `resolve` binds them.
//!
//! Lowering names nodes, arguments and properties only through
//! `schema::keys`, generated from the schema: a name the schema does not have
//! does not compile.

pub(crate) mod check;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::expand::Expansions;
use crate::model::*;
use crate::parse::Parsed;
use crate::schema::keys::{self, cluster, gitops, host, middleware, registry, secret, stack};
use crate::schema::schema;
use crate::source::Spanned;
use crate::values::ImageRef;
use check::{Checked, Checker, spanned_string};

/// Label prefixes owned by infrac's own generated labels.
const RESERVED_LABEL_PREFIXES: [&str; 2] = ["traefik.", "infrac."];

/// Reads every service's configuration files through the loader, relative to
/// the source file that declares each; a file that cannot be read is reported
/// at its `source`.
pub fn read_files(
    model: &mut Model,
    sources: &crate::source::SourceMap,
    loader: &dyn crate::source::SourceLoader,
    diagnostics: &mut Diagnostics,
) {
    for file in model
        .stacks
        .iter_mut()
        .flat_map(|s| s.services.iter_mut())
        .flat_map(|s| s.files.iter_mut())
    {
        let Some(source) = &file.source else {
            continue;
        };
        // An expansion reads relative to its component's file; the standard
        // library's files are embedded and have no directory to read from.
        let declared_in = match sources.file(source.span.file).origin {
            crate::source::Origin::Expansion { definition, .. } => definition,
            _ => source.span.file,
        };
        if sources.file(declared_in).origin != crate::source::Origin::Project {
            continue;
        }
        let path = crate::source::join_relative(&sources.file(declared_in).path, &source.value);
        match loader.load(&path) {
            Ok(text) => file.content = Some(text),
            Err(error) => diagnostics.push(crate::parse::unreadable(&path, &error, source.span)),
        }
    }
}

pub fn lower(parsed: &Parsed, expansions: &Expansions, diagnostics: &mut Diagnostics) -> Model {
    let root = schema();
    // Component definitions are checked by `expand`; what uses produced joins in.
    let nodes = parsed
        .files
        .iter()
        .flat_map(|f| f.document.nodes().iter().map(move |n| (f.file, n)))
        .filter(|(_, n)| root.child(n.name().value()).is_none_or(|s| !s.open))
        .chain(expansions.top_nodes());
    let mut checker = Checker {
        root,
        sources: &parsed.sources,
        expansions,
        diagnostics,
    };
    let top = checker.check_children(root, None, nodes, None);

    let mut model = Model::default();
    for node in &top {
        if node.is(keys::PROJECT) {
            model.project = lower_project(node);
        } else if node.is(keys::SECRET) {
            model.secrets.extend(lower_secret(node));
        } else if node.is(keys::CIDR_SET) {
            model.cidr_sets.extend(lower_cidr_set(node));
        } else if node.is(keys::MIDDLEWARE) {
            model
                .middlewares
                .extend(lower_middleware(node, diagnostics));
        } else if node.is(keys::REGISTRY) {
            model.registries.extend(lower_registry(node));
        } else if node.is(keys::BACKUP_TARGET) {
            model.backup_targets.extend(lower_backup_target(node));
        } else if node.is(keys::HOST) {
            model.hosts.extend(lower_host(node, diagnostics));
        } else if node.is(keys::CLUSTER) {
            model.clusters.extend(lower_cluster(node));
        } else if node.is(keys::STACK) {
            model.stacks.extend(lower_stack(node, diagnostics));
        } else if node.is(keys::GITOPS) {
            model.gitops = Some(lower_gitops(node));
        }
    }
    model
}

fn lower_project(node: &Checked) -> Option<Project> {
    Some(Project {
        name: node.string_arg(keys::project::NAME)?,
        domains: node
            .children(keys::project::DOMAIN)
            .filter_map(|d| d.string_arg(keys::project::domain::HOSTNAME))
            .collect(),
    })
}

fn lower_secret(node: &Checked) -> Option<Secret> {
    Some(Secret {
        name: node.string_arg(secret::NAME)?,
        env: node.string_prop(secret::ENV),
    })
}

fn lower_cluster(node: &Checked) -> Option<Cluster> {
    let selector = |c: &Checked, key| {
        let text = c.string_prop(key)?.value;
        let (k, v) = text.split_once('=')?;
        Some((k.to_string(), v.to_string()))
    };
    let ingress = node.child(cluster::INGRESS_CONTROLLER);
    let dns = node.child(cluster::DNS);
    let name_of = |key, arg| {
        node.child(key)
            .and_then(|c| c.string_arg(arg))
            .map(|s| s.value)
    };
    Some(Cluster {
        name: node.string_arg(cluster::NAME)?,
        kubernetes: name_of(cluster::KUBERNETES, cluster::kubernetes::VERSION),
        ingress_class: ingress
            .and_then(|i| i.string_arg(cluster::ingress_controller::CLASS))
            .map(|c| c.value),
        ingress_namespace: ingress
            .and_then(|i| i.string_prop(cluster::ingress_controller::NAMESPACE))
            .map(|n| n.value),
        ingress_selector: ingress
            .and_then(|i| selector(i, cluster::ingress_controller::POD_SELECTOR)),
        dns_namespace: dns
            .and_then(|d| d.string_prop(cluster::dns::NAMESPACE))
            .map(|n| n.value),
        dns_selector: dns.and_then(|d| selector(d, cluster::dns::POD_SELECTOR)),
        runtime_class: name_of(cluster::RUNTIME_CLASS, cluster::runtime_class::NAME),
        cert_issuer: name_of(cluster::CERT_ISSUER, cluster::cert_issuer::NAME),
        storage_class: name_of(cluster::STORAGE_CLASS, cluster::storage_class::NAME),
    })
}

fn lower_registry(node: &Checked) -> Option<Registry> {
    Some(Registry {
        host: node.string_arg(registry::HOST)?,
        username: node.string_prop(registry::USERNAME)?.value,
        password: Reference::new(node.string_prop(registry::PASSWORD_SECRET)?),
    })
}

fn lower_backup_target(node: &Checked) -> Option<BackupTarget> {
    use keys::backup_target as target;
    let text = |key| node.string_prop(key).map(|v| v.value);
    Some(BackupTarget {
        name: node.string_arg(target::NAME)?,
        endpoint: text(target::ENDPOINT)?,
        scheme: text(target::SCHEME)?,
        bucket: text(target::BUCKET)?,
        region: text(target::REGION)?,
        access_key: Reference::new(node.string_prop(target::ACCESS_KEY)?),
        secret_key: Reference::new(node.string_prop(target::SECRET_KEY)?),
    })
}

fn lower_gitops(node: &Checked) -> Gitops {
    Gitops {
        infrac: node.child(gitops::INFRAC).and_then(|i| {
            Some(InfracSource {
                git: i.string_prop(gitops::infrac::GIT)?.value,
                rev: i.string_prop(gitops::infrac::REV)?.value,
            })
        }),
        branch: node
            .child(gitops::BRANCH)
            .and_then(|b| b.string_arg(gitops::branch::NAME))
            .map(|b| b.value)
            .unwrap_or_default(),
        deploys: node
            .children(gitops::DEPLOY)
            .filter_map(|d| {
                Some(Deploy {
                    host: Reference::new(d.string_prop(gitops::deploy::HOST)?),
                    ssh_user: d.string_prop(gitops::deploy::SSH_USER)?,
                    path: d.string_prop(gitops::deploy::PATH)?.value,
                    environment: d.string_prop(gitops::deploy::ENVIRONMENT).map(|e| e.value),
                    runs_on: d.string_prop(gitops::deploy::RUNS_ON)?.value,
                    span: d.head,
                })
            })
            .collect(),
        review: node.child(gitops::REVIEW).map(|r| Review {
            comment: r.bool_prop(gitops::review::COMMENT).unwrap_or_default(),
            against: r.string_prop(gitops::review::AGAINST).map(|a| a.value),
        }),
        actions: node
            .children(gitops::ACTION)
            .filter_map(|a| {
                Some(ActionPin {
                    name: a.string_arg(gitops::action::NAME)?.value,
                    sha: a.string_prop(gitops::action::SHA)?.value,
                    version: a.string_prop(gitops::action::VERSION).map(|v| v.value),
                })
            })
            .collect(),
    }
}

fn lower_cidr_set(node: &Checked) -> Option<CidrSet> {
    Some(CidrSet {
        name: node.string_arg(keys::cidr_set::NAME)?,
        cidrs: node
            .rest(keys::cidr_set::CIDR)
            .filter_map(spanned_cidr)
            .collect(),
    })
}

fn lower_host(node: &Checked, diagnostics: &mut Diagnostics) -> Option<Host> {
    let name = node.string_arg(host::NAME)?;
    let ssh = node.child_or_absent(host::SSH);
    let firewall = node.child_or_absent(host::FIREWALL);
    Some(Host {
        os: node
            .child(host::OS)
            .and_then(|o| o.enum_arg::<Os>(host::os::RELEASE))
            .map(|o| o.value),
        addresses: node
            .children(host::ADDRESS)
            .filter_map(|a| {
                let ip = a.arg(host::address::IP)?;
                Some(Spanned::new(ip.value.as_ip()?, ip.span))
            })
            .collect(),
        interface: node
            .child(host::INTERFACE)
            .and_then(|i| i.string_arg(host::interface::NAME))
            .map(|i| i.value),
        ssh: Ssh {
            port: ssh
                .prop(host::ssh::PORT)
                .and_then(|p| p.value.as_port())
                .unwrap_or_default(),
            allow_from: source_prop(&ssh, host::ssh::ALLOW_FROM),
            management: source_prop(&ssh, host::ssh::MANAGEMENT),
            declared: ssh.written,
            span: if ssh.written { ssh.head } else { name.span },
        },
        firewall: Firewall {
            allows: firewall
                .children(host::firewall::ALLOW)
                .filter_map(|a| {
                    use host::firewall::allow;
                    let port = match a.arg(allow::PORT) {
                        Some(port) => Some(port.value.as_port()?),
                        // Written but invalid: reported; no rule rather than all ports.
                        None if a.arg_count() > 1 => return None,
                        None => None,
                    };
                    Some(Allow {
                        protocol: a.enum_arg::<Protocol>(allow::PROTOCOL)?.value,
                        port,
                        from: source_prop(a, allow::FROM),
                        span: a.head,
                    })
                })
                .collect(),
            deny_egress: firewall
                .children(host::firewall::DENY_EGRESS)
                .filter_map(|d| {
                    port_match(
                        d,
                        host::firewall::deny_egress::PROTOCOL,
                        host::firewall::deny_egress::PORT,
                    )
                })
                .collect(),
        },
        users: node
            .children(host::USER)
            .filter_map(|u| {
                Some(User {
                    name: u.string_arg(host::user::NAME)?,
                    ssh_key: u.string_prop(host::user::SSH_KEY)?.value,
                    sudo: u.bool_prop(host::user::SUDO).unwrap_or_default(),
                    docker: u.bool_prop(host::user::DOCKER).unwrap_or_default(),
                })
            })
            .collect(),
        packages: node
            .children(host::PACKAGES)
            .flat_map(|p| p.rest_strings(host::packages::PACKAGE))
            .map(|p| p.value)
            .collect(),
        address_pools: node
            .children(host::ADDRESS_POOL)
            .filter_map(|p| lower_address_pool(p, diagnostics))
            .collect(),
        proxy: node.child(host::PROXY).map(|p| lower_proxy(p, diagnostics)),
        tunnel: node.child(host::TUNNEL).and_then(|t| {
            Some(Tunnel {
                id: t.string_prop(host::tunnel::ID)?.value,
                credentials: t.string_prop(host::tunnel::CREDENTIALS)?.value,
                zone: t.string_prop(host::tunnel::ZONE),
                span: t.head,
            })
        }),
        name,
    })
}

fn lower_proxy(node: &Checked, diagnostics: &mut Diagnostics) -> Proxy {
    use host::proxy;
    let tls = node.child(proxy::TLS);
    let acme = node.child(proxy::ACME);
    if let (Some(tls), Some(acme)) = (tls, acme) {
        diagnostics.push(
            Diagnostic::new(
                Code::E015,
                "the proxy has both `tls` and `acme`",
                acme.head,
                "certificates from Let's Encrypt",
            )
            .with_secondary(tls.head, "certificates placed on the host")
            .with_help("keep one source of certificates: `acme` or `tls \"cloudflare-origin\"`"),
        );
    }
    let certificates = match (acme, tls) {
        // The conflict is reported; checks about either source would only add noise.
        (Some(_), Some(_)) => Certificates::SelfSigned,
        (Some(acme), None) => match (
            acme.string_prop(proxy::acme::EMAIL),
            acme.enum_prop::<AcmeChallenge>(proxy::acme::CHALLENGE),
        ) {
            (Some(email), Some(challenge)) => Certificates::Acme {
                email: email.value,
                challenge: challenge.value,
                span: acme.head,
            },
            _ => Certificates::SelfSigned,
        },
        (None, Some(tls)) => match (
            tls.string_prop(proxy::tls::CERT),
            tls.string_prop(proxy::tls::KEY),
        ) {
            (Some(cert), Some(key)) => Certificates::CloudflareOrigin {
                cert: cert.value,
                key: key.value,
            },
            _ => Certificates::SelfSigned,
        },
        (None, None) => Certificates::SelfSigned,
    };
    let dashboard = node
        .child(proxy::DASHBOARD)
        .filter(|d| {
            d.arg(proxy::dashboard::ENABLED)
                .and_then(|a| a.value.as_bool())
                == Some(true)
        })
        .and_then(|d| {
            let hostname = d.string_prop(proxy::dashboard::HOSTNAME);
            if hostname.is_none() && d.rejected(proxy::dashboard::HOSTNAME).is_none() {
                diagnostics.push(
                    Diagnostic::new(Code::E016, "the dashboard needs a `hostname`", d.head, "hostname missing")
                        .with_help("serve it like a route: `dashboard #true hostname=\"traefik.acme.example\" middleware=\"admin-auth\"`"),
                );
            }
            Some(Dashboard {
                hostname: hostname?,
                middleware: d
                    .string_prop(proxy::dashboard::MIDDLEWARE)
                    .map(Reference::new),
            })
        });
    Proxy {
        image: image_prop(node, proxy::IMAGE),
        span: node.head,
        certificates,
        access_log: node.child(proxy::ACCESS_LOG).map(|a| AccessLog {
            status: a.string_prop(proxy::access_log::STATUS).map(|s| s.value),
            directory: a.string_prop(proxy::access_log::DIRECTORY).map(|s| s.value),
        }),
        dashboard,
    }
}

fn lower_middleware(node: &Checked, diagnostics: &mut Diagnostics) -> Option<Middleware> {
    let name = node.string_arg(middleware::NAME)?;
    let kinds: Vec<&Checked> = node.all_children().collect();
    let kind = match kinds.as_slice() {
        [kind] => lower_middleware_kind(kind),
        [] => {
            let known: Vec<&str> = node
                .schema
                .children
                .iter()
                .map(|c| c.name.as_str())
                .collect();
            diagnostics.push(
                Diagnostic::new(
                    Code::E014,
                    format!("middleware `{}` does nothing", name.value),
                    node.head,
                    "no kind",
                )
                .with_help(format!("give it one of: {}", known.join(", "))),
            );
            None
        }
        [first, second, ..] => {
            diagnostics.push(
                Diagnostic::new(
                    Code::E014,
                    format!("middleware `{}` has several kinds", name.value),
                    second.head,
                    "second kind",
                )
                .with_secondary(first.head, "first kind")
                .with_help("a middleware does one thing; declare one middleware per kind and list them on the route"),
            );
            None
        }
    };
    Some(Middleware { name, kind })
}

fn lower_middleware_kind(node: &Checked) -> Option<MiddlewareKind> {
    use middleware::{basic_auth, forward_auth, headers, ip_allow, rate_limit};
    let integer = |key| node.prop(key).and_then(|v| v.value.as_integer());
    let text = |key| node.string_prop(key).map(|v| v.value);
    let flag = |key| node.bool_prop(key).unwrap_or(false);
    Some(if node.is(middleware::HEADERS) {
        MiddlewareKind::Headers(Headers {
            hsts_seconds: integer(headers::HSTS_SECONDS),
            hsts_include_subdomains: flag(headers::HSTS_INCLUDE_SUBDOMAINS),
            frame_deny: flag(headers::FRAME_DENY),
            content_type_nosniff: flag(headers::CONTENT_TYPE_NOSNIFF),
            referrer_policy: text(headers::REFERRER_POLICY),
            content_security_policy: text(headers::CONTENT_SECURITY_POLICY),
        })
    } else if node.is(middleware::RATE_LIMIT) {
        MiddlewareKind::RateLimit {
            average: integer(rate_limit::AVERAGE)?,
            burst: integer(rate_limit::BURST),
        }
    } else if node.is(middleware::IP_ALLOW) {
        MiddlewareKind::IpAllow(
            node.rest(ip_allow::CIDR)
                .filter_map(|v| v.value.as_cidr())
                .collect(),
        )
    } else if node.is(middleware::BASIC_AUTH) {
        MiddlewareKind::BasicAuth(Reference::new(node.string_prop(basic_auth::USERS_SECRET)?))
    } else if node.is(middleware::FORWARD_AUTH) {
        MiddlewareKind::ForwardAuth(ForwardAuth {
            service: ServiceRef {
                stack: Reference::new(node.string_prop(forward_auth::STACK)?),
                name: node.string_prop(forward_auth::SERVICE)?,
                target: None,
            },
            port: node.prop(forward_auth::PORT)?.value.as_port()?,
            path: text(forward_auth::PATH)?,
            response_headers: node
                .child(forward_auth::RESPONSE_HEADERS)
                .map(|h| {
                    h.rest(forward_auth::response_headers::HEADER)
                        .filter_map(|v| v.value.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        })
    } else {
        return None;
    })
}

/// A `file` has its text from exactly one of a source file and `content=`.
fn lower_file(node: &Checked, diagnostics: &mut Diagnostics) -> Option<ConfigFile> {
    use stack::service::file::{CONTENT, PATH, SOURCE};
    let path = node.string_arg(PATH)?.value;
    match (node.string_prop(SOURCE), node.string_prop(CONTENT)) {
        (Some(source), None) => Some(ConfigFile {
            path,
            source: Some(source),
            content: None,
        }),
        (None, Some(content)) => Some(ConfigFile {
            path,
            source: None,
            content: Some(content.value),
        }),
        (Some(source), Some(content)) => {
            diagnostics.push(
                Diagnostic::new(
                    Code::E020,
                    format!("file `{path}` has both a source and a content"),
                    content.span,
                    "content here",
                )
                .with_secondary(source.span, "source here")
                .with_help(
                    "keep one: `source=` names a file to ship, `content=` writes its text in place",
                ),
            );
            None
        }
        (None, None) if node.rejected(SOURCE).is_some() || node.rejected(CONTENT).is_some() => None,
        (None, None) => {
            diagnostics.push(
                Diagnostic::new(
                    Code::E020,
                    format!("file `{path}` has no text"),
                    node.head,
                    "neither `source` nor `content`",
                )
                .with_help("add `source=\"files/<name>\"` (relative to this source file) or `content=\"…\"`"),
            );
            None
        }
    }
}

fn spanned_cidr(value: &Spanned<crate::values::Value>) -> Option<Spanned<ipnet::IpNet>> {
    value
        .value
        .as_cidr()
        .map(|net| Spanned::new(net, value.span))
}

/// A `source` property: a CIDR, a set name, or `Invalid` when it was written
/// but rejected (so checks neither treat it as "anywhere" nor report it again).
fn source_prop(node: &Checked, key: crate::schema::Prop) -> Option<AddressSource> {
    if let Some(value) = node.prop(key) {
        return Some(match spanned_cidr(value) {
            Some(net) => AddressSource::Cidr(net),
            None => AddressSource::Set(Reference::new(spanned_string(value)?)),
        });
    }
    node.rejected(key).map(AddressSource::Invalid)
}

fn port_match(
    node: &Checked,
    protocol: crate::schema::Arg,
    port: crate::schema::Arg,
) -> Option<PortMatch> {
    Some(PortMatch {
        protocol: node.enum_arg::<Protocol>(protocol)?.value,
        port: node.arg(port)?.value.as_port()?,
    })
}

fn lower_address_pool(node: &Checked, diagnostics: &mut Diagnostics) -> Option<AddressPool> {
    let base = node.arg(host::address_pool::BASE).and_then(spanned_cidr)?;
    let size = node.prop(host::address_pool::SIZE)?;
    let max = base.value.max_prefix_len();
    match size.value.as_integer().and_then(|s| u8::try_from(s).ok()) {
        Some(bits) if bits >= base.value.prefix_len() && bits <= max => {
            Some(AddressPool { base, size: bits })
        }
        _ => {
            diagnostics.push(
                Diagnostic::new(
                    Code::E017,
                    format!("a pool `{}` cannot hand out networks of this size", base.value),
                    size.span,
                    format!("expected {}–{max}", base.value.prefix_len()),
                )
                .with_help("`size` is the prefix length of each network Docker takes from the pool: at least the pool's own prefix length, e.g. `size=24` for `172.20.0.0/14`"),
            );
            None
        }
    }
}

fn lower_stack(node: &Checked, diagnostics: &mut Diagnostics) -> Option<Stack> {
    Some(Stack {
        name: node.string_arg(stack::NAME)?,
        host: node.string_prop(stack::HOST).map(Reference::new),
        cluster: node.string_prop(stack::CLUSTER).map(Reference::new),
        shares: node
            .children(stack::SHARE)
            .filter_map(|share| {
                Some(VolumeShare {
                    volume: share.string_arg(stack::share::VOLUME)?,
                    with: Reference::new(share.string_prop(stack::share::WITH)?),
                })
            })
            .collect(),
        service_shares: node
            .children(stack::SHARE_SERVICE)
            .filter_map(|share| {
                use stack::share_service::{PORT, SERVICE, WITH};
                Some(ServiceShare {
                    service: share.string_arg(SERVICE)?,
                    target: None,
                    with: Reference::new(share.string_prop(WITH)?),
                    port: share.prop(PORT)?.value.as_port()?,
                })
            })
            .collect(),
        services: node
            .children(stack::SERVICE)
            .chain(node.children(stack::JOB))
            .filter_map(|s| lower_service(s, diagnostics))
            .collect(),
    })
}

/// A `service`, or a `job` (written like one, with a schedule).
fn lower_service(node: &Checked, diagnostics: &mut Diagnostics) -> Option<Service> {
    use stack::service::{self as svc, route};
    let schedule = node.is(stack::JOB).then(|| {
        let cron = node.prop(stack::job::SCHEDULE)?;
        Some(Schedule {
            cron: cron.value.as_str()?.to_string(),
            calendars: crate::values::parse_cron(cron.value.as_str()?)
                .ok()?
                .calendars,
            timeout: node
                .prop(stack::job::TIMEOUT)
                .and_then(|t| t.value.as_duration()),
            span: cron.span,
        })
    });
    let durations = |h: &Checked, key| h.prop(key).and_then(|d| d.value.as_duration());
    Some(Service {
        name: node.string_arg(svc::NAME)?,
        span: node.head,
        image: image_prop(node, svc::IMAGE),
        // A tier that failed its check leaves the networks unknown: checks that
        // need them skip the service rather than pile follow-up errors on it.
        networks: node
            .child(svc::NETWORKS)
            .filter(|n| n.all_valid())
            .map(|n| n.rest_enums::<Tier>(svc::networks::TIER).collect()),
        role: node
            .child(svc::ROLE)
            .and_then(|r| r.enum_arg::<Role>(svc::role::ROLE)),
        schedule: schedule.flatten(),
        routes: node
            .children_if_any(svc::ROUTE)
            .filter_map(|r| {
                Some(Route {
                    hostname: r.string_arg(route::HOSTNAME)?,
                    port: r.prop(route::PORT)?.value.as_port(),
                    path_prefix: r.string_prop(route::PATH_PREFIX).map(|p| p.value),
                    protocol: r.enum_prop::<RouteProtocol>(route::PROTOCOL)?,
                    middlewares: r
                        .children(route::MIDDLEWARES)
                        .flat_map(|m| m.rest_strings(route::middlewares::MIDDLEWARE))
                        .map(Reference::new)
                        .collect(),
                    span: r.head,
                })
            })
            .collect(),
        ports: node
            .children_if_any(svc::PORTS)
            .flat_map(|p| p.rest_strings(svc::ports::MAPPING))
            .collect(),
        listens: node
            .children(svc::PORT)
            .filter_map(|p| p.arg(svc::port::PORT)?.value.as_port())
            .collect(),
        replicas: node.children_if_any(svc::REPLICAS).next().and_then(|r| {
            let count = r.arg(svc::replicas::COUNT)?;
            Some(Spanned::new(count.value.as_integer()?, count.span))
        }),
        env: node
            .children(svc::ENV)
            .filter_map(|e| lower_env(e, diagnostics))
            .collect(),
        depends_on: node
            .children(svc::DEPENDS_ON)
            .flat_map(|d| d.rest_strings(svc::depends_on::SERVICE))
            .map(Reference::new)
            .collect(),
        reaches: node
            .children(svc::REACH)
            .filter_map(|r| {
                Some(ServiceRef {
                    stack: Reference::new(r.string_prop(svc::reach::FROM)?),
                    name: r.string_arg(svc::reach::SERVICE)?,
                    target: None,
                })
            })
            .collect(),
        backup_to: node
            .child(svc::BACKUP_TO)
            .and_then(|b| b.string_arg(svc::backup_to::TARGET))
            .map(Reference::new),
        healthcheck: node.child(svc::HEALTHCHECK).and_then(|h| {
            use svc::healthcheck as hc;
            Some(Healthcheck {
                command: h.string_prop(hc::COMMAND)?.value,
                interval: durations(h, hc::INTERVAL),
                timeout: durations(h, hc::TIMEOUT),
                retries: h.prop(hc::RETRIES).and_then(|r| r.value.as_integer()),
                start_period: durations(h, hc::START_PERIOD),
            })
        }),
        resources: node.child(svc::RESOURCES).map(|r| Resources {
            cpus: r
                .prop(svc::resources::CPUS)
                .and_then(|c| c.value.as_number()),
            memory: r
                .prop(svc::resources::MEMORY)
                .and_then(|m| m.value.as_size()),
        }),
        volumes: node
            .children(svc::VOLUME)
            .filter_map(|v| {
                Some(VolumeMount {
                    name: v.string_arg(svc::volume::NAME)?,
                    from: v.string_prop(svc::volume::FROM).map(Reference::new),
                    path: v.string_prop(svc::volume::PATH)?.value,
                    read_only: v.bool_prop(svc::volume::READ_ONLY)?,
                    size: v.prop(svc::volume::SIZE).and_then(|s| s.value.as_size()),
                })
            })
            .collect(),
        files: node
            .children(svc::FILE)
            .filter_map(|f| lower_file(f, diagnostics))
            .collect(),
        binds: node
            .children(svc::BIND)
            .filter_map(|b| {
                Some(BindMount {
                    source: b.string_arg(svc::bind::SOURCE)?.value,
                    path: b.string_prop(svc::bind::PATH)?.value,
                    read_only: b.bool_prop(svc::bind::READ_ONLY)?,
                    span: b.head,
                })
            })
            .collect(),
        command: node.child(svc::COMMAND).map(|c| {
            c.rest_strings(svc::command::WORD)
                .map(|s| s.value)
                .collect()
        }),
        user: node
            .child(svc::USER)
            .and_then(|u| u.string_arg(svc::user::USER)),
        labels: node
            .children(svc::LABEL)
            .filter_map(|l| lower_label(l, diagnostics))
            .collect(),
        restart: node
            .children_if_any(svc::RESTART)
            .next()
            .and_then(|r| r.enum_arg::<RestartPolicy>(svc::restart::POLICY))
            .map(|r| r.value),
        // Compose and Docker take capability names without the kernel's `CAP_` prefix.
        capabilities: node
            .children(svc::CAPABILITIES)
            .flat_map(|c| c.rest_strings(svc::capabilities::CAPABILITY))
            .map(|c| c.value.trim_start_matches("CAP_").to_string())
            .collect(),
        hardening: node
            .child(svc::HARDENING)
            .and_then(|h| h.arg(svc::hardening::ENABLED)?.value.as_bool())
            .unwrap_or_default(),
    })
}

/// The parts of a value with `{{secret:NAME}}` in it; `None` for a value
/// without (a plain literal).
fn template_parts(value: &Spanned<String>, diagnostics: &mut Diagnostics) -> Option<Vec<TextPart>> {
    const OPEN: &str = "{{secret:";
    if !value.value.contains(OPEN) {
        return None;
    }
    let mut parts = Vec::new();
    let mut rest = value.value.as_str();
    while let Some(start) = rest.find(OPEN) {
        if start > 0 {
            parts.push(TextPart::Text(rest[..start].to_string()));
        }
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find("}}") else {
            diagnostics.push(
                Diagnostic::new(
                    Code::E007,
                    "`{{secret:` is not closed",
                    value.span,
                    "in this value",
                )
                .with_help("write `{{secret:NAME}}`, NAME a declared secret"),
            );
            return Some(parts);
        };
        let secret = after[..end].trim();
        if let Err(invalid) = crate::values::check_name(secret) {
            diagnostics.push(
                Diagnostic::new(
                    Code::E008,
                    format!("`{secret}` is not a secret's name: {}", invalid.message),
                    value.span,
                    "in this value",
                )
                .with_help("write `{{secret:NAME}}`, NAME a declared secret"),
            );
        }
        parts.push(TextPart::Secret(Reference::new(Spanned::new(
            secret.to_string(),
            value.span,
        ))));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        parts.push(TextPart::Text(rest.to_string()));
    }
    Some(parts)
}

fn lower_env(node: &Checked, diagnostics: &mut Diagnostics) -> Option<EnvVar> {
    use stack::service::env;
    let name = node.string_arg(env::NAME)?;
    let literal = node.string_arg(env::VALUE);
    let secret = node.string_prop(env::SECRET);
    let optional = node.bool_prop(env::OPTIONAL).unwrap_or(false);
    let default = node.string_prop(env::DEFAULT);
    let if_unset = match (&default, optional) {
        (Some(default), _) => IfUnset::Default(default.value.clone()),
        (None, true) => IfUnset::Empty,
        (None, false) => IfUnset::Refuse,
    };
    if secret.is_none() && if_unset != IfUnset::Refuse {
        let span = default.as_ref().map_or(node.head, |d| d.span);
        diagnostics.push(
            Diagnostic::new(
                Code::E013,
                format!("`{}` has `optional` or `default` without a secret", name.value),
                span,
                "applies to a secret",
            )
            .with_help("`optional=#true` and `default=` say what a `secret=` variable gets when the secret is not set"),
        );
    }
    if let Some(default) = &default
        && default.value.contains('}')
    {
        diagnostics.push(
            Diagnostic::new(
                Code::E007,
                format!("the default of `{}` contains `}}`", name.value),
                default.span,
                "Compose ends the default here",
            )
            .with_help("Compose reads the default inside `${VAR:-…}`, where `}` cannot be written"),
        );
    }
    match (literal, secret) {
        (Some(literal), None) => {
            let value = match template_parts(&literal, diagnostics) {
                Some(parts) => EnvValue::Template(parts),
                None => EnvValue::Literal(literal.value),
            };
            Some(EnvVar {
                name,
                value_span: literal.span,
                value,
                if_unset,
            })
        }
        (None, Some(secret)) => Some(EnvVar {
            name,
            value_span: secret.span,
            value: EnvValue::Secret(Reference::new(secret)),
            if_unset,
        }),
        (Some(literal), Some(secret)) => {
            diagnostics.push(
                Diagnostic::new(
                    Code::E013,
                    format!("`{}` has both a value and a secret", name.value),
                    secret.span,
                    "secret here",
                )
                .with_secondary(literal.span, "literal value here")
                .with_help("keep one: a literal value or `secret=\"name\"`"),
            );
            None
        }
        // A value that failed its own type check was reported already.
        (None, None) if node.arg_count() > 1 || node.rejected(env::SECRET).is_some() => None,
        (None, None) => {
            diagnostics.push(
                Diagnostic::new(
                    Code::E013,
                    format!("`{}` has no value", name.value),
                    node.head,
                    "value missing",
                )
                .with_help(format!(
                    "write `env \"{}\" \"value\"` or `env \"{}\" secret=\"name\"`",
                    name.value, name.value
                )),
            );
            None
        }
    }
}

fn lower_label(node: &Checked, diagnostics: &mut Diagnostics) -> Option<(Spanned<String>, String)> {
    use stack::service::label;
    let key = node.string_arg(label::KEY)?;
    let value = node.string_arg(label::VALUE)?.value;
    if let Some(prefix) = RESERVED_LABEL_PREFIXES
        .iter()
        .find(|p| key.value.starts_with(*p))
    {
        diagnostics.push(
            Diagnostic::new(Code::E011, format!("labels under `{prefix}` are generated by infrac"), key.span, "reserved key")
                .with_help("describe routes with `route` and leave `traefik.*` and `infrac.*` labels to the compiler"),
        );
        return None;
    }
    Some((key, value))
}

fn image_prop(node: &Checked, key: crate::schema::Prop) -> Option<Spanned<ImageRef>> {
    let value = node.prop(key)?;
    Some(Spanned::new(value.value.as_image()?.clone(), value.span))
}
