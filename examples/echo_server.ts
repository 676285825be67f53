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
  // `[host, port]`; undefined when the client reset the connection before it was even accepted.
  const peer = writer.getExtraInfo("peername") as [string, number] | undefined;
  const who = peer === undefined ? "a client gone before it was accepted" : peer.join(":");
  console.log(`${who} connected`);
  try {
    // Lines until the client closes its side; a line longer than the reader's limit ends the connection.
    for await (const line of reader) {
      writer.write(line);
      await writer.drain();
    }
    console.log(`${who} closed the connection`);
  } catch (error) {
    // A reset (ConnectionResetError), a line over the limit (RangeError): the connection ends, the server goes on.
    if (error instanceof asyncio.CancelledError) throw error;
    console.log(`${who} failed: ${(error as Error).message}`);
  } finally {
    writer.close();
    await writer.waitClosed().catch(() => {});
  }
}

async function main(): Promise<void> {
  const port = Number(process.argv[2] ?? 8888);
  const server = await asyncio.startServer(handleEcho, "127.0.0.1", port);
  const addresses = server.sockets.map((s) => s.getsockname().join(":"));
  console.log(`serving on ${addresses.join(", ")}; Ctrl-C to stop`);
  await server.with(() => server.serveForever());
}

try {
  await asyncio.run(main);
} catch (error) {
  if (!(error instanceof asyncio.KeyboardInterrupt)) throw error;
  console.log("stopped");
}
