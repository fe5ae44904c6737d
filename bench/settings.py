"""The benchmark's settings: paths, ports, the environment knobs of
bench/run.py, and two process helpers."""

import os
import socket
import subprocess
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"
RESULTS = ROOT / "bench" / "results"
RELEASE = ROOT / "target" / "release"
GATEWAY_BIN = RELEASE / "mcp-gateway"
LOAD_BIN = RELEASE / "examples" / "bench-load"
FLOOR_BIN = RELEASE / "examples" / "bench-floor"
GEOIP_BIN = RELEASE / "examples" / "bench-geoip"

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
IDLE = int(os.environ.get("BENCH_IDLE", "10000"))
CALLGRIND = os.environ.get("BENCH_CALLGRIND", "1") != "0"
CONNECTIONS = 16
PORTS = {"gateway": 18443, "nginx": 18444, "floor": 18445}
# Allowed by every server; the refused clients come from 127.<n>.<server>.1-16,
# outside every allowlist, a fresh range for each run (see refusal_source).
CLIENT = "127.0.0.1"

STATELESS = "2026-07-28"
SESSIONS = "2025-11-25"


def sh(*args, **kwargs):
    return subprocess.run([str(a) for a in args], check=True, **kwargs)


def wait_port(port, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {seconds}s")
