//! Routes: a routed service is on `ingress` (E103), its host has a proxy (E109),
//! no hostname and path prefix is routed twice in the project (E108), no route
//! uses a port the proxy listens on itself (E110), and a service on `ingress`
//! has a route or answers a forward-auth middleware (E111).

use std::collections::BTreeMap;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::{Model, Tier};
use crate::plan::{PROXY_PORTS, Plan};
use crate::source::Span;

pub fn check_routes(model: &Model, plan: &Plan, diagnostics: &mut Diagnostics) {
    let mut first_use: BTreeMap<(&str, Option<&str>), Span> = BTreeMap::new();
    for (id, stack, service) in model.services() {
        let host = model.host_of(stack);
        // A datastore on `ingress` is E104 already; published ports are E102,
        // whose help is the route.
        if service.routes.is_empty()
            && service.ports.is_empty()
            && !plan.service(id).datastore
            && !asks_forward_auth(model, id)
            && let Some(ingress) = service
                .networks
                .iter()
                .flatten()
                .find(|t| t.value == Tier::Ingress)
        {
            diagnostics.push(
                Diagnostic::new(
                    Code::E111,
                    format!("service `{}` is on `ingress` but has no route", service.name.value),
                    ingress.span,
                    "nothing comes in here",
                )
                .with_help("`ingress` carries the proxy's connections to a route's port; add a `route`, or remove `ingress` (services reach each other over `internal`)"),
            );
        }
        for route in &service.routes {
            if service.networks.is_some() && !service.on(Tier::Ingress) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E103,
                        format!("service `{}` has a route but is not on the `ingress` tier", service.name.value),
                        route.span,
                        "route here",
                    )
                    .with_help("add `ingress` to the service's `networks`: the proxy reaches services only there"),
                );
            }
            if let Some(host) = host.filter(|h| h.proxy.is_none()) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E109,
                        format!(
                            "route `{}` runs on host `{}`, which has no proxy",
                            route.hostname.value, host.name.value
                        ),
                        route.span,
                        "nothing serves this route",
                    )
                    .with_secondary(host.name.span, "host without `proxy`")
                    .with_help("add `proxy \"traefik\" image=\"traefik:v3.1.6\"` to the host"),
                );
            }
            if let Some(port) = route.port.filter(|p| PROXY_PORTS.contains(p)) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E110,
                        format!("route `{}` uses port {port}, which the proxy listens on itself", route.hostname.value),
                        route.span,
                        "reserved for the proxy",
                    )
                    .with_help(format!(
                        "Traefik listens on {} inside its container; a route to the same port would let the service reach the proxy. Have the service listen on another port",
                        PROXY_PORTS.map(|p| p.to_string()).join(", ")
                    )),
                );
            }
            let key = (route.hostname.value.as_str(), route.path_prefix.as_deref());
            match first_use.get(&key) {
                Some(first) => diagnostics.push(
                    Diagnostic::new(
                        Code::E108,
                        match &route.path_prefix {
                            Some(prefix) => format!(
                                "`{}` with path prefix `{prefix}` is routed twice",
                                route.hostname.value
                            ),
                            None => format!("hostname `{}` is routed twice", route.hostname.value),
                        },
                        route.span,
                        "routed again here",
                    )
                    .with_secondary(*first, "first routed here")
                    .with_help("each hostname and path prefix goes to one service; pick another hostname or a distinct `path-prefix`"),
                ),
                None => {
                    first_use.insert(key, route.span);
                }
            }
        }
    }
}

/// Whether a `forward-auth` middleware asks the service: the proxy reaches it
/// over `ingress` without a route.
fn asks_forward_auth(model: &Model, id: crate::model::ServiceId) -> bool {
    model.middlewares.iter().any(|m| {
        matches!(&m.kind, Some(crate::model::MiddlewareKind::ForwardAuth(auth)) if auth.service.target == Some(id))
    })
}
