"""An MCP server of the generation before 2026-07-28: the Python SDK 1.x's
FastMCP over streamable HTTP with sessions, behind uvicorn with mutual TLS
(client certificate required) — what `connect` meets when the gateway it is
pointed at does not serve the stateless revision (tests/gateway/connect_older.rs).

Usage: older_server.py PORT SERVER_CERT SERVER_KEY CLIENT_CA
"""

import ssl
import sys

import uvicorn
from mcp.server.fastmcp import FastMCP

port, certificate, key, client_ca = sys.argv[1:5]
server = FastMCP("older-server", instructions="An older MCP server.")


@server.tool()
def echo(text: str) -> str:
    """Answers with the text it was given."""
    return f"echo: {text}"


uvicorn.run(
    server.streamable_http_app(),
    host="127.0.0.1",
    port=int(port),
    ssl_certfile=certificate,
    ssl_keyfile=key,
    ssl_ca_certs=client_ca,
    ssl_cert_reqs=ssl.CERT_REQUIRED,
    log_level="warning",
)
