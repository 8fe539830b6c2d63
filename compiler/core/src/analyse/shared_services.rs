//! Services reached across stacks are declared by both (E118): the stack that
//! owns the service says `share-service … with=`, the services of the other
//! stack say `reach … from=`, and both stacks run on the same host.

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::{Model, StackId};
use crate::plan::Plan;

pub fn check_service_sharing(model: &Model, plan: &Plan, diagnostics: &mut Diagnostics) {
    let on_one_host = |a: StackId, b: StackId| {
        let host = plan.stack(a).host;
        host.is_some() && plan.stack(b).host == host
    };
    for (id, _, service) in model.services() {
        for reach in &service.reaches {
            let Some(target) = reach.target else { continue };
            let owner = &model.stacks[target.stack.0];
            let consumer = &model.stacks[id.stack.0].name.value;
            let shares = owner
                .service_shares
                .iter()
                .any(|share| share.target == Some(target) && share.with.target == Some(id.stack));
            let problem = if target.stack == id.stack {
                Some((
                    "in the service's own stack".to_string(),
                    "services of one stack reach each other over `internal`: remove `reach`"
                        .to_string(),
                ))
            } else if !shares {
                Some((
                    format!(
                        "stack `{}` does not share it with `{consumer}`",
                        owner.name.value
                    ),
                    format!(
                        "add `share-service \"{}\" with=\"{consumer}\" port=<port>` to stack `{}`",
                        reach.name.value, owner.name.value
                    ),
                ))
            } else if !on_one_host(target.stack, id.stack) {
                Some((
                    "the two stacks do not run on one host".to_string(),
                    "a shared service is reached over a network of the host: run both stacks on the same host".to_string(),
                ))
            } else {
                None
            };
            if let Some((label, help)) = problem {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E118,
                        format!(
                            "service `{}` cannot reach `{}` of stack `{}`",
                            service.name.value, reach.name.value, owner.name.value
                        ),
                        reach.name.span,
                        label,
                    )
                    .with_help(help),
                );
            }
        }
    }
    for stack in &model.stacks {
        for share in &stack.service_shares {
            let (Some(with), Some(shared)) = (share.with.target, share.target) else {
                continue;
            };
            let reached = model.stacks[with.0]
                .services
                .iter()
                .any(|s| s.reaches.iter().any(|r| r.target == Some(shared)));
            if !reached {
                let with_name = &model.stacks[with.0].name.value;
                diagnostics.push(
                    Diagnostic::new(
                        Code::E118,
                        format!(
                            "stack `{}` shares `{}` with `{with_name}`, which does not reach it",
                            stack.name.value, share.service.value
                        ),
                        share.service.span,
                        "no service of the other stack says `reach`",
                    )
                    .with_help(format!(
                        "add `reach \"{}\" from=\"{}\"` to the services of `{with_name}` that use it, or remove the share",
                        share.service.value, stack.name.value
                    )),
                );
            }
        }
    }
}
