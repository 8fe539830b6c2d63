//! Where a stack runs, and what only a cluster (or only a host) can take: a
//! stack names exactly one of `host` and `cluster` (E113); on a cluster, more
//! than one replica cannot share a ReadWriteOnce volume (E501), a volume needs a
//! size (E502), there are no bind mounts of the node's files (E503), a user is
//! numeric (E504), routes have no middlewares yet (E505), a job mounts no
//! volume (E506), and a secret has no default (E507); on a host,
//! `replicas` has no effect (W501). A namespace that cannot enforce the
//! `restricted` Pod Security Standard says why (W502).

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::{Model, Stack};
use crate::plan::Plan;

pub fn check_clusters(model: &Model, plan: &Plan, diagnostics: &mut Diagnostics) {
    for (index, stack) in model.stacks.iter().enumerate() {
        check_placement(stack, diagnostics);
        if let Some((level, Some((service, why)))) = &plan.stacks[index].pod_security {
            let service = model.service(*service);
            diagnostics.push(
                Diagnostic::new(
                    Code::W502,
                    format!(
                        "namespace `{}` enforces the `{}` Pod Security Standard, not `restricted`",
                        stack.name.value,
                        level.as_str()
                    ),
                    service.name.span,
                    format!("`{}` {why}", service.name.value),
                )
                .with_help("`restricted` needs every service to run as a numeric non-root `user` with no capability but NET_BIND_SERVICE"),
            );
        }
        let on_cluster = stack.cluster.is_some() && stack.host.is_none();
        for service in &stack.services {
            let name = &service.name.value;
            if !on_cluster {
                if let Some(replicas) = &service.replicas {
                    diagnostics.push(
                        Diagnostic::new(
                            Code::W501,
                            format!("`replicas` of service `{name}` has no effect on a host"),
                            replicas.span,
                            "a host runs one container",
                        )
                        .with_help("Compose runs one container per service here; run the stack on a `cluster` for replicas"),
                    );
                }
                continue;
            }
            if let (Some(replicas), Some(volume)) = (&service.replicas, service.volumes.first())
                && replicas.value > 1
            {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E501,
                        format!("service `{name}` runs {} replicas on one volume", replicas.value),
                        replicas.span,
                        "more than one pod",
                    )
                    .with_secondary(volume.name.span, "a ReadWriteOnce claim: one node at a time")
                    .with_help("keep one replica for a service with a volume, or move its state to a datastore service"),
                );
            }
            for volume in service.volumes.iter().filter(|v| v.size.is_none()) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E502,
                        format!("volume `{}` of service `{name}` has no size", volume.name.value),
                        volume.name.span,
                        "how much should the claim request?",
                    )
                    .with_help("a cluster's volume is a PersistentVolumeClaim of a fixed size: add `size=\"10GiB\"`"),
                );
            }
            for bind in &service.binds {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E503,
                        format!("service `{name}` mounts `{}` of the node", bind.source),
                        bind.span,
                        "a hostPath on a cluster",
                    )
                    .with_help("a pod may land on any node, and a hostPath breaks out of the namespace's isolation: use a `volume`"),
                );
            }
            if let Some(user) = &service.user
                && !user
                    .value
                    .split(':')
                    .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()))
            {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E504,
                        format!("user `{}` of service `{name}` is a name", user.value),
                        user.span,
                        "Kubernetes runs pods as numbers",
                    )
                    .with_help("write the numeric user and group, e.g. `user \"1000:1000\"`"),
                );
            }
            if let (Some(_), Some(volume)) = (&service.schedule, service.volumes.first()) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E506,
                        format!("job `{name}` mounts volume `{}` on a cluster", volume.name.value),
                        volume.name.span,
                        "a CronJob's pod",
                    )
                    .with_help("a service's volume is a claim of its StatefulSet's pod, which a CronJob cannot share; on a cluster, reach the data through the service instead, or run the stack on a host"),
                );
            }
            for env in &service.env {
                if let crate::model::IfUnset::Default(_) = env.if_unset {
                    diagnostics.push(
                        Diagnostic::new(
                            Code::E507,
                            format!("`{}` of service `{name}` has a default for its secret on a cluster", env.name.value),
                            env.value_span,
                            "a Kubernetes secret has no default",
                        )
                        .with_help("write `optional=#true` (the variable is left out when the secret is missing), or set the secret"),
                    );
                }
            }
            for route in service.routes.iter().filter(|r| !r.middlewares.is_empty()) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E505,
                        format!("route `{}` has middlewares, which a cluster does not compile yet", route.hostname.value),
                        route.span,
                        "on a cluster",
                    )
                    .with_help("infrac compiles a cluster's routes to plain Ingresses; configure the controller's middlewares yourself, or run the stack on a host"),
                );
            }
        }
    }
}

fn check_placement(stack: &Stack, diagnostics: &mut Diagnostics) {
    let name = &stack.name.value;
    match (&stack.host, &stack.cluster) {
        (Some(host), Some(cluster)) => diagnostics.push(
            Diagnostic::new(
                Code::E113,
                format!("stack `{name}` names both a host and a cluster"),
                cluster.name.span,
                "and a cluster",
            )
            .with_secondary(host.name.span, "a host")
            .with_help("a stack runs in one place: keep `host=` or `cluster=`"),
        ),
        (None, None) => diagnostics.push(
            Diagnostic::new(
                Code::E113,
                format!("stack `{name}` names neither a host nor a cluster"),
                stack.name.span,
                "runs nowhere",
            )
            .with_help("add `host=\"…\"` (Compose) or `cluster=\"…\"` (Kubernetes)"),
        ),
        _ => {}
    }
}
