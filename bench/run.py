#!/usr/bin/env python3
"""The side-by-side benchmark: the gateway, nginx (client certificates,
allow/deny, geoip2) and the floor (bench/floor.rs), measured by the same load
generator (bench/load.rs) in one run on loopback. Prints a table with ratios
and writes the raw figures to bench/results/latest.json.

Run it through bench/run.sh, which installs what it needs and builds release.
Environment: BENCH_ROUNDS (measured runs per figure, default 3),
BENCH_SECONDS (seconds per run, default 5), BENCH_IDLE (connections held for
the RSS figure, default 10000), BENCH_CALLGRIND=0 to skip the instruction counts.
"""

import http.client
import json
import os
import platform
import resource
import signal
import socket
import ssl
import statistics
import subprocess
import sys
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


# --- setup -----------------------------------------------------------------


def tool_call(name, arguments, meta=True, request_id=1):
    params = {"name": name, "arguments": arguments}
    if meta:
        params["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": STATELESS,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
        }
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params},
                      separators=(",", ":"))


def stateless_headers(tool):
    return {
        "MCP-Protocol-Version": STATELESS,
        "Mcp-Method": "tools/call",
        "Mcp-Name": tool,
    }


def prepare():
    """PKI and token (quickstart), the GeoIP DB, the configs, the bodies."""
    if WORK.exists():
        sh("rm", "-rf", WORK)
    WORK.mkdir(parents=True)
    pki = WORK / "pki"
    sh(GATEWAY_BIN, "quickstart", "--dir", pki, "--no-serve",
       "--listen", f"127.0.0.1:{PORTS['gateway']}", stdout=subprocess.DEVNULL)
    sh(GEOIP_BIN, WORK / "country.mmdb", "127.0.0.0/8=DE", "::1/128=US")
    (WORK / "gateway.toml").write_text(f"""
[listen]
address = "127.0.0.1:{PORTS['gateway']}"
max_connections = {IDLE + 1000}
max_connections_per_address = {IDLE + 1000}
first_request_timeout = "60s"
idle_timeout = "600s"

[network]
allow = ["{CLIENT}/32"]

[geoip]
database = "{WORK}/country.mmdb"
allow_countries = ["DE"]

[log]
security_log = "{WORK}/security.log"
audit_log = "{WORK}/audit.log"

[tls]
certificate = "{pki}/server.pem"
private_key = "{pki}/server.key"
client_ca = "{pki}/ca.pem"
identity = "subject_cn"

[mcp]
path = "/mcp"
allowed_hosts = ["127.0.0.1"]
max_sessions = {IDLE + 1000}
max_sessions_per_client = {IDLE + 1000}

[jwt]
jwks = "{pki}/jwks.json"
issuer = "mcp-gateway-quickstart"
audience = "https://127.0.0.1:{PORTS['gateway']}/mcp"
require_cert_binding = true

[metrics]
listen = "127.0.0.1:19464"

# Limits checked on every request but never reached: nginx has none.
[rate_limits]
requests_per_second_per_address = 4000000000
reads_per_minute_per_client = 4000000000
writes_per_minute_per_client = 4000000000

[backend]
kind = "embedded"

[backend.embedded]
path = "{WORK}/calendar.db"
time_zone = "UTC"
""")
    (WORK / "time.json").write_text(tool_call("get_current_time", {"timeZone": "UTC"}))
    (WORK / "time-session.json").write_text(
        tool_call("get_current_time", {"timeZone": "UTC"}, meta=False))
    (WORK / "week.json").write_text(tool_call("list_events", {
        "timeMin": "2027-01-04T00:00:00Z", "timeMax": "2027-01-11T00:00:00Z", "maxResults": 250}))


def token():
    return (WORK / "pki" / "client.token").read_text().strip()


def https(port, body, headers):
    """One request with Python's own TLS client, for setup."""
    pki = WORK / "pki"
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    context.load_cert_chain(str(pki / "client.pem"), str(pki / "client.key"))
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    all_headers = {"Authorization": f"Bearer {token()}", "Content-Type": "application/json",
                   "Accept": "application/json, text/event-stream", **headers}
    connection.request("POST", "/mcp", body=body, headers=all_headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    if response.status != 200 or b'"result"' not in data:
        raise SystemExit(f"setup request failed: {response.status} {data[:300]!r}")
    return data


def seed_events(count):
    """`count` one-hour events, one per hour from 2027-01-01, in `primary`."""
    for i in range(count):
        day, hour = divmod(i, 24)
        start = f"2027-01-{1 + day:02d}T{hour:02d}:00:00Z" if day < 31 else \
            f"2027-02-{day - 30:02d}T{hour:02d}:00:00Z"
        end = start.replace(f"T{hour:02d}:00", f"T{hour:02d}:59")
        https(PORTS["gateway"], tool_call("create_event", {
            "summary": f"Event {i}", "location": "Room 4", "description": "Benchmark event",
            "start": {"dateTime": start}, "end": {"dateTime": end}}, request_id=i),
            stateless_headers("create_event"))


def nginx_config():
    pki = WORK / "pki"
    return f"""
daemon off;
master_process on;
worker_processes 2;
pid {WORK}/nginx.pid;
error_log {WORK}/nginx-error.log warn;
load_module /usr/lib/nginx/modules/ngx_http_geoip2_module.so;
worker_rlimit_nofile {IDLE + 1000};
events {{ worker_connections {IDLE + 1000}; }}
http {{
    # One line per request, as the gateway's audit line per call.
    access_log {WORK}/nginx-access.log;
    geoip2 {WORK}/country.mmdb {{
        $geoip2_country_code country iso_code;
    }}
    map $geoip2_country_code $country_allowed {{ default 0; DE 1; }}
    keepalive_requests 100000000;
    keepalive_timeout 600s;
    client_body_buffer_size 16k;
    server {{
        listen 127.0.0.1:{PORTS['nginx']} ssl http2;
        ssl_certificate {pki}/server.pem;
        ssl_certificate_key {pki}/server.key;
        ssl_client_certificate {pki}/ca.pem;
        ssl_verify_client on;
        ssl_protocols TLSv1.3;
        location = /mcp {{
            allow {CLIENT};
            deny all;
            if ($country_allowed = 0) {{ return 403; }}
            # A file, not `return`: `return` would answer before allow/deny run.
            # The static handler refuses POST with 405; serve the file instead.
            error_page 405 =200 $uri;
            default_type application/json;
            alias {WORK}/answer.json;
        }}
    }}
}}
"""


# --- servers ---------------------------------------------------------------


class Server:
    """A server process, its name, its port and (for nginx) its workers."""

    def __init__(self, name, argv, port, valgrind_out=None):
        self.name, self.port = name, port
        if valgrind_out:
            argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={valgrind_out}",
                    "--dump-instr=no", *argv]
        self.process = subprocess.Popen([str(a) for a in argv], stdout=subprocess.DEVNULL,
                                        stderr=open(WORK / f"{name}.stderr", "a"))
        wait_port(port, 120 if valgrind_out else 60)

    def pids(self):
        """The process and its children (nginx workers)."""
        children = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True,
                                  text=True).stdout.split()
        return [self.process.pid, *map(int, children)]

    def rss_kib(self):
        total = 0
        for pid in self.pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        return total

    def cpu_seconds(self):
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / ticks

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(name, valgrind_out=None):
    pki = WORK / "pki"
    if name == "gateway":
        argv = [GATEWAY_BIN, "serve", "--config", WORK / "gateway.toml"]
    elif name == "floor":
        argv = [FLOOR_BIN, f"127.0.0.1:{PORTS['floor']}", pki / "server.pem", pki / "server.key",
                pki / "ca.pem", WORK / "answer.json"]
    else:
        (WORK / "nginx.conf").write_text(nginx_config())
        argv = ["nginx", "-c", WORK / "nginx.conf"]
        if valgrind_out:
            (WORK / "nginx.conf").write_text(nginx_config().replace(
                "master_process on;\nworker_processes 2;", "master_process off;\nworker_processes 1;"))
    return Server(name, argv, PORTS[name], valgrind_out)


# --- load ------------------------------------------------------------------


def load(server_name, mode, body, headers=(), extra=(), seconds=SECONDS, warmup=2.0):
    pki = WORK / "pki"
    argv = [LOAD_BIN, "--mode", mode, "--connect", f"127.0.0.1:{PORTS[server_name]}",
            "--ca", pki / "ca.pem", "--cert", pki / "client.pem", "--key", pki / "client.key",
            "--body", WORK / body, "--header", f"Authorization: Bearer {token()}",
            "--duration", seconds, "--warmup", warmup, *extra]
    for name, value in dict(headers).items():
        argv += ["--header", f"{name}: {value}"]
    out = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=float(seconds) + float(warmup) + 60)
    if out.returncode != 0:
        raise SystemExit(f"load {mode} on {server_name} failed: {out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def refusal_source(server_name, run):
    """A source range no earlier run used: a port the client closed stays in
    TIME_WAIT for a minute and cannot be bound again meanwhile."""
    return f"127.{10 + run}.{list(PORTS).index(server_name) + 1}.1"


def one_run(server, mode, body, headers, extra, run):
    """One measured run; with the CPU the server used per successful request."""
    cpu = server.cpu_seconds()
    source = ["--source", refusal_source(server.name, run)] if mode == "refuse" else []
    result = load(server.name, mode, body, headers, [*extra, *source])
    # Warm-up requests cost CPU too: charge the CPU of the whole run to the
    # requests of the whole run, estimated from the measured rate.
    spent = server.cpu_seconds() - cpu
    total_seconds = SECONDS + 2.0
    result["cpu_us_per_request"] = (spent / (result["per_second"] * total_seconds) * 1e6
                                    if result["per_second"] else None)
    return result


def rounds(servers, mode, body, headers=(), extra=()):
    """ROUNDS runs on each server, taken in turn (gateway, nginx, floor, then
    again), so that a noisy minute on a shared machine weighs on all of them."""
    runs = {server.name: [] for server in servers}
    for run in range(ROUNDS):
        for server in servers:
            runs[server.name].append(one_run(server, mode, body, headers, extra, run))
    return {name: summarize(results) for name, results in runs.items()}


def summarize(runs):
    def stat(key):
        values = [r[key] for r in runs if r.get(key) is not None]
        if not values:
            return None
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    return {"per_second": stat("per_second"), "p50_us": stat("p50_us"),
            "p99_us": stat("p99_us"), "cpu_us_per_request": stat("cpu_us_per_request"),
            "failed": sum(r["failed"] for r in runs), "resumed": sum(r.get("resumed", 0) for r in runs),
            "ok": sum(r["ok"] for r in runs), "runs": runs}


def idle_rss(server, request=True):
    """RSS growth per held mTLS connection: after one request each (what a
    keep-alive client leaves), or after the handshake alone."""
    before = server.rss_kib()
    pki = WORK / "pki"
    argv = [LOAD_BIN, "--mode", "idle", "--connect", f"127.0.0.1:{PORTS[server.name]}",
            "--ca", pki / "ca.pem", "--cert", pki / "client.pem", "--key", pki / "client.key",
            "--body", WORK / "time.json", "--header", f"Authorization: Bearer {token()}",
            "--hold", IDLE, "--connections", 64, "--duration", 120]
    if not request:
        argv.append("--no-request")
    for name, value in stateless_headers("get_current_time").items():
        argv += ["--header", f"{name}: {value}"]
    loader = subprocess.Popen([str(a) for a in argv], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    ready = json.loads(loader.stdout.readline())
    after = server.rss_kib()
    loader.stdin.close()
    loader.wait(60)
    held = ready["held"]
    return {"held": held, "failed": ready["failed"], "rss_before_kib": before,
            "rss_after_kib": after,
            "kib_per_connection": (after - before) / held if held else None}


def instructions(name, body, headers):
    """Instructions per admitted keep-alive request under callgrind: counters
    zeroed after a warm-up, then a fixed number of requests, then dumped."""
    out = WORK / f"callgrind.{name}"
    server = start(name, valgrind_out=out)
    try:
        extra = ["--connections", 1]
        load(name, "keepalive", body, headers, extra + ["--count", 50], seconds=120, warmup=0)
        sh("callgrind_control", "-z", server.process.pid, stdout=subprocess.DEVNULL)
        count = 500
        result = load(name, "keepalive", body, headers, extra + ["--count", count],
                      seconds=300, warmup=0)
        sh("callgrind_control", "-d", server.process.pid, stdout=subprocess.DEVNULL)
        time.sleep(1)
    finally:
        server.stop()
    totals = 0
    for dump in WORK.glob(f"callgrind.{name}*"):
        for line in dump.read_text(errors="replace").splitlines():
            if line.startswith("totals:"):
                totals = max(totals, int(line.split()[1]))
    return totals / result["ok"] if result["ok"] else None


# --- report ----------------------------------------------------------------


def measure_under_load(figures, servers, time_headers):
    """The figures under load; `servers` holds the gateway and gets the others."""
    gateway = servers["gateway"]
    # The answer nginx and the floor return: the gateway's own, byte for byte.
    (WORK / "answer.json").write_bytes(https(PORTS["gateway"], (WORK / "time.json").read_text(),
                                             time_headers))
    seed_events(1000)
    for name in ("nginx", "floor"):
        servers[name] = start(name)
    everyone = list(servers.values())
    print("keep-alive, handshakes, refusals", file=sys.stderr)
    figures["keepalive_stateless"] = rounds(everyone, "keepalive", "time.json", time_headers)
    figures["handshake_full"] = rounds(everyone, "handshake", "time.json", time_headers)
    figures["handshake_resumed"] = rounds(everyone, "handshake", "time.json", time_headers,
                                          ["--resume"])
    figures["refusal"] = rounds([gateway, servers["nginx"]], "refuse", "time.json",
                                time_headers)
    print("gateway only: sessions, list_events", file=sys.stderr)
    figures["keepalive_sessions"] = rounds(
        [gateway], "keepalive", "time-session.json", {"MCP-Protocol-Version": SESSIONS},
        ["--session-version", SESSIONS])
    figures["keepalive_one_session"] = rounds(
        [gateway], "keepalive", "time-session.json", {"MCP-Protocol-Version": SESSIONS},
        ["--session-version", SESSIONS, "--shared-session"])
    figures["list_events_week"] = rounds(
        [gateway], "keepalive", "week.json", stateless_headers("list_events"))


def main():
    # Each process holds IDLE connections at most (the loader, or a server);
    # raise the soft limit as far as the hard one allows.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = IDLE * 2 + 1000
    limit = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, limit), hard))
    if limit < IDLE + 500:
        raise SystemExit(f"the open-file limit ({hard}) is too low for BENCH_IDLE={IDLE}")
    prepare()
    figures = {}
    time_headers = stateless_headers("get_current_time")

    gateway = start("gateway")
    servers = {"gateway": gateway}
    try:
        measure_under_load(figures, servers, time_headers)
    finally:
        for server in servers.values():
            server.stop()

    print("idle connections", file=sys.stderr)
    figures["idle_rss"], figures["idle_rss_handshake_only"] = {}, {}
    for name in PORTS:
        for key, request in (("idle_rss", True), ("idle_rss_handshake_only", False)):
            # A fresh server for each: what it holds comes from these connections only.
            server = start(name)
            try:
                figures[key][name] = idle_rss(server, request)
            finally:
                server.stop()

    if CALLGRIND:
        print("instructions per request (callgrind)", file=sys.stderr)
        figures["instructions"] = {
            name: instructions(name, "time.json", time_headers)
            for name in ("gateway", "nginx", "floor")}

    report = {"machine": machine(), "rounds": ROUNDS, "seconds": SECONDS,
              "connections": CONNECTIONS, "figures": figures,
              "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=1))
    print(table(report))


def machine():
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(), "nginx": nginx}


def table(report):
    f = report["figures"]

    def med(entry, key="per_second"):
        value = entry.get(key) if isinstance(entry, dict) else None
        return value["median"] if isinstance(value, dict) else value

    def spread(entry, key="per_second"):
        value = entry[key]
        return f"{value['median']:,.0f} ({value['min']:,.0f}–{value['max']:,.0f})"

    def ratio(a, b):
        return f"{a / b:.2f}" if a and b else "—"

    rows = []

    def row(label, key, unit_key="per_second", higher_better=True):
        entry = f.get(key, {})
        g, n, fl = (entry.get(s) for s in ("gateway", "nginx", "floor"))
        cells = [label]
        for e in (g, n, fl):
            cells.append(spread(e, unit_key) if e and e.get(unit_key) else "—")
        gm = med(g, unit_key) if g else None
        cells.append(ratio(gm, med(n, unit_key)) if n else "—")
        cells.append(ratio(gm, med(fl, unit_key)) if fl else "—")
        rows.append(cells)

    row("keep-alive tools/call, stateless: req/s", "keepalive_stateless")
    row("  p50 µs", "keepalive_stateless", "p50_us")
    row("  p99 µs", "keepalive_stateless", "p99_us")
    row("  server CPU µs per request", "keepalive_stateless", "cpu_us_per_request")
    row("keep-alive, one session per connection: req/s", "keepalive_sessions")
    row("  p50 µs", "keepalive_sessions", "p50_us")
    row("keep-alive, 16 connections on ONE session: req/s", "keepalive_one_session")
    row("list_events (a week of 1,000 events): req/s", "list_events_week")
    row("  p50 µs", "list_events_week", "p50_us")
    row("full mTLS handshake + 1 call: conn/s", "handshake_full")
    row("resumed handshake + 1 call: conn/s", "handshake_resumed")
    row("refusals of a disallowed address: /s", "refusal")
    for key, label in (("idle_rss", "after one call"), ("idle_rss_handshake_only", "handshake only")):
        idle = f[key]
        rows.append([f"RSS KiB per idle mTLS connection, {label} ({IDLE:,})"] + [
            f"{idle[s]['kib_per_connection']:.1f} ({idle[s]['held']:,} held)"
            if idle.get(s) and idle[s]["kib_per_connection"] else "—"
            for s in ("gateway", "nginx", "floor")] + [
            ratio(idle["gateway"]["kib_per_connection"], idle.get("nginx", {}).get("kib_per_connection")),
            ratio(idle["gateway"]["kib_per_connection"], idle.get("floor", {}).get("kib_per_connection"))])
    if "instructions" in f:
        ins = f["instructions"]
        rows.append(["instructions per keep-alive request (callgrind)"] + [
            f"{ins[s]:,.0f}" if ins.get(s) else "—" for s in ("gateway", "nginx", "floor")] + [
            ratio(ins.get("gateway"), ins.get("nginx")), ratio(ins.get("gateway"), ins.get("floor"))])

    header = ["figure (median of runs, min–max)", "gateway", "nginx + geoip2", "floor",
              "gateway ÷ nginx", "gateway ÷ floor"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    m = report["machine"]
    one = f["keepalive_sessions"]["gateway"]["per_second"]["median"]
    shared = f["keepalive_one_session"]["gateway"]["per_second"]["median"]
    full, resumed = (f["handshake_full"]["gateway"]["per_second"]["median"],
                     f["handshake_resumed"]["gateway"]["per_second"]["median"])
    refusals = f["refusal"]["gateway"]["per_second"]["median"]
    lines += ["", f"Taken {report['when']} on {m['cpu']}, {m['cores']} cores, Linux {m['kernel']}, "
                  f"{m['nginx']}; {report['rounds']} runs of {report['seconds']:g} s (after 2 s of "
                  f"warm-up) per server, the servers taken in turn; {CONNECTIONS} connections, "
                  f"HTTP/1.1, TLS 1.3, ECDSA P-256.",
              f"One session ÷ one session per connection: {shared / one:.2f}; "
              f"resumed ÷ full handshakes: {resumed / full:.2f}; "
              f"refusals ÷ full handshakes: {refusals / full:.2f}.",
              "Failed requests in all runs: " + (", ".join(
                  f"{k}/{s}={v[s]['failed']}" for k, v in f.items()
                  if k not in ("idle_rss", "idle_rss_handshake_only", "instructions") for s in v if v[s]["failed"]) or "none")]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
