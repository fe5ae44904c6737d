"""End-to-end check with the official Python MCP SDK, as a new user would connect.

Usage: python_client.py DIR URL
DIR holds the quickstart's ca.pem, client.pem, client.key and client.token. The
script lists the tools, then calls every one of them successfully — the SDK
validates each result's structuredContent against the tool's outputSchema
(jsonschema) and raises on a mismatch — and checks the answers; it exits
non-zero on any mismatch.
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
                # The zone given is the zone returned.
                assert created.structured_content["start"]["timeZone"] == "Europe/Paris", created
                print("created and listed", event_id)

                async def ok(tool: str, arguments: dict) -> dict:
                    result = await session.call_tool(tool, arguments)
                    assert not result.is_error, (tool, result)
                    return result.structured_content

                window = {"timeMin": "2031-05-06T00:00:00Z", "timeMax": "2031-05-07T00:00:00Z"}
                assert any(c["id"] == "primary" for c in (await ok("list_calendars", {}))["calendars"])
                assert (await ok("get_event", {"eventId": event_id}))["summary"] == title
                await ok("update_event", {"eventId": event_id, "summary": title + "-renamed",
                                          "attendees": [{"email": "ana@example.com"}]})
                answered = await ok("respond_to_event", {"eventId": event_id, "attendeeEmail": "ana@example.com",
                                                          "response": "accepted"})
                assert answered["attendees"][0]["responseStatus"] == "accepted", answered
                busy = await ok("get_freebusy", {"calendarIds": ["primary"], **window})
                assert busy["calendars"]["primary"]["busy"], busy
                slots = await ok("find_free_slots", {"calendarIds": ["primary"], "durationMinutes": 30, **window})
                assert slots["slots"], slots
                assert (await ok("get_current_time", {"timeZone": "Europe/Paris"}))["timeZone"] == "Europe/Paris"
                assert (await ok("delete_event", {"eventId": event_id}))["deleted"] == event_id
                print("every tool answered within its output schema")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
