//! E104: a datastore lives on `internal` only: no proxy, no internet.

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::{Model, Role, Service, Tier};

/// Image names (last path component, prefix match) that are datastores unless the
/// source says `role "app"`.
const DATASTORE_IMAGES: &[&str] = &[
    "postgres",
    "postgis",
    "pgvector",
    "timescaledb",
    "mysql",
    "mariadb",
    "percona",
    "redis",
    "valkey",
    "keydb",
    "dragonfly",
    "mongo",
    "clickhouse",
    "memcached",
    "elasticsearch",
    "opensearch",
    "cassandra",
    "scylla",
    "influxdb",
    "couchdb",
    "cockroach",
    "neo4j",
];

pub fn is_datastore(service: &Service) -> bool {
    match service.role.as_ref().map(|r| r.value) {
        Some(role) => role == Role::Datastore,
        None => service.image.as_ref().is_some_and(|image| {
            let base = image.value.base_name();
            DATASTORE_IMAGES.iter().any(|known| base.starts_with(known))
        }),
    }
}

pub fn check_datastores_internal(model: &Model, diagnostics: &mut Diagnostics) {
    for (_, _, service) in model.services().filter(|(_, _, s)| is_datastore(s)) {
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
