//! Stage 5. In: a model without errors and its plan. Out: the artifact tree in
//! memory, a map from relative path to file content. One emitter per target;
//! pure functions that project the plan and never work a fact out again.

mod cloud_init;
mod cloudflared;
mod compose_file;
mod deploy_script;
mod docker_daemon;
mod firewall;
mod github_actions;
pub mod graph;
mod jobs;
mod kubernetes;
mod manifest;
mod proxy;
mod shell;
mod stack;

pub use stack::JOB_PROFILE;
mod traefik;

use std::collections::BTreeMap;

use crate::model::{HostId, Model};
use crate::plan::{Layout, Plan};

pub use cloud_init::DOCKER_APT_KEY;

/// Relative path → content, ordered so iteration is deterministic.
pub type Artifacts = BTreeMap<String, String>;

pub fn emit(model: &Model, plan: &Plan) -> Artifacts {
    let mut artifacts = Artifacts::new();
    for (index, stack) in model.stacks.iter().enumerate() {
        stack::emit_stack(
            model,
            plan,
            crate::model::StackId(index),
            stack,
            &mut artifacts,
        );
    }
    for (index, host) in model.hosts.iter().enumerate() {
        let host_plan = plan.host(HostId(index));
        proxy::emit_proxy(model, plan, host_plan, host, &mut artifacts);
        cloudflared::emit_cloudflared(host_plan, host, &mut artifacts);
        firewall::emit_firewall(model, plan, host_plan, host, &mut artifacts);
        artifacts.insert(
            Layout::in_host(host, Layout::DAEMON_JSON),
            docker_daemon::daemon_json(host),
        );
        for job in &host_plan.jobs {
            for (file, text) in jobs::job_units(model, *job) {
                artifacts.insert(
                    Layout::in_host(host, &format!("{}/{file}", Layout::JOBS_DIR)),
                    text,
                );
            }
        }
        if let Some(user_data) = cloud_init::cloud_init(model, plan, HostId(index)) {
            artifacts.insert(Layout::in_host(host, Layout::CLOUD_INIT), user_data);
        }
    }
    for index in 0..model.clusters.len() {
        kubernetes::emit_cluster(model, plan, crate::model::ClusterId(index), &mut artifacts);
    }
    if let Some(gitops) = &model.gitops {
        github_actions::emit_workflows(model, plan, gitops, &mut artifacts);
        for host in gitops.deploys.iter().filter_map(|d| d.host.target) {
            let host_model = &model.hosts[host.0];
            artifacts.insert(
                Layout::in_host(host_model, Layout::DEPLOY_SCRIPT),
                deploy_script::deploy_script(model, plan, plan.host(host), host_model),
            );
            if let Some(env) = deploy_script::host_env_example(model, plan.host(host), host_model) {
                artifacts.insert(Layout::in_host(host_model, Layout::ENV_EXAMPLE), env);
            }
        }
    }
    artifacts.insert(Layout::GRAPH.to_string(), graph::mermaid(model, plan));
    let manifest = manifest::manifest(&artifacts);
    artifacts.insert(Layout::MANIFEST.to_string(), manifest);
    artifacts
}
