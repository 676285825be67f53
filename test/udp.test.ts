// Datagram endpoints: echo, addressing rules, errors reported to errorReceived, closing; over 127.0.0.1.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as dgram from "node:dgram";
import * as asyncio from "../src/index.js";
import { until } from "./helpers/net.js";

/** A datagram protocol that records what it gets, and echoes when asked to. */
class Recorder extends asyncio.DatagramProtocol {
  datagrams: [string, asyncio.DatagramAddress][] = [];
  errors: Error[] = [];
  events: string[] = [];
  transport: asyncio.DatagramTransport | null = null;
  lostWith: Error | null | undefined = undefined;
  readonly lost = asyncio.getRunningLoop().createFuture<void>();

  constructor(readonly echo = false) {
    super();
  }

  override connectionMade(transport: asyncio.DatagramTransport): void {
    this.events.push("made");
    this.transport = transport;
  }

  override datagramReceived(data: Buffer, addr: asyncio.DatagramAddress): void {
    this.datagrams.push([data.toString(), addr]);
    if (this.echo) this.transport!.sendto(Buffer.concat([Buffer.from("echo:"), data]), addr);
  }

  override errorReceived(exc: Error): void {
    this.errors.push(exc);
  }

  override connectionLost(exc: Error | null): void {
    this.events.push("lost");
    this.lostWith = exc;
    this.lost.setResult();
  }
}

async function echoServer(): Promise<[asyncio.DatagramTransport, Recorder, number]> {
  const [transport, protocol] = await asyncio.getRunningLoop().createDatagramEndpoint(() => new Recorder(true), {
    localAddr: ["127.0.0.1", 0],
  });
  return [transport, protocol, (transport.getExtraInfo("sockname") as [string, number])[1]];
}

test("a UDP echo between a bound endpoint and a connected one", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const [serverT, serverP, port] = await echoServer();
    const [client, clientP] = await loop.createDatagramEndpoint(() => new Recorder(), { remoteAddr: ["127.0.0.1", port] });
    assert.deepEqual(clientP.events, ["made"]);
    client.sendto("ping");
    client.sendto(Buffer.from("pong"), ["127.0.0.1", port]);
    await until(() => clientP.datagrams.length === 2, "both echoes");
    assert.deepEqual(
      clientP.datagrams.map(([d]) => d),
      ["echo:ping", "echo:pong"],
    );
    assert.deepEqual(clientP.datagrams[0]![1], ["127.0.0.1", port]);
    const clientName = client.getExtraInfo("sockname") as [string, number];
    assert.deepEqual(serverP.datagrams[0]![1], clientName);
    assert.deepEqual(client.getExtraInfo("peername"), ["127.0.0.1", port]);
    assert.equal(serverT.getExtraInfo("peername"), undefined);
    client.close();
    serverT.close();
    await clientP.lost;
    await serverP.lost;
    assert.equal(clientP.lostWith, null);
    assert.deepEqual(clientP.events, ["made", "lost"]);
  });
});

test("sendto on an unconnected endpoint goes to the address given", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const [serverT, , port] = await echoServer();
    const [client, clientP] = await loop.createDatagramEndpoint(() => new Recorder(), { localAddr: ["127.0.0.1", 0] });
    client.sendto("to server", ["127.0.0.1", port]);
    await until(() => clientP.datagrams.length === 1, "the echo");
    assert.equal(clientP.datagrams[0]![0], "echo:to server");
    client.close();
    serverT.close();
  });
});

test("a connected endpoint refuses any other address (RangeError)", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const [serverT, , port] = await echoServer();
    const [client] = await loop.createDatagramEndpoint(() => new Recorder(), { remoteAddr: ["127.0.0.1", port] });
    assert.throws(() => client.sendto("x", ["127.0.0.1", port + 1 === 65536 ? 1 : port + 1]), RangeError);
    assert.throws(() => client.sendto("x", "127.0.0.1" as unknown as asyncio.DatagramAddress), TypeError);
    assert.throws(() => client.sendto(7 as unknown as string), TypeError);
    client.close();
    serverT.close();
  });
});

test("sendto without an address on an unconnected endpoint reports EDESTADDRREQ to errorReceived", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const [t, p] = await loop.createDatagramEndpoint(() => new Recorder(), { localAddr: ["127.0.0.1", 0] });
    t.sendto("nowhere");
    assert.equal((p.errors[0] as { code?: string }).code, "EDESTADDRREQ");
    assert.equal(t.isClosing(), false);
    t.close();
  });
});

test("an ICMP port-unreachable on a connected endpoint reaches errorReceived and the endpoint stays open", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    // A port that was just free: bind, note it, close.
    const probe = dgram.createSocket("udp4");
    await new Promise<void>((r) => probe.bind(0, "127.0.0.1", r));
    const port = probe.address().port;
    await new Promise<void>((r) => probe.close(() => r()));
    const [t, p] = await loop.createDatagramEndpoint(() => new Recorder(), { remoteAddr: ["127.0.0.1", port] });
    for (let i = 0; i < 50 && p.errors.length === 0; i++) {
      t.sendto("anyone?");
      await asyncio.sleep(0.01);
    }
    assert.ok(p.errors.length > 0, "an error was reported");
    assert.equal((p.errors[0] as { code?: string }).code, "ECONNREFUSED");
    assert.equal(t.isClosing(), false);
    t.close();
    await p.lost;
  });
});

test("empty and large datagrams arrive whole", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const [serverT, serverP, port] = await echoServer();
    const [client, clientP] = await loop.createDatagramEndpoint(() => new Recorder(), { remoteAddr: ["127.0.0.1", port] });
    client.sendto(Buffer.alloc(0));
    client.sendto(Buffer.alloc(60000, 0x41));
    await until(() => serverP.datagrams.length === 2, "both datagrams");
    assert.equal(serverP.datagrams[0]![0], "");
    assert.equal(serverP.datagrams[1]![0].length, 60000);
    await until(() => clientP.datagrams.length === 2, "both echoes");
    assert.equal(client.getWriteBufferSize(), 0);
    client.close();
    serverT.close();
  });
});

test("close waits for queued datagrams; abort does not; connectionLost comes once", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const [serverT, serverP, port] = await echoServer();
    const [client, clientP] = await loop.createDatagramEndpoint(() => new Recorder(), { remoteAddr: ["127.0.0.1", port] });
    for (let i = 0; i < 10; i++) client.sendto(`n${i}`);
    client.close();
    client.close();
    assert.equal(client.isClosing(), true);
    client.sendto("after close");
    await clientP.lost;
    await until(() => serverP.datagrams.length === 10, "the ten datagrams");
    assert.ok(serverP.datagrams.every(([d]) => d !== "after close"));
    serverT.abort();
    serverT.abort();
    await serverP.lost;
    assert.deepEqual(serverP.events, ["made", "lost"]);
  });
});

test("datagramReceived throwing is reported and closes the endpoint with that error", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const errors: asyncio.ExceptionContext[] = [];
    loop.setExceptionHandler((_l, c) => errors.push(c));
    const boom = new Error("bad datagram");
    const lost = loop.createFuture<Error | null>();
    const [t] = await loop.createDatagramEndpoint(
      () => ({
        datagramReceived: () => {
          throw boom;
        },
        connectionLost: (e: Error | null) => lost.setResult(e),
      }),
      { localAddr: ["127.0.0.1", 0] },
    );
    const [client] = await loop.createDatagramEndpoint(() => new Recorder(), { remoteAddr: t.getExtraInfo("sockname") as [string, number] });
    client.sendto("x");
    assert.equal(await lost, boom);
    assert.equal(errors[0]!.exception, boom);
    assert.match(errors[0]!.message!, /datagramReceived/);
    client.close();
  });
});

test("pauseWriting/resumeWriting follow the datagram send queue", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const [serverT, , port] = await echoServer();
    const events: string[] = [];
    const [client] = await loop.createDatagramEndpoint(
      () => ({ pauseWriting: () => events.push("pause"), resumeWriting: () => events.push("resume") }),
      { remoteAddr: ["127.0.0.1", port] },
    );
    client.setWriteBufferLimits(100, 0);
    assert.deepEqual(client.getWriteBufferLimits(), [0, 100]);
    for (let i = 0; i < 5; i++) client.sendto(Buffer.alloc(50));
    assert.deepEqual(events, ["pause"]);
    await until(() => events.length === 2, "resumeWriting");
    assert.deepEqual(events, ["pause", "resume"]);
    assert.throws(() => client.setWriteBufferLimits(1, 2), RangeError);
    client.close();
    serverT.close();
  });
});

test("createDatagramEndpoint checks its arguments", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const f = (): asyncio.DatagramProtocol => new asyncio.DatagramProtocol();
    await assert.rejects(loop.createDatagramEndpoint(f), RangeError);
    await assert.rejects(loop.createDatagramEndpoint(f, { localAddr: "127.0.0.1" as unknown as [string, number] }), TypeError);
    await assert.rejects(loop.createDatagramEndpoint(f, { localAddr: ["127.0.0.1", 99999] }), RangeError);
    await assert.rejects(loop.createDatagramEndpoint(null as unknown as () => object, { family: 4 }), TypeError);
    await assert.rejects(loop.createDatagramEndpoint(f, { sock: dgram.createSocket("udp4"), family: 4 }), RangeError);
  });
});

test("family alone makes an endpoint bound to an ephemeral port", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const [serverT, , port] = await echoServer();
    const [client, clientP] = await loop.createDatagramEndpoint(() => new Recorder(), { family: 4 });
    assert.ok(client instanceof asyncio.DatagramTransport);
    client.sendto("hi", ["127.0.0.1", port]);
    await until(() => clientP.datagrams.length === 1, "the echo");
    client.close();
    serverT.close();
  });
});

test("an existing dgram socket can be handed over with sock", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const [serverT, , port] = await echoServer();
    const sock = dgram.createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
    const [client, clientP] = await loop.createDatagramEndpoint(() => new Recorder(), { sock });
    assert.equal(client.getExtraInfo("socket"), sock);
    client.sendto("adopted", ["127.0.0.1", port]);
    await until(() => clientP.datagrams.length === 1, "the echo");
    client.close();
    serverT.close();
  });
});
