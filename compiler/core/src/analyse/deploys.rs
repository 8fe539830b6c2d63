//! Deploys can reach their host: the runner connects over IPv4 (E401), as a
//! user the host's cloud-init creates with sudo (W401), through a firewall that
//! admits the runner (W402).

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::{Deploy, Host, Model};

pub fn check_deploys(model: &Model, diagnostics: &mut Diagnostics) {
    let Some(gitops) = &model.gitops else { return };
    for deploy in &gitops.deploys {
        let Some(host) = deploy.host.target.map(|id| &model.hosts[id.0]) else {
            continue;
        };
        if !host.addresses.iter().any(|a| a.value.is_ipv4()) {
            diagnostics.push(
                Diagnostic::new(
                    Code::E401,
                    format!("host `{}` has no IPv4 address to deploy to", host.name.value),
                    deploy.host.name.span,
                    "deployed over SSH",
                )
                .with_secondary(host.name.span, "declared here")
                .with_help("add `address \"…\"` with the host's public IPv4 address: GitHub's runners have no IPv6"),
            );
        }
        check_user(host, deploy, diagnostics);
        check_firewall(model, host, deploy, diagnostics);
    }
}

fn check_user(host: &Host, deploy: &Deploy, diagnostics: &mut Diagnostics) {
    let user = &deploy.ssh_user;
    // An invalid name was reported and kept only so that references resolve.
    if crate::values::check_name(&user.value).is_err() {
        return;
    }
    match host.users.iter().find(|u| u.name.value == user.value) {
        Some(declared) if declared.sudo && declared.docker => {}
        found => {
            let why = match found {
                Some(declared) if !declared.sudo => "has no sudo",
                Some(_) => "is not in the `docker` group",
                None => "is not a `user` of the host",
            };
            diagnostics.push(
                Diagnostic::new(
                    Code::W401,
                    format!("deploy user `{}` {why}", user.value),
                    user.span,
                    "logs in as this user",
                )
                .with_help(format!(
                    "the deploy applies the firewall with sudo and runs Docker: declare `user \"{}\" ssh-key=\"…\" sudo=#true docker=#true` on host `{}`",
                    user.value, host.name.value
                )),
            );
        }
    }
}

fn check_firewall(model: &Model, host: &Host, deploy: &Deploy, diagnostics: &mut Diagnostics) {
    if deploy.runs_on == "self-hosted" {
        return;
    }
    let Some(source) = &host.ssh.allow_from else {
        return;
    };
    let open_to_all = model
        .networks_of(source)
        .filter(|nets| !nets.is_empty())
        .is_none_or(|nets| nets.iter().any(|n| n.prefix_len() == 0));
    if !open_to_all {
        diagnostics.push(
            Diagnostic::new(
                Code::W402,
                format!(
                    "GitHub's runners cannot reach SSH on host `{}`",
                    host.name.value
                ),
                deploy.span,
                format!("runs on `{}`", deploy.runs_on),
            )
            .with_secondary(source.span(), "SSH admits only these networks")
            .with_help("run the deploy on a self-hosted runner inside those networks (`runs-on=\"self-hosted\"`), or admit the runners' ranges in `allow-from`"),
        );
    }
}
