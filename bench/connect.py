#!/usr/bin/env python3
"""What `mcp-gateway connect` adds to a call, printed (never asserted): the
gateway of bench/run.sh on the embedded store, one stateless
get_current_time at a time, directly over mutual TLS and through a
`connect` child process (bench/connect.rs alternates the two). Writes
bench/results/connect.json.

Run it through bench/connect.sh (builds release).
"""

import json
import subprocess
import sys

from servers import prepare, start
from settings import GATEWAY_BIN, PORTS, RELEASE, RESULTS, WORK


def main():
    calls = sys.argv[1] if len(sys.argv) > 1 else "500"
    rounds = sys.argv[2] if len(sys.argv) > 2 else "6"
    prepare()
    gateway = start("gateway")
    pki = WORK / "pki"
    try:
        out = subprocess.run([
            str(RELEASE / "examples" / "bench-connect"), str(GATEWAY_BIN),
            f"https://127.0.0.1:{PORTS['gateway']}/mcp", str(pki / "client.pem"),
            str(pki / "client.key"), str(pki / "ca.pem"), str(pki / "client.token"), calls, rounds,
        ], check=True, capture_output=True, text=True).stdout
    finally:
        gateway.stop()
    lines = out.strip().splitlines()
    print("\n".join(lines[:-1]))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "connect.json").write_text(json.dumps(json.loads(lines[-1]), indent=2) + "\n")


main()
