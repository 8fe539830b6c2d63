//! Compile throughput on generated projects of growing size: `cargo bench -p infrac-core`.
//! Prints, per size, the median of several runs of the whole pipeline (parse to
//! emit) and the split between the KDL parser and the rest. Under `cargo test`
//! (no `--bench` argument) it compiles the smallest project once, so the
//! benchmark cannot rot.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use infrac_core::{LoadError, SourceLoader};

mod project;
use project::project;

struct Memory(BTreeMap<String, String>);

impl SourceLoader for Memory {
    fn load(&self, path: &str) -> Result<String, LoadError> {
        self.0.get(path).cloned().ok_or(LoadError::NotFound)
    }
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
    let measuring = std::env::args().any(|a| a == "--bench");
    let sizes: &[usize] = if measuring {
        &[10, 100, 500, 1000]
    } else {
        &[10]
    };
    for &stacks in sizes {
        let text = project(stacks);
        let loader = Memory(BTreeMap::from([("infrac.kdl".to_string(), text.clone())]));
        let runs = match (measuring, stacks) {
            (false, _) => 1,
            (true, 500..) => 5,
            (true, _) => 15,
        };
        let mut compile_times = Vec::new();
        let mut parse_times = Vec::new();
        let mut files = 0;
        for _ in 0..runs {
            let start = Instant::now();
            let compilation = infrac_core::compile("infrac.kdl", &loader);
            compile_times.push(start.elapsed());
            assert!(
                !compilation.has_errors(),
                "{:?}",
                compilation.diagnostics.first()
            );
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
