//! E104: a datastore lives on `internal` only: no proxy, no internet. Which
//! services are datastores the plan says (a `role`, or a well-known image).

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::{Model, Tier};
use crate::plan::Plan;

pub fn check_datastores_internal(model: &Model, plan: &Plan, diagnostics: &mut Diagnostics) {
    for (id, _, service) in model.services() {
        if !plan.service(id).datastore {
            continue;
        }
        let why = match (&service.role, &service.image) {
            (Some(role), _) => (role.span, "declared a datastore here".to_string()),
            (None, Some(image)) => (
                image.span,
                format!("`{}` is a datastore image", image.value.base_name()),
            ),
            (None, None) => continue,
        };
        for tier in service
            .networks
            .iter()
            .flatten()
            .filter(|t| t.value != Tier::Internal)
        {
            diagnostics.push(
                Diagnostic::new(
                    Code::E104,
                    format!("datastore `{}` is on the `{}` tier", service.name.value, tier.value.as_str()),
                    tier.span,
                    format!("`{}` exposes the datastore", tier.value.as_str()),
                )
                .with_secondary(why.0, why.1.clone())
                .with_help("datastores belong on `internal` only; if this is not a datastore, say `role \"app\"`"),
            );
        }
    }
}
