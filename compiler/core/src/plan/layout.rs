//! Where each artifact lives in the output directory. Emitters, the deploy
//! script and the workflows all take paths from here, so a file cannot be
//! written in one place and looked for in another.

use crate::model::{Host, Stack};

/// The output layout: every path relative to the artifact directory.
pub struct Layout;

impl Layout {
    pub const MANIFEST: &'static str = "manifest.json";
    /// The reachability graph as a Mermaid flowchart.
    pub const GRAPH: &'static str = "graph.mmd";
    pub const DEPLOY_WORKFLOW: &'static str = ".github/workflows/deploy.yml";
    pub const REVIEW_WORKFLOW: &'static str = ".github/workflows/review.yml";

    /// Every stack's directory is in here, every host's in `HOSTS_DIR`.
    pub const STACKS_DIR: &'static str = "stacks";
    pub const HOSTS_DIR: &'static str = "hosts";

    pub fn stack_dir(stack: &Stack) -> String {
        format!("{}/{}", Layout::STACKS_DIR, stack.name.value)
    }

    pub fn host_dir(host: &Host) -> String {
        format!("{}/{}", Layout::HOSTS_DIR, host.name.value)
    }

    /// Inside a stack's directory.
    pub const COMPOSE_FILE: &'static str = "compose.yaml";
    pub const ENV_EXAMPLE: &'static str = ".env.example";

    /// Inside a host's directory.
    pub const PROXY_DIR: &'static str = "proxy";
    pub const TRAEFIK_STATIC: &'static str = "proxy/traefik.yml";
    pub const TRAEFIK_DYNAMIC_DIR: &'static str = "proxy/dynamic";
    pub const CLOUDFLARED_DIR: &'static str = "cloudflared";
    pub const FIREWALL_DIR: &'static str = "firewall";
    pub const DAEMON_JSON: &'static str = "docker/daemon.json";
    pub const CLOUD_INIT: &'static str = "cloud-init.yaml";
    pub const DEPLOY_SCRIPT: &'static str = "deploy.sh";
    /// A host's job units: `jobs/<unit>.service` and `.timer`.
    pub const JOBS_DIR: &'static str = "jobs";

    /// The systemd unit name (without suffix) of a job.
    pub fn job_unit(stack: &Stack, job: &str) -> String {
        format!("infrac-job-{}-{job}", stack.name.value)
    }

    /// Where a service's configuration file is shipped, inside its stack's
    /// directory: `files/<service><path in the container>`.
    pub fn config_file(service: &str, path: &str) -> String {
        format!("files/{service}{path}")
    }

    /// A path inside a stack's directory.
    pub fn in_stack(stack: &Stack, relative: &str) -> String {
        format!("{}/{relative}", Layout::stack_dir(stack))
    }

    /// A path inside a host's directory.
    pub fn in_host(host: &Host, relative: &str) -> String {
        format!("{}/{relative}", Layout::host_dir(host))
    }
}
