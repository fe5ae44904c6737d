"""The benchmark's servers: the work folder (PKI by `mcp-gateway quickstart`,
the GeoIP DB, the gateway and nginx configs, the request bodies), the setup
requests, and starting and watching each server's processes."""

import http.client
import json
import os
import signal
import ssl
import subprocess
from pathlib import Path

from settings import WORK, GATEWAY_BIN, FLOOR_BIN, GEOIP_BIN, IDLE, PORTS, CLIENT, STATELESS, sh, wait_port



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
