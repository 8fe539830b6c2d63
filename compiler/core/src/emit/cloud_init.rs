//! First boot of a new VM. In: one host of the model, its plan, and the host's
//! other artifacts (daemon.json, the rule sets). Out: `hosts/<host>/cloud-init.yaml`,
//! user-data that creates the users, installs Docker from Docker's repository
//! for the host's release, writes the same files the build wrote, and applies
//! them, so the VM reaches the desired state without a first deploy.
//!
//! Docker's apt key is embedded and written as a keyring file that the apt
//! source names with `signed-by`: no keyserver and no gpg (cloud images lack
//! it). The firewall is a systemd unit of infrac's own, not netfilter-persistent,
//! whose reload restores without `--noflush` and would wipe Docker's chains.

use serde::Serialize;

use super::compose_file::{GENERATED_HEADER, to_yaml};
use super::docker_daemon::daemon_json;
use super::firewall::{APPLY_SCRIPT, Family, INSTALL_DIR as FIREWALL_DIR, apply_script, rule_set};
use crate::model::{HostId, Model, Os};
use crate::plan::Plan;

/// Docker's release signing key ("Docker Release (CE deb)", fingerprint
/// 9DC8 5822 9FC7 DD38 854A E2D8 8D81 803C 0EBF CD88), the same for Debian and
/// Ubuntu; `tests/host_validation.rs` checks the fingerprint with gpg.
pub const DOCKER_APT_KEY: &str = include_str!("../../assets/docker-apt.asc");
const DOCKER_KEYRING: &str = "/etc/apt/keyrings/docker.asc";
const DOCKER_PACKAGES: [&str; 4] = [
    "docker-ce",
    "docker-ce-cli",
    "containerd.io",
    "docker-compose-plugin",
];
const FIREWALL_UNIT: &str = "infrac-firewall.service";
/// Sorts before `50-cloud-init.conf` and the image's own drop-ins: sshd keeps
/// the first value it reads for each keyword.
pub const SSHD_DROP_IN: &str = "/etc/ssh/sshd_config.d/00-infrac.conf";

#[derive(Serialize)]
struct CloudConfig {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    users: Vec<CloudUser>,
    disable_root: bool,
    ssh_pwauth: bool,
    package_update: bool,
    package_upgrade: bool,
    packages: Vec<String>,
    write_files: Vec<WriteFile>,
    runcmd: Vec<Vec<String>>,
}

#[derive(Serialize)]
struct CloudUser {
    name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    groups: Vec<&'static str>,
    shell: &'static str,
    lock_passwd: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    sudo: Option<&'static str>,
    ssh_authorized_keys: Vec<String>,
}

#[derive(Serialize)]
struct WriteFile {
    path: String,
    owner: &'static str,
    permissions: &'static str,
    content: String,
}

/// Where Docker publishes packages for a release, and how sshd is restarted.
struct Release {
    distribution: &'static str,
    codename: &'static str,
    /// Ubuntu 22.10 and later start sshd from a socket unit whose port a
    /// generator reads from sshd's configuration at daemon-reload.
    socket_activated_ssh: bool,
}

fn release(os: Os) -> Release {
    let (distribution, codename, socket_activated_ssh) = match os {
        Os::Debian12 => ("debian", "bookworm", false),
        Os::Debian13 => ("debian", "trixie", false),
        Os::Ubuntu2204 => ("ubuntu", "jammy", false),
        Os::Ubuntu2404 => ("ubuntu", "noble", true),
    };
    Release {
        distribution,
        codename,
        socket_activated_ssh,
    }
}

/// The apt source line of Docker's repository for a release.
pub fn docker_apt_source(os: Os) -> String {
    let release = release(os);
    format!(
        "deb [signed-by={DOCKER_KEYRING}] https://download.docker.com/linux/{} {} stable\n",
        release.distribution, release.codename
    )
}

fn file(path: &str, permissions: &'static str, content: String) -> WriteFile {
    WriteFile {
        path: path.to_string(),
        owner: "root:root",
        permissions,
        content,
    }
}

/// The user-data; `None` for a host whose `os` is missing (an error already).
pub fn cloud_init(model: &Model, plan: &Plan, host_id: HostId) -> Option<String> {
    let host = &model.hosts[host_id.0];
    let release = release(host.os?);
    let facts = plan.host(host_id);
    let has_sudo_user = host.users.iter().any(|u| u.sudo);
    let users = host
        .users
        .iter()
        .map(|user| CloudUser {
            name: user.name.value.clone(),
            groups: if user.docker {
                vec!["docker"]
            } else {
                Vec::new()
            },
            shell: "/bin/bash",
            lock_passwd: true,
            sudo: user.sudo.then_some("ALL=(ALL) NOPASSWD:ALL"),
            ssh_authorized_keys: vec![user.ssh_key.clone()],
        })
        .collect();
    let fail2ban = host.packages.iter().any(|p| p == "fail2ban");
    let mut write_files = vec![
        file(DOCKER_KEYRING, "0644", DOCKER_APT_KEY.to_string()),
        file(
            "/etc/apt/sources.list.d/docker.list",
            "0644",
            docker_apt_source(host.os?),
        ),
        file("/etc/docker/daemon.json", "0644", daemon_json(host)),
        file(
            SSHD_DROP_IN,
            "0644",
            sshd_config(host.ssh.port, has_sudo_user),
        ),
    ];
    for family in Family::ALL {
        write_files.push(file(
            &format!("{FIREWALL_DIR}/{}", family.file_name()),
            "0600",
            rule_set(model, plan, facts, host, family),
        ));
    }
    write_files.push(file(
        &format!("{FIREWALL_DIR}/{APPLY_SCRIPT}"),
        "0700",
        apply_script(host),
    ));
    write_files.push(file(
        &format!("/etc/systemd/system/{FIREWALL_UNIT}"),
        "0644",
        firewall_unit(),
    ));
    if fail2ban {
        write_files.push(file(
            "/etc/fail2ban/jail.d/infrac.local",
            "0644",
            fail2ban_jail(host.ssh.port),
        ));
    }
    let mut runcmd = vec![
        words(&["systemctl", "daemon-reload"]),
        words(&["systemctl", "enable", "--now", FIREWALL_UNIT]),
        words(&["systemctl", "restart", "docker"]),
    ];
    if release.socket_activated_ssh {
        runcmd.push(words(&["systemctl", "restart", "ssh.socket"]));
    } else {
        runcmd.push(words(&["systemctl", "restart", "ssh"]));
    }
    for deploy in model
        .gitops
        .iter()
        .flat_map(|g| g.deploys.iter())
        .filter(|d| d.host.target == Some(host_id))
    {
        let user = &deploy.ssh_user.value;
        runcmd.push(words(&[
            "install",
            "-d",
            "-o",
            user,
            "-g",
            user,
            "-m",
            "0750",
            &deploy.path,
        ]));
    }
    let packages = DOCKER_PACKAGES
        .iter()
        .map(|p| p.to_string())
        .chain(["iptables".to_string()])
        // fail2ban's systemd backend reads the journal through python3-systemd.
        .chain(fail2ban.then(|| "python3-systemd".to_string()))
        .chain(host.packages.iter().cloned())
        .collect();
    let config = CloudConfig {
        users,
        disable_root: has_sudo_user,
        ssh_pwauth: false,
        package_update: true,
        package_upgrade: true,
        packages,
        write_files,
        runcmd,
    };
    // cloud-init recognises user-data by its first line.
    Some(format!(
        "#cloud-config\n{GENERATED_HEADER}{}",
        to_yaml(&config)
    ))
}

fn sshd_config(port: u16, has_sudo_user: bool) -> String {
    let root = if has_sudo_user {
        "no"
    } else {
        "prohibit-password"
    };
    format!(
        "# Generated by infrac. sshd keeps the first value it reads; this file sorts first.\n\
         Port {port}\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PermitRootLogin {root}\n"
    )
}

/// Applies the rule sets at boot, before Docker and fail2ban add their own.
fn firewall_unit() -> String {
    format!(
        "# Generated by infrac.\n\
         [Unit]\n\
         Description=infrac firewall ({FIREWALL_DIR})\n\
         DefaultDependencies=no\n\
         Wants=network-pre.target systemd-modules-load.service local-fs.target\n\
         After=systemd-modules-load.service local-fs.target\n\
         Before=network-pre.target docker.service fail2ban.service shutdown.target\n\
         Conflicts=shutdown.target\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         RemainAfterExit=yes\n\
         ExecStart=/bin/sh {FIREWALL_DIR}/{APPLY_SCRIPT} {FIREWALL_DIR}\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n"
    )
}

/// Debian 12 and Ubuntu 24.04 log to the journal only: without the systemd
/// backend fail2ban finds no auth.log and does not start.
fn fail2ban_jail(ssh_port: u16) -> String {
    format!(
        "# Generated by infrac.\n\
         [sshd]\n\
         enabled = true\n\
         backend = systemd\n\
         port = {ssh_port}\n"
    )
}

fn words(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}
