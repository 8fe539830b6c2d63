//! What the edge in front of a host can carry: no gRPC through a Cloudflare
//! Tunnel (E301), an ACME challenge only where Let's Encrypt can reach the port
//! it uses (E302), route hostnames under the project's domains or the tunnel's
//! zone (W301).

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::{AcmeChallenge, Certificates, Host, Model, Protocol, RouteProtocol};

pub fn check_edge(model: &Model, diagnostics: &mut Diagnostics) {
    for host in &model.hosts {
        check_acme_reachable(host, diagnostics);
    }
    let domains: Vec<&str> = model
        .project
        .iter()
        .flat_map(|p| p.domains.iter().map(|d| d.value.as_str()))
        .collect();
    for (_, stack, service) in model.services() {
        let Some(host) = model.host_of(stack) else {
            continue;
        };
        let tunnel = host.tunnel.as_ref();
        for route in &service.routes {
            if let (Some(tunnel), RouteProtocol::Grpc) = (tunnel, route.protocol.value) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E301,
                        format!("gRPC route `{}` is served through a Cloudflare Tunnel", route.hostname.value),
                        route.protocol.span,
                        "gRPC",
                    )
                    .with_secondary(tunnel.span, "the tunnel in front of the host")
                    .with_help("a Cloudflare Tunnel does not carry gRPC's HTTP/2 trailers; serve gRPC-Web (`protocol=\"http\"` with a gRPC-Web capable server), or run the service on a host without a tunnel, reached through Cloudflare's proxy with gRPC enabled"),
                );
            }
            let zones: Vec<&str> = domains
                .iter()
                .copied()
                .chain(
                    tunnel
                        .and_then(|t| t.zone.as_ref())
                        .map(|z| z.value.as_str()),
                )
                .collect();
            if zones.is_empty() {
                continue;
            }
            let name = route.hostname.value.as_str();
            if !zones
                .iter()
                .any(|zone| name == *zone || name.ends_with(&format!(".{zone}")))
            {
                diagnostics.push(
                    Diagnostic::new(
                        Code::W301,
                        format!("`{name}` is not under the project's domains"),
                        route.hostname.span,
                        "outside every domain",
                    )
                    .with_help(format!(
                        "known domains: {}; add the domain with `domain \"…\"` in `project`, or the tunnel's `zone`",
                        zones.join(", ")
                    )),
                );
            }
        }
    }
}

fn check_acme_reachable(host: &Host, diagnostics: &mut Diagnostics) {
    let Some(Certificates::Acme {
        challenge, span, ..
    }) = host.proxy.as_ref().map(|p| &p.certificates)
    else {
        return;
    };
    let (port, name) = match challenge {
        AcmeChallenge::Http => (80, "HTTP"),
        AcmeChallenge::Tls => (443, "TLS-ALPN"),
    };
    let why = if let Some(tunnel) = &host.tunnel {
        Some((
            tunnel.span,
            format!("the tunnel fronts the host: the proxy's port {port} is bound to 127.0.0.1"),
        ))
    } else {
        let opened = host
            .firewall
            .allows
            .iter()
            .any(|a| a.protocol == Protocol::Tcp && a.port == Some(port));
        (!opened).then(|| {
            (
                host.name.span,
                format!("the firewall has no `allow \"tcp\" {port}`, so it drops Let's Encrypt"),
            )
        })
    };
    if let Some((cause, label)) = why {
        diagnostics.push(
            Diagnostic::new(
                Code::E302,
                format!("the ACME {name} challenge cannot reach host `{}` on port {port}", host.name.value),
                *span,
                format!("{name} challenge"),
            )
            .with_secondary(cause, label)
            .with_help(if host.tunnel.is_some() {
                "behind a tunnel, use `tls \"cloudflare-origin\"` (Cloudflare's edge holds the public certificate)".to_string()
            } else {
                format!("open the port to everyone with `allow \"tcp\" {port}` in `firewall`: Let's Encrypt validates from addresses it does not publish")
            }),
        );
    }
}
