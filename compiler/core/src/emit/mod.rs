//! Stage 5. In: a model without errors. Out: the artifact tree in memory, a map
//! from relative path to file content. One emitter per target; pure functions.

mod cloud_init;
mod cloudflared;
mod compose_file;
mod deploy_script;
mod docker_daemon;
mod firewall;
mod github_actions;
mod manifest;
mod proxy;
mod stack;
mod traefik;

use std::collections::BTreeMap;

use crate::model::{HostId, Model};

/// Relative path → content, ordered so iteration is deterministic.
pub type Artifacts = BTreeMap<String, String>;

pub fn emit(model: &Model) -> Artifacts {
    let mut artifacts = Artifacts::new();
    for stack in &model.stacks {
        stack::emit_stack(model, stack, &mut artifacts);
    }
    for (index, host) in model.hosts.iter().enumerate() {
        proxy::emit_proxy(model, HostId(index), host, &mut artifacts);
        cloudflared::emit_cloudflared(model, HostId(index), host, &mut artifacts);
        firewall::emit_firewall(model, host, &mut artifacts);
        artifacts.insert(
            docker_daemon::daemon_json_path(host),
            docker_daemon::daemon_json(host),
        );
        artifacts.insert(
            cloud_init::cloud_init_path(host),
            cloud_init::cloud_init(model, host),
        );
    }
    if let Some(gitops) = &model.gitops {
        github_actions::emit_workflows(model, gitops, &mut artifacts);
        for host in gitops.deploys.iter().filter_map(|d| d.host.target) {
            artifacts.insert(
                deploy_script::deploy_script_path(&model.hosts[host.0]),
                deploy_script::deploy_script(model, host),
            );
        }
    }
    let manifest = manifest::manifest(&artifacts);
    artifacts.insert(manifest::MANIFEST_PATH.to_string(), manifest);
    artifacts
}
