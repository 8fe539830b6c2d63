//! The manifest of an artifact directory: every file with its sha256, so a
//! deploy can verify what it ships and a review can see what changed.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Serialize)]
struct Manifest<'a> {
    generator: &'static str,
    files: Vec<ManifestEntry<'a>>,
}

#[derive(Serialize)]
struct ManifestEntry<'a> {
    path: &'a str,
    sha256: String,
    bytes: usize,
}

pub fn manifest(artifacts: &BTreeMap<String, String>) -> String {
    let files = artifacts
        .iter()
        .map(|(path, content)| ManifestEntry {
            path,
            sha256: Sha256::digest(content.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            bytes: content.len(),
        })
        .collect();
    let manifest = Manifest {
        generator: "infrac",
        files,
    };
    match serde_json::to_string_pretty(&manifest) {
        Ok(json) => json + "\n",
        Err(error) => unreachable!("the manifest always serializes: {error}"),
    }
}
