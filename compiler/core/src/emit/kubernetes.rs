//! The Kubernetes target. In: a cluster of the model and its plan. Out:
//! `clusters/<cluster>/`: per stack a namespace (labelled with the Pod Security
//! Standard its workloads meet), Deployments (StatefulSets for services with
//! volumes), Services, Ingresses, and NetworkPolicies that are the plan's
//! reachability graph and nothing else; a `kustomization.yaml` listing them all;
//! and `secrets.sh`, the `kubectl create secret` commands, reading every value
//! from the environment. No Secret with a value is ever written.

use std::collections::{BTreeMap, BTreeSet};

use indexmap::IndexMap;
use serde::Serialize;

use super::compose_file::{GENERATED_HEADER, to_yaml};
use crate::analyse::plan::runs_as_non_root;
use crate::model::{
    Cluster, ClusterId, EnvValue, IfUnset, Model, Reference, SecretId, Service, ServiceId, Stack,
    StackId, TextPart,
};
use crate::plan::{Endpoint, Plan, PodSecurity, Ports, Router};

/// Every pod of a service carries this label with the service's name; Services,
/// workloads and NetworkPolicies select by it.
const NAME_LABEL: &str = "app.kubernetes.io/name";
/// The key of the one value in each Secret that `secrets.sh` creates.
const SECRET_KEY: &str = "value";
/// Where pods on `egress` may connect: the internet, not the cluster's own
/// networks (RFC 1918, shared address space, link-local with the cloud's
/// metadata service, IPv6 unique-local and link-local).
const INTERNET_V4_EXCEPT: [&str; 5] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
];
const INTERNET_V6_EXCEPT: [&str; 2] = ["fc00::/7", "fe80::/10"];

type Labels = IndexMap<String, String>;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    labels: Labels,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    annotations: Labels,
}

impl Metadata {
    fn named(name: &str, namespace: &str) -> Metadata {
        Metadata {
            name: name.to_string(),
            namespace: Some(namespace.to_string()),
            labels: Labels::new(),
            annotations: Labels::new(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Object<S: Serialize> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    #[serde(skip_serializing_if = "Option::is_none")]
    spec: Option<S>,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WorkloadSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    replicas: Option<u64>,
    selector: Selector,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_name: Option<String>,
    template: PodTemplate,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volume_claim_templates: Vec<Object<ClaimSpec>>,
}

/// A job's CronJob: one run at a time, no retries (a failed run is visible).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CronJobSpec {
    schedule: String,
    concurrency_policy: &'static str,
    job_template: JobTemplate,
}

#[derive(Serialize)]
struct JobTemplate {
    spec: JobSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JobSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    active_deadline_seconds: Option<u64>,
    backoff_limit: u32,
    template: PodTemplate,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Selector {
    match_labels: Labels,
}

#[derive(Serialize)]
struct PodTemplate {
    metadata: TemplateMetadata,
    spec: PodSpec,
}

#[derive(Serialize)]
struct TemplateMetadata {
    labels: Labels,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    annotations: Labels,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    runtime_class_name: Option<String>,
    /// No API token in the pod: infrac's services do not talk to Kubernetes.
    automount_service_account_token: bool,
    /// No `<SERVICE>_PORT` variables from the namespace's Services.
    enable_service_links: bool,
    security_context: PodSecurityContext,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volumes: Vec<PodVolume>,
    /// `Never` for a job's pod; a workload's pods restart (the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    restart_policy: Option<&'static str>,
    containers: Vec<Container>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodSecurityContext {
    #[serde(skip_serializing_if = "Option::is_none")]
    run_as_non_root: Option<bool>,
    seccomp_profile: SeccompProfile,
}

#[derive(Serialize, Clone)]
struct SeccompProfile {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Container {
    name: String,
    image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<ContainerPort>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    env: Vec<EnvEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    readiness_probe: Option<Probe>,
    #[serde(skip_serializing_if = "Option::is_none")]
    liveness_probe: Option<Probe>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<ResourceRequirements>,
    security_context: ContainerSecurityContext,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volume_mounts: Vec<VolumeMount>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContainerPort {
    name: String,
    container_port: u16,
    protocol: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EnvEntry {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_from: Option<EnvSource>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EnvSource {
    secret_key_ref: SecretKeyRef,
}

#[derive(Serialize)]
struct SecretKeyRef {
    name: String,
    key: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    optional: Option<bool>,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Probe {
    exec: ExecAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    period_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_threshold: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    initial_delay_seconds: Option<u64>,
}

#[derive(Serialize, Clone)]
struct ExecAction {
    command: Vec<String>,
}

#[derive(Serialize)]
struct ResourceRequirements {
    requests: Labels,
    limits: Labels,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContainerSecurityContext {
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_privilege_escalation: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    capabilities: Option<Capabilities>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run_as_user: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run_as_group: Option<u64>,
    seccomp_profile: SeccompProfile,
}

#[derive(Serialize)]
struct Capabilities {
    drop: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    add: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VolumeMount {
    name: String,
    mount_path: String,
    /// One key of a ConfigMap, mounted as a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_path: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    read_only: bool,
}

/// A pod volume: the service's configuration files, from its ConfigMap.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodVolume {
    name: &'static str,
    config_map: ConfigMapSource,
}

#[derive(Serialize)]
struct ConfigMapSource {
    name: String,
}

/// A service's configuration files: `file-<n>` keys, in source order.
#[derive(Serialize)]
struct ConfigMap {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    data: Labels,
}

/// The pod volume that holds a service's configuration files.
const FILES_VOLUME: &str = "infrac-files";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClaimSpec {
    access_modes: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    storage_class_name: Option<String>,
    resources: ClaimResources,
}

#[derive(Serialize)]
struct ClaimResources {
    requests: Labels,
}

#[derive(Serialize)]
struct ServiceSpec {
    selector: Labels,
    ports: Vec<ServicePort>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServicePort {
    name: String,
    port: u16,
    target_port: u16,
    protocol: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_protocol: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IngressSpec {
    ingress_class_name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tls: Vec<IngressTls>,
    rules: Vec<IngressRule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IngressTls {
    hosts: Vec<String>,
    secret_name: String,
}

#[derive(Serialize)]
struct IngressRule {
    host: String,
    http: IngressHttp,
}

#[derive(Serialize)]
struct IngressHttp {
    paths: Vec<IngressPath>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IngressPath {
    path: String,
    path_type: &'static str,
    backend: IngressBackend,
}

#[derive(Serialize)]
struct IngressBackend {
    service: BackendService,
}

#[derive(Serialize)]
struct BackendService {
    name: String,
    port: BackendPort,
}

#[derive(Serialize)]
struct BackendPort {
    number: u16,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PolicySpec {
    pod_selector: PodSelector,
    policy_types: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ingress: Vec<PolicyRule>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    egress: Vec<PolicyRule>,
}

/// `{}` selects every pod of the namespace.
#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct PodSelector {
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    match_labels: Labels,
}

#[derive(Serialize)]
struct PolicyRule {
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<Vec<Peer>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<Vec<Peer>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<PolicyPort>,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Peer {
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace_selector: Option<Selector>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pod_selector: Option<Selector>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip_block: Option<IpBlock>,
}

#[derive(Serialize, Clone)]
struct IpBlock {
    cidr: &'static str,
    except: Vec<&'static str>,
}

#[derive(Serialize)]
struct PolicyPort {
    protocol: &'static str,
    port: u16,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Kustomization {
    api_version: &'static str,
    kind: &'static str,
    resources: Vec<String>,
}

/// Several objects in one file, as `kubectl apply` reads them.
fn documents(objects: &[String]) -> String {
    format!("{GENERATED_HEADER}{}", objects.join("---\n"))
}

pub fn emit_cluster(
    model: &Model,
    plan: &Plan,
    cluster_id: ClusterId,
    artifacts: &mut BTreeMap<String, String>,
) {
    let cluster = &model.clusters[cluster_id.0];
    let dir = format!("clusters/{}", cluster.name.value);
    let mut resources = Vec::new();
    for stack_id in &plan.cluster(cluster_id).stacks {
        let stack = &model.stacks[stack_id.0];
        let files = stack_files(model, plan, cluster_id, *stack_id, stack);
        for (file, objects) in files {
            if objects.is_empty() {
                continue;
            }
            let path = format!("{}/{file}", stack.name.value);
            artifacts.insert(format!("{dir}/{path}"), documents(&objects));
            resources.push(path);
        }
    }
    let kustomization = Kustomization {
        api_version: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources,
    };
    artifacts.insert(
        format!("{dir}/kustomization.yaml"),
        format!("{GENERATED_HEADER}{}", to_yaml(&kustomization)),
    );
    artifacts.insert(
        format!("{dir}/secrets.sh"),
        secrets_script(model, plan, cluster_id),
    );
}

/// A stack's objects, by file, in the order `kubectl apply` should see them.
fn stack_files(
    model: &Model,
    plan: &Plan,
    cluster_id: ClusterId,
    stack_id: StackId,
    stack: &Stack,
) -> Vec<(&'static str, Vec<String>)> {
    let cluster = &model.clusters[cluster_id.0];
    let namespace = &stack.name.value;
    let level = plan
        .stack(stack_id)
        .pod_security
        .as_ref()
        .map_or(PodSecurity::Baseline, |(level, _)| *level);
    let mut metadata = Metadata {
        name: namespace.clone(),
        namespace: None,
        labels: Labels::new(),
        annotations: Labels::new(),
    };
    metadata
        .labels
        .insert("kubernetes.io/metadata.name".to_string(), namespace.clone());
    let version = cluster.kubernetes.clone().unwrap_or_default();
    for mode in ["enforce", "warn", "audit"] {
        metadata.labels.insert(
            format!("pod-security.kubernetes.io/{mode}"),
            level.as_str().to_string(),
        );
        metadata.labels.insert(
            format!("pod-security.kubernetes.io/{mode}-version"),
            format!("v{version}"),
        );
    }
    let namespace_object = to_yaml(&Object::<Empty> {
        api_version: "v1",
        kind: "Namespace",
        metadata,
        spec: None,
    });
    let mut workloads = Vec::new();
    let mut services = Vec::new();
    for (index, service) in stack.services.iter().enumerate() {
        let id = ServiceId {
            stack: stack_id,
            index,
        };
        workloads.extend(config_map(service, namespace));
        workloads.push(workload(
            model, plan, cluster, id, service, level, namespace,
        ));
        if let Some(object) = service_object(plan, id, service, namespace) {
            services.push(object);
        }
    }
    let ingresses = plan
        .cluster(cluster_id)
        .routers
        .iter()
        .filter(|r| r.service.stack == stack_id)
        .map(|router| ingress(model, cluster, router, namespace))
        .collect();
    vec![
        ("namespace.yaml", vec![namespace_object]),
        ("workloads.yaml", workloads),
        ("services.yaml", services),
        ("ingresses.yaml", ingresses),
        (
            "network-policies.yaml",
            network_policies(model, plan, cluster, stack_id, stack, namespace),
        ),
    ]
}

fn labels_of(service: &Service, stack: &Stack) -> Labels {
    IndexMap::from([
        (NAME_LABEL.to_string(), service.name.value.clone()),
        (
            "app.kubernetes.io/part-of".to_string(),
            stack.name.value.clone(),
        ),
        (
            "app.kubernetes.io/managed-by".to_string(),
            "infrac".to_string(),
        ),
    ])
}

fn name_selector(name: &str) -> Selector {
    Selector {
        match_labels: IndexMap::from([(NAME_LABEL.to_string(), name.to_string())]),
    }
}

/// The ports a service's Service exposes: its route ports and its `port`s.
fn service_ports(plan: &Plan, id: ServiceId, service: &Service) -> Vec<(u16, bool)> {
    let mut ports: BTreeMap<u16, bool> = service.listens.iter().map(|p| (*p, false)).collect();
    for router in &plan.service(id).routers {
        let h2c = router.scheme == "h2c";
        ports
            .entry(router.port)
            .and_modify(|grpc| *grpc |= h2c)
            .or_insert(h2c);
    }
    ports.into_iter().collect()
}

fn workload(
    model: &Model,
    plan: &Plan,
    cluster: &Cluster,
    id: ServiceId,
    service: &Service,
    level: PodSecurity,
    namespace: &str,
) -> String {
    let stack = &model.stacks[id.stack.0];
    let facts = plan.service(id);
    let stateful = !service.volumes.is_empty();
    let labels = labels_of(service, stack);
    // A job's pod runs to its end: nothing to probe.
    let probe = service
        .healthcheck
        .as_ref()
        .filter(|_| service.schedule.is_none())
        .map(|h| Probe {
            exec: ExecAction {
                command: vec!["sh".to_string(), "-c".to_string(), h.command.clone()],
            },
            period_seconds: h.interval.as_ref().map(|d| d.seconds_ceil()),
            timeout_seconds: h.timeout.as_ref().map(|d| d.seconds_ceil()),
            failure_threshold: h.retries,
            initial_delay_seconds: h.start_period.as_ref().map(|d| d.seconds_ceil()),
        });
    let (run_as_user, run_as_group) = match &service.user {
        Some(user) => {
            let mut parts = user.value.split(':').map(|p| p.parse::<u64>().ok());
            (parts.next().flatten(), parts.next().flatten())
        }
        None => (None, None),
    };
    let resources = service.resources.as_ref().map(|r| {
        let mut amounts = Labels::new();
        if let Some(cpus) = r.cpus {
            amounts.insert("cpu".to_string(), cpu(cpus));
        }
        if let Some(memory) = r.memory {
            amounts.insert("memory".to_string(), quantity(memory));
        }
        ResourceRequirements {
            requests: amounts.clone(),
            limits: amounts,
        }
    });
    let secret_entry = |name: String, reference: &Reference<SecretId>, optional: bool| {
        Some(EnvEntry {
            name,
            value: None,
            value_from: Some(EnvSource {
                secret_key_ref: SecretKeyRef {
                    name: model.secrets[reference.target?.0].name.value.clone(),
                    key: SECRET_KEY,
                    optional: optional.then_some(true),
                },
            }),
        })
    };
    let plain = |name: &str, value: String| EnvEntry {
        name: name.to_string(),
        value: Some(value),
        value_from: None,
    };
    let mut env: Vec<EnvEntry> = Vec::new();
    for e in &service.env {
        let name = &e.name.value;
        match &e.value {
            EnvValue::Literal(value) => env.push(plain(name, escape_references(value))),
            EnvValue::Secret(reference) => env.extend(secret_entry(
                name.clone(),
                reference,
                e.if_unset == IfUnset::Empty,
            )),
            // Kubernetes fills in `$(VAR)` from variables defined before: each
            // secret gets one of its own, then the value refers to it.
            EnvValue::Template(parts) => {
                let mut value = String::new();
                for part in parts {
                    match part {
                        TextPart::Text(text) => value.push_str(&escape_references(text)),
                        TextPart::Secret(reference) => {
                            let Some(id) = reference.target else {
                                continue;
                            };
                            let helper =
                                format!("INFRAC_SECRET_{}", model.secrets[id.0].variable());
                            if !env.iter().any(|entry| entry.name == helper) {
                                env.extend(secret_entry(helper.clone(), reference, false));
                            }
                            value.push_str(&format!("$({helper})"));
                        }
                    }
                }
                env.push(plain(name, value));
            }
        }
    }
    let seccomp = SeccompProfile {
        kind: "RuntimeDefault",
    };
    let container = Container {
        name: service.name.value.clone(),
        image: service
            .image
            .as_ref()
            .map(|i| i.value.reference.clone())
            .unwrap_or_default(),
        args: service.command.clone(),
        ports: service_ports(plan, id, service)
            .into_iter()
            .map(|(port, _)| ContainerPort {
                name: format!("tcp-{port}"),
                container_port: port,
                protocol: "TCP",
            })
            .collect(),
        env,
        readiness_probe: probe.clone(),
        liveness_probe: probe,
        resources,
        security_context: ContainerSecurityContext {
            allow_privilege_escalation: facts.hardened.then_some(false),
            capabilities: facts.hardened.then(|| Capabilities {
                drop: vec!["ALL"],
                add: facts.capabilities.clone(),
            }),
            run_as_user,
            run_as_group,
            seccomp_profile: seccomp.clone(),
        },
        volume_mounts: service
            .volumes
            .iter()
            .map(|v| VolumeMount {
                name: v.name.value.clone(),
                mount_path: v.path.clone(),
                sub_path: None,
                read_only: v.read_only,
            })
            .chain(
                service
                    .files
                    .iter()
                    .enumerate()
                    .map(|(index, f)| VolumeMount {
                        name: FILES_VOLUME.to_string(),
                        mount_path: f.path.clone(),
                        sub_path: Some(format!("file-{index}")),
                        read_only: true,
                    }),
            )
            .collect(),
    };
    let claims = service
        .volumes
        .iter()
        .map(|v| Object {
            api_version: "v1",
            kind: "PersistentVolumeClaim",
            metadata: Metadata {
                name: v.name.value.clone(),
                namespace: None,
                labels: Labels::new(),
                annotations: Labels::new(),
            },
            spec: Some(ClaimSpec {
                access_modes: vec!["ReadWriteOnce"],
                storage_class_name: cluster.storage_class.clone(),
                resources: ClaimResources {
                    requests: IndexMap::from([(
                        "storage".to_string(),
                        quantity(v.size.unwrap_or_default()),
                    )]),
                },
            }),
        })
        .collect();
    let mut annotations: Labels = service
        .labels
        .iter()
        .map(|(k, v)| (k.value.clone(), v.clone()))
        .collect();
    // A ConfigMap change does not restart pods; a changed annotation does.
    if !service.files.is_empty() {
        annotations.insert(
            "infrac.dev/files-hash".to_string(),
            super::stack::files_hash(service),
        );
    }
    let mut metadata = Metadata::named(&service.name.value, namespace);
    metadata.labels = labels.clone();
    let template = PodTemplate {
        metadata: TemplateMetadata {
            labels,
            annotations,
        },
        spec: PodSpec {
            runtime_class_name: cluster.runtime_class.clone(),
            automount_service_account_token: false,
            enable_service_links: false,
            security_context: PodSecurityContext {
                run_as_non_root: (level == PodSecurity::Restricted && runs_as_non_root(service))
                    .then_some(true),
                seccomp_profile: seccomp,
            },
            volumes: (!service.files.is_empty())
                .then(|| PodVolume {
                    name: FILES_VOLUME,
                    config_map: ConfigMapSource {
                        name: files_config_map(service),
                    },
                })
                .into_iter()
                .collect(),
            restart_policy: service.schedule.as_ref().map(|_| "Never"),
            containers: vec![container],
        },
    };
    if let Some(schedule) = &service.schedule {
        return to_yaml(&Object {
            api_version: "batch/v1",
            kind: "CronJob",
            metadata,
            spec: Some(CronJobSpec {
                schedule: schedule.cron.clone(),
                concurrency_policy: "Forbid",
                job_template: JobTemplate {
                    spec: JobSpec {
                        active_deadline_seconds: schedule
                            .timeout
                            .as_ref()
                            .map(|t| t.seconds_ceil()),
                        backoff_limit: 0,
                        template,
                    },
                },
            }),
        });
    }
    to_yaml(&Object {
        api_version: "apps/v1",
        kind: if stateful {
            "StatefulSet"
        } else {
            "Deployment"
        },
        metadata,
        spec: Some(WorkloadSpec {
            replicas: service.replicas.as_ref().map(|r| r.value),
            selector: name_selector(&service.name.value),
            service_name: stateful.then(|| service.name.value.clone()),
            template,
            volume_claim_templates: claims,
        }),
    })
}

fn files_config_map(service: &Service) -> String {
    format!("{}-files", service.name.value)
}

/// The ConfigMap of a service's configuration files, if it has any.
fn config_map(service: &Service, namespace: &str) -> Option<String> {
    if service.files.is_empty() {
        return None;
    }
    Some(to_yaml(&ConfigMap {
        api_version: "v1",
        kind: "ConfigMap",
        metadata: Metadata::named(&files_config_map(service), namespace),
        data: service
            .files
            .iter()
            .enumerate()
            .map(|(index, f)| {
                (
                    format!("file-{index}"),
                    f.content.clone().unwrap_or_default(),
                )
            })
            .collect(),
    }))
}

fn service_object(
    plan: &Plan,
    id: ServiceId,
    service: &Service,
    namespace: &str,
) -> Option<String> {
    let ports = service_ports(plan, id, service);
    if ports.is_empty() {
        return None;
    }
    Some(to_yaml(&Object {
        api_version: "v1",
        kind: "Service",
        metadata: Metadata::named(&service.name.value, namespace),
        spec: Some(ServiceSpec {
            selector: name_selector(&service.name.value).match_labels,
            ports: ports
                .into_iter()
                .map(|(port, h2c)| ServicePort {
                    name: format!("tcp-{port}"),
                    port,
                    target_port: port,
                    protocol: "TCP",
                    app_protocol: h2c.then_some("kubernetes.io/h2c"),
                })
                .collect(),
        }),
    }))
}

/// An Ingress per route; with a cert issuer, cert-manager issues its certificate.
fn ingress(model: &Model, cluster: &Cluster, router: &Router, namespace: &str) -> String {
    let service = model.service(router.service);
    let route = &service.routes[router.route];
    let name = if router.route == 0 {
        service.name.value.clone()
    } else {
        format!("{}-{}", service.name.value, router.route + 1)
    };
    let mut metadata = Metadata::named(&name, namespace);
    if let Some(issuer) = &cluster.cert_issuer {
        metadata
            .annotations
            .insert("cert-manager.io/cluster-issuer".to_string(), issuer.clone());
    }
    to_yaml(&Object {
        api_version: "networking.k8s.io/v1",
        kind: "Ingress",
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: cluster.ingress_class.clone().unwrap_or_default(),
            tls: cluster
                .cert_issuer
                .iter()
                .map(|_| IngressTls {
                    hosts: vec![router.hostname.clone()],
                    secret_name: format!("{name}-tls"),
                })
                .collect(),
            rules: vec![IngressRule {
                host: router.hostname.clone(),
                http: IngressHttp {
                    paths: vec![IngressPath {
                        path: route.path_prefix.clone().unwrap_or_else(|| "/".to_string()),
                        path_type: "Prefix",
                        backend: IngressBackend {
                            service: BackendService {
                                name: service.name.value.clone(),
                                port: BackendPort {
                                    number: router.port,
                                },
                            },
                        },
                    }],
                },
            }],
        }),
    })
}

fn label_pair(pair: &Option<(String, String)>) -> Labels {
    pair.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn namespace_selector(namespace: &Option<String>) -> Selector {
    Selector {
        match_labels: IndexMap::from([(
            "kubernetes.io/metadata.name".to_string(),
            namespace.clone().unwrap_or_default(),
        )]),
    }
}

/// The stack's NetworkPolicies: everything denied, DNS allowed to every pod,
/// then per service exactly the plan's flows into and out of it.
fn network_policies(
    model: &Model,
    plan: &Plan,
    cluster: &Cluster,
    stack_id: StackId,
    stack: &Stack,
    namespace: &str,
) -> Vec<String> {
    let every_pod = PodSelector {
        match_labels: Labels::new(),
    };
    let mut policies = vec![
        to_yaml(&Object {
            api_version: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
            metadata: Metadata::named("default-deny", namespace),
            spec: Some(PolicySpec {
                pod_selector: every_pod.clone(),
                policy_types: vec!["Ingress", "Egress"],
                ingress: Vec::new(),
                egress: Vec::new(),
            }),
        }),
        to_yaml(&Object {
            api_version: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
            metadata: Metadata::named("cluster-dns", namespace),
            spec: Some(PolicySpec {
                pod_selector: every_pod,
                policy_types: vec!["Egress"],
                ingress: Vec::new(),
                egress: vec![PolicyRule {
                    from: None,
                    to: Some(vec![Peer {
                        namespace_selector: Some(namespace_selector(&cluster.dns_namespace)),
                        pod_selector: Some(Selector {
                            match_labels: label_pair(&cluster.dns_selector),
                        }),
                        ip_block: None,
                    }]),
                    ports: vec![
                        PolicyPort {
                            protocol: "UDP",
                            port: 53,
                        },
                        PolicyPort {
                            protocol: "TCP",
                            port: 53,
                        },
                    ],
                }],
            }),
        }),
    ];
    let peer = |endpoint: Endpoint| -> Vec<Peer> {
        match endpoint {
            Endpoint::Service(id) => vec![Peer {
                namespace_selector: None,
                pod_selector: Some(name_selector(&model.service(id).name.value)),
                ip_block: None,
            }],
            Endpoint::IngressController(_) => vec![Peer {
                namespace_selector: Some(namespace_selector(&cluster.ingress_namespace)),
                pod_selector: Some(Selector {
                    match_labels: label_pair(&cluster.ingress_selector),
                }),
                ip_block: None,
            }],
            Endpoint::Internet => vec![
                Peer {
                    namespace_selector: None,
                    pod_selector: None,
                    ip_block: Some(IpBlock {
                        cidr: "0.0.0.0/0",
                        except: INTERNET_V4_EXCEPT.to_vec(),
                    }),
                },
                Peer {
                    namespace_selector: None,
                    pod_selector: None,
                    ip_block: Some(IpBlock {
                        cidr: "::/0",
                        except: INTERNET_V6_EXCEPT.to_vec(),
                    }),
                },
            ],
            Endpoint::Proxy(_) => Vec::new(),
        }
    };
    let ports = |ports: &Ports| -> Vec<PolicyPort> {
        match ports {
            Ports::Any => Vec::new(),
            Ports::Tcp(ports) => ports
                .iter()
                .map(|port| PolicyPort {
                    protocol: "TCP",
                    port: *port,
                })
                .collect(),
        }
    };
    for (index, service) in stack.services.iter().enumerate() {
        let me = Endpoint::Service(ServiceId {
            stack: stack_id,
            index,
        });
        let flows = &plan.reachability.flows;
        let ingress: Vec<PolicyRule> = flows
            .iter()
            .filter(|f| f.to == me)
            .map(|f| PolicyRule {
                from: Some(peer(f.from)),
                to: None,
                ports: ports(&f.ports),
            })
            .collect();
        let egress: Vec<PolicyRule> = flows
            .iter()
            .filter(|f| f.from == me)
            .map(|f| PolicyRule {
                from: None,
                to: Some(peer(f.to)),
                ports: ports(&f.ports),
            })
            .collect();
        if ingress.is_empty() && egress.is_empty() {
            continue;
        }
        let mut types = Vec::new();
        if !ingress.is_empty() {
            types.push("Ingress");
        }
        if !egress.is_empty() {
            types.push("Egress");
        }
        policies.push(to_yaml(&Object {
            api_version: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
            metadata: Metadata::named(&service.name.value, namespace),
            spec: Some(PolicySpec {
                pod_selector: PodSelector {
                    match_labels: name_selector(&service.name.value).match_labels,
                },
                policy_types: types,
                ingress,
                egress,
            }),
        }));
    }
    policies
}

/// `kubectl create secret` for each secret each namespace reads, its value from
/// an environment variable; applied through `kubectl apply` so it can run again.
/// A literal as Kubernetes keeps it: it fills in `$(VAR)` in every env value
/// and reads `$$` as one `$`, so every `$` is doubled.
fn escape_references(text: &str) -> String {
    text.replace('$', "$$")
}

fn secrets_script(model: &Model, plan: &Plan, cluster: ClusterId) -> String {
    // (namespace, secret, variable) → whether some use needs it set.
    let mut wanted: BTreeMap<(String, String, String), bool> = BTreeMap::new();
    for stack_id in &plan.cluster(cluster).stacks {
        let stack = &model.stacks[stack_id.0];
        for env in stack.services.iter().flat_map(|s| s.env.iter()) {
            let required = env.if_unset != IfUnset::Empty;
            for id in env.value.secrets().into_iter().filter_map(|r| r.target) {
                let secret = &model.secrets[id.0];
                let key = (
                    stack.name.value.clone(),
                    secret.name.value.clone(),
                    secret.variable(),
                );
                *wanted.entry(key).or_default() |= required;
            }
        }
    }
    let mut script = String::from(
        "#!/bin/sh\n\
         # Generated by infrac. Do not edit: change the infrac sources and rebuild.\n\
         # Creates or updates the secrets the cluster's namespaces read, after\n\
         # `kubectl apply -k` has created the namespaces. Each value comes from an\n\
         # environment variable; none is ever written in this file:\n",
    );
    let variables: BTreeSet<&String> = wanted.keys().map(|(_, _, v)| v).collect();
    for variable in &variables {
        script.push_str(&format!("#   {variable}\n"));
    }
    script.push_str("set -eu\n");
    for ((namespace, secret, variable), required) in &wanted {
        let create = format!(
            "kubectl -n {namespace} create secret generic {secret} \\\n\
             \x20   --from-literal={SECRET_KEY}=\"${{{variable}:?secret {secret} is not set}}\" \\\n\
             \x20   --dry-run=client -o yaml | kubectl apply -f -\n"
        );
        if *required {
            script.push_str(&create);
        } else {
            // Only optional uses: no value, no secret (the pods start without it).
            script.push_str(&format!(
                "if [ -n \"${{{variable}:-}}\" ]; then\n{}fi\n",
                create
                    .lines()
                    .map(|l| format!("    {l}\n"))
                    .collect::<String>()
            ));
        }
    }
    script
}

/// CPUs as Kubernetes writes them: whole cores, or millicores.
fn cpu(cpus: f64) -> String {
    let millis = (cpus * 1000.0).round() as u64;
    if millis.is_multiple_of(1000) {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

/// Bytes as a Kubernetes quantity, in the largest binary unit that divides them.
fn quantity(bytes: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1 << 40, "Ti"),
        (1 << 30, "Gi"),
        (1 << 20, "Mi"),
        (1 << 10, "Ki"),
    ];
    UNITS
        .iter()
        .find(|(size, _)| bytes.is_multiple_of(*size) && bytes > 0)
        .map_or_else(
            || bytes.to_string(),
            |(size, unit)| format!("{}{unit}", bytes / size),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_use_kubernetes_units() {
        assert_eq!(cpu(0.5), "500m");
        assert_eq!(cpu(2.0), "2");
        assert_eq!(quantity(256 << 20), "256Mi");
        assert_eq!(quantity(10 << 30), "10Gi");
        assert_eq!(quantity(1000), "1000");
    }
}
