//! The host's packet filter. In: one host of the model. Out:
//! `hosts/<host>/firewall/rules.v4` and `rules.v6` for `iptables-restore --noflush`.
//!
//! The files own two chains of the filter table and rewrite them whole on every
//! apply, so applying twice changes nothing: `INPUT` (traffic to the host) and
//! `DOCKER-USER` (traffic Docker forwards to and from containers, consulted before
//! Docker's own accept rules). Docker's other chains are never touched.

use ipnet::IpNet;

use crate::model::{AddressSource, Host, Model, PortMatch};
use crate::plan::{EDGE_BRIDGE_PREFIX, EdgeNetwork, HostPlan, Layout, Plan};

/// New SSH connections one source address may open per minute.
const SSH_CONNECTIONS_PER_MINUTE: u32 = 10;

#[derive(Clone, Copy, PartialEq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::V4, Family::V6];

    pub fn file_name(self) -> &'static str {
        match self {
            Family::V4 => "rules.v4",
            Family::V6 => "rules.v6",
        }
    }

    pub fn restore_command(self) -> &'static str {
        match self {
            Family::V4 => "iptables-restore",
            Family::V6 => "ip6tables-restore",
        }
    }

    fn contains(self, net: &IpNet) -> bool {
        matches!(
            (self, net),
            (Family::V4, IpNet::V4(_)) | (Family::V6, IpNet::V6(_))
        )
    }

    /// The cloud metadata service, which hands out instance credentials.
    fn metadata_address(self) -> &'static str {
        match self {
            Family::V4 => "169.254.169.254/32",
            Family::V6 => "fd00:ec2::254/128",
        }
    }
}

/// ICMPv6 that IPv6 cannot work without (RFC 4890 §4.4.1).
const ICMPV6_ESSENTIAL: [&str; 5] = [
    "destination-unreachable",
    "packet-too-big",
    "time-exceeded",
    "parameter-problem",
    "echo-request",
];
/// Neighbour and router discovery, accepted only from the local link (hop limit 255).
const ICMPV6_LINK_LOCAL: [&str; 3] = [
    "router-advertisement",
    "neighbour-solicitation",
    "neighbour-advertisement",
];

pub fn emit_firewall(
    model: &Model,
    plan: &Plan,
    facts: &HostPlan,
    host: &Host,
    artifacts: &mut std::collections::BTreeMap<String, String>,
) {
    for family in Family::ALL {
        artifacts.insert(
            firewall_path(host, family),
            rule_set(model, plan, facts, host, family),
        );
    }
}

pub fn firewall_path(host: &Host, family: Family) -> String {
    Layout::in_host(
        host,
        &format!("{}/{}", Layout::FIREWALL_DIR, family.file_name()),
    )
}

/// The rule set of one address family, in iptables-restore format.
pub fn rule_set(
    model: &Model,
    plan: &Plan,
    facts: &HostPlan,
    host: &Host,
    family: Family,
) -> String {
    let mut rules = RuleSet::default();
    let interface = host
        .interface
        .as_ref()
        .map(|i| format!(" -i {i}"))
        .unwrap_or_default();

    rules.comment("Traffic to the host itself.");
    rules.input("-m conntrack --ctstate INVALID -j DROP");
    rules.input("-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT");
    rules.input("-i lo -j ACCEPT");
    if family == Family::V6 {
        for kind in ICMPV6_ESSENTIAL {
            rules.input(&format!(
                "-p ipv6-icmp -m icmp6 --icmpv6-type {kind} -j ACCEPT"
            ));
        }
        for kind in ICMPV6_LINK_LOCAL {
            rules.input(&format!(
                "-p ipv6-icmp -m icmp6 --icmpv6-type {kind} -m hl --hl-eq 255 -j ACCEPT"
            ));
        }
    }
    let ssh = &host.ssh;
    rules.comment(&format!(
        "SSH, at most {SSH_CONNECTIONS_PER_MINUTE} new connections a minute per address; a blocked client is let in again once its minute has passed."
    ));
    let list = match family {
        Family::V4 => "infrac-ssh4",
        Family::V6 => "infrac-ssh6",
    };
    for source in sources(model, ssh.allow_from.as_ref(), family) {
        let matched = format!(
            "{interface}{source} -p tcp -m tcp --dport {} -m conntrack --ctstate NEW",
            ssh.port
        );
        rules.input(&format!(
            "{matched} -m recent --name {list} --rcheck --seconds 60 --hitcount {SSH_CONNECTIONS_PER_MINUTE} -j DROP"
        ));
        rules.input(&format!(
            "{matched} -m recent --name {list} --set -j ACCEPT"
        ));
    }
    if !host.firewall.allows.is_empty() {
        rules.comment("Declared `allow` rules.");
    }
    for allow in &host.firewall.allows {
        for source in sources(model, allow.from.as_ref(), family) {
            rules.input(&format!(
                "{interface}{source} {} -j ACCEPT",
                port(allow.port)
            ));
        }
    }

    rules.comment("Traffic Docker forwards to and from containers.");
    rules.docker("-m conntrack --ctstate INVALID -j DROP");
    let edges: Vec<&EdgeNetwork> = facts
        .edges
        .iter()
        .filter_map(|id| plan.service(*id).edge.as_ref())
        .collect();
    if !edges.is_empty() {
        rules.comment("Edge networks: the proxy opens connections to a routed service on its route ports, nothing else crosses them.");
        // iptables matches every interface with this prefix when it ends in `+`.
        let every_edge = format!("{EDGE_BRIDGE_PREFIX}+");
        rules.docker(&format!(
            "-i {every_edge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
        ));
        for edge in &edges {
            for port in &edge.ports {
                rules.docker(&format!(
                    "-i {bridge} -o {bridge} -p tcp -m tcp --dport {port} -m conntrack --ctstate NEW -j ACCEPT",
                    bridge = edge.bridge
                ));
            }
        }
        rules.docker(&format!("-i {every_edge} -j DROP"));
        rules.docker(&format!("-o {every_edge} -j DROP"));
    }
    rules.docker("-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN");
    rules.docker(&format!("-d {} -j DROP", family.metadata_address()));
    rules.docker("-i lo -o br+ -j RETURN");
    rules.comment("Containers reach the internet, except the denied ports.");
    for denied in &host.firewall.deny_egress {
        rules.docker(&format!("-i br+ ! -o br+ {} -j DROP", port(*denied)));
    }
    rules.docker("-i br+ -j RETURN");
    if !host.firewall.allows.is_empty() {
        rules.comment("Published ports the `allow` rules open (the proxy's), matched before Docker's DNAT changed them.");
    }
    for allow in &host.firewall.allows {
        for source in sources(model, allow.from.as_ref(), family) {
            rules.docker(&format!(
                "{interface}{source} -p {} -m conntrack --ctorigdstport {} -j RETURN",
                allow.port.protocol.as_str(),
                allow.port.port
            ));
        }
    }
    rules.comment("Everything else from outside towards containers, published ports included.");
    rules.docker("-j DROP");
    rules.render(host, family)
}

/// `-s` clauses of a rule: none for "anywhere", one per network of the family.
fn sources(model: &Model, source: Option<&AddressSource>, family: Family) -> Vec<String> {
    match source {
        None => vec![String::new()],
        Some(source) => model
            .networks_of(source)
            .unwrap_or_default()
            .iter()
            .filter(|net| family.contains(net))
            .map(|net| format!(" -s {net}"))
            .collect(),
    }
}

fn port(port: PortMatch) -> String {
    let protocol = port.protocol.as_str();
    format!("-p {protocol} -m {protocol} --dport {}", port.port)
}

#[derive(Default)]
struct RuleSet {
    lines: Vec<String>,
}

impl RuleSet {
    fn comment(&mut self, text: &str) {
        self.lines.push(format!("# {text}"));
    }

    fn input(&mut self, rule: &str) {
        self.lines.push(format!("-A INPUT {}", rule.trim_start()));
    }

    fn docker(&mut self, rule: &str) {
        self.lines
            .push(format!("-A DOCKER-USER {}", rule.trim_start()));
    }

    fn render(self, host: &Host, family: Family) -> String {
        let mut text = format!(
            "# Generated by infrac for host `{host}`. Do not edit: change the infrac sources and rebuild.\n\
             # Apply with `{restore} --noflush {file}`: it rewrites INPUT and DOCKER-USER of the filter\n\
             # table and leaves Docker's own chains alone.\n\
             *filter\n\
             :INPUT DROP [0:0]\n\
             :DOCKER-USER - [0:0]\n\
             -F INPUT\n\
             -F DOCKER-USER\n",
            host = host.name.value,
            restore = family.restore_command(),
            file = family.file_name(),
        );
        for line in self.lines {
            text.push_str(&line);
            text.push('\n');
        }
        text.push_str("COMMIT\n");
        text
    }
}
