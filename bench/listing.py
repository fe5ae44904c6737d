#!/usr/bin/env python3
"""list_events over a week of 1,000 events (168 answered): two gateway
binaries side by side, alternating runs on the same store, so that a change
to the listing path is measured against the build before it in one run:

    cargo build --release --bin mcp-gateway --example bench-load --example bench-geoip
    python3 bench/listing.py OLD_BINARY target/release/mcp-gateway

ROUNDS (3) and BENCH_SECONDS (5) change the run. The events_series_masters
index a newer store adds is dropped before each run of the older binary,
which would otherwise be measured with it."""

import os
import sqlite3
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import settings  # noqa: E402
import servers  # noqa: E402
from measure import load  # noqa: E402
from servers import prepare, start, seed_events, stateless_headers  # noqa: E402
from settings import WORK  # noqa: E402


def run_once(binary, with_index):
    """One measured run of `binary`: req/s, p50 and CPU µs per call."""
    if not with_index:
        db = sqlite3.connect(WORK / "calendar.db")
        db.execute("DROP INDEX IF EXISTS events_series_masters")
        db.commit()
        db.close()
    servers.GATEWAY_BIN = binary
    gateway = start("gateway")
    cpu = gateway.cpu_seconds()
    result = load("gateway", "keepalive", "week.json", stateless_headers("list_events"))
    spent = gateway.cpu_seconds() - cpu
    result["cpu_us"] = spent / (result["per_second"] * (settings.SECONDS + 2.0)) * 1e6
    gateway.stop()
    return result


def main():
    binaries = {"before": sys.argv[1], "after": sys.argv[2]}
    rounds = int(os.environ.get("ROUNDS", "3"))
    servers.GATEWAY_BIN = binaries["before"]
    prepare()
    seeding = start("gateway")
    seed_events(1000)
    seeding.stop()
    results = {name: [] for name in binaries}
    for _ in range(rounds):
        for name, binary in binaries.items():
            results[name].append(run_once(binary, with_index=name != "before"))
    print(f"{'binary':8} {'req/s':>8} {'p50 ms':>8} {'CPU µs/call':>12}")
    for name, runs in results.items():
        def median(key):
            return statistics.median(run[key] for run in runs)
        print(f"{name:8} {median('per_second'):8.0f} {median('p50_us') / 1000:8.2f} "
              f"{median('cpu_us'):12.0f}   runs: {[round(r['per_second']) for r in runs]}")


if __name__ == "__main__":
    main()
