/**
 * A client for examples/echo_server.ts: sends a few lines, prints what comes back, then half-closes its side and
 * reads until the server closes too.
 *
 *   npm run example examples/echo_client.ts [port] [host]     (default 8888, 127.0.0.1)
 */
import * as asyncio from "asyncio-ts";

async function main(): Promise<void> {
  const port = Number(process.argv[2] ?? 8888);
  const host = process.argv[3] ?? "127.0.0.1";
  let reader: asyncio.StreamReader;
  let writer: asyncio.StreamWriter;
  try {
    [reader, writer] = await asyncio.openConnection(host, port);
  } catch (error) {
    // Node's system errors carry a code, e.g. ECONNREFUSED (Python's ConnectionRefusedError).
    console.error(`cannot connect to ${host}:${port}: ${(error as { code?: string }).code ?? (error as Error).message}`);
    process.exitCode = 1;
    return;
  }
  for (const message of ["hello", "from", "asyncio-ts"]) {
    writer.write(`${message}\n`);
    await writer.drain();
    const reply = await asyncio.waitFor(reader.readline(), 5);
    console.log(`sent ${JSON.stringify(message)}, got back ${JSON.stringify(reply.toString().trimEnd())}`);
  }
  writer.writeEof();
  const rest = await reader.read();
  console.log(`server closed the connection (${rest.length} more bytes)`);
  writer.close();
  await writer.waitClosed();
}

await asyncio.run(main);
