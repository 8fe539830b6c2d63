//! The firewall rule sets do what they promise, proven with real packets. The
//! test builds a host out of network namespaces, loads a stand-in for Docker's
//! own chains (FORWARD → DOCKER-USER → DOCKER-FORWARD, DNAT for published
//! ports, as Docker 28 lays them out), applies the compiled `rules.v4` and
//! `rules.v6` with `iptables-restore --noflush` (both the nf_tables and the
//! legacy backend, each in namespaces of its own), and tries connections:
//!
//! ```text
//!   outside (the internet)          host                       container
//!   eth0 203.0.113.1 ───────── eth0 203.0.113.10     br-test ── eth0 172.30.0.2
//!        2001:db8::1                2001:db8::10      172.30.0.1      fd00:30::2
//!   clients: admins, edge,                            fd00:30::1
//!   strangers; servers on 443, 25,
//!   and the metadata address
//! ```
//!
//! All traffic stays inside namespaces the test creates and deletes. It needs
//! root and `ip netns`; under CI=true their absence fails the test.

mod support;

use support::{Check, Needs::*};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use infrac_core::Artifacts;

const FIXTURE: &str = "tests/fixtures/firewall";

/// The fixture's addresses, per family.
struct Plan {
    family: &'static str,
    host: &'static str,
    outside: &'static str,
    container: &'static str,
    admin: &'static str,
    second_admin: &'static str,
    edge: &'static str,
    stranger: &'static str,
    metadata: &'static str,
}

const V4: Plan = Plan {
    family: "IPv4",
    host: "203.0.113.10",
    outside: "203.0.113.1",
    container: "172.30.0.2",
    admin: "198.51.100.10",
    second_admin: "198.51.100.11",
    edge: "192.0.2.10",
    stranger: "100.64.0.99",
    metadata: "169.254.169.254",
};

const V6: Plan = Plan {
    family: "IPv6",
    host: "2001:db8::10",
    outside: "2001:db8::1",
    container: "fd00:30::2",
    admin: "2001:db8:1::10",
    second_admin: "2001:db8:1::11",
    edge: "2001:db8:2::10",
    stranger: "2001:db8:ff::99",
    metadata: "fd00:ec2::254",
};

/// Tries one TCP connection (or, with a count, several in a row) and prints
/// `open` or `closed` for each: closed is no answer within a second or a
/// refusal; any other error is printed as such, so it cannot pass for closed.
/// Each connection ends with a reset, so no TIME_WAIT state lingers between
/// probes from the same address.
const PROBE: &str = r#"
import socket, struct, sys
source, target, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
family = socket.AF_INET6 if ":" in target else socket.AF_INET
for _ in range(count):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.settimeout(1.0)
    if source != "-":
        s.bind((source, 0))
    try:
        s.connect((target, port))
        print("open")
    except (socket.timeout, ConnectionRefusedError):
        print("closed")
    except OSError as error:
        print(f"error {error}")
    finally:
        s.close()
"#;

/// A TCP service on every address of both families that accepts and closes.
/// (`python3 -m http.server` drops an occasional SYN under a quick burst of
/// connections, which the rate-limit check cannot tell from the firewall.)
const SERVE: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
s.listen(128)
while True:
    connection, _ = s.accept()
    connection.close()
"#;

/// Docker's chains as a running Docker 28 leaves them, for one family.
fn docker_stand_in(plan: &Plan) -> String {
    let (subnet, container) = if plan.family == "IPv4" {
        ("172.30.0.0/24", "172.30.0.2".to_string())
    } else {
        ("fd00:30::/64", "[fd00:30::2]".to_string())
    };
    let host_prefix = if plan.family == "IPv4" { "/32" } else { "/128" };
    format!(
        "*filter\n\
         :FORWARD DROP [0:0]\n\
         :DOCKER - [0:0]\n\
         :DOCKER-FORWARD - [0:0]\n\
         :DOCKER-USER - [0:0]\n\
         -A FORWARD -j DOCKER-USER\n\
         -A FORWARD -j DOCKER-FORWARD\n\
         -A DOCKER-FORWARD -o br-test -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
         -A DOCKER-FORWARD -o br-test -j DOCKER\n\
         -A DOCKER-FORWARD -i br-test -j ACCEPT\n\
         -A DOCKER -d {ip}{host_prefix} ! -i br-test -o br-test -p tcp -m tcp --dport 8080 -j ACCEPT\n\
         -A DOCKER -d {ip}{host_prefix} ! -i br-test -o br-test -p tcp -m tcp --dport 443 -j ACCEPT\n\
         -A DOCKER-USER -j RETURN\n\
         COMMIT\n\
         *nat\n\
         :PREROUTING ACCEPT [0:0]\n\
         :OUTPUT ACCEPT [0:0]\n\
         :POSTROUTING ACCEPT [0:0]\n\
         :DOCKER - [0:0]\n\
         -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n\
         -A POSTROUTING -s {subnet} ! -o br-test -j MASQUERADE\n\
         -A DOCKER -i br-test -j RETURN\n\
         -A DOCKER -p tcp -m tcp --dport 8080 -j DNAT --to-destination {container}:8080\n\
         -A DOCKER -p tcp -m tcp --dport 443 -j DNAT --to-destination {container}:443\n\
         COMMIT\n",
        ip = plan.container,
    )
}

/// Namespaces and servers of one test run; dropping it removes everything.
struct Lab {
    ip: PathBuf,
    prefix: String,
    servers: Vec<Child>,
}

impl Lab {
    fn ns(&self, role: &str) -> String {
        format!("{}-{role}", self.prefix)
    }

    fn ip(&self, args: &str) {
        let words: Vec<&str> = args.split_whitespace().collect();
        let (ok, _, stderr) = support::run(Command::new(&self.ip).args(&words));
        assert!(ok, "ip {args}: {stderr}");
    }

    fn exec(&self, role: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(&self.ip);
        command.args(["netns", "exec", &self.ns(role)]).arg(program);
        command
    }

    fn build(ip: PathBuf, label: &str) -> Lab {
        let mut lab = Lab {
            ip,
            prefix: format!("infrac-fw-{label}-{}", std::process::id()),
            servers: Vec::new(),
        };
        let (host, outside, container) = (lab.ns("host"), lab.ns("out"), lab.ns("ctr"));
        for ns in [&host, &outside, &container] {
            lab.ip(&format!("netns add {ns}"));
            lab.ip(&format!("-n {ns} link set lo up"));
        }
        lab.ip(&format!(
            "-n {host} link add eth0 type veth peer name eth0 netns {outside}"
        ));
        lab.ip(&format!("-n {host} link add br-test type bridge"));
        lab.ip(&format!(
            "-n {host} link add veth-ctr type veth peer name eth0 netns {container}"
        ));
        lab.ip(&format!("-n {host} link set veth-ctr master br-test"));
        for (ns, links) in [
            (&host, &["eth0", "br-test", "veth-ctr"][..]),
            (&outside, &["eth0"][..]),
            (&container, &["eth0"][..]),
        ] {
            for link in links {
                lab.ip(&format!("-n {ns} link set {link} up"));
            }
        }
        for plan in [&V4, &V6] {
            let (prefix, nodad, host_len) = if plan.family == "IPv4" {
                ("24", "", "32")
            } else {
                ("64", " nodad", "128")
            };
            lab.ip(&format!(
                "-n {host} addr add {}/{prefix} dev eth0{nodad}",
                plan.host
            ));
            lab.ip(&format!(
                "-n {outside} addr add {}/{prefix} dev eth0{nodad}",
                plan.outside
            ));
            for client in [
                plan.admin,
                plan.second_admin,
                plan.edge,
                plan.stranger,
                plan.metadata,
            ] {
                lab.ip(&format!(
                    "-n {outside} addr add {client}/{host_len} dev eth0{nodad}"
                ));
            }
            let (bridge, container_address) = if plan.family == "IPv4" {
                ("172.30.0.1/24", "172.30.0.2/24")
            } else {
                ("fd00:30::1/64", "fd00:30::2/64")
            };
            lab.ip(&format!("-n {host} addr add {bridge} dev br-test{nodad}"));
            lab.ip(&format!(
                "-n {container} addr add {container_address} dev eth0{nodad}"
            ));
            let gateway = bridge.split('/').next().unwrap();
            lab.ip(&format!("-n {container} route add default via {gateway}"));
            lab.ip(&format!("-n {host} route add default via {}", plan.outside));
        }
        for sysctl in ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"] {
            let (ok, _, stderr) = support::run(lab.exec("host", "sysctl").args(["-qw", sysctl]));
            assert!(ok, "sysctl {sysctl}: {stderr}");
        }
        // sshd on the host; the containers' published ports; internet services.
        for (role, port) in [
            ("host", 22),
            ("ctr", 8080),
            ("ctr", 443),
            ("out", 443),
            ("out", 25),
            ("out", 80),
        ] {
            lab.serve(role, port);
        }
        lab
    }

    fn serve(&mut self, role: &str, port: u16) {
        let child = self
            .exec(role, "python3")
            .args(["-c", SERVE, &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.servers.push(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.probe(role, "-", "127.0.0.1", port, 1) != ["open"] {
            assert!(
                Instant::now() < deadline,
                "server on {role}:{port} did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn probe(&self, role: &str, source: &str, target: &str, port: u16, count: u32) -> Vec<String> {
        let (ok, stdout, stderr) = support::run(self.exec(role, "python3").args([
            "-c",
            PROBE,
            source,
            target,
            &port.to_string(),
            &count.to_string(),
        ]));
        assert!(ok, "probe from {role}: {stderr}");
        stdout.lines().map(str::to_string).collect()
    }

    fn restore(&self, tool: &Path, rules: &str, noflush: bool) {
        let file = std::env::temp_dir().join(format!("{}-rules", self.prefix));
        std::fs::write(&file, rules).unwrap();
        let mut command = self.exec("host", tool);
        if noflush {
            command.arg("--noflush");
        }
        let (ok, _, stderr) = support::run(command.arg(&file));
        let _ = std::fs::remove_file(&file);
        assert!(
            ok,
            "{} rejected the rules: {stderr}\n{rules}",
            tool.display()
        );
    }

    /// The filter table's rules, without counters or comments.
    fn filter_rules(&self, save: &Path) -> Vec<String> {
        let (ok, stdout, stderr) = support::run(self.exec("host", save).args(["-t", "filter"]));
        assert!(ok, "{}: {stderr}", save.display());
        stdout
            .lines()
            .filter(|l| l.starts_with("-A") || l.starts_with(':'))
            .map(|l| l.split(" [").next().unwrap().to_string())
            .collect()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for server in &mut self.servers {
            let _ = server.kill();
            let _ = server.wait();
        }
        for role in ["host", "out", "ctr"] {
            let _ = Command::new(&self.ip)
                .args(["netns", "del", &self.ns(role)])
                .status();
        }
    }
}

/// One of iptables' two backends, with its restore and save programs per family.
struct Backend {
    name: &'static str,
    restore: [PathBuf; 2],
    save: [PathBuf; 2],
}

/// `ip` and both backends: Debian defaults to nf_tables, other systems (and
/// older Docker hosts) use the legacy backend; the rule sets must work on both.
fn tools() -> Option<(PathBuf, Vec<Backend>)> {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    support::required("root (for network namespaces)", is_root.then(PathBuf::new))?;
    let ip = support::system_tool("ip")?;
    let mut backends = Vec::new();
    for name in ["nft", "legacy"] {
        let tool = |program: &str| {
            Some((
                support::system_tool(&format!("{program}-{name}-restore"))?,
                support::system_tool(&format!("{program}-{name}-save"))?,
            ))
        };
        let (restore4, save4) = tool("iptables")?;
        let (restore6, save6) = tool("ip6tables")?;
        backends.push(Backend {
            name,
            restore: [restore4, restore6],
            save: [save4, save6],
        });
    }
    Some((ip, backends))
}

fn fixture_artifacts() -> Artifacts {
    let compilation = support::compile_in(&support::workspace().join(FIXTURE), "infrac.kdl");
    compilation
        .artifacts
        .expect("the firewall fixture compiles")
}

fn rule_sets_enforce_the_policy_on_real_traffic() {
    let Some((ip, backends)) = tools() else {
        return;
    };
    let artifacts = fixture_artifacts();
    // Each backend gets namespaces of its own, so both run at once: most of the
    // time goes to waiting out connections that must not be answered.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = backends
            .iter()
            .map(|backend| {
                let (ip, artifacts) = (&ip, &artifacts);
                scope.spawn(move || {
                    let lab = Lab::build(ip.clone(), backend.name);
                    let mut failures = Vec::new();
                    for (index, plan) in [&V4, &V6].into_iter().enumerate() {
                        failures.extend(
                            try_flows(&lab, backend, index, plan, artifacts)
                                .into_iter()
                                .map(|f| format!("{} {}: {f}", backend.name, plan.family)),
                        );
                    }
                    failures
                })
            })
            .collect();
        runs.into_iter()
            .flat_map(|run| run.join().expect("a backend's run panicked"))
            .collect()
    });
    assert!(
        failures.is_empty(),
        "the firewall let the wrong traffic through:\n{}",
        failures.join("\n")
    );
}

/// Applies one family's rule set over Docker's stand-in and tries every flow;
/// returns what went wrong.
fn try_flows(
    lab: &Lab,
    backend: &Backend,
    family: usize,
    plan: &Plan,
    artifacts: &Artifacts,
) -> Vec<String> {
    let (restore, save) = (&backend.restore[family], &backend.save[family]);
    let mut failures = Vec::new();
    {
        let file = if plan.family == "IPv4" {
            "rules.v4"
        } else {
            "rules.v6"
        };
        let rules = &artifacts[&format!("hosts/fw/firewall/{file}")];
        lab.restore(restore, &docker_stand_in(plan), false);
        let docker_chains = lab.filter_rules(save);
        lab.restore(restore, rules, true);
        let applied_once = lab.filter_rules(save);
        lab.restore(restore, rules, true);
        let applied_twice = lab.filter_rules(save);
        assert_eq!(
            applied_once, applied_twice,
            "{} {}: applying twice changed the rules",
            backend.name, plan.family
        );
        for line in docker_chains
            .iter()
            .filter(|l| !l.starts_with("-A DOCKER-USER") && !l.starts_with(":INPUT"))
        {
            assert!(
                applied_once.contains(line),
                "{} {}: Docker's `{line}` did not survive",
                backend.name,
                plan.family
            );
        }

        let expectations: [(&str, &str, &str, &str, u16, &str); 11] = [
            ("admin → host SSH", "out", plan.admin, plan.host, 22, "open"),
            (
                "stranger → host SSH",
                "out",
                plan.stranger,
                plan.host,
                22,
                "closed",
            ),
            ("edge → host SSH", "out", plan.edge, plan.host, 22, "closed"),
            (
                "stranger → published 8080",
                "out",
                plan.stranger,
                plan.host,
                8080,
                "closed",
            ),
            (
                "admin → published 8080",
                "out",
                plan.admin,
                plan.host,
                8080,
                "closed",
            ),
            (
                "edge → published 443 (allowed from edge)",
                "out",
                plan.edge,
                plan.host,
                443,
                "open",
            ),
            (
                "stranger → published 443",
                "out",
                plan.stranger,
                plan.host,
                443,
                "closed",
            ),
            (
                "host → container through the bridge",
                "host",
                "-",
                plan.container,
                8080,
                "open",
            ),
            (
                "container → internet 443",
                "ctr",
                "-",
                plan.outside,
                443,
                "open",
            ),
            (
                "container → internet 25 (denied egress)",
                "ctr",
                "-",
                plan.outside,
                25,
                "closed",
            ),
            (
                "container → metadata service",
                "ctr",
                "-",
                plan.metadata,
                80,
                "closed",
            ),
        ];
        for (what, from, source, target, port, expected) in expectations {
            let outcome = lab.probe(from, source, target, port, 1);
            if outcome != [expected] {
                failures.push(format!("{what}: expected {expected}, got {outcome:?}"));
            }
        }
        let container_to_host = lab.probe("ctr", "-", plan.host, 22, 1);
        if container_to_host != ["closed"] {
            failures.push(format!(
                "container → host SSH: expected closed, got {container_to_host:?}"
            ));
        }

        // Ten new SSH connections a minute from one address, then drops: a fresh
        // admin address sees exactly ten opens.
        let burst = lab.probe("out", plan.second_admin, plan.host, 22, 11);
        let mut expected = vec!["open".to_string(); 10];
        expected.push("closed".to_string());
        if burst != expected {
            failures.push(format!(
                "SSH rate limit: expected 10 opens then closed, got {burst:?}"
            ));
        }
    }
    failures
}

/// A quick validity check of every example's rule sets: applied for real in a
/// throwaway namespace (`--test` accepts rules that fail on apply).
fn every_example_rule_set_applies() {
    let Some((_, backends)) = tools() else {
        return;
    };
    let Some(unshare) = support::system_tool("unshare") else {
        return;
    };
    let mut applied = 0;
    for example in support::examples() {
        let artifacts = support::build_example(&example);
        for (path, rules) in artifacts
            .iter()
            .filter(|(p, _)| p.contains("/firewall/rules.v"))
        {
            let family = usize::from(path.ends_with(".v6"));
            let file =
                std::env::temp_dir().join(format!("infrac-rules-{}-{applied}", std::process::id()));
            std::fs::write(&file, rules).unwrap();
            for backend in &backends {
                let (ok, _, stderr) = support::run(
                    Command::new(&unshare)
                        .arg("--net")
                        .arg(&backend.restore[family])
                        .arg("--noflush")
                        .arg(&file),
                );
                assert!(
                    ok,
                    "{example}/{path} does not apply with {}: {stderr}",
                    backend.name
                );
                applied += 1;
            }
            let _ = std::fs::remove_file(&file);
        }
    }
    assert!(applied >= 8, "only {applied} rule sets applied");
}

/// Root for namespaces, and both iptables backends for both families.
const NETNS: &[support::Needs] = &[
    Root,
    System("ip"),
    System("unshare"),
    System("iptables-nft-restore"),
    System("iptables-legacy-restore"),
    System("ip6tables-nft-restore"),
    System("ip6tables-legacy-restore"),
    System("iptables-nft-save"),
    System("iptables-legacy-save"),
    System("ip6tables-nft-save"),
    System("ip6tables-legacy-save"),
];

fn main() -> std::process::ExitCode {
    support::run_checks(vec![
        Check {
            name: "rule_sets_enforce_the_policy_on_real_traffic",
            needs: NETNS,
            run: rule_sets_enforce_the_policy_on_real_traffic,
        },
        Check {
            name: "every_example_rule_set_applies",
            needs: NETNS,
            run: every_example_rule_set_applies,
        },
    ])
}
