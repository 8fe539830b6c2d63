//! Stage 4. In: the resolved [`Model`]. Out: diagnostics for every breach of the
//! network-tier model. One file per check, each with one entry function; the
//! reachability graph they share is built once in [`graph`].

mod cidrs;
mod datastores;
mod dependencies;
mod deploys;
mod edge;
pub mod graph;
mod healthchecks;
mod images;
mod literal_secrets;
mod middlewares;
mod ports;
mod routes;
mod rule_sources;

use crate::diagnostic::Diagnostics;
use crate::model::Model;

pub fn analyse(model: &Model, diagnostics: &mut Diagnostics) {
    let graph = graph::NetworkGraph::build(model);
    ports::check_no_published_ports(model, diagnostics);
    routes::check_routes(model, diagnostics);
    datastores::check_datastores_internal(model, diagnostics);
    dependencies::check_dependencies(model, &graph, diagnostics);
    literal_secrets::check_literal_secrets(model, diagnostics);
    images::check_pinned_images(model, diagnostics);
    healthchecks::check_routed_healthchecks(model, diagnostics);
    cidrs::check_overlapping_cidrs(model, diagnostics);
    rule_sources::check_rule_sources(model, diagnostics);
    edge::check_edge(model, diagnostics);
    middlewares::check_unused_middlewares(model, diagnostics);
    deploys::check_deploys(model, diagnostics);
}
