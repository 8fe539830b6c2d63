//! The generated project the benchmarks compile: per stack a secret and four
//! services (one routed, one worker with egress, a database with a volume, a
//! cache), one host per ten stacks with a firewall, a user and a proxy.
#![allow(dead_code)]

/// One host per ten stacks, each with a firewall, users and address pools.
const STACKS_PER_HOST: usize = 10;

pub fn project(stacks: usize) -> String {
    let mut text = String::from(
        r#"project "bench" {
    domain "bench.example"
}
cidr-set "admins" "198.51.100.0/24" "2001:db8:1::/48"
cidr-set "edge" "173.245.48.0/20" "103.21.244.0/22" "2400:cb00::/32"
"#,
    );
    for h in 0..stacks.div_ceil(STACKS_PER_HOST) {
        text.push_str(&format!(
            r#"
host "h{h}" {{
    os "debian-12"
    address "203.0.113.{octet}"
    address "2001:db8::{h:x}"
    ssh allow-from="admins"
    firewall {{
        allow "tcp" 443 from="edge"
        allow "tcp" 80 from="edge"
        deny-egress "tcp" 25
    }}
    user "deploy" ssh-key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPdHfSbvVigFFPVMEhb3yfIixa00/SG9V3u+SKsHDSHj deploy@laptop" sudo=#true
    packages "unattended-upgrades"
    address-pool "172.20.0.0/14" size=24
    proxy "traefik" image="traefik:v3.1.6"
}}
"#,
            octet = h % 250 + 1
        ));
    }
    for s in 0..stacks {
        let h = s / STACKS_PER_HOST;
        text.push_str(&format!(
            r#"
secret "s{s}-db"
stack "s{s}" host="h{h}" {{
    service "web" image="ghcr.io/acme/web:1.{s}.0" {{
        networks "ingress" "internal"
        route "s{s}.bench.example" port=8080
        env "MODE" "production"
        env "DB_PASSWORD" secret="s{s}-db"
        depends-on "db" "cache"
        healthcheck command="wget -qO- http://localhost:8080/health" interval="30s"
        resources cpus=1.0 memory="512MiB"
    }}
    service "worker" image="ghcr.io/acme/web:1.{s}.0" {{
        networks "internal" "egress"
        command "worker" "--queue" "default"
        env "DB_PASSWORD" secret="s{s}-db"
        depends-on "db" "cache"
    }}
    service "db" image="postgres:16.4" {{
        networks "internal"
        volume "s{s}-pgdata" path="/var/lib/postgresql/data"
        env "POSTGRES_PASSWORD" secret="s{s}-db"
        healthcheck command="pg_isready" interval="10s"
    }}
    service "cache" image="valkey/valkey:8.0.1" {{
        networks "internal"
    }}
}}
"#
        ));
    }
    text
}

/// The smallest such project of at least `lines` lines.
pub fn project_of_lines(lines: usize) -> String {
    let mut stacks = 1;
    loop {
        let text = project(stacks);
        if text.lines().count() >= lines {
            return text;
        }
        stacks += 1.max(stacks / 8);
    }
}
