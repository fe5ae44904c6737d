#!/usr/bin/env python3
"""Instructions per admitted keep-alive `tools/call` of the gateway under
callgrind, for several builds side by side in one run: a refactor must not
raise the count, and the count is deterministic, so two builds compare on a
noisy machine where req/s would not.

    python3 bench/instructions.py [--listing | --handshake [--resume]] OLD_BINARY NEW_BINARY [...]

Each binary serves the same configuration, PKI and request (bench/run.py's
stateless `get_current_time`); the load generator and the GeoIP tool come
from `cargo build --release --example bench-load --example bench-geoip`, and
valgrind must be installed (bench/run.sh installs it). With `--listing`,
the call is bench/run.py's `list_events` over a week of a 1,000-event
calendar (100 calls; the store is seeded once, by the last binary). With
`--handshake`, each of 200 calls comes on a new connection with a full mTLS
handshake (no resumption): the per-connection work, call included; with
`--resume` as well, each connection resumes a TLS session instead.
"""

import sys
from pathlib import Path

import measure
import servers
from servers import prepare, seed_events, start, stateless_headers


def main():
    arguments = sys.argv[1:]
    listing = "--listing" in arguments
    mode = "handshake" if "--handshake" in arguments else "keepalive"
    resume = mode == "handshake" and "--resume" in arguments
    binaries = [Path(b).resolve() for b in arguments if not b.startswith("--")]
    if not binaries or not all(b.is_file() for b in binaries):
        raise SystemExit(__doc__)
    # The PKI and token come from the last binary's quickstart.
    servers.GATEWAY_BIN = binaries[-1]
    prepare()
    if listing:
        seeding = start("gateway")
        seed_events(1000)
        seeding.stop()
        call = ("week.json", stateless_headers("list_events"), 100)
    elif mode == "handshake":
        call = ("time.json", stateless_headers("get_current_time"), 200)
    else:
        call = ("time.json", stateless_headers("get_current_time"), 500)
    counts = {}
    for binary in binaries:
        # servers.start reads the gateway's path from its own module globals.
        servers.GATEWAY_BIN = binary
        counts[binary] = measure.instructions("gateway", *call, mode=mode, resume=resume)
    first = counts[binaries[0]]
    print(f"{'instructions per call':>24}  {'vs first':>8}  binary")
    for binary, count in counts.items():
        print(f"{count:>24,.0f}  {count / first:>8.3f}  {binary}")


if __name__ == "__main__":
    main()
