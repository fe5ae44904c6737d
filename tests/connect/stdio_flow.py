"""The Python MCP SDK's stdio client launching `mcp-gateway connect`, as a
desktop client does (tests/gateway/connect_clients.rs runs it).

Usage:
  stdio_flow.py flow STDERR_FILE -- BINARY ARGS...
      lists the tools, creates an event, finds it in a listing, deletes it,
      and finds it gone; prints "flow ok" and exits 0, else raises.
  stdio_flow.py workload SECONDS STDERR_FILE -- BINARY ARGS...
      calls get_access_info every 0.2 s for SECONDS (stopping at the first
      error), then prints one JSON line: {"calls": n, "errors": [messages],
      "tokens": [the distinct tokenExpiresAt values seen]}.
"""

import asyncio
import json
import sys
import time

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
try:  # SDK 2.x
    from mcp.shared.exceptions import MCPError as RpcError
except ImportError:  # SDK 1.x
    from mcp.shared.exceptions import McpError as RpcError


def failed(result) -> bool:
    """The result's isError, in either SDK generation's spelling."""
    return getattr(result, "is_error", None) or getattr(result, "isError", False)


def content(result) -> dict:
    """The result's structuredContent, in either SDK generation's spelling."""
    found = getattr(result, "structured_content", None)
    return found if found is not None else result.structuredContent


def message(error: Exception) -> str:
    """The JSON-RPC error message an SDK exception carries."""
    inner = getattr(error, "error", None)
    return getattr(inner, "message", None) or getattr(error, "message", None) or str(error)


async def flow(session: ClientSession) -> None:
    tools = {t.name for t in (await session.list_tools()).tools}
    for expected in ("create_event", "list_events", "delete_event", "get_access_info"):
        assert expected in tools, (expected, sorted(tools))
    window = {"calendarId": "team", "timeMin": "2032-03-04T00:00:00Z", "timeMax": "2032-03-05T00:00:00Z"}
    created = await session.call_tool("create_event", {
        "calendarId": "team",
        "summary": "through connect",
        "start": {"dateTime": "2032-03-04T09:00:00Z"},
        "end": {"dateTime": "2032-03-04T10:00:00Z"},
    })
    assert not failed(created), created
    event_id = content(created)["id"]
    listed = await session.call_tool("list_events", window)
    assert not failed(listed), listed
    assert event_id in [i["id"] for i in content(listed)["items"]], listed
    deleted = await session.call_tool("delete_event", {"calendarId": "team", "eventId": event_id})
    assert not failed(deleted), deleted
    listed = await session.call_tool("list_events", window)
    assert event_id not in [i["id"] for i in content(listed)["items"]], listed
    print("flow ok")


async def workload(session: ClientSession, seconds: float) -> None:
    calls, errors, tokens = 0, [], []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            result = await session.call_tool("get_access_info", {})
            calls += 1
            if failed(result):
                errors.append(str(result.content))
                break
            expires = content(result)["tokenExpiresAt"]
            if expires not in tokens:
                tokens.append(expires)
        except RpcError as error:
            errors.append(message(error))
            break
        await asyncio.sleep(0.2)
    print(json.dumps({"calls": calls, "errors": errors, "tokens": tokens}))


async def main() -> None:
    mode = sys.argv[1]
    rest = sys.argv[2:]
    separator = rest.index("--")
    options, command = rest[:separator], rest[separator + 1:]
    stderr_file = options[-1]
    server = StdioServerParameters(command=command[0], args=command[1:])
    with open(stderr_file, "w") as errlog:
        async with stdio_client(server, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                if mode == "flow":
                    await flow(session)
                else:
                    await workload(session, float(options[0]))


asyncio.run(main())
