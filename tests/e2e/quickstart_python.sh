#!/usr/bin/env bash
# Follows the README as a newcomer would: quickstart in a fresh folder, then the
# Python SDK client with the quickstart's client certificate.
# Then every README flow marked for it (Python mcp 2.x and 1.x, curl with
# sessions and stateless), as written.
# Usage: quickstart_python.sh GATEWAY_BINARY PYTHON [PYTHON_MCP1]
set -euo pipefail
gateway="$1"
python="$2"
python_mcp1="${3:-}"
here="$(cd "$(dirname "$0")" && pwd)"
dir="$(mktemp -d)"
port="$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

metrics="$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

"$gateway" quickstart --dir "$dir" --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$metrics" > "$dir/gateway.out" 2>&1 &
pid=$!
# Leaves the gateway's outputs and secrets for the secrets sweep (scripts/sweep_secrets.py).
keep_for_sweep() {
    [ -n "${MCP_GATEWAY_SWEEP_DIR:-}" ] || return 0
    local slot="$MCP_GATEWAY_SWEEP_DIR/e2e-$$"
    mkdir -p "$slot/outputs"
    cp "$dir"/*.log "$dir/gateway.out" "$slot/outputs/" 2>/dev/null || true
    "$python" -c 'import json, pathlib, sys
d = pathlib.Path(sys.argv[1])
json.dump([p.read_text() for p in sorted(d.glob("*.key")) + sorted(d.glob("*.token"))], open(sys.argv[2], "w"))' "$dir" "$slot/secrets.json"
}
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; keep_for_sweep; rm -rf "$dir"' EXIT

for _ in $(seq 1 100); do
    if "$python" -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
        break
    fi
    sleep 0.1
done

# Key files are private to their owner.
for key in ca.key server.key client.key; do
    mode="$(stat -c %a "$dir/$key")"
    if [ "$mode" != "600" ]; then
        echo "FAIL: $key has mode $mode, expected 600" >&2
        exit 1
    fi
done

"$python" "$here/python_client.py" "$dir" "https://127.0.0.1:$port/mcp"
if [ -n "$python_mcp1" ]; then
    # The README's `mcp-gateway …` lines run this build's binary.
    PATH="$(cd "$(dirname "$gateway")" && pwd):$PATH" \
        "$python" "$here/readme_flows.py" "$here/../../README.md" "$dir" "$port" "$python" "$python_mcp1"
    echo "end-to-end: 2 passed, 0 failed"
else
    echo "end-to-end: 1 passed, 0 failed (README flows skipped: no mcp 1.x interpreter given)"
fi
