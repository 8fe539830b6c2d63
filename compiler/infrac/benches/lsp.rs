//! Editor latency: from a `didChange` sent to `infrac lsp` to the
//! `publishDiagnostics` of that version, on one project file of about 1,000
//! and 10,000 lines (`cargo bench -p infrac --bench lsp`). Each change breaks
//! or repairs one value, so every compile reports something new. Under
//! `cargo test` (no `--bench` argument) it makes two changes to the small
//! file, so the benchmark cannot rot.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[path = "../../core/benches/project.rs"]
mod project;

fn send(stdin: &mut impl Write, message: Value) {
    let body = message.to_string();
    write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    stdin.flush().unwrap();
}

fn receive(stdout: &mut BufReader<ChildStdout>) -> Value {
    let mut length = 0;
    loop {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(value) = line.strip_prefix("Content-Length: ") {
            length = value.parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    stdout.read_exact(&mut body).unwrap();
    serde_json::from_slice(&body).unwrap()
}

/// Waits for the diagnostics of `version`; returns how many there are.
fn diagnostics_of(stdout: &mut BufReader<ChildStdout>, version: i64) -> usize {
    loop {
        let message = receive(stdout);
        if message["method"] == "textDocument/publishDiagnostics"
            && message["params"]["version"] == version
        {
            return message["params"]["diagnostics"].as_array().unwrap().len();
        }
    }
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

fn measure(lines: usize, changes: usize) -> (usize, Vec<Duration>) {
    let text = project::project_of_lines(lines);
    let dir = std::env::temp_dir().join(format!("infrac-lsp-bench-{}-{lines}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("infrac.kdl");
    std::fs::write(&file, &text).unwrap();
    let uri = format!("file://{}", file.display());

    let mut server = Command::new(env!("CARGO_BIN_EXE_infrac"))
        .arg("lsp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = server.stdin.take().unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    send(
        &mut stdin,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}),
    );
    receive(&mut stdout);
    send(
        &mut stdin,
        json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
    );
    send(
        &mut stdin,
        json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
        "textDocument": {"uri": uri, "languageId": "kdl", "version": 0, "text": text}}}),
    );
    assert_eq!(
        diagnostics_of(&mut stdout, 0),
        0,
        "the generated project is clean"
    );

    // The last `networks "internal"` of the file, broken and repaired in turn.
    let at = text.rfind("networks \"internal\"").unwrap() + "networks \"".len();
    let line = text[..at].matches('\n').count();
    let column = at - text[..at].rfind('\n').map_or(0, |i| i + 1);
    let mut latencies = Vec::new();
    for version in 1..=changes as i64 {
        let (old, new) = if version % 2 == 1 {
            ("internal", "internall")
        } else {
            ("internall", "internal")
        };
        let change = json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"range": {
                "start": {"line": line, "character": column},
                "end": {"line": line, "character": column + old.len()}}, "text": new}]}});
        let start = Instant::now();
        send(&mut stdin, change);
        let count = diagnostics_of(&mut stdout, version);
        latencies.push(start.elapsed());
        assert_eq!(count, (version % 2) as usize, "version {version}");
    }
    send(
        &mut stdin,
        json!({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}),
    );
    receive(&mut stdout);
    send(&mut stdin, json!({"jsonrpc": "2.0", "method": "exit"}));
    server.wait().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    (text.lines().count(), latencies)
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let runs: &[(usize, usize)] = if measuring {
        &[(1_000, 40), (10_000, 20)]
    } else {
        &[(1_000, 2)]
    };
    println!(
        "{:>7} {:>8} {:>11} {:>11} {:>11}",
        "lines", "changes", "median ms", "p90 ms", "max ms"
    );
    for &(lines, changes) in runs {
        let (lines, mut latencies) = measure(lines, changes);
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{:>7} {:>8} {:>11.1} {:>11.1} {:>11.1}",
            lines,
            changes,
            ms(percentile(&mut latencies, 0.5)),
            ms(percentile(&mut latencies, 0.9)),
            ms(percentile(&mut latencies, 1.0)),
        );
    }
}
