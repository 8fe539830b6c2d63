//! Dependencies: never on another stack's service (E106), only on a service the
//! plan's reachability lets it reach (E105: both on `internal`), and never in a
//! cycle (E107).

use petgraph::algo::tarjan_scc;
use petgraph::visit::EdgeRef;

use crate::analyse::graph::DependencyGraph;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::Model;
use crate::plan::{Endpoint, Plan};

pub fn check_dependencies(model: &Model, plan: &Plan, diagnostics: &mut Diagnostics) {
    let graph = DependencyGraph::build(model);
    for (id, stack, service) in model.services() {
        for dependency in &service.depends_on {
            let Some(target) = dependency.target else {
                continue;
            };
            let other = model.service(target);
            if target.stack != id.stack {
                let other_stack = &model.stacks[target.stack.0];
                diagnostics.push(
                    Diagnostic::new(
                        Code::E106,
                        format!(
                            "service `{}` of stack `{}` depends on `{}` of stack `{}`",
                            service.name.value, stack.name.value, other.name.value, other_stack.name.value
                        ),
                        dependency.name.span,
                        "in another stack",
                    )
                    .with_secondary(other.name.span, "declared here")
                    .with_help("stacks cannot see each other; run a copy of the dependency in this stack, or move the service"),
                );
            } else if target != id
                && plan
                    .reachability
                    .flow(Endpoint::Service(id), Endpoint::Service(target))
                    .is_none()
                && service.networks.is_some()
                && other.networks.is_some()
            {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E105,
                        format!(
                            "service `{}` depends on `{}` but cannot reach it",
                            service.name.value, other.name.value
                        ),
                        dependency.name.span,
                        "unreachable dependency",
                    )
                    .with_secondary(other.name.span, "declared here")
                    .with_help("services of a stack reach each other over `internal` only (`ingress` is for the proxy, `egress` for the internet): put both on `internal`"),
                );
            }
        }
    }
    check_cycles(model, &graph, diagnostics);
}

fn check_cycles(model: &Model, graph: &DependencyGraph, diagnostics: &mut Diagnostics) {
    let mut components = tarjan_scc(&graph.graph);
    components.iter_mut().for_each(|c| c.sort());
    components.sort();
    for component in components {
        let services: Vec<_> = component.iter().map(|n| graph.graph[*n]).collect();
        let self_loop = |n| graph.graph.edges_connecting(n, n).next().is_some();
        if services.len() < 2 && !component.iter().any(|n| self_loop(*n)) {
            continue;
        }
        let Some(&first) = services.first() else {
            continue;
        };
        // Report at the first `depends-on` entry that stays inside the cycle.
        let edge = graph
            .graph
            .edges(graph.node(first))
            .filter(|e| component.contains(&e.target()))
            .map(|e| *e.weight())
            .next();
        let service = model.service(first);
        let span = edge.map_or(service.name.span, |p| service.depends_on[p].name.span);
        let names: Vec<&str> = services
            .iter()
            .chain(services.first())
            .map(|s| model.service(*s).name.value.as_str())
            .collect();
        diagnostics.push(
            Diagnostic::new(
                Code::E107,
                format!(
                    "services depend on each other in a cycle: {}",
                    names.join(" → ")
                ),
                span,
                "part of the cycle",
            )
            .with_help("Compose cannot start a cycle; remove one of the `depends-on` entries"),
        );
    }
}
