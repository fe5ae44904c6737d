// The TypeScript SDK's StdioClientTransport launching `mcp-gateway connect`,
// as a desktop client does (tests/gateway/connect_clients.rs runs it).
//
// Usage: node ts_flow.mjs BINARY ARGS...
// Lists the tools, creates an event, finds it in a listing, deletes it and
// finds it gone; prints "flow ok" and exits 0, else exits 1 with the reason.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [command, ...args] = process.argv.slice(2);
const transport = new StdioClientTransport({ command, args, stderr: "inherit" });
const client = new Client({ name: "ts-sdk-through-connect", version: "1.0.0" });

function check(condition, what) {
  if (!condition) {
    throw new Error(what);
  }
}

try {
  await client.connect(transport);
  const tools = (await client.listTools()).tools.map((t) => t.name);
  for (const expected of ["create_event", "list_events", "delete_event"]) {
    check(tools.includes(expected), `missing tool ${expected}: ${tools}`);
  }
  const window = { calendarId: "team", timeMin: "2032-04-05T00:00:00Z", timeMax: "2032-04-06T00:00:00Z" };
  const created = await client.callTool({
    name: "create_event",
    arguments: {
      calendarId: "team",
      summary: "through connect (TypeScript)",
      start: { dateTime: "2032-04-05T09:00:00Z" },
      end: { dateTime: "2032-04-05T10:00:00Z" },
    },
  });
  check(!created.isError, `create_event: ${JSON.stringify(created)}`);
  const id = created.structuredContent.id;
  const ids = async () =>
    (await client.callTool({ name: "list_events", arguments: window })).structuredContent.items.map((i) => i.id);
  check((await ids()).includes(id), "the event is not listed");
  const deleted = await client.callTool({ name: "delete_event", arguments: { calendarId: "team", eventId: id } });
  check(!deleted.isError, `delete_event: ${JSON.stringify(deleted)}`);
  check(!(await ids()).includes(id), "the event is still listed");
  console.log("flow ok");
  await client.close();
} catch (error) {
  console.error(`ts_flow: ${error.message}`);
  process.exit(1);
}
