"""The benchmark's measurements: runs of the load generator (bench/load/)
against the servers in turn, idle-connection memory, and instruction counts
under callgrind."""

import json
import statistics
import subprocess
import time

import oha
from servers import stateless_headers, token, start
from settings import WORK, LOAD_BIN, ROUNDS, SECONDS, IDLE, PORTS, sh



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


def one_run(server, mode, body, headers, extra, run, loader="own"):
    """One measured run by `loader` (bench/load/ or oha); with the CPU the
    server used per successful request."""
    cpu = server.cpu_seconds()
    if loader == "oha":
        result = oha.run(server.name, mode, body, headers, SECONDS)
        spent = server.cpu_seconds() - cpu
        result["cpu_us_per_request"] = spent / result["ok"] * 1e6 if result["ok"] else None
        return result
    source = ["--source", refusal_source(server.name, run)] if mode == "refuse" else []
    result = load(server.name, mode, body, headers, [*extra, *source])
    # Warm-up requests cost CPU too: charge the CPU of the whole run to the
    # requests of the whole run, estimated from the measured rate.
    spent = server.cpu_seconds() - cpu
    total_seconds = SECONDS + 2.0
    result["cpu_us_per_request"] = (spent / (result["per_second"] * total_seconds) * 1e6
                                    if result["per_second"] else None)
    return result


def rounds(servers, mode, body, headers=(), extra=(), loader="own"):
    """ROUNDS runs on each server, taken in turn (gateway, nginx, floor, then
    again), so that a noisy minute on a shared machine weighs on all of them."""
    runs = {server.name: [] for server in servers}
    for run in range(ROUNDS):
        for server in servers:
            runs[server.name].append(one_run(server, mode, body, headers, extra, run, loader))
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


IDLE_SETTLE_SECONDS = 3


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
    # Every server gets the same few seconds to settle its idle connections
    # (the gateway sets an HTTP/1.1 connection aside after 1 s idle).
    time.sleep(IDLE_SETTLE_SECONDS)
    after = server.rss_kib()
    loader.stdin.close()
    loader.wait(60)
    held = ready["held"]
    return {"held": held, "failed": ready["failed"], "rss_before_kib": before,
            "rss_after_kib": after,
            "kib_per_connection": (after - before) / held if held else None}


def instructions(name, body, headers, count=500, mode="keepalive", resume=False):
    """Instructions per admitted request under callgrind (`mode` "keepalive",
    or "handshake": a full mTLS handshake per call, or a resumed one with
    `resume`): counters zeroed after a warm-up, then `count` requests, then
    dumped."""
    out = WORK / f"callgrind.{name}"
    server = start(name, valgrind_out=out)
    try:
        extra = ["--connections", 1] + (["--resume"] if resume else [])
        load(name, mode, body, headers, extra + ["--count", 50], seconds=120, warmup=0)
        sh("callgrind_control", "-z", server.process.pid, stdout=subprocess.DEVNULL)
        result = load(name, mode, body, headers, extra + ["--count", count],
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
