//! The sources of a host's rules fit the host: a rule whose networks are all of
//! an address family the host has no address in can never match (E202); SSH
//! that no client could reach locks the operator out (E203); SSH open to the
//! whole internet is a warning (W201); an `allow` of every port needs a source
//! (E205).

use ipnet::IpNet;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::{AddressSource, Host, Model};

pub fn check_rule_sources(model: &Model, diagnostics: &mut Diagnostics) {
    for host in &model.hosts {
        check_ssh(model, host, diagnostics);
        for allow in &host.firewall.allows {
            if allow.port.is_none() && allow.from.is_none() {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E205,
                        format!("`allow \"{}\"` opens every port to everyone", allow.protocol.as_str()),
                        allow.span,
                        "no port and no `from`",
                    )
                    .with_help("name the port (`allow \"tcp\" 443`) or the networks that may use every port (`from=\"office\"`)"),
                );
            }
            let Some(source) = &allow.from else { continue };
            // A set whose every entry was invalid has nothing left to judge.
            let Some(networks) = model.networks_of(source).filter(|n| !n.is_empty()) else {
                continue;
            };
            if !networks.iter().any(|n| host_has_family(host, n)) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E202,
                        format!(
                            "`{}` has only {} networks, but host `{}` has no {} address",
                            source_name(source),
                            family(&networks[0]),
                            host.name.value,
                            family(&networks[0])
                        ),
                        source.span(),
                        "can never match",
                    )
                    .with_secondary(allow.span, "in this rule")
                    .with_help("add the host's address of that family, or name networks of the family the host has"),
                );
            }
        }
    }
}

fn check_ssh(model: &Model, host: &Host, diagnostics: &mut Diagnostics) {
    let ssh = &host.ssh;
    let Some(source) = &ssh.allow_from else {
        diagnostics.push(open_to_world(
            host,
            ssh.span,
            if ssh.declared {
                "`ssh` has no `allow-from`"
            } else {
                "the host has no `ssh` node"
            },
        ));
        return;
    };
    let Some(networks) = model.networks_of(source).filter(|n| !n.is_empty()) else {
        return;
    };
    if networks.iter().any(|n| n.prefix_len() == 0) {
        diagnostics.push(open_to_world(
            host,
            source.span(),
            "it admits every address",
        ));
    }
    let reachable = networks
        .iter()
        .any(|n| host_has_family(host, n) && !is_loopback(n));
    if !reachable {
        diagnostics.push(
            Diagnostic::new(
                Code::E203,
                format!("no client could reach SSH on host `{}`", host.name.value),
                source.span(),
                "admits no client the host can hear",
            )
            .with_secondary(ssh.span, "the only way in")
            .with_help(format!(
                "`{}` holds only {}; the firewall would drop every SSH connection. Admit a network the host is reachable from",
                source_name(source),
                if networks.iter().all(is_loopback) {
                    "loopback addresses".to_string()
                } else {
                    format!("{} networks and the host has no {} address", family(&networks[0]), family(&networks[0]))
                }
            )),
        );
    }
}

fn open_to_world(host: &Host, span: crate::source::Span, why: &str) -> Diagnostic {
    Diagnostic::new(
        Code::W201,
        format!(
            "SSH on host `{}` is open to the whole internet: {why}",
            host.name.value
        ),
        span,
        "anyone may try to log in",
    )
    .with_help(
        "restrict it: `ssh allow-from=\"admins\"` with `cidr-set \"admins\" \"198.51.100.0/24\"`",
    )
}

/// A host without addresses has no known family: every rule may fit it.
fn host_has_family(host: &Host, net: &IpNet) -> bool {
    host.addresses.is_empty()
        || host
            .addresses
            .iter()
            .any(|a| a.value.is_ipv4() == matches!(net, IpNet::V4(_)))
}

fn is_loopback(net: &IpNet) -> bool {
    net.network().is_loopback()
}

fn family(net: &IpNet) -> &'static str {
    match net {
        IpNet::V4(_) => "IPv4",
        IpNet::V6(_) => "IPv6",
    }
}

fn source_name(source: &AddressSource) -> String {
    match source {
        AddressSource::Cidr(net) => net.value.to_string(),
        AddressSource::Set(set) => set.name.value.clone(),
        AddressSource::Invalid(_) => String::new(),
    }
}
