"""The second load generator: `oha` (a multi-threaded HTTP load generator,
`cargo install oha --locked`), run with the same client certificate, token,
body and headers as bench/load/, so that every keep-alive and handshake
figure is measured by a loader the project did not write.

oha uses all cores (`--worker-threads` defaults to them), so it competes with
the server for the 2 cores as a real client fleet on the same host would;
bench/load/ stays on one. oha counts status codes, not JSON-RPC results: a
run counts as served only the 200s, and the harness's own loader has already
checked that this exact request answers a JSON-RPC result on every server.
Its `--disable-keepalive` runs open a connection per call and resume TLS
sessions (rustls's client default): they compare with bench/load/'s
`--resume` figures, not its full handshakes.
"""

import json
import shutil
import subprocess

from servers import token
from settings import WORK, PORTS, SECONDS, CONNECTIONS

OHA = shutil.which("oha")


def version():
    if not OHA:
        return None
    return subprocess.run([OHA, "--version"], capture_output=True, text=True).stdout.strip()


def run(server_name, mode, body, headers, seconds):
    """One oha run; the loader's figures in bench/load/'s shape."""
    pki = WORK / "pki"
    # -w: the calls under way at the deadline are finished, not counted as errors.
    argv = [OHA, "--no-tui", "--output-format", "json", "-z", f"{seconds}s", "-w",
            "-c", str(CONNECTIONS), "-m", "POST", "-D", str(WORK / body),
            "--cacert", str(pki / "ca.pem"), "--cert", str(pki / "client.pem"),
            "--key", str(pki / "client.key"), "--http-version", "1.1",
            "-T", "application/json", "-A", "application/json, text/event-stream",
            "-H", f"Authorization: Bearer {token()}"]
    for name, value in dict(headers).items():
        argv += ["-H", f"{name}: {value}"]
    if mode == "handshake":
        argv.append("--disable-keepalive")
    argv.append(f"https://127.0.0.1:{PORTS[server_name]}/mcp")
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise SystemExit(f"oha {mode} on {server_name} failed: {out.stderr.strip()[:500]}")
    report = json.loads(out.stdout)
    statuses = report.get("statusCodeDistribution", {})
    ok = int(statuses.get("200", 0))
    total = sum(int(n) for n in statuses.values()) + sum(
        int(n) for n in report.get("errorDistribution", {}).values())
    percentiles = report.get("latencyPercentiles", {})
    micros = lambda key: percentiles[key] * 1e6 if percentiles.get(key) is not None else None
    return {"per_second": ok / seconds, "p50_us": micros("p50"), "p99_us": micros("p99"),
            "ok": ok, "failed": total - ok, "statuses": statuses,
            "errors": report.get("errorDistribution", {})}
