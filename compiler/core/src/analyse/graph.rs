//! The reachability graph: services and the stack-scoped networks they join, and
//! the dependencies between services. Checks ask it who can reach whom.

use std::collections::BTreeMap;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::model::{Model, ServiceId, StackId, Tier};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    Service(ServiceId),
    Network(StackId, Tier),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    /// service → network it joins
    Joins,
    /// service → service it depends on; the index is the `depends-on` entry's position
    DependsOn(usize),
}

pub struct NetworkGraph {
    pub graph: DiGraph<Node, Edge>,
    services: BTreeMap<ServiceId, NodeIndex>,
}

impl NetworkGraph {
    pub fn build(model: &Model) -> NetworkGraph {
        let mut graph = DiGraph::new();
        let mut services = BTreeMap::new();
        let mut networks = BTreeMap::new();
        for (id, _, service) in model.services() {
            let node = graph.add_node(Node::Service(id));
            services.insert(id, node);
            for tier in service.tiers() {
                let network = *networks
                    .entry((id.stack, tier))
                    .or_insert_with(|| graph.add_node(Node::Network(id.stack, tier)));
                graph.add_edge(node, network, Edge::Joins);
            }
        }
        for (id, _, service) in model.services() {
            for (position, dependency) in service.depends_on.iter().enumerate() {
                if let Some(target) = dependency.target {
                    graph.add_edge(services[&id], services[&target], Edge::DependsOn(position));
                }
            }
        }
        NetworkGraph { graph, services }
    }

    pub fn node(&self, id: ServiceId) -> NodeIndex {
        self.services[&id]
    }

    /// Networks two services both join.
    pub fn shared_networks(&self, a: ServiceId, b: ServiceId) -> Vec<Tier> {
        let networks = |id: ServiceId| -> Vec<NodeIndex> {
            self.graph
                .edges(self.node(id))
                .filter(|e| *e.weight() == Edge::Joins)
                .map(|e| e.target())
                .collect()
        };
        let of_b = networks(b);
        networks(a)
            .into_iter()
            .filter(|n| of_b.contains(n))
            .filter_map(|n| match self.graph[n] {
                Node::Network(_, tier) => Some(tier),
                Node::Service(_) => None,
            })
            .collect()
    }
}
