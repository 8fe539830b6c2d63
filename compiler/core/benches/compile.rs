//! Compile throughput on generated projects of growing size: `cargo bench -p infrac-core`.
//! Prints, per size, the median of several runs of the whole pipeline (parse to
//! emit) and the split between the KDL parser and the rest.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use infrac_core::{LoadError, SourceLoader};

struct Memory(BTreeMap<String, String>);

impl SourceLoader for Memory {
    fn load(&self, path: &str) -> Result<String, LoadError> {
        self.0.get(path).cloned().ok_or(LoadError::NotFound)
    }
}

/// One host per ten stacks, each with a firewall, users and address pools.
const STACKS_PER_HOST: usize = 10;

fn project(stacks: usize) -> String {
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
        volume "pgdata" path="/var/lib/postgresql/data"
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

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    println!(
        "{:>7} {:>9} {:>11} {:>11} {:>11} {:>9}",
        "stacks", "KiB", "compile ms", "kdl ms", "MB/s", "files"
    );
    for stacks in [10, 100, 500, 1000] {
        let text = project(stacks);
        let loader = Memory(BTreeMap::from([("infrac.kdl".to_string(), text.clone())]));
        let runs = if stacks >= 500 { 5 } else { 15 };
        let mut compile_times = Vec::new();
        let mut parse_times = Vec::new();
        let mut files = 0;
        for _ in 0..runs {
            let start = Instant::now();
            let compilation = infrac_core::compile("infrac.kdl", &loader);
            compile_times.push(start.elapsed());
            assert!(!compilation.has_errors());
            files = compilation.artifacts.map_or(0, |a| a.len());
            let start = Instant::now();
            let document = kdl::KdlDocument::parse(&text);
            parse_times.push(start.elapsed());
            assert!(document.is_ok());
        }
        let compile = median(compile_times);
        let parse = median(parse_times);
        println!(
            "{:>7} {:>9} {:>11.1} {:>11.1} {:>11.2} {:>9}",
            stacks,
            text.len() / 1024,
            compile.as_secs_f64() * 1e3,
            parse.as_secs_f64() * 1e3,
            text.len() as f64 / compile.as_secs_f64() / 1e6,
            files
        );
    }
}
