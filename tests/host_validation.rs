//! The host artifacts are accepted by the programs that consume them:
//! cloud-init.yaml by `cloud-init schema` (Debian's cloud-init), daemon.json by
//! the dockerd JSON schema and by a real dockerd reading it as its configuration
//! (which refuses unknown keys). Each validator is first shown a broken file, so
//! a validator that accepts anything cannot make these tests pass.

mod support;

use support::{Check, Needs::*};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every validated project plus the firewall fixture, built.
fn projects() -> Vec<(String, infrac_core::Artifacts)> {
    let mut projects = support::validated_projects();
    let fixture = support::compile_in(
        &support::workspace().join("tests/fixtures/firewall"),
        "infrac.kdl",
    );
    projects.push(("firewall-fixture".to_string(), fixture.artifacts.unwrap()));
    projects
}

/// (project, path) of every artifact whose path ends with `suffix`, written to disk.
fn artifacts_ending(suffix: &str) -> Vec<(String, PathBuf, String)> {
    let mut found = Vec::new();
    for (project, artifacts) in projects() {
        let dir = support::write_tree(&artifacts, &format!("host-{project}"));
        for (path, content) in artifacts.iter().filter(|(p, _)| p.ends_with(suffix)) {
            found.push((format!("{project}/{path}"), dir.join(path), content.clone()));
        }
    }
    assert!(found.len() >= 3, "only {} {suffix} artifacts", found.len());
    found
}

fn cloud_init_accepts_every_user_data() {
    let Some(cloud_init) = support::system_tool("cloud-init") else {
        return;
    };
    let validate = |file: &Path| {
        support::run(
            Command::new(&cloud_init)
                .args(["schema", "--config-file"])
                .arg(file),
        )
    };
    let broken = support::scratch_file(
        "broken-cloud-init.yaml",
        "#cloud-config\nwrite_files:\n- path: /etc/x\n  permissions: 644\n  defer: maybe\n",
    );
    let (ok, _, _) = validate(&broken);
    assert!(!ok, "cloud-init schema accepted a broken file");
    for (label, file, content) in artifacts_ending("cloud-init.yaml") {
        assert!(content.starts_with("#cloud-config\n"), "{label}");
        let (ok, stdout, stderr) = validate(&file);
        assert!(
            ok && stdout.contains("Valid cloud-config"),
            "{label}:\n{stdout}{stderr}"
        );
    }
}

/// cloud-init writes exactly the files the build wrote beside it.
fn cloud_init_writes_the_built_files() {
    for (project, artifacts) in projects() {
        for (path, user_data) in artifacts
            .iter()
            .filter(|(p, _)| p.ends_with("cloud-init.yaml"))
        {
            let host_dir = path.trim_end_matches("cloud-init.yaml");
            let config: serde_json::Value = serde_saphyr::from_str(user_data).unwrap();
            let written: BTreeMap<&str, &str> = config["write_files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| (f["path"].as_str().unwrap(), f["content"].as_str().unwrap()))
                .collect();
            for (target, artifact) in [
                ("/etc/docker/daemon.json", "docker/daemon.json"),
                ("/etc/iptables/rules.v4", "firewall/rules.v4"),
                ("/etc/iptables/rules.v6", "firewall/rules.v6"),
            ] {
                assert_eq!(
                    written.get(target).copied(),
                    Some(artifacts[&format!("{host_dir}{artifact}")].as_str()),
                    "{project}/{path}: {target}"
                );
            }
            let commands: Vec<String> = config["runcmd"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    c.as_array()
                        .unwrap()
                        .iter()
                        .map(|w| w.as_str().unwrap())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            assert!(
                commands.contains(&"iptables-restore --noflush /etc/iptables/rules.v4".to_string()),
                "{commands:?}"
            );
            assert!(
                commands
                    .contains(&"ip6tables-restore --noflush /etc/iptables/rules.v6".to_string()),
                "{commands:?}"
            );
        }
    }
}

fn daemon_json_passes_the_dockerd_schema() {
    let (Some(check_jsonschema), Some(schema)) = (
        support::validator("check-jsonschema"),
        support::schema_file("dockerd.json"),
    ) else {
        return;
    };
    let validate = |file: &Path| {
        support::run(
            Command::new(&check_jsonschema)
                .arg("--schemafile")
                .arg(&schema)
                .arg(file),
        )
    };
    let (ok, _, _) = validate(&support::scratch_file(
        "broken-daemon.json",
        "{\"icc\": \"no\"}",
    ));
    assert!(!ok, "the dockerd schema accepted a string for a boolean");
    for (label, file, _) in artifacts_ending("daemon.json") {
        let (ok, stdout, stderr) = validate(&file);
        assert!(ok, "{label}:\n{stdout}{stderr}");
    }
}

/// dockerd reads its configuration before it needs containerd: a rejected
/// file says `unable to configure the Docker daemon`, an accepted one gets as
/// far as `failed to start containerd` (kept off PATH on purpose).
fn daemon_json_is_accepted_by_dockerd() {
    let dockerd = support::workspace().join(".tools/dockerd/usr/sbin/dockerd");
    let Some(dockerd) = support::required(
        "dockerd (Debian docker.io, unpacked)",
        dockerd.is_file().then_some(dockerd),
    ) else {
        return;
    };
    let Some(unshare) = support::system_tool("unshare") else {
        return;
    };
    let load = |config: &Path| -> String {
        let state = support::scratch_dir("dockerd");
        let (_, stdout, stderr) = support::run(
            Command::new(&unshare)
                .args(["--net", "--mount", "timeout", "20"])
                .arg(&dockerd)
                .arg("--config-file")
                .arg(config)
                .arg("--data-root")
                .arg(state.join("root"))
                .arg("--exec-root")
                .arg(state.join("exec"))
                .arg("--pidfile")
                .arg(state.join("pid"))
                .arg("-H")
                .arg(format!("unix://{}", state.join("sock").display()))
                .env_clear()
                .env("PATH", "/usr/bin:/bin"),
        );
        let _ = std::fs::remove_dir_all(&state);
        stdout + &stderr
    };
    let rejected = load(&support::scratch_file(
        "unknown-key.json",
        "{\"icc\": false, \"userland-proxy-typo\": false}",
    ));
    assert!(
        rejected.contains("unable to configure the Docker daemon"),
        "dockerd accepted an unknown key:\n{rejected}"
    );
    for (label, file, _) in artifacts_ending("daemon.json") {
        let output = load(&file);
        assert!(
            !output.contains("unable to configure")
                && output.contains("failed to start containerd"),
            "{label}: dockerd did not accept its configuration:\n{output}"
        );
    }
}

fn main() -> std::process::ExitCode {
    support::run_checks(vec![
        Check {
            name: "cloud_init_accepts_every_user_data",
            needs: &[System("cloud-init")],
            run: cloud_init_accepts_every_user_data,
        },
        Check {
            name: "cloud_init_writes_the_built_files",
            needs: &[],
            run: cloud_init_writes_the_built_files,
        },
        Check {
            name: "daemon_json_passes_the_dockerd_schema",
            needs: &[Venv("check-jsonschema"), Schema("dockerd.json")],
            run: daemon_json_passes_the_dockerd_schema,
        },
        Check {
            name: "daemon_json_is_accepted_by_dockerd",
            needs: &[
                Installed(".tools/dockerd/usr/sbin/dockerd"),
                System("unshare"),
            ],
            run: daemon_json_is_accepted_by_dockerd,
        },
    ])
}
