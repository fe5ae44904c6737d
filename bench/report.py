"""The benchmark's report: the machine it ran on and the table of medians,
spreads and ratios."""

import os
import platform
import subprocess
from pathlib import Path

import oha
from settings import IDLE, CONNECTIONS


def machine():
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(), "nginx": nginx,
            "oha": oha.version()}


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

    for key, loader in (("keepalive_stateless", "own loader"), ("keepalive_stateless_oha", "oha")):
        row(f"keep-alive tools/call, stateless, {loader}: req/s", key)
        row("  p50 µs", key, "p50_us")
        row("  p99 µs", key, "p99_us")
        row("  server CPU µs per request", key, "cpu_us_per_request")
    row("keep-alive, one session per connection: req/s", "keepalive_sessions")
    row("  p50 µs", "keepalive_sessions", "p50_us")
    row("keep-alive, 16 connections on ONE session: req/s", "keepalive_one_session")
    for key, loader in (("list_events_week", "own loader"), ("list_events_week_oha", "oha")):
        row(f"list_events (a week of 1,000 events), {loader}: req/s", key)
        row("  p50 µs", key, "p50_us")
    row("full mTLS handshake + 1 call: conn/s", "handshake_full")
    row("  server CPU µs per connection", "handshake_full", "cpu_us_per_request")
    row("resumed handshake + 1 call: conn/s", "handshake_resumed")
    row("  server CPU µs per connection", "handshake_resumed", "cpu_us_per_request")
    row("oha, a connection per call (it resumes): conn/s", "handshake_oha")
    row("  server CPU µs per connection", "handshake_oha", "cpu_us_per_request")
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
                  f"{m['nginx']}, {m.get('oha') or 'no oha'}; {report['rounds']} runs of {report['seconds']:g} s (after 2 s of "
                  f"warm-up; none for oha, after the own loader's runs) per server and loader, the "
                  f"servers taken in turn; {CONNECTIONS} connections, HTTP/1.1, TLS 1.3, ECDSA "
                  f"P-256. The own loader runs on one core, oha on both (beside the server).",
              f"One session ÷ one session per connection: {shared / one:.2f}; "
              f"resumed ÷ full handshakes: {resumed / full:.2f}; "
              f"refusals ÷ full handshakes: {refusals / full:.2f}.",
              "Failed requests in all runs: " + (", ".join(
                  f"{k}/{s}={v[s]['failed']}" for k, v in f.items()
                  if k not in ("idle_rss", "idle_rss_handshake_only", "instructions") for s in v if v[s]["failed"]) or "none")]
    return "\n".join(lines)
