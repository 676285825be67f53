// W6 echo: a TCP echo server on 127.0.0.1 written with our streams, one with our protocols, and a raw node:net one
// (`on('data') → write`), all driven by the same raw node:net client in a process of its own:
// 20 connections × 5,000 round trips of 1 KiB, then 20 × 500 round trips of 64 KiB.
//
// The figure the runner compares is round trips per second at 1 KiB through the streams server; the details give
// the 64 KiB throughput (MB/s of payload echoed, 1 MB = 10^6 bytes) and the same two figures for the protocols server.
//
// This file is also the client: `node w6_echo.mjs client <port> <connections> <round trips> <size>` prints
// `{"seconds": ...}`, the time of the round trips alone (connecting and a short warm-up are not counted).
import { fork } from "node:child_process";
import { Buffer } from "node:buffer";
import * as net from "node:net";
import { fileURLToPath } from "node:url";

const CONNECTIONS = 20;
const SMALL = { size: 1024, rounds: 5_000 };
const LARGE = { size: 64 * 1024, rounds: 500 };
const WARMUP_ROUNDS = 50;

// ------------------------------------------------------------------ the client (its own process)

function connect(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: "127.0.0.1", noDelay: true }, () => resolve(sock));
    sock.once("error", reject);
  });
}

/** `rounds` round trips of `payload` on one socket: write it, wait until as many bytes came back, repeat. */
function pingPong(sock, payload, rounds) {
  return new Promise((resolve, reject) => {
    let pending = payload.length;
    let left = rounds;
    const onData = (chunk) => {
      pending -= chunk.length;
      if (pending > 0) return;
      if (pending < 0) {
        reject(new Error(`W6: the server sent ${-pending} bytes too many`));
        return;
      }
      if (--left === 0) {
        sock.removeListener("data", onData);
        resolve();
        return;
      }
      pending = payload.length;
      sock.write(payload);
    };
    sock.on("data", onData);
    sock.once("error", reject);
    sock.write(payload);
  });
}

async function runClient(port, connections, rounds, size) {
  const payload = Buffer.alloc(size, 0x78);
  const socks = await Promise.all(Array.from({ length: connections }, () => connect(port)));
  await Promise.all(socks.map((s) => pingPong(s, payload, WARMUP_ROUNDS)));
  const t0 = performance.now();
  await Promise.all(socks.map((s) => pingPong(s, payload, rounds)));
  const seconds = (performance.now() - t0) / 1000;
  for (const s of socks) s.end();
  process.send({ seconds });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === "client") {
  const [port, connections, rounds, size] = process.argv.slice(3).map(Number);
  await runClient(port, connections, rounds, size);
  process.disconnect();
}

// ------------------------------------------------------------------ the measurements

/** Runs the client process against `port` and returns its round-trip time. */
function drive(port, { size, rounds }) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ["client", String(port), String(CONNECTIONS), String(rounds), String(size)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let result = null;
    child.on("message", (m) => (result = m));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 && result ? resolve(result.seconds) : reject(new Error(`W6 client exited with ${code}`))));
  });
}

/** The server's CPU time (user + system, µs) spent while `run` drives the client, and what `run` returned. */
async function withServerCpu(run) {
  const before = process.cpuUsage();
  const result = await run();
  const used = process.cpuUsage(before);
  return [result, used.user + used.system];
}

/**
 * Both figures against one server: round trips/s at 1 KiB and MB/s at 64 KiB, with the server's CPU per round trip
 * (warm-up round trips included), so that the client's share of the two cores is visible.
 */
export async function measure(port) {
  const [small, smallCpu] = await withServerCpu(() => drive(port, SMALL));
  const [large, largeCpu] = await withServerCpu(() => drive(port, LARGE));
  return {
    rtPerSec: (CONNECTIONS * SMALL.rounds) / small,
    mbPerSec: (CONNECTIONS * LARGE.rounds * LARGE.size) / large / 1e6,
    cpuUsPerRt: smallCpu / (CONNECTIONS * (SMALL.rounds + WARMUP_ROUNDS)),
    cpuUsPerRt64K: largeCpu / (CONNECTIONS * (LARGE.rounds + WARMUP_ROUNDS)),
  };
}

export default {
  id: "W6",
  title: "TCP echo, 20 conns × 5,000 × 1 KiB (streams server; details: 64 KiB MB/s, protocols server)",
  unit: "round trips/s",
  higherIsBetter: true,

  async ours(asyncio) {
    return asyncio.run(async () => {
      const streamsServer = await asyncio.startServer(
        async (reader, writer) => {
          for (;;) {
            const data = await reader.read(65536);
            if (data.length === 0) break;
            writer.write(data);
            await writer.drain();
          }
          writer.close();
        },
        "127.0.0.1",
        0,
      );
      const streams = await measure(streamsServer.sockets[0].getsockname()[1]);
      streamsServer.close();
      streamsServer.closeClients();
      await streamsServer.waitClosed();

      class Echo extends asyncio.Protocol {
        connectionMade(transport) {
          this.transport = transport;
        }
        dataReceived(data) {
          this.transport.write(data);
        }
      }
      const loop = asyncio.getRunningLoop();
      const protocolServer = await loop.createServer(() => new Echo(), "127.0.0.1", 0);
      const protocols = await measure(protocolServer.sockets[0].getsockname()[1]);
      protocolServer.close();
      protocolServer.closeClients();
      await protocolServer.waitClosed();

      return {
        value: streams.rtPerSec,
        streamsMBps64K: streams.mbPerSec,
        protocolsRtPerSec: protocols.rtPerSec,
        protocolsMBps64K: protocols.mbPerSec,
        streamsCpuUsPerRt: streams.cpuUsPerRt,
        streamsCpuUsPerRt64K: streams.cpuUsPerRt64K,
        protocolsCpuUsPerRt: protocols.cpuUsPerRt,
        protocolsCpuUsPerRt64K: protocols.cpuUsPerRt64K,
      };
    });
  },

  async baseline() {
    const sockets = new Set();
    const server = net.createServer((sock) => {
      sockets.add(sock);
      sock.setNoDelay(true);
      sock.on("data", (data) => sock.write(data));
      sock.on("error", () => {});
      sock.on("close", () => sockets.delete(sock));
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const raw = await measure(server.address().port);
    server.close();
    for (const s of sockets) s.destroy();
    return { value: raw.rtPerSec, rawMBps64K: raw.mbPerSec, rawCpuUsPerRt: raw.cpuUsPerRt, rawCpuUsPerRt64K: raw.cpuUsPerRt64K };
  },
};
