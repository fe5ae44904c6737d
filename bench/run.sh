#!/usr/bin/env bash
# The side-by-side benchmark (bench/README.md): installs nginx with the geoip2
# module and valgrind when missing, builds release, and runs bench/run.py on
# loopback. Takes about ten minutes on 2 cores; prints the table and writes
# bench/results/latest.json.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v nginx >/dev/null || missing+=(nginx)
[ -e /usr/lib/nginx/modules/ngx_http_geoip2_module.so ] || missing+=(libnginx-mod-http-geoip2)
command -v valgrind >/dev/null || missing+=(valgrind)
if [ ${#missing[@]} -gt 0 ]; then
    sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
    $sudo_ apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -q "${missing[@]}"
    # The package starts a default nginx on port 80; the benchmark runs its own.
    $sudo_ systemctl disable --now nginx 2>/dev/null || $sudo_ nginx -s stop 2>/dev/null || true
fi

# The second load generator (bench/oha.py); its version is in the report.
command -v oha >/dev/null || cargo install oha --locked

cargo build --release --bin mcp-gateway --example bench-load --example bench-floor --example bench-geoip
exec python3 bench/run.py "$@"
