//! The GitHub Actions workflows. In: the `gitops` node and the hosts it deploys.
//! Out: `.github/workflows/deploy.yml` (per host: build, rsync over SSH, run the
//! host's deploy.sh) and `.github/workflows/review.yml` (annotations, build,
//! artifact diff as a pull-request comment).
//!
//! Injection: a `run:` script never contains `${{ }}`; every value the model
//! gives a step reaches it through `env:` and is quoted as `"$NAME"`, and those
//! values are DNS labels, IP addresses or paths of one plain word already.

use indexmap::IndexMap;
use serde::Serialize;

use super::compose_file::{GENERATED_HEADER, to_yaml};
use crate::model::{Deploy, Gitops, Model, Review};
use crate::plan::{Layout, Plan};

/// Pinned by commit: a tag can be moved to other code, a SHA cannot.
const CHECKOUT: (&str, &str, &str) = (
    "actions/checkout",
    "08c6903cd8c0fde910a37f88322edcfb5dd907a8",
    "v5.0.0",
);
const CACHE: (&str, &str, &str) = (
    "actions/cache",
    "0057852bfaa89a56745cba8c7296529d2fc39830",
    "v4.3.0",
);

#[derive(Serialize)]
struct Workflow {
    name: &'static str,
    on: Triggers,
    permissions: IndexMap<&'static str, &'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    concurrency: Option<Concurrency>,
    jobs: IndexMap<String, Job>,
}

#[derive(Serialize, Default)]
struct Triggers {
    #[serde(skip_serializing_if = "Option::is_none")]
    push: Option<Branches>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pull_request: Option<Branches>,
    #[serde(skip_serializing_if = "Option::is_none")]
    workflow_dispatch: Option<Empty>,
}

#[derive(Serialize)]
struct Branches {
    branches: Vec<String>,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Concurrency {
    group: String,
    cancel_in_progress: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Job {
    name: String,
    runs_on: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    environment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    concurrency: Option<Concurrency>,
    timeout_minutes: u32,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    env: IndexMap<&'static str, String>,
    steps: Vec<Step>,
}

#[derive(Serialize, Default)]
struct Step {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'static str>,
    #[serde(rename = "if", skip_serializing_if = "Option::is_none")]
    condition: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uses: Option<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    with: IndexMap<&'static str, String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    env: IndexMap<&'static str, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run: Option<String>,
}

/// The review job needs no access to a host: GitHub's hosted runner suffices.
const REVIEW_RUNNER: &str = "ubuntu-24.04";

pub fn emit_workflows(
    model: &Model,
    plan: &Plan,
    gitops: &Gitops,
    artifacts: &mut super::Artifacts,
) {
    artifacts.insert(
        Layout::DEPLOY_WORKFLOW.to_string(),
        deploy_workflow(model, plan, gitops),
    );
    artifacts.insert(Layout::REVIEW_WORKFLOW.to_string(), review_workflow(gitops));
}

fn render(workflow: &Workflow) -> String {
    format!("{GENERATED_HEADER}{}", to_yaml(workflow))
}

/// An action at the commit the source pins, or at infrac's own pin.
fn action<'a>(
    gitops: &'a Gitops,
    default: (&'a str, &'a str, &'a str),
) -> (&'a str, &'a str, &'a str) {
    gitops
        .actions
        .iter()
        .find(|a| a.name == default.0)
        .map(|a| {
            (
                a.name.as_str(),
                a.sha.as_str(),
                a.version.as_deref().unwrap_or("pinned"),
            )
        })
        .unwrap_or(default)
}

fn checkout(gitops: &Gitops, full_history: bool) -> Step {
    let (name, sha, version) = action(gitops, CHECKOUT);
    let mut with = IndexMap::from([("persist-credentials", "false".to_string())]);
    if full_history {
        with.insert("fetch-depth", "0".to_string());
    }
    Step {
        name: format!("Check out ({name} {version})"),
        uses: Some(format!("{name}@{sha}")),
        with,
        ..Step::default()
    }
}

/// infrac from the git revision the source pins, compiled once per revision:
/// the binary is cached under a key made of the revision, the runner's system
/// and its architecture.
fn install_infrac(gitops: &Gitops) -> Vec<Step> {
    let Some(source) = &gitops.infrac else {
        return Vec::new();
    };
    let (name, sha, version) = action(gitops, CACHE);
    vec![
        Step {
            name: format!("Restore infrac from the cache ({name} {version})"),
            id: Some("infrac-cache"),
            uses: Some(format!("{name}@{sha}")),
            with: IndexMap::from([
                ("path", "~/.cargo/bin/infrac".to_string()),
                (
                    "key",
                    // Twelve digits of the commit: unique enough, and short
                    // enough that the YAML stays on one line.
                    format!(
                        "infrac-{}-${{{{ runner.os }}}}-${{{{ runner.arch }}}}",
                        &source.rev[..12]
                    ),
                ),
            ]),
            ..Step::default()
        },
        Step {
            name: "Install infrac".to_string(),
            condition: Some("steps.infrac-cache.outputs.cache-hit != 'true'"),
            env: IndexMap::from([
                ("INFRAC_GIT", source.git.clone()),
                ("INFRAC_REV", source.rev.clone()),
            ]),
            run: Some(
                "cargo install --locked --git \"$INFRAC_GIT\" --rev \"$INFRAC_REV\" infrac\n"
                    .to_string(),
            ),
            ..Step::default()
        },
    ]
}

fn run(name: &str, script: &str) -> Step {
    Step {
        name: name.to_string(),
        run: Some(script.to_string()),
        ..Step::default()
    }
}

fn deploy_workflow(model: &Model, plan: &Plan, gitops: &Gitops) -> String {
    let jobs = gitops
        .deploys
        .iter()
        .filter_map(|deploy| {
            let job = deploy_job(model, plan, gitops, deploy)?;
            Some((format!("deploy-{}", deploy.host.name.value), job))
        })
        .collect();
    render(&Workflow {
        name: "deploy",
        on: Triggers {
            push: Some(Branches {
                branches: vec![gitops.branch.clone()],
            }),
            workflow_dispatch: Some(Empty {}),
            ..Triggers::default()
        },
        permissions: IndexMap::from([("contents", "read")]),
        concurrency: None,
        jobs,
    })
}

fn deploy_job(model: &Model, plan: &Plan, gitops: &Gitops, deploy: &Deploy) -> Option<Job> {
    let host_id = deploy.host.target?;
    let host = &model.hosts[host_id.0];
    let address = host.addresses.iter().find(|a| a.value.is_ipv4())?;
    let stacks: Vec<&str> = plan
        .host(host_id)
        .stacks
        .iter()
        .map(|s| model.stacks[s.0].name.value.as_str())
        .collect();
    let (hosts_dir, stacks_dir) = (Layout::HOSTS_DIR, Layout::STACKS_DIR);
    // The deploy path is this workflow's own, a word without shell syntax:
    // expanding it here, before ssh sends it, is the point.
    let mut copy = format!(
        "# shellcheck disable=SC2029\n\
         ssh target mkdir -p \"$DEPLOY_PATH/host\" \"$DEPLOY_PATH/{stacks_dir}\"\n\
         rsync -rlptz --delete --exclude=.env -e ssh \"$RUNNER_TEMP/out/{hosts_dir}/$INFRAC_HOST/\" \"target:$DEPLOY_PATH/host/\"\n"
    );
    for stack in &stacks {
        copy.push_str(&format!(
            "rsync -rlptz --delete --exclude=.env -e ssh \"$RUNNER_TEMP/out/{stacks_dir}/{stack}/\" \"target:$DEPLOY_PATH/{stacks_dir}/{stack}/\"\n"
        ));
    }
    let env = IndexMap::from([
        ("INFRAC_HOST", host.name.value.clone()),
        ("DEPLOY_USER", deploy.ssh_user.value.clone()),
        ("DEPLOY_ADDRESS", address.value.to_string()),
        ("DEPLOY_PORT", host.ssh.port.to_string()),
        ("DEPLOY_PATH", deploy.path.clone()),
    ]);
    let host_name = &host.name.value;
    Some(Job {
        name: format!("deploy {host_name}"),
        runs_on: deploy.runs_on.clone(),
        environment: deploy.environment.clone(),
        concurrency: Some(Concurrency {
            group: format!("deploy-{host_name}"),
            cancel_in_progress: false,
        }),
        timeout_minutes: 30,
        env,
        steps: [checkout(gitops, false)]
            .into_iter()
            .chain(install_infrac(gitops))
            .chain([
                run("Build", "infrac build . --out \"$RUNNER_TEMP/out\"\n"),
                Step {
                    name: "Load the SSH key and known hosts".to_string(),
                    env: IndexMap::from([
                        (
                            "SSH_PRIVATE_KEY",
                            "${{ secrets.DEPLOY_SSH_KEY }}".to_string(),
                        ),
                        (
                            "SSH_KNOWN_HOSTS",
                            "${{ secrets.DEPLOY_KNOWN_HOSTS }}".to_string(),
                        ),
                    ]),
                    // Every ssh and rsync below goes to `target` over one connection
                    // (ControlMaster): the host's firewall limits new SSH connections.
                    run: Some(
                        "install -m 700 -d \"$HOME/.ssh\"\n\
                     printf '%s\\n' \"$SSH_KNOWN_HOSTS\" > \"$HOME/.ssh/known_hosts\"\n\
                     install -m 600 /dev/null \"$HOME/.ssh/deploy_key\"\n\
                     printf '%s\\n' \"$SSH_PRIVATE_KEY\" > \"$HOME/.ssh/deploy_key\"\n\
                     cat > \"$HOME/.ssh/config\" <<EOF\n\
                     Host target\n\
                     \x20 HostName $DEPLOY_ADDRESS\n\
                     \x20 Port $DEPLOY_PORT\n\
                     \x20 User $DEPLOY_USER\n\
                     \x20 IdentityFile $HOME/.ssh/deploy_key\n\
                     \x20 BatchMode yes\n\
                     \x20 ControlMaster auto\n\
                     \x20 ControlPath $RUNNER_TEMP/ssh-%C\n\
                     \x20 ControlPersist 300\n\
                     EOF\n\
                     chmod 600 \"$HOME/.ssh/config\"\n"
                            .to_string(),
                    ),
                    ..Step::default()
                },
                run("Copy the artifacts (the host's .env files stay)", &copy),
                run(
                    "Apply on the host",
                    "# shellcheck disable=SC2029\nssh target sh \"$DEPLOY_PATH/host/deploy.sh\"\n",
                ),
                Step {
                    condition: Some("always()"),
                    ..run("Close the SSH connection", "ssh -O exit target || true\n")
                },
            ])
            .collect(),
    })
}

fn review_workflow(gitops: &Gitops) -> String {
    let review = gitops.review.clone().unwrap_or(Review {
        comment: false,
        against: None,
    });
    let mut steps = vec![checkout(gitops, review.against.is_none())];
    steps.extend(install_infrac(gitops));
    steps.extend([
        Step {
            id: Some("check"),
            ..run(
                "Check (annotates the source lines)",
                "infrac check . --format github\n",
            )
        },
        Step {
            condition: Some("always()"),
            ..run("Build", "infrac build . --out \"$RUNNER_TEMP/out\"\n")
        },
    ]);
    let diff_against = match &review.against {
        Some(_) => "\"$COMMITTED_OUTPUT\"",
        None => {
            steps.push(Step {
                condition: Some("always()"),
                env: IndexMap::from([(
                    "BASE_SHA",
                    "${{ github.event.pull_request.base.sha }}".to_string(),
                )]),
                ..run(
                    "Build the base branch",
                    "git worktree add --detach \"$RUNNER_TEMP/base-src\" \"$BASE_SHA\"\n\
                     infrac build \"$RUNNER_TEMP/base-src\" --out \"$RUNNER_TEMP/base\" || mkdir -p \"$RUNNER_TEMP/base\"\n",
                )
            });
            "\"$RUNNER_TEMP/base\""
        }
    };
    let committed = || {
        review
            .against
            .iter()
            .map(|a| ("COMMITTED_OUTPUT", a.clone()))
            .collect::<IndexMap<_, _>>()
    };
    steps.push(Step {
        id: Some("diff"),
        condition: Some("always()"),
        env: committed(),
        ..run(
            "Diff the artifacts",
            &format!(
                "infrac diff . --against {diff_against} --format markdown > \"$RUNNER_TEMP/diff.md\"\n\
                 {{\n\
                 \x20 printf '\\n<details><summary>Reachability graph</summary>\\n\\n```mermaid\\n'\n\
                 \x20 infrac graph . --format mermaid\n\
                 \x20 printf '```\\n\\n</details>\\n'\n\
                 }} >> \"$RUNNER_TEMP/diff.md\"\n\
                 cat \"$RUNNER_TEMP/diff.md\" >> \"$GITHUB_STEP_SUMMARY\"\n"
            ),
        )
    });
    if review.comment {
        steps.push(Step {
            condition: Some("always() && steps.diff.outcome == 'success'"),
            env: IndexMap::from([
                ("GH_TOKEN", "${{ github.token }}".to_string()),
                (
                    "PR_NUMBER",
                    "${{ github.event.pull_request.number }}".to_string(),
                ),
            ]),
            ..run(
                "Comment on the pull request",
                "gh pr comment \"$PR_NUMBER\" --edit-last --body-file \"$RUNNER_TEMP/diff.md\" \\\n\
                 \x20 || gh pr comment \"$PR_NUMBER\" --body-file \"$RUNNER_TEMP/diff.md\"\n",
            )
        });
    }
    if review.against.is_some() {
        steps.push(Step {
            condition: Some("always()"),
            env: committed(),
            ..run(
                "Fail when the committed output is stale",
                "infrac diff . --against \"$COMMITTED_OUTPUT\" --exit-code > /dev/null\n",
            )
        });
    }
    let mut permissions = IndexMap::from([("contents", "read")]);
    if review.comment {
        permissions.insert("pull-requests", "write");
    }
    render(&Workflow {
        name: "review",
        on: Triggers {
            pull_request: Some(Branches {
                branches: vec![gitops.branch.clone()],
            }),
            ..Triggers::default()
        },
        permissions,
        concurrency: Some(Concurrency {
            group: "review-${{ github.event.pull_request.number }}".to_string(),
            cancel_in_progress: true,
        }),
        jobs: IndexMap::from([(
            "review".to_string(),
            Job {
                name: "review".to_string(),
                runs_on: REVIEW_RUNNER.to_string(),
                environment: None,
                concurrency: None,
                timeout_minutes: 20,
                env: IndexMap::new(),
                steps,
            },
        )]),
    })
}
