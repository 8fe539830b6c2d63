//! E114: a backup agent (`backup-to`) is on `egress`, the only tier that
//! reaches a backup target; the data it reads stays on `internal`.

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::{Model, Tier};

pub fn check_backup_agents(model: &Model, diagnostics: &mut Diagnostics) {
    for (_, _, service) in model.services() {
        let Some(target) = &service.backup_to else {
            continue;
        };
        if service.networks.is_some() && !service.on(Tier::Egress) {
            diagnostics.push(
                Diagnostic::new(
                    Code::E114,
                    format!(
                        "backup agent `{}` cannot reach backup target `{}`: it is not on `egress`",
                        service.name.value, target.name.value
                    ),
                    target.name.span,
                    "ships backups here",
                )
                .with_help(
                    "add `egress` to its `networks`; the datastore it backs up stays on `internal`",
                ),
            );
        }
    }
}
