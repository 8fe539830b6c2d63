//! The host artifacts are accepted by the programs that consume them:
//! cloud-init.yaml by `cloud-init schema` (Debian's cloud-init) for every
//! supported release, daemon.json by the dockerd JSON schema and by a real
//! dockerd reading it as its configuration (which refuses unknown keys), the
//! embedded Docker key by gpg, and the sshd drop-in by Debian's sshd itself,
//! over a competing cloud-image drop-in. Each validator is first shown a broken
//! file, so a validator that accepts anything cannot make these tests pass.

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
                ("/etc/infrac/firewall/rules.v4", "firewall/rules.v4"),
                ("/etc/infrac/firewall/rules.v6", "firewall/rules.v6"),
                ("/etc/infrac/firewall/apply.sh", "firewall/apply.sh"),
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
                commands.contains(&"systemctl enable --now infrac-firewall.service".to_string()),
                "{commands:?}"
            );
            let unit = written["/etc/systemd/system/infrac-firewall.service"];
            assert!(
                unit.contains(
                    "ExecStart=/bin/sh /etc/infrac/firewall/apply.sh /etc/infrac/firewall"
                ),
                "{unit}"
            );
            assert!(
                !user_data.contains("iptables-persistent"),
                "{project}/{path}: netfilter-persistent would restore without --noflush"
            );
        }
    }
}

/// The releases infrac supports, where Docker publishes them, and how each
/// restarts sshd (Ubuntu 24.04 from a socket unit).
const RELEASES: [(&str, &str, &str, &str); 4] = [
    ("debian-12", "debian", "bookworm", "systemctl restart ssh"),
    ("debian-13", "debian", "trixie", "systemctl restart ssh"),
    ("ubuntu-22.04", "ubuntu", "jammy", "systemctl restart ssh"),
    (
        "ubuntu-24.04",
        "ubuntu",
        "noble",
        "systemctl restart ssh.socket",
    ),
];

/// For every release: cloud-init accepts the user-data, Docker's repository is
/// the release's with `signed-by` the embedded keyring, and nothing asks a
/// keyserver or gpg for a key.
fn cloud_init_installs_docker_for_every_release() {
    let Some(cloud_init) = support::system_tool("cloud-init") else {
        return;
    };
    let source =
        std::fs::read_to_string(support::workspace().join("tests/fixtures/firewall/infrac.kdl"))
            .unwrap();
    for (os, distribution, codename, restart_ssh) in RELEASES {
        let dir = support::scratch_dir(&format!("release-{os}"));
        std::fs::write(
            dir.join("infrac.kdl"),
            source.replace("os \"debian-12\"", &format!("os \"{os}\"")),
        )
        .unwrap();
        let compilation = support::compile_in(&dir, "infrac.kdl");
        let artifacts = compilation
            .artifacts
            .expect("the fixture compiles for every release");
        let user_data = &artifacts["hosts/fw/cloud-init.yaml"];
        let file = dir.join("cloud-init.yaml");
        std::fs::write(&file, user_data).unwrap();
        let (ok, stdout, stderr) = support::run(
            Command::new(&cloud_init)
                .args(["schema", "--config-file"])
                .arg(&file),
        );
        assert!(ok, "{os}: {stdout}{stderr}");
        let config: serde_json::Value = serde_saphyr::from_str(user_data).unwrap();
        let written: BTreeMap<&str, &str> = config["write_files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["path"].as_str().unwrap(), f["content"].as_str().unwrap()))
            .collect();
        assert_eq!(
            written.get("/etc/apt/sources.list.d/docker.list").copied(),
            Some(
                format!(
                    "deb [signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/{distribution} {codename} stable\n"
                )
                .as_str()
            ),
            "{os}"
        );
        assert!(
            written["/etc/apt/keyrings/docker.asc"]
                .starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----")
        );
        for word in ["keyid", "keyserver", "gpg", "apt-key"] {
            assert!(!user_data.contains(word), "{os}: `{word}` in the user-data");
        }
        assert!(
            user_data.contains(&format!("- {}", restart_ssh.replace(' ', "\n  - "))),
            "{os}: sshd is not restarted with `{restart_ssh}`"
        );
    }
}

/// The Docker key infrac embeds is Docker's: gpg reads its fingerprint.
fn embedded_docker_key_has_the_published_fingerprint() {
    let Some(gpg) = support::system_tool("gpg") else {
        return;
    };
    let home = support::scratch_dir("gnupg");
    let key = home.join("docker.asc");
    std::fs::write(&key, infrac_core::emit::DOCKER_APT_KEY).unwrap();
    let (ok, stdout, stderr) = support::run(
        Command::new(gpg)
            .arg("--homedir")
            .arg(&home)
            .args(["--show-keys", "--with-colons"])
            .arg(&key),
    );
    assert!(ok, "{stderr}");
    let fingerprints: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("fpr:"))
        .filter_map(|l| l.split(':').nth(9))
        .collect();
    assert_eq!(
        fingerprints.first().copied(),
        Some("9DC858229FC7DD38854AE2D88D81803C0EBFCD88"),
        "the embedded key is not Docker's release key"
    );
}

/// Debian's own sshd, over a configuration like a cloud image's (Debian's
/// sshd_config, which includes the drop-ins first, and a `50-cloud-init.conf`
/// that turns passwords back on): the effective values are infrac's. `Port`
/// adds up over files rather than keeping the first, so infrac's port is one
/// of the ports sshd listens on (the firewall admits that one only).
fn sshd_settings_win_over_a_cloud_image_drop_in() {
    let sshd_root = support::workspace().join(".tools/sshd");
    let sshd = sshd_root.join("usr/sbin/sshd");
    let Some(sshd) = support::required(
        "sshd (Debian openssh-server, unpacked)",
        sshd.is_file().then_some(sshd),
    ) else {
        return;
    };
    let Some(keygen) = support::system_tool("ssh-keygen") else {
        return;
    };
    let dir = support::scratch_dir("sshd");
    let drop_ins = dir.join("sshd_config.d");
    std::fs::create_dir_all(&drop_ins).unwrap();
    std::fs::write(
        dir.join("sshd_config"),
        format!(
            "Include {}/*.conf\nKbdInteractiveAuthentication no\nUsePAM yes\nX11Forwarding yes\nPrintMotd no\n",
            drop_ins.display()
        ),
    )
    .unwrap();
    std::fs::write(
        drop_ins.join("50-cloud-init.conf"),
        "PasswordAuthentication yes\nPermitRootLogin yes\nKbdInteractiveAuthentication yes\nPort 2222\n",
    )
    .unwrap();
    let (ok, _, stderr) = support::run(
        Command::new(keygen)
            .args(["-q", "-t", "ed25519", "-N", ""])
            .arg("-f")
            .arg(dir.join("host_key")),
    );
    assert!(ok, "{stderr}");
    let mut passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd.push_str("sshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n");
    std::fs::write(dir.join("passwd"), passwd).unwrap();
    // sshd -T wants its privilege-separation user and directory: give it both in
    // a private mount namespace rather than touching the machine's.
    let effective = |drop_in: &str| -> BTreeMap<String, Vec<String>> {
        std::fs::write(drop_ins.join("00-infrac.conf"), drop_in).unwrap();
        let script = format!(
            "mount --bind {d}/passwd /etc/passwd && mount -t tmpfs tmpfs /run && mkdir -m 0755 /run/sshd \
             && LD_LIBRARY_PATH={lib} {sshd} -T -f {d}/sshd_config -h {d}/host_key",
            d = dir.display(),
            lib = sshd_root.join("usr/lib/x86_64-linux-gnu").display(),
            sshd = sshd.display()
        );
        let (ok, stdout, stderr) = support::run(Command::new("unshare").args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
        ]));
        assert!(ok, "sshd -T: {stderr}");
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in stdout.lines() {
            if let Some((key, value)) = line.split_once(' ') {
                values
                    .entry(key.to_string())
                    .or_default()
                    .push(value.to_string());
            }
        }
        values
    };
    // The negative control: without infrac's drop-in the cloud image's wins.
    let without = effective("");
    assert_eq!(without["passwordauthentication"], ["yes"]);
    let mut checked = 0;
    for (project, artifacts) in projects() {
        for (path, user_data) in artifacts
            .iter()
            .filter(|(p, _)| p.ends_with("cloud-init.yaml"))
        {
            let config: serde_json::Value = serde_saphyr::from_str(user_data).unwrap();
            let drop_in = config["write_files"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["path"] == "/etc/ssh/sshd_config.d/00-infrac.conf")
                .and_then(|f| f["content"].as_str())
                .unwrap_or_else(|| panic!("{project}/{path}: no sshd drop-in"));
            let wanted: BTreeMap<String, String> = drop_in
                .lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
                .filter_map(|l| l.split_once(' '))
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
                .collect();
            let values = effective(drop_in);
            for (key, value) in &wanted {
                if key == "port" {
                    assert!(
                        values["port"].contains(value),
                        "{project}/{path}: port {value} not among {:?}",
                        values["port"]
                    );
                } else {
                    // sshd prints `prohibit-password` by its older name.
                    let value = value.replace("prohibit-password", "without-password");
                    assert_eq!(values[key], [value], "{project}/{path}: {key}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 3, "only {checked} drop-ins checked");
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
            name: "cloud_init_installs_docker_for_every_release",
            needs: &[System("cloud-init")],
            run: cloud_init_installs_docker_for_every_release,
        },
        Check {
            name: "embedded_docker_key_has_the_published_fingerprint",
            needs: &[System("gpg")],
            run: embedded_docker_key_has_the_published_fingerprint,
        },
        Check {
            name: "sshd_settings_win_over_a_cloud_image_drop_in",
            needs: &[
                Root,
                Installed(".tools/sshd/usr/sbin/sshd"),
                System("ssh-keygen"),
                System("unshare"),
            ],
            run: sshd_settings_win_over_a_cloud_image_drop_in,
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
