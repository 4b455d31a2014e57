#!/usr/bin/env bash
# Installs what Prova's tests and demo need on a fresh Debian machine with the .NET SDK and
# Node.js: Debian packages (ONNX backend conformance data, the Fashion-MNIST dataset) and the
# Solidity tooling (solc-js, forge, anvil) under contracts/. Idempotent: does nothing when all
# is present. Run as root or with sudo available.
#   scripts/setup.sh              everything (tests)
#   scripts/setup.sh --contracts  only the npm tooling (what `prova demo` and `prova devnet up --chain` need)
set -euo pipefail
contracts_only=false
[ "${1:-}" = "--contracts" ] && contracts_only=true

need=()
for pkg in libonnx-testdata dataset-fashion-mnist; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        need+=("$pkg")
    fi
done

if [ ${#need[@]} -gt 0 ] && ! $contracts_only; then
    echo "setup: installing Debian packages: ${need[*]}"
    sudo_cmd=()
    if [ "$(id -u)" -ne 0 ]; then
        sudo_cmd=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! command -v dotnet >/dev/null 2>&1; then
    echo "setup: the .NET SDK 10 is required (dotnet not found on PATH)" >&2
    exit 2
fi

# Solidity tooling for contracts/ (solc-js, forge, anvil): npm ci, skipped when node_modules was installed
# from the current package-lock.json (stamp file) and the binaries are there.
contracts_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../contracts" && pwd)"
if ! cmp -s "$contracts_dir/package-lock.json" "$contracts_dir/node_modules/.prova-lock" \
    || [ ! -x "$contracts_dir/node_modules/.bin/forge" ] || [ ! -x "$contracts_dir/node_modules/.bin/anvil" ]; then
    echo "setup: npm ci --prefix contracts"
    npm ci --prefix "$contracts_dir" --no-audit --no-fund --loglevel=error >/dev/null
    cp "$contracts_dir/package-lock.json" "$contracts_dir/node_modules/.prova-lock"
fi

# The official openai npm client for the OpenAI-compatible API tests (tests/Prova.Node.Tests/OpenAi): npm ci,
# skipped when node_modules was installed from the current package-lock.json.
openai_js_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/openai-js" && pwd)"
if ! $contracts_only && ! cmp -s "$openai_js_dir/package-lock.json" "$openai_js_dir/node_modules/.prova-lock"; then
    echo "setup: npm ci --prefix tests/openai-js"
    npm ci --prefix "$openai_js_dir" --no-audit --no-fund --loglevel=error >/dev/null
    cp "$openai_js_dir/package-lock.json" "$openai_js_dir/node_modules/.prova-lock"
fi
