//! E112: every Compose project on a host has its own name. A stack is the
//! project of its name; the host's proxy is `<host>-proxy`. Two projects of one
//! name would share containers, and `--remove-orphans` on one removes the
//! other's.

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::Model;

pub fn check_project_names(model: &Model, diagnostics: &mut Diagnostics) {
    for stack in &model.stacks {
        let Some(host) = model.host_of(stack) else {
            continue;
        };
        let proxy = format!("{}-proxy", host.name.value);
        if host.proxy.is_some() && stack.name.value == proxy {
            diagnostics.push(
                Diagnostic::new(
                    Code::E112,
                    format!(
                        "stack `{proxy}` has the name of host `{}`'s proxy project",
                        host.name.value
                    ),
                    stack.name.span,
                    "same Compose project as the proxy",
                )
                .with_secondary(host.name.span, "the proxy's project is `<host>-proxy`")
                .with_help(
                    "rename the stack: each deploy would remove the other's containers as orphans",
                ),
            );
        }
    }
}
