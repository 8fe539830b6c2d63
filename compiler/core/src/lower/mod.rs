//! Stage 2. In: the parsed KDL documents. Out: the typed [`Model`], every value
//! checked against the schema, plus diagnostics for anything the schema or the
//! node's own rules reject. References stay names here; `resolve` binds them.

mod check;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::*;
use crate::parse::Parsed;
use crate::schema::schema;
use crate::source::Spanned;
use crate::values::Value;
use check::{Checked, check_children, spanned_string};

/// Label prefixes owned by infrac's own generated labels.
const RESERVED_LABEL_PREFIXES: [&str; 2] = ["traefik.", "infrac."];

pub fn lower(parsed: &Parsed, diagnostics: &mut Diagnostics) -> Model {
    let root = schema();
    let nodes = parsed
        .files
        .iter()
        .flat_map(|f| f.document.nodes().iter().map(move |n| (f.file, n)));
    let top = check_children(root, root, nodes, diagnostics);

    let mut model = Model::default();
    for node in &top {
        match node.schema.name.as_str() {
            "project" => model.project = lower_project(node),
            "secret" => model.secrets.extend(lower_secret(node)),
            "cidr-set" => model.cidr_sets.extend(lower_cidr_set(node)),
            "middleware" => model
                .middlewares
                .extend(lower_middleware(node, diagnostics)),
            "host" => model.hosts.extend(lower_host(node, diagnostics)),
            "stack" => model.stacks.extend(lower_stack(node, diagnostics)),
            "gitops" => model.gitops = Some(lower_gitops(node)),
            _ => {}
        }
    }
    model
}

fn lower_project(node: &Checked) -> Option<Project> {
    Some(Project {
        name: node.string_arg(0)?,
        domains: node
            .children_named("domain")
            .filter_map(|d| d.string_arg(0))
            .collect(),
    })
}

fn lower_secret(node: &Checked) -> Option<Secret> {
    Some(Secret {
        name: node.string_arg(0)?,
        env: node.string_prop("env"),
    })
}

fn lower_gitops(node: &Checked) -> Gitops {
    Gitops {
        branch: node
            .child("branch")
            .and_then(|b| b.string_arg(0))
            .map_or_else(|| "main".to_string(), |b| b.value),
        deploys: node
            .children_named("deploy")
            .filter_map(|d| {
                Some(Deploy {
                    host: Reference::new(d.string_prop("host")?),
                    ssh_user: d.string_prop("ssh-user")?,
                    path: d
                        .string_prop("path")
                        .map_or_else(|| "/opt/infrac".to_string(), |p| p.value),
                    environment: d.string_prop("environment").map(|e| e.value),
                    runs_on: d
                        .string_prop("runs-on")
                        .map_or_else(|| Deploy::DEFAULT_RUNNER.to_string(), |r| r.value),
                    span: d.head,
                })
            })
            .collect(),
        review: node.child("review").map(|r| Review {
            comment: r.bool_prop("comment").unwrap_or(false),
            against: r.string_prop("against").map(|a| a.value),
        }),
        actions: node
            .children_named("action")
            .filter_map(|a| {
                Some(ActionPin {
                    name: a.string_arg(0)?.value,
                    sha: a.string_prop("sha")?.value,
                    version: a.string_prop("version").map(|v| v.value),
                })
            })
            .collect(),
    }
}

fn lower_cidr_set(node: &Checked) -> Option<CidrSet> {
    Some(CidrSet {
        name: node.string_arg(0)?,
        cidrs: node.rest(1).filter_map(spanned_cidr).collect(),
    })
}

/// Outbound SMTP is what a compromised container abuses first.
const DEFAULT_DENY_EGRESS: [PortMatch; 1] = [PortMatch {
    protocol: Protocol::Tcp,
    port: 25,
}];

fn lower_host(node: &Checked, diagnostics: &mut Diagnostics) -> Option<Host> {
    let name = node.string_arg(0)?;
    let ssh = match node.child("ssh") {
        Some(ssh) => Ssh {
            port: ssh
                .prop("port")
                .and_then(|p| p.value.as_port())
                .unwrap_or(22),
            allow_from: source_prop(ssh, "allow-from"),
            declared: true,
            span: ssh.head,
        },
        None => Ssh {
            port: 22,
            allow_from: None,
            declared: false,
            span: name.span,
        },
    };
    let firewall = node.child("firewall");
    let rules = |kind: &'static str| {
        firewall
            .into_iter()
            .flat_map(move |f| f.children_named(kind))
    };
    let deny_egress: Vec<PortMatch> = rules("deny-egress").filter_map(port_match).collect();
    Some(Host {
        addresses: node
            .children_named("address")
            .filter_map(|a| match a.arg(0) {
                Some(Spanned {
                    value: Value::Ip(ip),
                    span,
                }) => Some(Spanned::new(*ip, *span)),
                _ => None,
            })
            .collect(),
        interface: node
            .child("interface")
            .and_then(|i| i.string_arg(0))
            .map(|i| i.value),
        ssh,
        firewall: Firewall {
            allows: rules("allow")
                .filter_map(|a| {
                    Some(Allow {
                        port: port_match(a)?,
                        from: source_prop(a, "from"),
                        span: a.head,
                    })
                })
                .collect(),
            deny_egress: if rules("deny-egress").next().is_some() {
                deny_egress
            } else {
                DEFAULT_DENY_EGRESS.to_vec()
            },
        },
        users: node
            .children_named("user")
            .filter_map(|u| {
                Some(User {
                    name: u.string_arg(0)?,
                    ssh_key: u.string_prop("ssh-key")?.value,
                    sudo: u.bool_prop("sudo").unwrap_or(false),
                })
            })
            .collect(),
        packages: node
            .children_named("packages")
            .flat_map(|p| p.rest(0).filter_map(spanned_string))
            .map(|p| p.value)
            .collect(),
        address_pools: node
            .children_named("address-pool")
            .filter_map(|p| lower_address_pool(p, diagnostics))
            .collect(),
        proxy: node.child("proxy").map(|p| lower_proxy(p, diagnostics)),
        tunnel: node.child("tunnel").and_then(|t| {
            Some(Tunnel {
                id: t.string_prop("id")?.value,
                credentials: t.string_prop("credentials")?.value,
                zone: t.string_prop("zone"),
                span: t.head,
            })
        }),
        name,
    })
}

fn lower_proxy(node: &Checked, diagnostics: &mut Diagnostics) -> Proxy {
    let tls = node.child("tls");
    let acme = node.child("acme");
    if let (Some(tls), Some(acme)) = (tls, acme) {
        diagnostics.push(
            Diagnostic::new(
                Code::E013,
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
        (Some(acme), None) => match acme.string_prop("email") {
            Some(email) => Certificates::Acme {
                email: email.value,
                challenge: match acme
                    .string_prop("challenge")
                    .as_ref()
                    .map(|c| c.value.as_str())
                {
                    Some("tls") => AcmeChallenge::Tls,
                    _ => AcmeChallenge::Http,
                },
                span: acme.head,
            },
            None => Certificates::SelfSigned,
        },
        (None, Some(tls)) => Certificates::CloudflareOrigin {
            cert: tls
                .string_prop("cert")
                .map_or_else(|| "/etc/infrac/tls/origin.pem".to_string(), |c| c.value),
            key: tls
                .string_prop("key")
                .map_or_else(|| "/etc/infrac/tls/origin.key".to_string(), |k| k.value),
        },
        (None, None) => Certificates::SelfSigned,
    };
    let dashboard = node
        .child("dashboard")
        .filter(|d| d.arg(0).and_then(|a| a.value.as_bool()) == Some(true))
        .and_then(|d| {
            let hostname = d.string_prop("hostname");
            if hostname.is_none() && !d.rejected.iter().any(|(key, _)| key == "hostname") {
                diagnostics.push(
                    Diagnostic::new(Code::E005, "the dashboard needs a `hostname`", d.head, "hostname missing")
                        .with_help("serve it like a route: `dashboard #true hostname=\"traefik.acme.example\" middleware=\"admin-auth\"`"),
                );
            }
            Some(Dashboard {
                hostname: hostname?,
                middleware: d.string_prop("middleware").map(Reference::new),
            })
        });
    Proxy {
        image: image_prop(node),
        span: node.head,
        certificates,
        access_log: node.child("access-log").map(|a| AccessLog {
            status: a.string_prop("status").map(|s| s.value),
        }),
        dashboard,
    }
}

const MIDDLEWARE_KINDS: [&str; 4] = ["headers", "rate-limit", "ip-allow", "basic-auth"];

fn lower_middleware(node: &Checked, diagnostics: &mut Diagnostics) -> Option<Middleware> {
    let name = node.string_arg(0)?;
    let kinds: Vec<&Checked> = node.children.iter().collect();
    let kind = match kinds.as_slice() {
        [] => {
            diagnostics.push(
                Diagnostic::new(
                    Code::E005,
                    format!("middleware `{}` does nothing", name.value),
                    node.head,
                    "no kind",
                )
                .with_help(format!("give it one of: {}", MIDDLEWARE_KINDS.join(", "))),
            );
            None
        }
        [kind] => lower_middleware_kind(kind),
        [first, second, ..] => {
            diagnostics.push(
                Diagnostic::new(
                    Code::E013,
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
    let integer = |name: &str| node.prop(name).and_then(|v| v.value.as_integer());
    let text = |name: &str| node.string_prop(name).map(|v| v.value);
    let flag = |name: &str| node.bool_prop(name).unwrap_or(false);
    Some(match node.schema.name.as_str() {
        "headers" => MiddlewareKind::Headers(Headers {
            hsts_seconds: integer("hsts-seconds"),
            hsts_include_subdomains: flag("hsts-include-subdomains"),
            frame_deny: flag("frame-deny"),
            content_type_nosniff: flag("content-type-nosniff"),
            referrer_policy: text("referrer-policy"),
            content_security_policy: text("content-security-policy"),
        }),
        "rate-limit" => MiddlewareKind::RateLimit {
            average: integer("average")?,
            burst: integer("burst"),
        },
        "ip-allow" => {
            MiddlewareKind::IpAllow(node.rest(0).filter_map(|v| v.value.as_cidr()).collect())
        }
        "basic-auth" => {
            MiddlewareKind::BasicAuth(Reference::new(node.string_prop("users-secret")?))
        }
        _ => return None,
    })
}

fn spanned_cidr(value: &Spanned<Value>) -> Option<Spanned<ipnet::IpNet>> {
    value
        .value
        .as_cidr()
        .map(|net| Spanned::new(net, value.span))
}

/// A `source` property: a CIDR, a set name, or `Invalid` when it was written
/// but rejected (so checks neither treat it as "anywhere" nor report it again).
fn source_prop(node: &Checked, name: &str) -> Option<AddressSource> {
    if let Some(value) = node.prop(name) {
        return Some(match spanned_cidr(value) {
            Some(net) => AddressSource::Cidr(net),
            None => AddressSource::Set(Reference::new(spanned_string(value)?)),
        });
    }
    node.rejected
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, span)| AddressSource::Invalid(*span))
}

fn port_match(node: &Checked) -> Option<PortMatch> {
    let protocol = match node.string_arg(0)?.value.as_str() {
        "udp" => Protocol::Udp,
        _ => Protocol::Tcp,
    };
    Some(PortMatch {
        protocol,
        port: node.arg(1)?.value.as_port()?,
    })
}

fn lower_address_pool(node: &Checked, diagnostics: &mut Diagnostics) -> Option<AddressPool> {
    let base = node.arg(0).and_then(spanned_cidr)?;
    let size = node.prop("size")?;
    let max = base.value.max_prefix_len();
    match size.value.as_integer().and_then(|s| u8::try_from(s).ok()) {
        Some(bits) if bits >= base.value.prefix_len() && bits <= max => {
            Some(AddressPool { base, size: bits })
        }
        _ => {
            diagnostics.push(
                Diagnostic::new(
                    Code::E007,
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
        name: node.string_arg(0)?,
        host: node.string_prop("host").map(Reference::new),
        services: node
            .children_named("service")
            .filter_map(|s| lower_service(s, diagnostics))
            .collect(),
    })
}

fn lower_service(node: &Checked, diagnostics: &mut Diagnostics) -> Option<Service> {
    let strings = |name: &str| -> Vec<Spanned<String>> {
        node.children_named(name)
            .flat_map(|c| c.rest(0).filter_map(spanned_string))
            .collect()
    };
    Some(Service {
        name: node.string_arg(0)?,
        span: node.head,
        image: image_prop(node),
        networks: node.child("networks").map(|n| {
            n.rest(0)
                .filter_map(spanned_string)
                .filter_map(|t| Tier::from_name(&t.value).map(|tier| Spanned::new(tier, t.span)))
                .collect()
        }),
        role: node.child("role").and_then(|r| r.string_arg(0)).map(|r| {
            let role = if r.value == "datastore" {
                Role::Datastore
            } else {
                Role::App
            };
            Spanned::new(role, r.span)
        }),
        routes: node
            .children_named("route")
            .filter_map(|r| {
                Some(Route {
                    hostname: r.string_arg(0)?,
                    port: r.prop("port")?.value.as_port(),
                    path_prefix: r.string_prop("path-prefix").map(|p| p.value),
                    protocol: match r.string_prop("protocol") {
                        Some(p) if p.value == "grpc" => Spanned::new(RouteProtocol::Grpc, p.span),
                        Some(p) => Spanned::new(RouteProtocol::Http, p.span),
                        None => Spanned::new(RouteProtocol::Http, r.head),
                    },
                    middlewares: r
                        .children_named("middlewares")
                        .flat_map(|m| m.rest(0).filter_map(spanned_string))
                        .map(Reference::new)
                        .collect(),
                    span: r.head,
                })
            })
            .collect(),
        ports: strings("ports"),
        env: node
            .children_named("env")
            .filter_map(|e| lower_env(e, diagnostics))
            .collect(),
        depends_on: strings("depends-on")
            .into_iter()
            .map(Reference::new)
            .collect(),
        healthcheck: node.child("healthcheck").and_then(|h| {
            Some(Healthcheck {
                command: h.string_prop("command")?.value,
                interval: h.string_prop("interval").map(|s| s.value),
                timeout: h.string_prop("timeout").map(|s| s.value),
                retries: h.prop("retries").and_then(|r| r.value.as_integer()),
                start_period: h.string_prop("start-period").map(|s| s.value),
            })
        }),
        resources: node.child("resources").map(|r| Resources {
            cpus: r.prop("cpus").and_then(|c| c.value.as_number()),
            memory: r.prop("memory").and_then(|m| m.value.as_size()),
        }),
        volumes: node
            .children_named("volume")
            .filter_map(|v| {
                Some(VolumeMount {
                    name: v.string_arg(0)?,
                    path: v.string_prop("path")?.value,
                    read_only: v.bool_prop("read-only").unwrap_or(false),
                })
            })
            .collect(),
        binds: node
            .children_named("bind")
            .filter_map(|b| {
                Some(BindMount {
                    source: b.string_arg(0)?.value,
                    path: b.string_prop("path")?.value,
                    read_only: b.bool_prop("read-only").unwrap_or(false),
                })
            })
            .collect(),
        command: node.child("command").map(|c| {
            c.rest(0)
                .filter_map(spanned_string)
                .map(|s| s.value)
                .collect()
        }),
        user: node
            .child("user")
            .and_then(|u| u.string_arg(0))
            .map(|u| u.value),
        labels: node
            .children_named("label")
            .filter_map(|l| lower_label(l, diagnostics))
            .collect(),
        restart: node
            .child("restart")
            .and_then(|r| r.string_arg(0))
            .map(|r| r.value),
        // Compose and Docker take capability names without the kernel's `CAP_` prefix.
        capabilities: strings("capabilities")
            .into_iter()
            .map(|c| c.value.trim_start_matches("CAP_").to_string())
            .collect(),
        hardening: node
            .child("hardening")
            .and_then(|h| h.arg(0)?.value.as_bool())
            .unwrap_or(true),
    })
}

fn lower_env(node: &Checked, diagnostics: &mut Diagnostics) -> Option<EnvVar> {
    let name = node.string_arg(0)?;
    let literal = node.string_arg(1);
    let secret = node.string_prop("secret");
    match (literal, secret) {
        (Some(literal), None) => Some(EnvVar {
            name,
            value_span: literal.span,
            value: EnvValue::Literal(literal.value),
        }),
        (None, Some(secret)) => Some(EnvVar {
            name,
            value_span: secret.span,
            value: EnvValue::Secret(Reference::new(secret)),
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
        // A missing value that failed its own type check was reported already.
        (None, None) if node.args.len() > 1 => None,
        (None, None) => {
            diagnostics.push(
                Diagnostic::new(
                    Code::E005,
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
    let key = node.string_arg(0)?;
    let value = node.string_arg(1)?.value;
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

fn image_prop(node: &Checked) -> Option<Spanned<crate::values::ImageRef>> {
    match node.prop("image")? {
        Spanned {
            value: Value::Image(image),
            span,
        } => Some(Spanned::new(image.clone(), *span)),
        _ => None,
    }
}
