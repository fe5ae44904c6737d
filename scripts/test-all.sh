#!/usr/bin/env bash
# Runs every test on a fresh Debian machine that has only Rust, Python and Node
# (npm installs the pinned MCP conformance suite and the Node.js 22 it needs):
# installs what the tests need (fail2ban, curl, logrotate, prometheus's promtool, haproxy, iproute2 and userspace WireGuard from Debian, a Python venv with
# the MCP SDK 2.x and 1.x, Radicale, Xandikos and the Python caldav client), then runs the end-to-end checks (Python SDK, the
# README's flows) against a quickstart gateway and the Rust suite, and sweeps
# everything they wrote for secrets.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Python venv for the MCP SDK end-to-end check"
if [ ! -x .venv/bin/python ]; then
    if ! python3 -m venv .venv; then
        # Debian's own python3 needs the venv module from a separate package.
        rm -rf .venv
        apt-get update -qq && apt-get install -y -qq python3-venv
        python3 -m venv .venv
    fi
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r tests/e2e/requirements.txt -r tests/deploy/requirements.txt -r tests/caldav/requirements.txt
if [ ! -x .venv-mcp1/bin/python ]; then
    python3 -m venv .venv-mcp1
fi
.venv-mcp1/bin/pip install --quiet --disable-pip-version-check -r tests/e2e/requirements-mcp1.txt

echo "== Node.js clients that launch mcp-gateway connect (the TypeScript SDK, the MCP Inspector CLI), pinned by tests/connect/package-lock.json"
(cd tests/connect && npm ci --no-audit --no-fund --loglevel=error)

echo "== Debian packages the tests run: fail2ban (fail2ban-regex, fail2ban-server), curl (HTTP/2 refusals), openssl (PKCS#12 and encrypted keys for connect), logrotate, prometheus (promtool), haproxy (replicas), iproute2, wireguard-go and wireguard-tools (the VPN test), pebble, bind9 with dig, certbot (the ACME tests)"
missing=()
command -v fail2ban-regex > /dev/null || missing+=(fail2ban)
command -v curl > /dev/null || missing+=(curl)
command -v openssl > /dev/null || missing+=(openssl)
command -v logrotate > /dev/null || [ -x /usr/sbin/logrotate ] || missing+=(logrotate)
command -v promtool > /dev/null || missing+=(prometheus)
command -v haproxy > /dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v ip > /dev/null || [ -x /usr/sbin/ip ] || missing+=(iproute2)
command -v wireguard-go > /dev/null || missing+=(wireguard-go)
command -v wg > /dev/null || missing+=(wireguard-tools)
command -v pebble > /dev/null || missing+=(pebble)
command -v named > /dev/null || [ -x /usr/sbin/named ] || missing+=(bind9)
command -v dig > /dev/null || missing+=(bind9-dnsutils)
command -v certbot > /dev/null || missing+=(certbot)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi

# wireguard-go makes its interface through the TUN device; a container may
# lack the node (the VPN test then fails, naming wireguard-go's complaint).
if [ ! -c /dev/net/tun ]; then
    mkdir -p /dev/net && mknod -m 666 /dev/net/tun c 10 200 \
        || echo "warning: no /dev/net/tun and it cannot be made: the VPN test will fail"
fi

echo "== layers: every import points to a layer below (scripts/layers.py)"
python3 scripts/layers.py --self-test
python3 scripts/layers.py

echo "== build"
cargo build --quiet --bins

echo "== the fuzz targets still build against the crate (running them: fuzz/README.md)"
cargo check --quiet --locked --manifest-path fuzz/Cargo.toml --bins

# Every gateway the tests run leaves its outputs and secrets here; the sweep at
# the end looks for any secret in any output (scripts/sweep_secrets.py).
sweep="$PWD/target/secrets-sweep"
rm -rf "$sweep"
mkdir -p "$sweep"
export MCP_GATEWAY_SWEEP_DIR="$sweep"
python3 scripts/sweep_secrets.py --self-test

echo "== Kubernetes manifests: the API schemas, and each other and the gateway"
.venv/bin/python tests/deploy/check_kubernetes.py target/debug/mcp-gateway

echo "== end to end: quickstart + Python MCP SDK (2.x, 1.x) and curl over mutual TLS, the README flows as written"
bash tests/e2e/quickstart_python.sh target/debug/mcp-gateway .venv/bin/python .venv-mcp1/bin/python

echo "== the official MCP conformance suite (pinned: 0.1.16 and 0.2.0-alpha.12, with Node.js 22 from npm), through a mutual-TLS bridge"
python3 tests/conformance/run.py target/debug/mcp-gateway

echo "== Rust unit and integration tests"
cargo test --all-targets 2>&1 | tee "$sweep/cargo-test.log"

echo "== secrets sweep: no key, token or credential in any log, metric, diagnostic or test output"
python3 scripts/sweep_secrets.py "$sweep" "$sweep/cargo-test.log"
