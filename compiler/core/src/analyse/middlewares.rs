//! W302: a middleware that no route and no dashboard uses is dead configuration,
//! often a route that forgot to list it. E117: a forward-auth service the proxy
//! of a host using the middleware cannot reach.

use std::collections::BTreeSet;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::{HostId, MiddlewareId, MiddlewareKind, Model, Tier};
use crate::plan::Plan;

pub fn check_unused_middlewares(model: &Model, diagnostics: &mut Diagnostics) {
    let routes = model
        .services()
        .flat_map(|(_, _, s)| s.routes.iter().flat_map(|r| r.middlewares.iter()));
    let dashboards = model
        .hosts
        .iter()
        .filter_map(|h| h.dashboard()?.middleware.as_ref());
    let references: Vec<_> = routes.chain(dashboards).collect();
    // A reference that did not resolve (already an error) may be a typo of the
    // very middleware that would look unused.
    if references.iter().any(|r| r.target.is_none()) {
        return;
    }
    let used: BTreeSet<MiddlewareId> = references.iter().filter_map(|r| r.target).collect();
    for (index, middleware) in model.middlewares.iter().enumerate() {
        if !used.contains(&MiddlewareId(index)) {
            diagnostics.push(
                Diagnostic::new(
                    Code::W302,
                    format!("middleware `{}` is not used", middleware.name.value),
                    middleware.name.span,
                    "no route lists it",
                )
                .with_help(format!(
                    "list it on a route (`route … {{ middlewares \"{}\" }}`) or remove it",
                    middleware.name.value
                )),
            );
        }
    }
}

pub fn check_forward_auth(model: &Model, plan: &Plan, diagnostics: &mut Diagnostics) {
    let mut reported = BTreeSet::new();
    for (host, host_plan) in plan.hosts.iter().enumerate() {
        for &id in &host_plan.middlewares {
            let Some(MiddlewareKind::ForwardAuth(auth)) = &model.middlewares[id.0].kind else {
                continue;
            };
            let Some(target) = auth.service.target else {
                continue;
            };
            let service = model.service(target);
            let problem = if !service.on(Tier::Ingress) {
                format!("service `{}` is not on `ingress`", service.name.value)
            } else if plan.stacks[target.stack.0].host != Some(HostId(host)) {
                format!(
                    "service `{}` does not run on host `{}`, whose routes use `{}`",
                    service.name.value,
                    model.hosts[host].name.value,
                    model.middlewares[id.0].name.value
                )
            } else {
                continue;
            };
            if reported.insert((id, problem.clone())) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E117,
                        format!("the proxy cannot reach forward-auth service `{}`", service.name.value),
                        auth.service.name.span,
                        problem,
                    )
                    .with_help("the proxy reaches only its own host's services on `ingress`: add `ingress` to its networks, and run one instance on every host whose routes use the middleware"),
                );
            }
        }
    }
}
