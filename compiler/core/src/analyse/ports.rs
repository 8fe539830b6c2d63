//! E102: nothing publishes ports except the proxy; services are reached through routes.

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::Model;

pub fn check_no_published_ports(model: &Model, diagnostics: &mut Diagnostics) {
    for (_, _, service) in model.services() {
        for port in &service.ports {
            let container_port = port.value.rsplit(':').next().unwrap_or(&port.value);
            let container_port = container_port.split('/').next().unwrap_or(container_port);
            diagnostics.push(
                Diagnostic::new(
                    Code::E102,
                    format!("service `{}` publishes port `{}`", service.name.value, port.value),
                    port.span,
                    "published port",
                )
                .with_help(format!(
                    "only the proxy publishes ports; reach the service through the proxy with `route \"<hostname>\" port={container_port}` and `networks \"ingress\"`"
                )),
            );
        }
    }
}
