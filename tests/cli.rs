//! The `infrac` binary as a user runs it: exit codes, output formats, atomic
//! builds, determinism, and hostile input that must never panic.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn case(name: &str) -> PathBuf {
    support::workspace().join("tests/diagnostics").join(name)
}

fn check_json(path: &Path) -> (i32, serde_json::Value) {
    let output = support::infrac()
        .arg("check")
        .arg(path)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "bad JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    (output.status.code().unwrap(), json)
}

/// (code, line) of every diagnostic.
fn codes_and_lines(json: &serde_json::Value) -> Vec<(String, u64)> {
    json.as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["location"]["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn check_passes_the_examples() {
    for example in support::examples() {
        let (ok, _, stderr) = support::run(
            support::infrac()
                .arg("check")
                .arg(support::workspace().join("examples").join(&example)),
        );
        assert!(ok, "{example}: {stderr}");
    }
}

#[test]
fn check_points_at_the_offending_line() {
    let cases = [
        ("published-ports.kdl", "E102", 11),
        ("missing-networks.kdl", "E101", 9),
        ("exposed-datastore.kdl", "E104", 11),
        ("cross-stack-dependency.kdl", "E106", 11),
        ("overlapping-cidrs.kdl", "E201", 2),
        ("cidr-family-mismatch.kdl", "E202", 9),
        ("ssh-lockout.kdl", "E203", 7),
        ("invalid-host-values.kdl", "E007", 11),
        ("invalid-host-values.kdl", "E007", 15),
        ("grpc-through-tunnel.kdl", "E301", 14),
        ("middleware-references.kdl", "E010", 23),
        ("duplicate-path-route.kdl", "E108", 17),
        ("acme-challenge-unreachable.kdl", "E302", 6),
        ("hostile-workflow-values.kdl", "E007", 12),
        ("hostile-workflow-values.kdl", "E007", 14),
        ("deploy-checks.kdl", "E401", 19),
    ];
    for (file, code, line) in cases {
        let (exit, json) = check_json(&case(file));
        assert_eq!(exit, 1, "{file}");
        let found = codes_and_lines(&json);
        assert!(
            found.contains(&(code.to_string(), line)),
            "{file}: expected {code} at line {line}, got {found:?}"
        );
    }
}

#[test]
fn human_output_has_code_span_and_help_without_colour() {
    let output = support::infrac()
        .arg("check")
        .arg(case("published-ports.kdl"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("E102(published-ports)"), "{stderr}");
    assert!(stderr.contains("published-ports.kdl:11:15"), "{stderr}");
    assert!(stderr.contains("help:"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "colour codes with NO_COLOR set");
}

#[test]
fn warnings_fail_only_when_denied() {
    let file = case("route-without-healthcheck.kdl");
    assert_eq!(
        support::infrac()
            .arg("check")
            .arg(&file)
            .status()
            .unwrap()
            .code(),
        Some(0)
    );
    assert_eq!(
        support::infrac()
            .arg("check")
            .arg(&file)
            .args(["--deny", "warnings"])
            .status()
            .unwrap()
            .code(),
        Some(1)
    );
}

#[test]
fn usage_and_io_errors_exit_2() {
    assert_eq!(
        support::infrac()
            .args(["check", "/nonexistent/infrac"])
            .status()
            .unwrap()
            .code(),
        Some(2)
    );
    assert_eq!(
        support::infrac()
            .args(["check", "--format", "xml"])
            .status()
            .unwrap()
            .code(),
        Some(2)
    );
    let empty = support::scratch_dir("empty-dir");
    assert_eq!(
        support::infrac()
            .arg("check")
            .arg(&empty)
            .status()
            .unwrap()
            .code(),
        Some(2)
    );
}

#[test]
fn malformed_and_binary_input_never_panics() {
    let dir = support::scratch_dir("hostile");
    let inputs: Vec<(&str, Vec<u8>)> = vec![
        ("binary.kdl", vec![0x7f, b'E', b'L', b'F', 0, 0xff, 0xfe, 0x80, 0x00, 0x01]),
        ("nul.kdl", b"stack \"a\0\" host=\"x\" {\0}".to_vec()),
        ("unbalanced.kdl", b"}}}{{{ stack".to_vec()),
        ("deep.kdl", "a {".repeat(2000).into_bytes()),
        ("empty.kdl", Vec::new()),
        ("only-comments.kdl", b"// nothing\n/* here */\n".to_vec()),
        ("huge-number.kdl", b"stack \"a\" host=\"h\" { service \"s\" image=\"x:1\" { networks \"internal\"; route \"a.b\" port=999999999999999999999999999999 } }".to_vec()),
        ("bom.kdl", b"\xef\xbb\xbfproject \"x\"".to_vec()),
        ("self-include.kdl", b"include \"self-include.kdl\"\nproject \"x\"".to_vec()),
    ];
    for (name, bytes) in inputs {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let output = support::infrac().arg("check").arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{name} panicked: {stderr}");
        assert!(
            matches!(output.status.code(), Some(0 | 1)),
            "{name}: exit {:?}: {stderr}",
            output.status.code()
        );
    }
    let output = support::infrac()
        .arg("check")
        .arg(dir.join("binary.kdl"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("E002"));
}

#[test]
fn explain_prints_the_docs_page() {
    let output = support::infrac()
        .args(["explain", "E101"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(
        String::from_utf8(output.stdout)
            .unwrap()
            .starts_with("# E101")
    );
    let by_name = support::infrac()
        .args(["explain", "missing-networks"])
        .output()
        .unwrap();
    assert!(by_name.status.success());
    assert_eq!(
        support::infrac()
            .args(["explain", "E999"])
            .status()
            .unwrap()
            .code(),
        Some(2)
    );
}

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(dir: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, files);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, &mut files);
    files
}

#[test]
fn build_is_atomic_and_deterministic() {
    let dir = support::scratch_dir("build");
    let out = dir.join("out");
    let example = support::workspace().join("examples/vps");

    let (ok, _, stderr) = support::run(
        support::infrac()
            .arg("build")
            .arg(&example)
            .arg("--out")
            .arg(&out),
    );
    assert!(ok, "{stderr}");
    let first = snapshot(&out);
    let (ok, _, _) = support::run(
        support::infrac()
            .arg("build")
            .arg(&example)
            .arg("--out")
            .arg(&out),
    );
    assert!(ok);
    assert_eq!(first, snapshot(&out), "a second build changed the output");

    // A stray file in the output does not survive a build: the directory is replaced whole.
    std::fs::write(out.join("stray.txt"), "x").unwrap();
    support::run(
        support::infrac()
            .arg("build")
            .arg(&example)
            .arg("--out")
            .arg(&out),
    );
    assert_eq!(first, snapshot(&out));

    let broken = case("published-ports.kdl");
    let output = support::infrac()
        .arg("build")
        .arg(&broken)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        first,
        snapshot(&out),
        "a failed build touched the previous output"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["out"], "temporary directories left behind");
}

#[test]
fn manifest_lists_every_file_with_its_sha256() {
    use sha2::{Digest, Sha256};
    let out = support::scratch_dir("manifest").join("out");
    let (ok, _, stderr) = support::run(
        support::infrac()
            .arg("build")
            .arg(support::workspace().join("examples/homeserver"))
            .arg("--out")
            .arg(&out),
    );
    assert!(ok, "{stderr}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let mut listed = Vec::new();
    for file in manifest["files"].as_array().unwrap() {
        let path = file["path"].as_str().unwrap();
        let bytes = std::fs::read(out.join(path)).unwrap();
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(file["sha256"].as_str(), Some(digest.as_str()), "{path}");
        listed.push(out.join(path));
    }
    let on_disk: Vec<PathBuf> = snapshot(&out)
        .into_keys()
        .filter(|p| !p.ends_with("manifest.json"))
        .collect();
    listed.sort();
    assert_eq!(listed, on_disk);
}

#[test]
fn no_secret_value_reaches_an_artifact_or_the_log() {
    // The dummy value stands for what an operator puts in .env; infrac never sees it.
    let out = support::scratch_dir("secrets").join("out");
    let output = support::infrac()
        .env("BLOG_DB_PASSWORD", "correct-horse-battery-staple")
        .arg("build")
        .arg(support::workspace().join("examples/vps"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success());
    for (path, bytes) in snapshot(&out) {
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains("correct-horse"), "{}", path.display());
    }
    let env_example = std::fs::read_to_string(out.join("stacks/blog/.env.example")).unwrap();
    assert!(env_example.lines().any(|l| l == "BLOG_DB_PASSWORD="));
    assert!(!String::from_utf8_lossy(&output.stderr).contains("correct-horse"));
}

/// `check --fix` rewrites the source in place with the safe fixes, reports how
/// many it applied, and exits by what is left; the JSON form carries the fixes.
#[test]
fn check_fix_rewrites_the_sources() {
    let dir = support::scratch_dir("fix");
    let file = dir.join("infrac.kdl");
    let original =
        std::fs::read_to_string(support::workspace().join("tests/fixes/typos.kdl")).unwrap();
    std::fs::write(&file, &original).unwrap();

    let (code, json) = check_json(&file);
    assert_eq!(code, 1);
    let fixes: Vec<&serde_json::Value> = json
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["fixes"].as_array().into_iter().flatten())
        .collect();
    assert!(
        fixes
            .iter()
            .any(|f| f["edits"][0]["replacement"] == "\"vps1\"" && f["applicability"] == "safe")
    );

    let (ok, _, stderr) = support::run(support::infrac().arg("check").arg(&dir).arg("--fix"));
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("fixed 1") || stderr.contains("problems in 1 file"),
        "{stderr}"
    );
    let fixed = std::fs::read_to_string(&file).unwrap();
    assert_ne!(fixed, original);
    assert!(fixed.contains("host=\"vps1\"") && fixed.contains("port=2368"));
    let (ok, _, stderr) = support::run(support::infrac().arg("check").arg(&dir));
    assert!(ok, "not clean after --fix: {stderr}");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "temporary files left: {leftovers:?}");
}
