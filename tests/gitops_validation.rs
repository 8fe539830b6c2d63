//! The GitOps layer, judged by real tools and real builds:
//! - every generated workflow passes actionlint (which runs shellcheck on each
//!   `run:` block) and the github-workflows JSON schema;
//! - no `run:` block holds an Actions expression, and every expression the
//!   workflows do hold is one of a known, safe few;
//! - `infrac check --format sarif` validates against the SARIF 2.1.0 schema,
//!   `--format github` gives one workflow command per diagnostic at its line;
//! - `infrac diff` reports real before/after builds of an example.

mod support;

use support::{Check, Needs::*};

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn workflows() -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (example, artifacts) in support::validated_projects() {
        for (path, text) in artifacts {
            if path.starts_with(".github/workflows/") {
                found.push((format!("{example}/{path}"), text));
            }
        }
    }
    assert!(found.len() >= 4, "only {} workflows", found.len());
    found
}

/// actionlint with shellcheck on its PATH, so `run:` blocks are checked too.
fn actionlint(actionlint: &Path, file: &Path) -> (bool, String) {
    let shellcheck_dir = support::system_tool("shellcheck")
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let (ok, stdout, stderr) =
        support::run(Command::new(actionlint).arg("-no-color").arg(file).env(
            "PATH",
            format!("{}:/usr/bin:/bin", shellcheck_dir.display()),
        ));
    (ok, stdout + &stderr)
}

fn workflows_pass_actionlint_and_the_workflow_schema() {
    let (Some(actionlint_bin), Some(check_jsonschema)) = (
        support::validator("actionlint"),
        support::validator("check-jsonschema"),
    ) else {
        return;
    };
    let dir = support::scratch_dir("workflows");
    // The validators reject what they should: an untrusted expression in a
    // script and an unquoted expansion (actionlint, through shellcheck), and a
    // job without a runner (the schema).
    let lint = |name: &str, workflow: &str| {
        let file = dir.join(name);
        std::fs::write(&file, workflow).unwrap();
        actionlint(&actionlint_bin, &file)
    };
    let (ok, output) = lint(
        "injected.yml",
        "on: issues\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n    - run: echo \"${{ github.event.issue.title }}\"\n",
    );
    assert!(
        !ok && output.contains("untrusted"),
        "actionlint missed an injection:\n{output}"
    );
    let (ok, output) = lint(
        "unquoted.yml",
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n    - run: echo $FOO\n",
    );
    assert!(
        !ok && output.contains("shellcheck"),
        "actionlint ran no shellcheck:\n{output}"
    );
    let no_runner = dir.join("no-runner.yml");
    std::fs::write(
        &no_runner,
        "on: push\njobs:\n  x:\n    steps:\n    - run: true\n",
    )
    .unwrap();
    let (ok, _, _) = support::run(
        Command::new(&check_jsonschema)
            .args(["--builtin-schema", "vendor.github-workflows"])
            .arg(&no_runner),
    );
    assert!(!ok, "the workflow schema accepted a job without runs-on");

    for (index, (label, text)) in workflows().into_iter().enumerate() {
        let file = dir.join(format!("{index}.yml"));
        std::fs::write(&file, &text).unwrap();
        let (ok, output) = actionlint(&actionlint_bin, &file);
        assert!(ok, "actionlint rejected {label}:\n{output}\n{text}");
        let (ok, stdout, stderr) = support::run(
            Command::new(&check_jsonschema)
                .args(["--builtin-schema", "vendor.github-workflows"])
                .arg(&file),
        );
        assert!(
            ok,
            "the workflow schema rejected {label}:\n{stdout}{stderr}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Expressions the generated workflows may hold: secrets, the token and
/// numbers GitHub itself sets; none carries text an outsider chose. The
/// runner's system and architecture key the cache of infrac's binary.
const ALLOWED_EXPRESSIONS: [&str; 7] = [
    "${{ runner.os }}",
    "${{ runner.arch }}",
    "${{ secrets.DEPLOY_SSH_KEY }}",
    "${{ secrets.DEPLOY_KNOWN_HOSTS }}",
    "${{ github.token }}",
    "${{ github.event.pull_request.number }}",
    "${{ github.event.pull_request.base.sha }}",
];

fn no_expression_reaches_a_script() {
    for (label, text) in workflows() {
        let workflow: Value = serde_saphyr::from_str(&text).unwrap();
        for (job_name, job) in workflow["jobs"].as_object().unwrap() {
            for step in job["steps"].as_array().unwrap() {
                if let Some(script) = step["run"].as_str() {
                    assert!(
                        !script.contains("${{"),
                        "{label} {job_name}: an expression inside `run:`:\n{script}"
                    );
                }
            }
        }
        let mut rest = text.as_str();
        while let Some(start) = rest.find("${{") {
            let end = rest[start..].find("}}").map(|e| start + e + 2).unwrap();
            let expression = &rest[start..end];
            assert!(
                ALLOWED_EXPRESSIONS.contains(&expression),
                "{label}: unexpected expression {expression}"
            );
            rest = &rest[end..];
        }
        assert!(
            text.contains("permissions:\n  contents: read"),
            "{label}: no least-privilege permissions"
        );
        for line in text.lines().filter(|l| l.contains("uses: ")) {
            let reference = line.rsplit('@').next().unwrap();
            assert!(
                reference.len() == 40 && reference.chars().all(|c| c.is_ascii_hexdigit()),
                "{label}: action not pinned by SHA: {line}"
            );
        }
    }
}

fn deploys_follow_the_model() {
    let artifacts = support::build_example("vps");
    let deploy: Value = serde_saphyr::from_str(&artifacts[".github/workflows/deploy.yml"]).unwrap();
    let job = &deploy["jobs"]["deploy-vps1"];
    assert_eq!(job["concurrency"]["group"], "deploy-vps1");
    assert_eq!(job["concurrency"]["cancel-in-progress"], false);
    assert_eq!(job["env"]["DEPLOY_ADDRESS"], "203.0.113.10");
    let scripts: String = job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect();
    for stack in ["blog", "shop", "analytics"] {
        assert!(
            scripts.contains(&format!("out/stacks/{stack}/")),
            "the deploy copies stack {stack}"
        );
    }
    assert!(
        scripts.matches("--exclude=.env").count() >= 4,
        "every rsync keeps the host's .env"
    );
    assert!(
        scripts.contains("ControlMaster auto"),
        "every ssh and rsync shares one connection"
    );
    assert!(
        scripts
            .contains("cargo install --locked --git \"$INFRAC_GIT\" --rev \"$INFRAC_REV\" infrac")
            && !scripts.contains("--version"),
        "infrac is built from the pinned revision"
    );
    let script = &artifacts["hosts/vps1/deploy.sh"];
    let order: Vec<usize> = [
        "sh /etc/infrac/firewall/apply.sh",
        "docker login ghcr.io",
        "stack_up blog",
        "proxy_file=",
        "docker network connect blog_ingress-web",
        "down --remove-orphans",
        "exit 1",
    ]
    .iter()
    .map(|needle| {
        script
            .find(needle)
            .unwrap_or_else(|| panic!("deploy.sh lacks {needle}"))
    })
    .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "deploy.sh steps out of order: {order:?}"
    );
    assert!(
        script.contains("        blog | shop | analytics) ;;"),
        "stacks kept come from the model"
    );
}

fn check_output(file: &Path, format: &str) -> (i32, String) {
    let output = support::infrac()
        .args(["check", "--format", format])
        .arg(file)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

fn sarif_output_validates_against_the_sarif_schema() {
    let (Some(check_jsonschema), Some(schema)) = (
        support::validator("check-jsonschema"),
        support::required(
            "SARIF 2.1.0 schema",
            Some(support::workspace().join(".tools/schemas/sarif-2.1.0.json"))
                .filter(|p| p.is_file()),
        ),
    ) else {
        return;
    };
    let dir = support::scratch_dir("sarif");
    let broken = dir.join("broken.sarif");
    std::fs::write(&broken, r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},"level":"fatal"}]}]}"#).unwrap();
    let (ok, _, _) = support::run(
        Command::new(&check_jsonschema)
            .arg("--schemafile")
            .arg(&schema)
            .arg(&broken),
    );
    assert!(!ok, "the SARIF schema accepted an unknown level");

    let cases = support::workspace().join("tests/diagnostics");
    let mut results = 0;
    for case in [
        "many-problems.kdl",
        "hostile-workflow-values.kdl",
        "ssh-open-to-world.kdl",
    ] {
        let (_, sarif) = check_output(&cases.join(case), "sarif");
        let file = dir.join(format!("{case}.sarif"));
        std::fs::write(&file, &sarif).unwrap();
        let (ok, stdout, stderr) = support::run(
            Command::new(&check_jsonschema)
                .arg("--schemafile")
                .arg(&schema)
                .arg(&file),
        );
        assert!(ok, "{case}: SARIF rejected:\n{stdout}{stderr}");
        let log: Value = serde_json::from_str(&sarif).unwrap();
        let run = &log["runs"][0];
        let rules: Vec<&str> = run["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        for result in run["results"].as_array().unwrap() {
            let index = result["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[index], result["ruleId"].as_str().unwrap());
            let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap();
            assert!(uri.ends_with(case), "{uri}");
            assert!(
                result["locations"][0]["physicalLocation"]["region"]["startLine"]
                    .as_u64()
                    .unwrap()
                    >= 1
            );
            results += 1;
        }
    }
    assert!(results >= 10, "only {results} SARIF results");
    std::fs::remove_dir_all(dir).unwrap();
}

fn github_format_annotates_each_diagnostic_on_its_line() {
    let case = support::workspace().join("tests/diagnostics/hostile-workflow-values.kdl");
    let (exit, output) = check_output(&case, "github");
    assert_eq!(exit, 1);
    let json_output = support::infrac()
        .args(["check", "--format", "json"])
        .arg(&case)
        .output()
        .unwrap();
    let diagnostics: Value = serde_json::from_slice(&json_output.stdout).unwrap();
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(
        lines.len(),
        diagnostics.as_array().unwrap().len(),
        "one command per diagnostic:\n{output}"
    );
    for (line, diagnostic) in lines.iter().zip(diagnostics.as_array().unwrap()) {
        let expected = format!(
            "::error file={},line={},col={},",
            diagnostic["location"]["file"]
                .as_str()
                .unwrap()
                .trim_start_matches("./"),
            diagnostic["location"]["line"],
            diagnostic["location"]["column"]
        );
        assert!(line.starts_with(&expected), "{line}\nexpected {expected}");
        let title = format!(
            "title={} {}::",
            diagnostic["code"].as_str().unwrap(),
            diagnostic["name"].as_str().unwrap()
        );
        assert!(line.contains(&title), "{line}");
    }
    // The environment name with a newline stays on its annotation's line.
    assert!(output.contains("prod%0Auction"), "{output}");
}

/// Edits a source file, failing when the text to replace is not there.
fn replace_in(file: &Path, from: &str, to: &str) {
    let source = std::fs::read_to_string(file).unwrap();
    assert!(source.contains(from), "{} has no `{from}`", file.display());
    std::fs::write(file, source.replace(from, to)).unwrap();
}

fn diff_json(project: &Path, against: &Path) -> (i32, Value) {
    let output = support::infrac()
        .args(["diff", "--format", "json", "--exit-code", "--against"])
        .arg(against)
        .arg(project)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr))),
    )
}

fn paths(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

fn diff_reports_real_changes_to_an_example() {
    let dir = support::scratch_dir("diff");
    let project = dir.join("vps");
    support::copy_dir(&support::workspace().join("examples/vps"), &project);
    let before = dir.join("before");
    let status = support::infrac()
        .arg("build")
        .arg(&project)
        .arg("--out")
        .arg(&before)
        .status()
        .unwrap();
    assert!(status.success());

    let (exit, same) = diff_json(&project, &before);
    assert_eq!(
        (
            exit,
            same["summary"]
                .as_str()
                .unwrap()
                .starts_with("0 added, 0 removed, 0 changed")
        ),
        (0, true),
        "{same}"
    );

    // A new image tag: one compose file changes, in its image and config-hash lines.
    replace_in(
        &project.join("stacks/shop.kdl"),
        "valkey/valkey:8.0.1",
        "valkey/valkey:8.0.2",
    );
    let (exit, changed) = diff_json(&project, &before);
    assert_eq!(exit, 1, "--exit-code exits 1 when something differs");
    assert_eq!(
        paths(&changed["changed"]),
        BTreeSet::from(["stacks/shop/compose.yaml".to_string()]),
        "{changed}"
    );
    let file = &changed["changed"][0];
    assert_eq!(
        (file["lines_added"].as_u64(), file["lines_removed"].as_u64()),
        (Some(2), Some(2))
    );
    let diff = file["diff"].as_str().unwrap();
    let edited: Vec<&str> = diff
        .lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
        .collect();
    assert!(
        edited
            .iter()
            .any(|l| l.contains("image: valkey/valkey:8.0.2")),
        "{diff}"
    );
    assert!(
        edited.iter().any(|l| l.contains("infrac.config-hash")),
        "{diff}"
    );

    // A removed stack: its files are reported removed.
    replace_in(
        &project.join("infrac.kdl"),
        "include \"stacks/analytics.kdl\"\n",
        "",
    );
    let (_, removed) = diff_json(&project, &before);
    let removed_paths = paths(&removed["removed"]);
    assert!(
        removed_paths.contains("stacks/analytics/compose.yaml")
            && removed_paths.contains("stacks/analytics/.env.example"),
        "{removed_paths:?}"
    );

    let markdown = support::infrac()
        .args(["diff", "--format", "markdown", "--against"])
        .arg(&before)
        .arg(&project)
        .output()
        .unwrap();
    let markdown = String::from_utf8(markdown.stdout).unwrap();
    assert!(
        markdown.contains("<details><summary><code>stacks/analytics/compose.yaml</code> — removed"),
        "{markdown}"
    );
    assert!(markdown.len() < 65_536);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A diff larger than a pull-request comment may be is cut with a note, and
/// every file it shows is whole (its fence closed).
fn markdown_diff_is_cut_below_the_comment_limit() {
    let dir = support::scratch_dir("gitops-big-diff");
    let mut source = String::from(
        "host \"h\" {\n    os \"debian-12\"\n    ssh allow-from=\"198.51.100.0/24\"\n    proxy \"traefik\" image=\"traefik:v3.1.6\"\n}\n",
    );
    for index in 0..150 {
        source.push_str(&format!(
            "stack \"s{index}\" host=\"h\" {{\n    service \"web\" image=\"ghcr.io/acme/web:1.{index}.0\" {{\n        networks \"ingress\"\n        route \"s{index}.acme.example\" port=8080\n        healthcheck command=\"true\"\n    }}\n}}\n"
        ));
    }
    std::fs::write(dir.join("infrac.kdl"), source).unwrap();
    let output = support::infrac()
        .args(["diff", "--format", "markdown", "--against"])
        .arg(dir.join("nothing-built-yet"))
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let markdown = String::from_utf8(output.stdout).unwrap();
    assert!(markdown.len() < 65_536, "{} characters", markdown.len());
    assert!(
        markdown.contains("more files are not shown"),
        "not cut:\n{markdown}"
    );
    assert_eq!(
        markdown.matches("<details>").count(),
        markdown.matches("</details>").count()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

fn main() -> std::process::ExitCode {
    support::run_checks(vec![
        Check {
            name: "workflows_pass_actionlint_and_the_workflow_schema",
            needs: &[
                Venv("actionlint"),
                Venv("check-jsonschema"),
                System("shellcheck"),
            ],
            run: workflows_pass_actionlint_and_the_workflow_schema,
        },
        Check {
            name: "no_expression_reaches_a_script",
            needs: &[],
            run: no_expression_reaches_a_script,
        },
        Check {
            name: "deploys_follow_the_model",
            needs: &[],
            run: deploys_follow_the_model,
        },
        Check {
            name: "sarif_output_validates_against_the_sarif_schema",
            needs: &[
                Venv("check-jsonschema"),
                Installed(".tools/schemas/sarif-2.1.0.json"),
            ],
            run: sarif_output_validates_against_the_sarif_schema,
        },
        Check {
            name: "github_format_annotates_each_diagnostic_on_its_line",
            needs: &[],
            run: github_format_annotates_each_diagnostic_on_its_line,
        },
        Check {
            name: "diff_reports_real_changes_to_an_example",
            needs: &[],
            run: diff_reports_real_changes_to_an_example,
        },
        Check {
            name: "markdown_diff_is_cut_below_the_comment_limit",
            needs: &[],
            run: markdown_diff_is_cut_below_the_comment_limit,
        },
    ])
}
