#!/usr/bin/env python3
"""Memory per held idle mTLS connection of the gateway, for several builds
side by side in one run: after one call each (what a keep-alive client
leaves) and after the handshake alone.

    python3 bench/idle.py OLD_BINARY NEW_BINARY [...]

Each binary serves the same configuration, PKI and request (bench/run.py's
stateless `get_current_time`), holding BENCH_IDLE connections (10,000 by
default) as bench/run.py does; the load generator and the GeoIP tool come
from `cargo build --release --example bench-load --example bench-geoip`.
"""

import sys
from pathlib import Path

import measure
import servers
from servers import prepare, start


def main():
    binaries = [Path(b).resolve() for b in sys.argv[1:]]
    if not binaries or not all(b.is_file() for b in binaries):
        raise SystemExit(__doc__)
    # The PKI and token come from the last binary's quickstart.
    servers.GATEWAY_BIN = binaries[-1]
    prepare()
    print(f"{'KiB after a call':>17}  {'KiB handshake only':>18}  binary")
    for binary in binaries:
        # servers.start reads the gateway's path from its own module globals.
        servers.GATEWAY_BIN = binary
        figures = []
        for request in (True, False):
            server = start("gateway")
            try:
                figures.append(measure.idle_rss(server, request)["kib_per_connection"])
            finally:
                server.stop()
        print(f"{figures[0]:>17.1f}  {figures[1]:>18.1f}  {binary}")


if __name__ == "__main__":
    main()
