"""End-to-end check with the official Python MCP SDK, as a new user would connect.

Usage: python_client.py DIR URL
DIR holds the quickstart's ca.pem, client.pem, client.key and client.token. The
script lists the tools, checks its access, creates an event and lists it back;
it exits non-zero on any mismatch.
"""

import asyncio
import ssl
import sys
import uuid

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client


async def main(directory: str, url: str) -> None:
    ctx = ssl.create_default_context(cafile=f"{directory}/ca.pem")
    ctx.load_cert_chain(f"{directory}/client.pem", f"{directory}/client.key")
    token = open(f"{directory}/client.token").read().strip()
    title = f"python-sdk-{uuid.uuid4().hex[:8]}"
    # A request without the token is refused with the MCP authorization challenge.
    async with httpx2.AsyncClient(verify=ctx) as bare:
        refused = await bare.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                                  headers={"Accept": "application/json, text/event-stream"})
        assert refused.status_code == 401, refused.status_code
        assert "resource_metadata=" in refused.headers["www-authenticate"], refused.headers
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(verify=ctx, headers=headers) as http:
        async with streamable_http_client(url, http_client=http) as (read, write, *_):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = sorted(t.name for t in (await session.list_tools()).tools)
                print("tools:", ", ".join(tools))
                expected = {"list_calendars", "list_events", "create_event", "get_event", "update_event",
                            "delete_event", "respond_to_event", "get_freebusy", "find_free_slots",
                            "get_current_time"}
                missing = expected - set(tools)
                assert not missing, f"missing tools: {missing}"
                access = await session.call_tool("get_access_info", {})
                assert access.structured_content["identity"] == "demo-client", access
                assert access.structured_content["calendars"] == ["*"], access
                created = await session.call_tool("create_event", {
                    "summary": title,
                    "start": {"dateTime": "2031-05-06T09:00:00", "timeZone": "Europe/Paris"},
                    "end": {"dateTime": "2031-05-06T10:00:00", "timeZone": "Europe/Paris"},
                })
                assert not created.is_error, created
                event_id = created.structured_content["id"]
                listed = await session.call_tool("list_events", {
                    "timeMin": "2031-05-06T00:00:00Z", "timeMax": "2031-05-07T00:00:00Z",
                    "query": title, "timeZone": "Europe/Paris",
                })
                assert not listed.is_error, listed
                items = listed.structured_content["items"]
                assert [i["id"] for i in items] == [event_id], items
                assert items[0]["start"]["dateTime"] == "2031-05-06T09:00:00+02:00", items[0]
                print("created and listed", event_id)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
