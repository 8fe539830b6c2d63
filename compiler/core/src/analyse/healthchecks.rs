//! W103: a routed service has a healthcheck, so the proxy and rollouts know it works.

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::Model;

pub fn check_routed_healthchecks(model: &Model, diagnostics: &mut Diagnostics) {
    for (_, _, service) in model.services() {
        if service.healthcheck.is_none()
            && let Some(route) = service.routes.first()
        {
            diagnostics.push(
                Diagnostic::new(
                    Code::W103,
                    format!("routed service `{}` has no healthcheck", service.name.value),
                    route.span,
                    "routed here",
                )
                .with_help("add `healthcheck command=\"…\" interval=\"30s\"` so unhealthy containers are noticed"),
            );
        }
    }
}
