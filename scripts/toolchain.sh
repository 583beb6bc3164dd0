#!/bin/sh
# Prints the path of a Node >= 24 to use for everything in this checkout.
#
# The system Node is used when it is new enough; otherwise the pinned Node from
# the npm registry's node-linux-<arch> package is installed under .toolchain/
# (the registry is the only source of binaries a lab or CI machine can reach).
# Override the pin with SEPI_NODE_VERSION, or point SEPI_NODE at a node binary.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
want_major=24
pin=${SEPI_NODE_VERSION:-24.21.0}

if [ -n "${SEPI_NODE:-}" ]; then echo "$SEPI_NODE"; exit 0; fi

local_node="$root/.toolchain/node_modules/node-linux-$(
  case "$(uname -m)" in
    x86_64|amd64) echo x64 ;;
    aarch64|arm64) echo arm64 ;;
    *) echo "unsupported-$(uname -m)" ;;
  esac)/bin/node"

if [ -x "$local_node" ] && [ "$("$local_node" -p 'process.versions.node')" = "$pin" ]; then
  echo "$local_node"; exit 0
fi

if command -v node >/dev/null 2>&1; then
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -ge "$want_major" ]; then command -v node; exit 0; fi
fi

case "$local_node" in *unsupported-*) echo "toolchain: no Node package for $(uname -m)" >&2; exit 1 ;; esac
command -v npm >/dev/null 2>&1 || { echo "toolchain: npm is needed to fetch Node $pin" >&2; exit 1; }
echo "toolchain: system Node is older than $want_major; installing Node $pin into .toolchain/" >&2
mkdir -p "$root/.toolchain"
pkg=$(basename "$(dirname "$(dirname "$local_node")")")
npm install --silent --no-save --no-package-lock --no-audit --no-fund \
  --prefix "$root/.toolchain" "$pkg@$pin" >&2
[ -x "$local_node" ] || { echo "toolchain: $pkg@$pin did not provide bin/node" >&2; exit 1; }
echo "$local_node"
