//! W302: a middleware that no route and no dashboard uses is dead configuration,
//! often a route that forgot to list it.

use std::collections::BTreeSet;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::{MiddlewareId, Model};

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
