#!/usr/bin/env bash
# list_events on the CalDAV backend beside the embedded store and beside the
# same query made directly to Radicale (bench/caldav.py, bench/README.md).
# Makes the venv with Radicale and the Python caldav client when missing,
# builds release; about two minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/radicale ]; then
    python3 -m venv .venv
    .venv/bin/pip install -q -r tests/caldav/requirements.txt
fi
cargo build --release --bin mcp-gateway --example bench-load
exec python3 bench/caldav.py "$@"
