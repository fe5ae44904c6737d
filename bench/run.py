#!/usr/bin/env python3
"""The side-by-side benchmark: the gateway, nginx (client certificates,
allow/deny, geoip2) and the floor (bench/floor.rs), measured by the same load
generator (bench/load/) in one run on loopback. Prints a table with ratios
and writes the raw figures to bench/results/latest.json.

Run it through bench/run.sh, which installs what it needs and builds release.
Modules: settings (paths, ports, knobs), servers (setup and processes),
measure (load runs, idle memory, callgrind), report (the table).
Environment: BENCH_ROUNDS (measured runs per figure, default 3),
BENCH_SECONDS (seconds per run, default 5), BENCH_IDLE (connections held for
the RSS figure, default 10000), BENCH_CALLGRIND=0 to skip the instruction counts.
"""

import json
import resource
import sys
import time

from measure import idle_rss, instructions, rounds
import oha
from report import machine, table
from servers import stateless_headers, prepare, https, seed_events, start
from settings import WORK, RESULTS, ROUNDS, SECONDS, IDLE, CALLGRIND, CONNECTIONS, PORTS, SESSIONS


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
    print("the same with oha", file=sys.stderr)
    figures["keepalive_stateless_oha"] = rounds(everyone, "keepalive", "time.json", time_headers,
                                                loader="oha")
    figures["handshake_oha"] = rounds(everyone, "handshake", "time.json", time_headers,
                                      loader="oha")
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
    figures["list_events_week_oha"] = rounds(
        [gateway], "keepalive", "week.json", stateless_headers("list_events"), loader="oha")


def main():
    # Each process holds IDLE connections at most (the loader, or a server);
    # raise the soft limit as far as the hard one allows.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = IDLE * 2 + 1000
    limit = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, limit), hard))
    if limit < IDLE + 500:
        raise SystemExit(f"the open-file limit ({hard}) is too low for BENCH_IDLE={IDLE}")
    if not oha.OHA:
        raise SystemExit("oha is missing: bench/run.sh installs it (cargo install oha --locked)")
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


if __name__ == "__main__":
    main()
