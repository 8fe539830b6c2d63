#!/usr/bin/env bash
# The whole test suite: installs the validators into .tools/ (from the package
# registries), then runs every test. Tests that need a validator fail under
# CI=true when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh
cargo test --workspace --locked
