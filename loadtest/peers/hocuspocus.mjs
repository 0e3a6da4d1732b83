// Hocuspocus 4 as the load tester's peer: in memory (no extensions, no persistence), quiet,
// on 127.0.0.1:$PORT. Prints exactly one line, `ready`, once it listens; exits on SIGTERM
// (Hocuspocus's own signal handler closes the connections, then exits).
import { Server } from "@hocuspocus/server";

const port = Number.parseInt(process.env.PORT ?? "", 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error("hocuspocus.mjs: set PORT to the port to listen on");
  process.exit(2);
}

const server = new Server({
  address: "127.0.0.1",
  port,
  quiet: true,
  stopOnSignals: true,
});

try {
  await server.listen();
} catch (e) {
  console.error("hocuspocus.mjs: cannot listen:", e);
  process.exit(1);
}
process.stdout.write("ready\n");
