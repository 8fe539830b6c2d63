//! Stage 4. In: the resolved [`Model`]. Out: the [`Plan`] every emitter reads
//! (built first, in `plan`), and diagnostics for every breach of the
//! network-tier model. One file per check, each with one entry function.

mod backups;
mod cidrs;
mod clusters;
mod datastores;
mod dependencies;
mod deploys;
mod edge;
mod graph;
mod healthchecks;
mod images;
mod jobs;
mod literal_secrets;
mod middlewares;
pub mod plan;
mod ports;
mod projects;
mod routes;
mod rule_sources;
mod shared_services;
mod volumes;

use crate::diagnostic::Diagnostics;
use crate::model::Model;
use crate::plan::Plan;

pub fn analyse(model: &Model, diagnostics: &mut Diagnostics) -> Plan {
    let plan = plan::build_plan(model);
    ports::check_no_published_ports(model, diagnostics);
    projects::check_project_names(model, diagnostics);
    clusters::check_clusters(model, &plan, diagnostics);
    routes::check_routes(model, &plan, diagnostics);
    datastores::check_datastores_internal(model, &plan, diagnostics);
    dependencies::check_dependencies(model, &plan, diagnostics);
    literal_secrets::check_literal_secrets(model, diagnostics);
    images::check_pinned_images(model, diagnostics);
    healthchecks::check_routed_healthchecks(model, diagnostics);
    cidrs::check_overlapping_cidrs(model, diagnostics);
    rule_sources::check_rule_sources(model, diagnostics);
    edge::check_edge(model, diagnostics);
    middlewares::check_unused_middlewares(model, diagnostics);
    middlewares::check_forward_auth(model, &plan, diagnostics);
    deploys::check_deploys(model, diagnostics);
    backups::check_backup_agents(model, diagnostics);
    jobs::check_jobs(model, diagnostics);
    volumes::check_volume_sharing(model, &plan, diagnostics);
    shared_services::check_service_sharing(model, &plan, diagnostics);
    plan
}
