//! Docker's daemon configuration. In: one host of the model. Out:
//! `hosts/<host>/docker/daemon.json`, with only keys that have an effect:
//! - `icc: false` — no traffic between containers on the default bridge
//!   (`docker run` without a network); infrac's own networks set it per network;
//! - `ip: 127.0.0.1` — a port published without an address binds to loopback;
//! - `userland-proxy: false` — published ports go through iptables, where
//!   DOCKER-USER sees them (and Docker turns bridge netfilter on);
//! - `no-new-privileges`, `live-restore`, rotated json-file logs, address pools.
//!
//! No daemon-wide `ipv6`: it only concerns the default bridge, and with it
//! dockerd turns IPv6 forwarding on, after which the kernel ignores router
//! advertisements and a SLAAC host loses its IPv6 default route (moby#43466).

use serde::Serialize;

use crate::model::Host;

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct DaemonConfig {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    default_address_pools: Vec<AddressPool>,
    icc: bool,
    ip: &'static str,
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
