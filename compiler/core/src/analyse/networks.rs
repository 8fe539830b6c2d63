//! E101: every service names its networks; nothing falls back to a default network.

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::Model;

pub fn check_services_name_networks(model: &Model, diagnostics: &mut Diagnostics) {
    for (_, stack, service) in model.services() {
        if service.networks.is_none() {
            diagnostics.push(
                Diagnostic::new(
                    Code::E101,
                    format!("service `{}` of stack `{}` does not name its networks", service.name.value, stack.name.value),
                    service.span,
                    "no `networks` in this service",
                )
                .with_help("add `networks \"internal\"` (or `ingress` / `egress`): there is no default network"),
            );
        }
    }
}
