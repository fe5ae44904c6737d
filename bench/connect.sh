#!/usr/bin/env bash
# What `mcp-gateway connect` adds per call over a direct mutual-TLS client,
# p50 and p99 side by side in one run (bench/connect.py, bench/README.md).
# Builds release; under a minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin mcp-gateway --example bench-connect --example bench-geoip
exec python3 bench/connect.py "$@"
