//! The firewall rule sets do what they promise, proven with real packets. The
//! test builds a host out of network namespaces, loads a stand-in for Docker's
//! own chains (FORWARD → DOCKER-USER → DOCKER-FORWARD, DNAT for published
//! ports, as Docker 28 lays them out) and a jump fail2ban would have put in
//! INPUT, applies the compiled `rules.v4` and `rules.v6` with the compiled
//! `apply.sh`, twice (both the nf_tables and the legacy backend, each in
//! namespaces of its own), and tries connections:
//!
//! ```text
//!   outside (the internet)          host                       container
//!   eth0 203.0.113.1 ───────── eth0 203.0.113.10     br-test ── eth0 172.30.0.2
//!        2001:db8::1                2001:db8::10      172.30.0.1      fd00:30::2
//!   clients: admins, edge,                            fd00:30::1
//!   management, office,
//!   strangers; servers on 443, 25,     servers on 22, 8443
//!   and the metadata address           DHCPv6 and RA receivers
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
    /// In `mgmt`: SSH without the rate limit.
    management: &'static str,
    /// In `office`: every TCP port.
    office: &'static str,
    /// An admin address beside `second_admin`: the same /64 in IPv6, another address in IPv4.
    neighbour: &'static str,
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
    management: "203.0.113.70",
    office: "100.64.10.10",
    neighbour: "198.51.100.12",
};

const V6: Plan = Plan {
    family: "IPv6",
    host: "2001:db8::10",
    outside: "2001:db8::1",
    container: "fd00:30::2",
    admin: "2001:db8:1::10",
    second_admin: "2001:db8:1:1::11",
    edge: "2001:db8:2::10",
    stranger: "2001:db8:ff::99",
    metadata: "fd00:ec2::254",
    management: "2001:db8:3::10",
    office: "2001:db8:4::10",
    neighbour: "2001:db8:1:1::12",
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
                plan.management,
                plan.office,
                plan.neighbour,
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
            ("host", 8443),
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

    /// The link-local IPv6 address of a namespace's eth0, once DAD is done.
    fn link_local(&self, role: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (ok, stdout, _) = support::run(Command::new(&self.ip).args([
                "-n",
                &self.ns(role),
                "-6",
                "addr",
                "show",
                "dev",
                "eth0",
                "scope",
                "link",
            ]));
            if ok
                && !stdout.contains("tentative")
                && let Some(address) = stdout
                    .split_whitespace()
                    .skip_while(|w| *w != "inet6")
                    .nth(1)
            {
                return address.split('/').next().unwrap().to_string();
            }
            assert!(Instant::now() < deadline, "no link-local address in {role}");
            std::thread::sleep(Duration::from_millis(100));
        }
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

/// Applies the rule sets the way a deploy does, over Docker's stand-in and a
/// fail2ban-style jump another tool put in INPUT: `apply.sh`, twice. The second
/// run must change nothing, and Docker's chains and the foreign jump must stay.
fn apply_like_a_deploy(lab: &Lab, backend: &Backend, artifacts: &Artifacts) {
    let dir = std::env::temp_dir().join(format!("{}-firewall", lab.prefix));
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["rules.v4", "rules.v6", "apply.sh"] {
        std::fs::write(
            dir.join(file),
            &artifacts[&format!("hosts/fw/firewall/{file}")],
        )
        .unwrap();
    }
    let mut before = Vec::new();
    for (family, plan) in [&V4, &V6].into_iter().enumerate() {
        lab.restore(&backend.restore[family], &docker_stand_in(plan), false);
        lab.restore(&backend.restore[family], FOREIGN_RULES, true);
        before.push(lab.filter_rules(&backend.save[family]));
    }
    let apply = || {
        let (ok, _, stderr) = support::run(
            lab.exec("host", "sh")
                .arg(dir.join("apply.sh"))
                .env("IPTABLES", format!("iptables-{}", backend.name))
                .env("IP6TABLES", format!("ip6tables-{}", backend.name))
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        );
        assert!(ok, "{}: apply.sh failed: {stderr}", backend.name);
        (0..2)
            .map(|family| lab.filter_rules(&backend.save[family]))
            .collect::<Vec<_>>()
    };
    let once = apply();
    let twice = apply();
    assert_eq!(
        once, twice,
        "{}: applying twice changed the rules",
        backend.name
    );
    for (family, rules) in once.iter().enumerate() {
        for line in before[family]
            .iter()
            .filter(|l| !l.starts_with("-A DOCKER-USER") && !l.starts_with(":INPUT"))
        {
            assert!(
                rules.contains(line),
                "{} family {family}: `{line}` did not survive",
                backend.name
            );
        }
        let jumps = rules
            .iter()
            .filter(|l| *l == "-A INPUT -j INFRAC-INPUT")
            .count();
        assert_eq!(
            jumps, 1,
            "{}: INPUT must jump to INFRAC-INPUT once",
            backend.name
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// What fail2ban's iptables actions leave in INPUT.
const FOREIGN_RULES: &str = "*filter\n\
     :f2b-sshd - [0:0]\n\
     -A f2b-sshd -j RETURN\n\
     -I INPUT 1 -p tcp -m multiport --dports 22 -j f2b-sshd\n\
     COMMIT\n";

/// Receives link-local traffic on the host for up to two seconds: a DHCPv6
/// reply (UDP 547 → 546) or a router advertisement (ICMPv6 134, hop limit 255).
const LINK_LOCAL_RECEIVE: &str = r#"
import socket, sys
kind = sys.argv[1]
if kind == "dhcpv6":
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(("::", 546))
else:
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.settimeout(2.0)
print("ready", flush=True)
try:
    while True:
        data, _ = s.recvfrom(2048)
        if kind == "dhcpv6" or data[0] == 134:
            print("received")
            break
except socket.timeout:
    print("dropped")
"#;

/// Sends one DHCPv6 reply or router advertisement from the outside namespace's
/// link-local address to the host's.
const LINK_LOCAL_SEND: &str = r#"
import socket, struct, sys
kind, target, interface = sys.argv[1], sys.argv[2], sys.argv[3]
scope = socket.if_nametoindex(interface)
if kind == "dhcpv6":
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(("::", 547))
    s.sendto(b"\x07reply", (target, 546, 0, scope))
else:
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
    # type 134, code 0, checksum (the kernel fills it in), hop limit 64, no
    # flags, router lifetime 0 (not a default router), reachable, retransmit.
    advertisement = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 0, 0, 0)
    s.sendto(advertisement, (target, 0, 0, scope))
"#;

/// Whether DHCPv6 replies and router advertisements reach the host.
fn link_local_traffic(lab: &Lab) -> Vec<(&'static str, String)> {
    let host_address = lab.link_local("host");
    ["dhcpv6", "router-advertisement"]
        .into_iter()
        .map(|kind| {
            let mut receiver = lab
                .exec("host", "python3")
                .args(["-c", LINK_LOCAL_RECEIVE, kind])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut out = std::io::BufReader::new(receiver.stdout.take().unwrap());
            let mut line = String::new();
            std::io::BufRead::read_line(&mut out, &mut line).unwrap();
            let (ok, _, stderr) = support::run(lab.exec("out", "python3").args([
                "-c",
                LINK_LOCAL_SEND,
                kind,
                &host_address,
                "eth0",
            ]));
            assert!(ok, "sending {kind}: {stderr}");
            line.clear();
            std::io::BufRead::read_line(&mut out, &mut line).unwrap();
            let _ = receiver.wait();
            (kind, line.trim().to_string())
        })
        .collect()
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
                    apply_like_a_deploy(&lab, backend, artifacts);
                    let mut failures = Vec::new();
                    for plan in [&V4, &V6] {
                        failures.extend(
                            try_flows(&lab, plan)
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
fn try_flows(lab: &Lab, plan: &Plan) -> Vec<String> {
    let mut failures = Vec::new();
    {
        let expectations: [(&str, &str, &str, &str, u16, &str); 15] = [
            (
                "management → host SSH",
                "out",
                plan.management,
                plan.host,
                22,
                "open",
            ),
            (
                "office → host 8443 (every TCP port)",
                "out",
                plan.office,
                plan.host,
                8443,
                "open",
            ),
            (
                "stranger → host 8443",
                "out",
                plan.stranger,
                plan.host,
                8443,
                "closed",
            ),
            (
                "office → published 8080 (every published port)",
                "out",
                plan.office,
                plan.host,
                8080,
                "open",
            ),
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

        // Ten new SSH connections a minute per client, then drops: a fresh admin
        // address sees exactly ten opens. A client is an IPv4 address or an IPv6
        // /64: the neighbour in the same /64 is blocked too, in IPv4 it is not.
        let burst = lab.probe("out", plan.second_admin, plan.host, 22, 11);
        let mut expected = vec!["open".to_string(); 10];
        expected.push("closed".to_string());
        if burst != expected {
            failures.push(format!(
                "SSH rate limit: expected 10 opens then closed, got {burst:?}"
            ));
        }
        let neighbour = lab.probe("out", plan.neighbour, plan.host, 22, 1);
        let expected = if plan.family == "IPv6" {
            "closed"
        } else {
            "open"
        };
        if neighbour != [expected] {
            failures.push(format!(
                "SSH rate limit per client: the neighbour expected {expected}, got {neighbour:?}"
            ));
        }
        // The management network is never limited.
        let management = lab.probe("out", plan.management, plan.host, 22, 12);
        if management.iter().any(|o| o != "open") {
            failures.push(format!("management SSH is rate-limited: {management:?}"));
        }
        if plan.family == "IPv6" {
            for (what, outcome) in link_local_traffic(lab) {
                if outcome != "received" {
                    failures.push(format!("{what}: {outcome}"));
                }
            }
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
