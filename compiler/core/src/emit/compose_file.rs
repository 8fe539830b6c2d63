//! The Compose file format as typed structs, shared by the stack and proxy
//! emitters, and the escaping every literal needs before it enters one.

use indexmap::IndexMap;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::source::Spanned;
use crate::values::ImageRef;

#[derive(Serialize)]
pub struct ComposeFile {
    pub name: String,
    pub services: IndexMap<String, ComposeService>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub networks: IndexMap<String, ComposeNetwork>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub volumes: IndexMap<String, ComposeVolume>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub secrets: IndexMap<String, ComposeSecret>,
}

/// A secret whose value Compose reads from a variable of the environment (the
/// `.env` beside the compose file) and mounts at `/run/secrets/<name>`.
#[derive(Serialize)]
pub struct ComposeSecret {
    pub environment: String,
}

#[derive(Serialize, Default)]
pub struct ComposeService {
    pub image: String,
    /// A job's profile: `docker compose up` leaves it alone, `run` starts it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub restart: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    #[serde(skip_serializing_if = "ServiceNetworks::is_empty")]
    pub networks: ServiceNetworks,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ComposePort>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub environment: IndexMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<ComposeMount>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub depends_on: IndexMap<String, ComposeDependency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<ComposeHealthcheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<ComposeDeploy>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<String, String>,
}

/// The networks a service joins: a plain list, or a map when one of them
/// gives the service an alias.
#[derive(Serialize)]
#[serde(untagged)]
pub enum ServiceNetworks {
    List(Vec<String>),
    Map(IndexMap<String, NetworkAttachment>),
}

impl Default for ServiceNetworks {
    fn default() -> Self {
        ServiceNetworks::List(Vec::new())
    }
}

impl ServiceNetworks {
    pub fn is_empty(&self) -> bool {
        match self {
            ServiceNetworks::List(list) => list.is_empty(),
            ServiceNetworks::Map(map) => map.is_empty(),
        }
    }
}

#[derive(Serialize, Default)]
pub struct NetworkAttachment {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// Long port syntax: no `80:80` string that a YAML 1.1 reader takes for a number.
#[derive(Serialize)]
pub struct ComposePort {
    pub target: u16,
    pub published: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
    pub protocol: &'static str,
}

#[derive(Serialize)]
pub struct ComposeMount {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub source: String,
    pub target: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

#[derive(Serialize)]
pub struct ComposeDependency {
    pub condition: &'static str,
}

#[derive(Serialize)]
pub struct ComposeHealthcheck {
    pub test: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_period: Option<String>,
}

#[derive(Serialize)]
pub struct ComposeDeploy {
    pub resources: ComposeResources,
}

#[derive(Serialize)]
pub struct ComposeResources {
    pub limits: ComposeLimits,
}

#[derive(Serialize)]
pub struct ComposeLimits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

#[derive(Serialize, Default)]
pub struct ComposeNetwork {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<&'static str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub driver_opts: IndexMap<&'static str, String>,
}

/// Docker's bridge driver options infrac sets.
pub const BRIDGE_NAME: &str = "com.docker.network.bridge.name";
/// `false`: containers on the bridge cannot reach each other (Docker drops it,
/// and loads bridge netfilter so the host's firewall sees the traffic).
pub const BRIDGE_ICC: &str = "com.docker.network.bridge.enable_icc";

/// A top-level volume: the stack's own (empty), or another stack's, which
/// that stack creates (`external`, by its Docker name).
#[derive(Serialize, Default)]
pub struct ComposeVolume {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The first line of every generated YAML file.
pub const GENERATED_HEADER: &str =
    "# Generated by infrac. Do not edit: change the infrac sources and rebuild.\n";

/// A literal for Compose: `$` would start an interpolation, `$$` is a literal `$`.
pub fn literal(value: &str) -> String {
    value.replace('$', "$$")
}

/// The image as Compose reads it; empty only when the source's image was invalid,
/// which stops the build before emitting.
pub fn image_reference(image: &Option<Spanned<ImageRef>>) -> String {
    image
        .as_ref()
        .map(|i| literal(&i.value.reference))
        .unwrap_or_default()
}

pub fn to_yaml<T: Serialize>(value: &T) -> String {
    match serde_saphyr::to_string(value) {
        Ok(yaml) if yaml.ends_with('\n') => yaml,
        Ok(yaml) => yaml + "\n",
        // Our structs hold only strings, numbers, sequences and maps, which always serialize.
        Err(error) => unreachable!("compose structs always serialize: {error}"),
    }
}

/// Labels the service with a short stable hash of its effective configuration
/// (everything written so far), so a rollout can skip services whose hash did
/// not change. Call it last; the label goes first.
pub fn add_config_hash(service: &mut ComposeService) {
    let hash = short_hash(&to_yaml(service));
    service
        .labels
        .insert_before(0, "infrac.config-hash".to_string(), hash);
}

/// The first 8 bytes of a SHA-256, in hex: enough to tell configurations apart.
pub fn short_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Hardening every service gets unless it opts out.
pub fn harden(service: &mut ComposeService, keep_capabilities: impl IntoIterator<Item = String>) {
    service.security_opt = vec!["no-new-privileges:true".to_string()];
    service.cap_drop = vec!["ALL".to_string()];
    let mut capabilities: Vec<String> = keep_capabilities.into_iter().collect();
    capabilities.sort();
    capabilities.dedup();
    service.cap_add = capabilities;
}

/// Compose memory notation (binary units: b, k, m, g).
pub fn memory(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "g"), (1 << 20, "m"), (1 << 10, "k")];
    UNITS
        .iter()
        .find(|(size, _)| bytes.is_multiple_of(*size))
        .map_or_else(
            || format!("{bytes}b"),
            |(size, unit)| format!("{}{unit}", bytes / size),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_uses_the_largest_exact_unit() {
        assert_eq!(memory(512 << 20), "512m");
        assert_eq!(memory(2 << 30), "2g");
        assert_eq!(memory(1_000_000), "1000000b");
    }

    #[test]
    fn dollars_are_escaped() {
        assert_eq!(literal("a$b${c}"), "a$$b$${c}");
    }
}
