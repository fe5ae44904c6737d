#!/usr/bin/env python3
"""list_events on the CalDAV backend, side by side in one run: a week of a
calendar holding 1,000 events (one-off events and weekly series) on a real
Radicale through the gateway, the same week on the embedded store through
the gateway, and the same query made directly to Radicale — with the Python
`caldav` client (what a script in front of the server would use), and as a
bare calendar-query REPORT (the server's own floor). Prints req/s and p50;
writes bench/results/caldav.json. Figures are printed, never asserted.

Run it through bench/caldav.sh (builds release, makes the venv).
"""

import http.client
import os
import json
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from measure import load
from servers import Server, https, prepare, stateless_headers, tool_call
from settings import GATEWAY_BIN, PORTS, RESULTS, ROOT, SECONDS, WORK, wait_port

RADICALE_PORT = 18450
PORTS["gateway-caldav"] = 18446
USER, PASSWORD = "bench", "bench-password"
WEEK = ("2027-01-04T00:00:00Z", "2027-01-11T00:00:00Z")
VENV = ROOT / ".venv" / "bin"


def seed(port):
    """990 one-hour events, one per hour from 2027-01-01, and 10 weekly
    series (Mondays, from 2026-12-07, a year long), in `primary`."""
    headers = stateless_headers("create_event")
    for i in range(990):
        day, hour = divmod(i, 24)
        start = datetime(2027, 1, 1, hour, tzinfo=timezone.utc).timestamp() + day * 86400
        at = lambda t: datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        https(port, tool_call("create_event", {
            "summary": f"Event {i}", "location": "Room 4", "description": "Benchmark event",
            "start": {"dateTime": at(start)}, "end": {"dateTime": at(start + 3540)}}, request_id=i),
            headers)
    for i in range(10):
        https(port, tool_call("create_event", {
            "summary": f"Weekly {i}",
            "start": {"dateTime": f"2026-12-07T{8 + i:02d}:30:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": f"2026-12-07T{8 + i:02d}:45:00", "timeZone": "Europe/Berlin"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=52"]}, request_id=1000 + i), headers)


def start_radicale():
    folder = WORK / "radicale"
    folder.mkdir()
    (folder / "users").write_text(f"{USER}:{PASSWORD}\n")
    process = subprocess.Popen([
        str(VENV / "radicale"), "--server-hosts", f"127.0.0.1:{RADICALE_PORT}",
        "--storage-filesystem-folder", str(folder / "collections"),
        "--auth-type", "htpasswd", "--auth-htpasswd-filename", str(folder / "users"),
        "--auth-htpasswd-encryption", "plain"],
        stdout=subprocess.DEVNULL, stderr=open(WORK / "radicale.stderr", "a"))
    wait_port(RADICALE_PORT)
    dav("MKCALENDAR", f"/{USER}/primary/", """<?xml version="1.0"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
<D:displayname>Primary</D:displayname></D:prop></D:set></C:mkcalendar>""")
    return process


def dav(method, path, body, headers=None, connection=None):
    """One request to Radicale as the bench user; the body of the answer."""
    import base64
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", RADICALE_PORT, timeout=60)
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    connection.request(method, path, body=body.encode(), headers={
        "Authorization": f"Basic {auth}", "Content-Type": "application/xml", **(headers or {})})
    response = connection.getresponse()
    data = response.read()
    if response.status >= 300:
        raise SystemExit(f"{method} {path}: {response.status} {data[:200]!r}")
    if own:
        connection.close()
    return data


def caldav_config():
    text = (WORK / "gateway.toml").read_text()
    port = PORTS["gateway"]
    head, _ = text.split("[backend]", 1)
    # The same token serves both: only the listener moves (not the audience).
    head = (head.replace(f'address = "127.0.0.1:{port}"',
                         f'address = "127.0.0.1:{PORTS["gateway-caldav"]}"')
            .replace("127.0.0.1:19464", "127.0.0.1:19465")
            .replace("security.log", "security-caldav.log")
            .replace("audit.log", "audit-caldav.log"))
    path = WORK / "gateway-caldav.toml"
    path.write_text(head + f"""
[backend]
kind = "caldav"

[backend.caldav]
default_account = "bench"

[backend.caldav.accounts.bench]
url = "http://127.0.0.1:{RADICALE_PORT}/"
username = "{USER}"
password = "{PASSWORD}"
primary = "primary"
""")
    path.chmod(0o600)
    return path


def radicale_cpu(process):
    """CPU seconds Radicale has used so far."""
    fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(call, seconds):
    """Calls `call` back to back for `seconds` (after one second of warm-up):
    requests per second and the median latency in µs."""
    warm = time.monotonic() + 1.0
    while time.monotonic() < warm:
        call()
    took, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        call()
        took.append(time.perf_counter() - started)
    return {"per_second": len(took) / sum(took), "p50_us": statistics.median(took) * 1e6,
            "ok": len(took)}


def direct_caldav_client(seconds):
    """The week through the Python `caldav` client (events parsed, as a
    script would use them), one connection."""
    code = f"""
import json, statistics, time, sys
from datetime import datetime, timezone
import caldav
client = caldav.DAVClient(url="http://127.0.0.1:{RADICALE_PORT}/", username="{USER}", password="{PASSWORD}")
calendar = client.calendar(url="http://127.0.0.1:{RADICALE_PORT}/{USER}/primary/")
start, end = datetime(2027, 1, 4, tzinfo=timezone.utc), datetime(2027, 1, 11, tzinfo=timezone.utc)
def call():
    found = calendar.search(start=start, end=end, event=True, expand=False)
    assert len(found) >= 168, len(found)
    for event in found:
        event.icalendar_component
warm = time.monotonic() + 1.0
while time.monotonic() < warm:
    call()
took, stop = [], time.monotonic() + {seconds}
while time.monotonic() < stop:
    t = time.perf_counter(); call(); took.append(time.perf_counter() - t)
print(json.dumps({{"per_second": len(took) / sum(took), "p50_us": statistics.median(took) * 1e6, "ok": len(took)}}))
"""
    out = subprocess.run([str(VENV / "python"), "-c", code], capture_output=True, text=True,
                         timeout=seconds + 120)
    if out.returncode != 0:
        raise SystemExit(f"caldav client failed: {out.stderr[-500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def bare_report(seconds):
    """The week as one calendar-query REPORT, answer read and not parsed."""
    connection = http.client.HTTPConnection("127.0.0.1", RADICALE_PORT, timeout=60)
    body = """<?xml version="1.0" encoding="utf-8"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20270104T000000Z" end="20270111T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"""
    result = timed(lambda: dav("REPORT", f"/{USER}/primary/", body, {"Depth": "1"}, connection),
                   seconds)
    connection.close()
    return result


def main():
    prepare()
    radicale = start_radicale()
    servers = []
    try:
        embedded = Server("gateway", [GATEWAY_BIN, "serve", "--config", WORK / "gateway.toml"],
                          PORTS["gateway"])
        caldav = Server("gateway-caldav", [GATEWAY_BIN, "serve", "--config", caldav_config()],
                        PORTS["gateway-caldav"])
        servers = [embedded, caldav]
        print("seeding 1,000 events in each", file=sys.stderr)
        seed(PORTS["gateway"])
        seed(PORTS["gateway-caldav"])
        (WORK / "week.json").write_text(tool_call("list_events", {
            "timeMin": WEEK[0], "timeMax": WEEK[1], "maxResults": 250}))
        headers = stateless_headers("list_events")
        figures = {}
        for connections in (1, 16):
            for server in servers:
                key = f"{server.name} {connections} connection(s)"
                print(key, file=sys.stderr)
                cpu = (server.cpu_seconds(), radicale_cpu(radicale))
                figures[key] = load(server.name, "keepalive", "week.json", headers,
                                    ["--connections", connections])
                # Warm-up requests cost CPU too: charged over the whole run.
                requests = figures[key]["per_second"] * (SECONDS + 2.0)
                figures[key]["gateway_cpu_ms"] = (server.cpu_seconds() - cpu[0]) / requests * 1e3
                figures[key]["radicale_cpu_ms"] = (radicale_cpu(radicale) - cpu[1]) / requests * 1e3
        print("direct to Radicale", file=sys.stderr)
        figures["direct: Python caldav client, 1 connection"] = direct_caldav_client(SECONDS)
        figures["direct: bare REPORT, 1 connection"] = bare_report(SECONDS)
    finally:
        for server in servers:
            server.stop()
        radicale.terminate()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "caldav.json").write_text(json.dumps(figures, indent=2))
    base = figures["direct: Python caldav client, 1 connection"]["p50_us"]
    print(f"\nlist_events, a week of 1,000 events (incl. 10 weekly series), {SECONDS:.0f} s each\n")
    print(f"{'':44} {'req/s':>7} {'p50 ms':>8} {'÷ caldav client':>16} "
          f"{'gateway CPU ms':>15} {'Radicale CPU ms':>16}")
    cpu = lambda figure, key: f"{figure[key]:.2f}" if key in figure else "-"
    for name, figure in figures.items():
        print(f"{name:44} {figure['per_second']:7.1f} {figure['p50_us'] / 1000:8.2f} "
              f"{figure['p50_us'] / base:16.2f} {cpu(figure, 'gateway_cpu_ms'):>15} "
              f"{cpu(figure, 'radicale_cpu_ms'):>16}")


if __name__ == "__main__":
    main()
