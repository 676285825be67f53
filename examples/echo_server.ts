/**
 * A TCP echo server on streams: every line a client sends comes back.
 *
 *   npm run example examples/echo_server.ts [port]     (default 8888; Ctrl-C stops it)
 *   npm run example examples/echo_client.ts [port]     (in another terminal; or `nc 127.0.0.1 8888`)
 *
 * As in Python: `startServer` calls the handler for each connection in a task of its own, and `serveForever()`
 * inside `server.with(...)` serves until cancelled (Ctrl-C), then closes the server and waits for its connections.
 */
import * as asyncio from "asyncio-ts";

async function handleEcho(reader: asyncio.StreamReader, writer: asyncio.StreamWriter): Promise<void> {
  const [host, port] = writer.getExtraInfo("peername") as [string, number];
  console.log(`${host}:${port} connected`);
  try {
    // Lines until the client closes its side; a line longer than the reader's limit ends the connection.
    for await (const line of reader) {
      writer.write(line);
      await writer.drain();
    }
    console.log(`${host}:${port} closed the connection`);
  } catch (error) {
    console.log(`${host}:${port} failed: ${(error as Error).message}`);
  } finally {
    writer.close();
    await writer.waitClosed().catch(() => {});
  }
}

async function main(): Promise<void> {
  const port = Number(process.argv[2] ?? 8888);
  const server = await asyncio.startServer(handleEcho, "127.0.0.1", port);
  const addresses = server.sockets.map((s) => (s.getsockname() as [string, number]).join(":"));
  console.log(`serving on ${addresses.join(", ")}; Ctrl-C to stop`);
  await server.with(() => server.serveForever());
}

try {
  await asyncio.run(main);
} catch (error) {
  if (!(error instanceof asyncio.KeyboardInterrupt)) throw error;
  console.log("stopped");
}
