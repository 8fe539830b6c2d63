//! Volumes shared between stacks are declared by both (E116): the stack that
//! mounts another's volume says `from=`, the owner says `share … with=`, both
//! run on one host, and the owner has the volume. A volume name that two
//! stacks of a host use on their own is two volumes, which a reader takes for
//! one (W104).

use std::collections::BTreeMap;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::{Model, StackId};
use crate::plan::Plan;
use crate::source::Span;

pub fn check_volume_sharing(model: &Model, plan: &Plan, diagnostics: &mut Diagnostics) {
    // (host, volume) → the first stack that owns a volume of that name.
    let mut owners: BTreeMap<(usize, &str), (StackId, Span)> = BTreeMap::new();
    for (stack_index, stack) in model.stacks.iter().enumerate() {
        let here = StackId(stack_index);
        let host = plan.stack(here).host;
        for volume in stack.services.iter().flat_map(|s| &s.volumes) {
            let name = volume.name.value.as_str();
            let Some(from) = &volume.from else {
                let Some(host) = host else {
                    continue;
                };
                let first = *owners
                    .entry((host.0, name))
                    .or_insert((here, volume.name.span));
                if first.0 != here {
                    let other = &model.stacks[first.0.0].name.value;
                    diagnostics.push(
                        Diagnostic::new(
                            Code::W104,
                            format!(
                                "stack `{}` has a volume `{name}` of its own, not stack `{other}`'s",
                                stack.name.value
                            ),
                            volume.name.span,
                            "a second volume of this name",
                        )
                        .with_secondary(first.1, "the other one")
                        .with_help(format!(
                            "Compose keeps each stack's volumes apart: to mount `{other}`'s, write `from=\"{other}\"` here and `share \"{name}\" with=\"{}\"` in stack `{other}`; to keep two volumes, rename one",
                            stack.name.value
                        )),
                    );
                }
                continue;
            };
            let Some(owner_id) = from.target else {
                continue;
            };
            let owner = &model.stacks[owner_id.0];
            let refuse = |why: String, help: String| {
                Diagnostic::new(
                    Code::E116,
                    format!(
                        "stack `{}` cannot mount volume `{name}` of stack `{}`: {why}",
                        stack.name.value, owner.name.value
                    ),
                    from.name.span,
                    "mounted from here",
                )
                .with_help(help)
            };
            if owner_id == here {
                diagnostics.push(refuse(
                    "it is its own stack".into(),
                    "leave `from=` out to mount the stack's own volume".into(),
                ));
            } else if plan.stack(here).cluster.is_some() || plan.stack(owner_id).cluster.is_some() {
                diagnostics.push(refuse(
                    "volumes on a cluster are claims of one namespace".into(),
                    "on a cluster, reach the data through a service of the owning stack".into(),
                ));
            } else if host.is_none() || plan.stack(owner_id).host != host {
                diagnostics.push(refuse(
                    "they run on different hosts".into(),
                    "a volume lives on one host; run both stacks there".into(),
                ));
            } else if !owner
                .services
                .iter()
                .flat_map(|s| &s.volumes)
                .any(|v| v.from.is_none() && v.name.value == name)
            {
                diagnostics.push(refuse(
                    format!("`{}` has no volume of that name", owner.name.value),
                    "name a volume one of its services mounts".into(),
                ));
            } else if !owner
                .shares
                .iter()
                .any(|s| s.volume.value == name && s.with.target == Some(here))
            {
                diagnostics.push(refuse(
                    format!("`{}` does not share it", owner.name.value),
                    format!(
                        "sharing is declared by both stacks: add `share \"{name}\" with=\"{}\"` to stack `{}`",
                        stack.name.value, owner.name.value
                    ),
                ));
            }
        }
    }
    for stack in &model.stacks {
        for share in &stack.shares {
            let Some(with) = share.with.target else {
                continue;
            };
            let mounted = model.stacks[with.0]
                .services
                .iter()
                .flat_map(|s| &s.volumes)
                .any(|v| {
                    v.name.value == share.volume.value
                        && v.from
                            .as_ref()
                            .and_then(|f| f.target)
                            .map(|t| &model.stacks[t.0].name.value)
                            == Some(&stack.name.value)
                });
            if !mounted {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E116,
                        format!(
                            "stack `{}` shares volume `{}` with stack `{}`, which does not mount it",
                            stack.name.value, share.volume.value, share.with.name.value
                        ),
                        share.volume.span,
                        "shared here",
                    )
                    .with_help(format!(
                        "mount it there with `volume \"{}\" path=\"…\" from=\"{}\"`, or remove the `share`",
                        share.volume.value, stack.name.value
                    )),
                );
            }
        }
    }
}
