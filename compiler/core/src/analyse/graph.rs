//! The dependency graph: services and their `depends-on` edges (petgraph), for
//! the cycle check. Who may reach whom is the plan's reachability, not this.

use std::collections::BTreeMap;

use petgraph::graph::{DiGraph, NodeIndex};

use crate::model::{Model, ServiceId};

pub struct DependencyGraph {
    /// Edge weights are the position of the `depends-on` entry in its service.
    pub graph: DiGraph<ServiceId, usize>,
    services: BTreeMap<ServiceId, NodeIndex>,
}

impl DependencyGraph {
    pub fn build(model: &Model) -> DependencyGraph {
        let mut graph = DiGraph::new();
        let mut services = BTreeMap::new();
        for (id, _, _) in model.services() {
            services.insert(id, graph.add_node(id));
        }
        for (id, _, service) in model.services() {
            for (position, dependency) in service.depends_on.iter().enumerate() {
                if let Some(target) = dependency.target {
                    graph.add_edge(services[&id], services[&target], position);
                }
            }
        }
        DependencyGraph { graph, services }
    }

    pub fn node(&self, id: ServiceId) -> NodeIndex {
        self.services[&id]
    }
}
