//! Stage 3. In: the lowered [`Model`] with names. Out: the same model with every
//! reference bound to its target's id, plus diagnostics for duplicate names and
//! references that do not resolve (with "did you mean" help). The name tables
//! come from [`names::definitions`], the listing the editor navigates with.

use std::collections::BTreeMap;

use crate::diagnostic::{Code, Diagnostic, Diagnostics, closest};
use crate::model::*;
use crate::names::{self, Kind};
use crate::source::{Span, Spanned};

pub fn resolve(mut model: Model, diagnostics: &mut Diagnostics) -> Model {
    let definitions = names::definitions(&model);
    let mut table = |kind: Kind, stack: Option<usize>| {
        index_names(
            kind.as_str(),
            definitions
                .iter()
                .filter(|d| d.key.kind == kind && d.key.stack == stack)
                .map(|d| (d.key.index, d.name)),
            diagnostics,
        )
    };
    let secrets = table(Kind::Secret, None);
    let cidr_sets = table(Kind::CidrSet, None);
    let middlewares = table(Kind::Middleware, None);
    let hosts = table(Kind::Host, None);
    let clusters = table(Kind::Cluster, None);
    let backup_targets = table(Kind::BackupTarget, None);
    let stacks = table(Kind::Stack, None);
    let services: Vec<BTreeMap<String, usize>> = (0..model.stacks.len())
        .map(|stack| table(Kind::Service, Some(stack)))
        .collect();
    drop(definitions);

    for middleware in &mut model.middlewares {
        match &mut middleware.kind {
            Some(MiddlewareKind::BasicAuth(secret)) => {
                secret.target = lookup("secret", &secret.name, &secrets, diagnostics).map(SecretId);
            }
            Some(MiddlewareKind::ForwardAuth(auth)) => {
                resolve_service_ref(&mut auth.service, &stacks, &services, diagnostics);
            }
            _ => {}
        }
    }
    for target in &mut model.backup_targets {
        for secret in [&mut target.access_key, &mut target.secret_key] {
            secret.target = lookup("secret", &secret.name, &secrets, diagnostics).map(SecretId);
        }
    }
    for registry in &mut model.registries {
        let secret = &mut registry.password;
        secret.target = lookup("secret", &secret.name, &secrets, diagnostics).map(SecretId);
    }
    for host in &mut model.hosts {
        let sources = host
            .ssh
            .allow_from
            .iter_mut()
            .chain(host.ssh.management.iter_mut())
            .chain(
                host.firewall
                    .allows
                    .iter_mut()
                    .filter_map(|a| a.from.as_mut()),
            );
        for source in sources {
            if let AddressSource::Set(set) = source {
                set.target = lookup("cidr-set", &set.name, &cidr_sets, diagnostics).map(CidrSetId);
            }
        }
        let dashboard = host.proxy.as_mut().and_then(|p| p.dashboard.as_mut());
        if let Some(reference) = dashboard.and_then(|d| d.middleware.as_mut()) {
            reference.target =
                lookup("middleware", &reference.name, &middlewares, diagnostics).map(MiddlewareId);
        }
    }
    for deploy in model.gitops.iter_mut().flat_map(|g| g.deploys.iter_mut()) {
        deploy.host.target = lookup("host", &deploy.host.name, &hosts, diagnostics).map(HostId);
    }
    for (stack_index, stack) in model.stacks.iter_mut().enumerate() {
        for share in &mut stack.shares {
            share.with.target =
                lookup("stack", &share.with.name, &stacks, diagnostics).map(StackId);
        }
        for share in &mut stack.service_shares {
            share.with.target =
                lookup("stack", &share.with.name, &stacks, diagnostics).map(StackId);
            share.target = lookup(
                "service",
                &share.service,
                &services[stack_index],
                diagnostics,
            )
            .map(|index| ServiceId {
                stack: StackId(stack_index),
                index,
            });
        }
        for volume in stack.services.iter_mut().flat_map(|s| s.volumes.iter_mut()) {
            if let Some(from) = &mut volume.from {
                from.target = lookup("stack", &from.name, &stacks, diagnostics).map(StackId);
            }
        }
        if let Some(host) = &mut stack.host {
            host.target = lookup("host", &host.name, &hosts, diagnostics).map(HostId);
        }
        if let Some(cluster) = &mut stack.cluster {
            cluster.target =
                lookup("cluster", &cluster.name, &clusters, diagnostics).map(ClusterId);
        }
        for service in &mut stack.services {
            for env in &mut service.env {
                for secret in env.value.secrets_mut() {
                    secret.target =
                        lookup("secret", &secret.name, &secrets, diagnostics).map(SecretId);
                }
            }
            for reference in service
                .routes
                .iter_mut()
                .flat_map(|r| r.middlewares.iter_mut())
            {
                reference.target = lookup("middleware", &reference.name, &middlewares, diagnostics)
                    .map(MiddlewareId);
            }
            if let Some(target) = &mut service.backup_to {
                target.target = lookup("backup-target", &target.name, &backup_targets, diagnostics)
                    .map(BackupTargetId);
            }
            for reach in &mut service.reaches {
                resolve_service_ref(reach, &stacks, &services, diagnostics);
            }
            for dependency in &mut service.depends_on {
                dependency.target =
                    resolve_service(stack_index, &dependency.name, &services, diagnostics);
            }
        }
    }
    model
}

/// A service named with its stack: the stack, then the service in it.
fn resolve_service_ref(
    reference: &mut ServiceRef,
    stacks: &BTreeMap<String, usize>,
    services: &[BTreeMap<String, usize>],
    diagnostics: &mut Diagnostics,
) {
    reference.stack.target =
        lookup("stack", &reference.stack.name, stacks, diagnostics).map(StackId);
    reference.target = reference.stack.target.and_then(|stack| {
        lookup("service", &reference.name, &services[stack.0], diagnostics)
            .map(|index| ServiceId { stack, index })
    });
}

/// A dependency resolves in its own stack first. A name found only in another
/// stack still resolves, so that `analyse` can report the cross-stack edge.
fn resolve_service(
    stack: usize,
    name: &Spanned<String>,
    services: &[BTreeMap<String, usize>],
    diagnostics: &mut Diagnostics,
) -> Option<ServiceId> {
    let in_stack = |s: usize| {
        services[s].get(&name.value).map(|&index| ServiceId {
            stack: StackId(s),
            index,
        })
    };
    if let Some(id) = in_stack(stack) {
        return Some(id);
    }
    if let Some(id) = (0..services.len()).find_map(in_stack) {
        return Some(id);
    }
    lookup("service", name, &services[stack], diagnostics).map(|index| ServiceId {
        stack: StackId(stack),
        index,
    })
}

fn lookup(
    kind: &str,
    name: &Spanned<String>,
    table: &BTreeMap<String, usize>,
    diagnostics: &mut Diagnostics,
) -> Option<usize> {
    if let Some(&index) = table.get(&name.value) {
        return Some(index);
    }
    let diagnostic = Diagnostic::new(
        Code::E010,
        format!("unknown {kind} `{}`", name.value),
        name.span,
        format!("no such {kind}"),
    );
    diagnostics.push(
        match closest(&name.value, table.keys().map(String::as_str)) {
            Some(candidate) => {
                diagnostic.with_suggestion(name.span, candidate, format!("{candidate:?}"))
            }
            None if table.is_empty() => diagnostic.with_help(format!(
                "no {kind} is declared; declare it with `{kind} \"{}\"`",
                name.value
            )),
            None => {
                let known: Vec<&str> = table.keys().map(String::as_str).collect();
                diagnostic.with_help(format!("known {kind}s: {}", known.join(", ")))
            }
        },
    );
    None
}

/// Maps names to their index, reporting every name declared twice.
fn index_names<'a>(
    kind: &str,
    names: impl Iterator<Item = (usize, &'a Spanned<String>)>,
    diagnostics: &mut Diagnostics,
) -> BTreeMap<String, usize> {
    let mut table: BTreeMap<String, usize> = BTreeMap::new();
    let mut first_spans: BTreeMap<String, Span> = BTreeMap::new();
    for (index, name) in names {
        match first_spans.get(&name.value) {
            Some(first) => diagnostics.push(
                Diagnostic::new(
                    Code::E009,
                    format!("{kind} `{}` is declared twice", name.value),
                    name.span,
                    "declared again here",
                )
                .with_secondary(*first, "first declared here")
                .with_help(format!("{kind} names must be unique; rename one of them")),
            ),
            None => {
                first_spans.insert(name.value.clone(), name.span);
                table.insert(name.value.clone(), index);
            }
        }
    }
    table
}
