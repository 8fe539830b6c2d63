//! Every declared name of a model and every use of one, listed in one place.
//! In: a model. Out: definitions (kind, scope, index, name) and uses (kind,
//! name, the definition they were bound to). `resolve` builds its name
//! tables from the definitions; the editor navigates, renames and completes
//! with both.

use crate::model::*;
use crate::source::Spanned;

/// What a name declares. `as_str` is the node that declares it, and the
/// `refers=` of the schema entries that name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Host,
    Cluster,
    Secret,
    Middleware,
    CidrSet,
    Stack,
    Service,
    BackupTarget,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Host,
        Kind::Cluster,
        Kind::Secret,
        Kind::Middleware,
        Kind::CidrSet,
        Kind::Stack,
        Kind::Service,
        Kind::BackupTarget,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Host => "host",
            Kind::Cluster => "cluster",
            Kind::Secret => "secret",
            Kind::Middleware => "middleware",
            Kind::CidrSet => "cidr-set",
            Kind::Stack => "stack",
            Kind::Service => "service",
            Kind::BackupTarget => "backup-target",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// Which declaration: its kind, its stack (services are named per stack) and
/// its index in the model (within the stack for services).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub kind: Kind,
    pub stack: Option<usize>,
    pub index: usize,
}

pub struct Definition<'a> {
    pub key: Key,
    pub name: &'a Spanned<String>,
}

pub struct Use<'a> {
    pub kind: Kind,
    /// The stack of the service the use is written in, if any.
    pub stack: Option<usize>,
    pub name: &'a Spanned<String>,
    /// The declaration `resolve` bound it to.
    pub target: Option<Key>,
}

/// Every declaration, in model order.
pub fn definitions(model: &Model) -> Vec<Definition<'_>> {
    fn each<'a, T>(
        kind: Kind,
        items: &'a [T],
        name: impl Fn(&'a T) -> &'a Spanned<String>,
    ) -> impl Iterator<Item = Definition<'a>> {
        items
            .iter()
            .enumerate()
            .map(move |(index, item)| Definition {
                key: Key {
                    kind,
                    stack: None,
                    index,
                },
                name: name(item),
            })
    }
    let mut all: Vec<Definition> = each(Kind::Host, &model.hosts, |h| &h.name)
        .chain(each(Kind::Cluster, &model.clusters, |c| &c.name))
        .chain(each(Kind::Secret, &model.secrets, |s| &s.name))
        .chain(each(Kind::Middleware, &model.middlewares, |m| &m.name))
        .chain(each(Kind::CidrSet, &model.cidr_sets, |c| &c.name))
        .chain(each(Kind::Stack, &model.stacks, |s| &s.name))
        .chain(each(Kind::BackupTarget, &model.backup_targets, |t| &t.name))
        .collect();
    for (stack, s) in model.stacks.iter().enumerate() {
        all.extend(
            s.services
                .iter()
                .enumerate()
                .map(|(index, service)| Definition {
                    key: Key {
                        kind: Kind::Service,
                        stack: Some(stack),
                        index,
                    },
                    name: &service.name,
                }),
        );
    }
    all
}

/// Every use of a name, in model order, with the declaration it is bound to.
pub fn uses(model: &Model) -> Vec<Use<'_>> {
    let mut all = Vec::new();
    for registry in &model.registries {
        all.push(global_use(Kind::Secret, &registry.password));
    }
    for target in &model.backup_targets {
        all.push(global_use(Kind::Secret, &target.access_key));
        all.push(global_use(Kind::Secret, &target.secret_key));
    }
    for middleware in &model.middlewares {
        match &middleware.kind {
            Some(MiddlewareKind::BasicAuth(secret)) => all.push(global_use(Kind::Secret, secret)),
            Some(MiddlewareKind::ForwardAuth(auth)) => {
                all.extend(service_ref_uses(&auth.service));
            }
            _ => {}
        }
    }
    for host in &model.hosts {
        let sources = host
            .ssh
            .allow_from
            .iter()
            .chain(&host.ssh.management)
            .chain(host.firewall.allows.iter().filter_map(|a| a.from.as_ref()));
        for source in sources {
            if let AddressSource::Set(set) = source {
                all.push(global_use(Kind::CidrSet, set));
            }
        }
        if let Some(middleware) = host.dashboard().and_then(|d| d.middleware.as_ref()) {
            all.push(global_use(Kind::Middleware, middleware));
        }
    }
    for deploy in model.gitops.iter().flat_map(|g| &g.deploys) {
        all.push(global_use(Kind::Host, &deploy.host));
    }
    for stack in &model.stacks {
        for share in &stack.shares {
            all.push(global_use(Kind::Stack, &share.with));
        }
        for share in &stack.service_shares {
            all.push(global_use(Kind::Stack, &share.with));
        }
        if let Some(host) = &stack.host {
            all.push(global_use(Kind::Host, host));
        }
        if let Some(cluster) = &stack.cluster {
            all.push(global_use(Kind::Cluster, cluster));
        }
        for service in &stack.services {
            for env in &service.env {
                for secret in env.value.secrets() {
                    all.push(global_use(Kind::Secret, secret));
                }
            }
            for middleware in service.routes.iter().flat_map(|r| &r.middlewares) {
                all.push(global_use(Kind::Middleware, middleware));
            }
            if let Some(target) = &service.backup_to {
                all.push(global_use(Kind::BackupTarget, target));
            }
            for from in service.volumes.iter().filter_map(|v| v.from.as_ref()) {
                all.push(global_use(Kind::Stack, from));
            }
        }
    }
    for (stack_index, stack) in model.stacks.iter().enumerate() {
        for service in &stack.services {
            for reach in &service.reaches {
                all.extend(service_ref_uses(reach));
            }
            for dependency in &service.depends_on {
                all.push(service_use(
                    Some(stack_index),
                    &dependency.name,
                    dependency.target,
                ));
            }
        }
    }
    all
}

/// A use of a name declared once for the whole project (not per stack).
/// A use of a service, written in `stack` (where the name is looked up).
fn service_use(stack: Option<usize>, name: &Spanned<String>, target: Option<ServiceId>) -> Use<'_> {
    Use {
        kind: Kind::Service,
        stack,
        name,
        target: target.map(|t| Key {
            kind: Kind::Service,
            stack: Some(t.stack.0),
            index: t.index,
        }),
    }
}

/// A service named with its stack: a use of the stack and one of the service.
fn service_ref_uses(reference: &ServiceRef) -> [Use<'_>; 2] {
    [
        global_use(Kind::Stack, &reference.stack),
        service_use(
            reference.stack.target.map(|s| s.0),
            &reference.name,
            reference.target,
        ),
    ]
}

fn global_use<Id: Copy + Into<usize>>(kind: Kind, reference: &Reference<Id>) -> Use<'_> {
    Use {
        kind,
        stack: None,
        name: &reference.name,
        target: reference.target.map(|id| Key {
            kind,
            stack: None,
            index: id.into(),
        }),
    }
}
