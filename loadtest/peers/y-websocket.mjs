// The y-websocket reference server (@y/websocket-server 0.1.1) as the load tester's peer. Its
// bin (`src/server.js`) cannot be told to announce readiness, so this file does what that bin
// does — an http server whose upgrades go to the package's own `setupWSConnection`, with the
// same `ws` it resolves — on 127.0.0.1:$PORT, and prints exactly one line, `ready`, once it
// listens. No persistence: YPERSISTENCE and CALLBACK_URL are cleared before the package reads
// them. Exits on SIGTERM.
import http from "node:http";

const port = Number.parseInt(process.env.PORT ?? "", 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error("y-websocket.mjs: set PORT to the port to listen on");
  process.exit(2);
}

// utils.js reads these when it is first imported, hence the dynamic imports below.
delete process.env.YPERSISTENCE;
delete process.env.CALLBACK_URL;

const { default: WebSocket } = await import("ws");
const { setupWSConnection } = await import("@y/websocket-server/utils");

const wss = new WebSocket.Server({ noServer: true });
wss.on("connection", setupWSConnection);

const server = http.createServer((_request, response) => {
  response.writeHead(200, { "Content-Type": "text/plain" });
  response.end("okay");
});
server.on("upgrade", (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, (ws) => {
    wss.emit("connection", ws, request);
  });
});

const stop = () => {
  for (const client of wss.clients) client.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

server.on("error", (e) => {
  console.error("y-websocket.mjs: cannot listen:", e);
  process.exit(1);
});
server.listen(port, "127.0.0.1", () => {
  process.stdout.write("ready\n");
});
