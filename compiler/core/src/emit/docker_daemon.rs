//! Docker's daemon configuration. In: one host of the model. Out:
//! `hosts/<host>/docker/daemon.json`: no inter-container traffic on the default
//! bridge, no userland proxy (published ports go through iptables, where
//! DOCKER-USER sees them), ports bound to loopback unless a compose file says
//! otherwise, no privilege escalation, rotated logs, IPv6 when the host has it.

use serde::Serialize;

use crate::model::Host;

/// The default bridge's IPv6 network: a unique local range no public route reaches.
const DEFAULT_BRIDGE_IPV6: &str = "fd00:d0c::/64";

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct DaemonConfig {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    default_address_pools: Vec<AddressPool>,
    icc: bool,
    ip: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ipv6: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none", rename = "fixed-cidr-v6")]
    fixed_cidr_v6: Option<&'static str>,
    live_restore: bool,
    log_driver: &'static str,
    log_opts: LogOptions,
    no_new_privileges: bool,
    userland_proxy: bool,
}

#[derive(Serialize)]
struct AddressPool {
    base: String,
    size: u8,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct LogOptions {
    max_file: &'static str,
    max_size: &'static str,
}

pub fn daemon_json(host: &Host) -> String {
    let ipv6 = host.has_ipv6();
    let config = DaemonConfig {
        default_address_pools: host
            .address_pools
            .iter()
            .map(|p| AddressPool {
                base: p.base.value.to_string(),
                size: p.size,
            })
            .collect(),
        icc: false,
        ip: "127.0.0.1",
        ipv6: ipv6.then_some(true),
        fixed_cidr_v6: ipv6.then_some(DEFAULT_BRIDGE_IPV6),
        live_restore: true,
        log_driver: "json-file",
        log_opts: LogOptions {
            max_file: "3",
            max_size: "10m",
        },
        no_new_privileges: true,
        userland_proxy: false,
    };
    match serde_json::to_string_pretty(&config) {
        Ok(json) => json + "\n",
        Err(error) => unreachable!("daemon.json always serializes: {error}"),
    }
}
