"""Runs the README's client flows exactly as written, against a quickstart gateway.

Usage: readme_flows.py README DIR PORT PYTHON_MCP2 PYTHON_MCP1

Every fenced block preceded by `<!-- e2e: KIND NAME -->` is taken from the
README, its `dev/` paths pointed at DIR and its port at PORT, then run: `python
mcp2` blocks with the mcp 2.x interpreter, `python mcp1` blocks with the mcp 1.x
one, `sh` blocks with bash (the gateway binary on its PATH as `mcp-gateway`). Each must exit 0 and print what the flow promises.
"""

import re
import subprocess
import sys

EXPECTED = {
    "mcp2": ["2026-07-28", "'create_event'", "Hello from Python", "'timeZone': 'Europe/Paris'"],
    "mcp1": ["'get_current_time'", "'timeZone': 'Europe/Paris'"],
    "curl-sessions": ['"identity":"demo-client"'],
    "curl-stateless": ['"timeZone":"Europe/Paris"'],
    "connect-config": ['"mcpServers"', '"--token-file"'],
    "connect-check": ["ok    call", '"identity":"demo-client"'],
}


def blocks(readme: str):
    pattern = re.compile(r"<!-- e2e: (\w+) ([\w-]+) -->\n```\w+\n(.*?)```", re.S)
    return [(kind, name, body) for kind, name, body in pattern.findall(readme)]


def main(readme_path: str, directory: str, port: str, python2: str, python1: str) -> None:
    readme = open(readme_path).read()
    found = blocks(readme)
    names = sorted(name for _, name, _ in found)
    assert names == sorted(EXPECTED), f"README flows marked for e2e: {names}"
    for kind, name, body in found:
        code = body.replace("dev/", f"{directory}/").replace("127.0.0.1:8443", f"127.0.0.1:{port}")
        command = {"python": [python2 if name == "mcp2" else python1, "-c", code], "sh": ["bash", "-euo", "pipefail", "-c", code]}[kind]
        run = subprocess.run(command, capture_output=True, text=True, timeout=60)
        output = run.stdout
        assert run.returncode == 0, f"{name} failed ({run.returncode}):\n{output}\n{run.stderr}"
        for expected in EXPECTED[name]:
            assert expected in output, f"{name}: {expected!r} not in:\n{output}"
        print(f"README flow {name}: ok")


if __name__ == "__main__":
    main(*sys.argv[1:6])
