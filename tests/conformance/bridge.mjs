// A transparent mutual-TLS bridge for the official MCP conformance suite,
// which presents no client certificate: plain HTTP on loopback in, the
// gateway over mutual TLS out, with the client's certificate and a bearer
// token added. Everything else (method, path, headers, Host included, and
// both bodies, streamed) passes unchanged, so the suite sees the gateway's
// own answers.
//
// Usage: node bridge.mjs LISTEN_PORT GATEWAY_URL CA_PEM CERT_PEM KEY_PEM TOKEN_FILE
import http from "node:http";
import https from "node:https";
import fs from "node:fs";

const [port, gateway, caPath, certPath, keyPath, tokenPath] = process.argv.slice(2);
const target = new URL(gateway);
const tls = {
  ca: fs.readFileSync(caPath),
  cert: fs.readFileSync(certPath),
  key: fs.readFileSync(keyPath),
  servername: "localhost",
};
const token = fs.readFileSync(tokenPath, "utf8").trim();
const agent = new https.Agent({ ...tls, keepAlive: true });

const server = http.createServer((request, response) => {
  const headers = { ...request.headers };
  if (!headers.authorization) {
    headers.authorization = `Bearer ${token}`;
  }
  const upstream = https.request(
    {
      host: target.hostname,
      port: target.port,
      path: request.url,
      method: request.method,
      headers,
      agent,
      ...tls,
    },
    (answer) => {
      response.writeHead(answer.statusCode, answer.rawHeaders);
      answer.pipe(response);
    },
  );
  upstream.on("error", (error) => {
    if (!response.headersSent) {
      response.writeHead(502, { "content-type": "text/plain" });
    }
    response.end(`bridge: ${error.message}\n`);
  });
  request.pipe(upstream);
});
server.listen(Number(port), "127.0.0.1", () => {
  console.log(`bridge listening on 127.0.0.1:${port} -> ${gateway}`);
});
