//! Every YAML artifact (each document of the multi-document ones) reads back
//! the same under YAML 1.2 (serde-saphyr) and YAML 1.1 (PyYAML, as older tools
//! read it): no string turns into a boolean, a number, a date or null on the way.

mod support;

use support::{Check, Needs::*};

use std::io::Write;
use std::process::{Command, Stdio};

/// Every document of the input, as a JSON list.
const PYYAML_TO_JSON: &str =
    "import json, sys, yaml\nprint(json.dumps(list(yaml.safe_load_all(sys.stdin.read()))))";

fn read_with_pyyaml(python: &std::path::Path, yaml: &str) -> serde_json::Value {
    let mut child = Command::new(python)
        .args(["-c", PYYAML_TO_JSON])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "PyYAML: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn yaml_artifacts_read_back_identically_under_yaml_1_1_and_1_2() {
    let Some(python) = support::validator("python") else {
        return;
    };
    let mut projects: Vec<infrac_core::Artifacts> = support::examples()
        .iter()
        .map(|e| support::build_example(e))
        .collect();
    let fixtures = support::workspace().join("tests/fixtures");
    projects.push(
        support::compile_in(&fixtures, "tricky-values.kdl")
            .artifacts
            .unwrap(),
    );
    let mut checked = 0;
    for artifacts in &projects {
        for (path, yaml) in artifacts
            .iter()
            .filter(|(p, _)| p.ends_with(".yaml") || p.ends_with(".yml"))
        {
            let documents: Vec<serde_json::Value> =
                serde_saphyr::from_multiple(yaml).unwrap_or_else(|e| panic!("{path}: {e}"));
            let yaml_1_2 = serde_json::Value::Array(documents);
            let yaml_1_1 = read_with_pyyaml(&python, yaml);
            assert_eq!(
                yaml_1_1, yaml_1_2,
                "{path} reads differently under YAML 1.1"
            );
            checked += 1;
        }
    }
    assert!(checked > 10, "only {checked} YAML artifacts checked");
}

fn main() -> std::process::ExitCode {
    support::run_checks(vec![Check {
        name: "yaml_artifacts_read_back_identically_under_yaml_1_1_and_1_2",
        needs: &[Venv("python")],
        run: yaml_artifacts_read_back_identically_under_yaml_1_1_and_1_2,
    }])
}
