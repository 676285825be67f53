// TLS on both sides: handshake, certificate and host name checks on by default, extra information, startTls
// upgrades, client certificates, timeouts; after what CPython's test_sslproto.py checks. The certificates are made
// in the set-up (see helpers/net.ts), so nothing needs to be installed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import * as net from "node:net";
import * as tls from "node:tls";
import { join } from "node:path";
import * as asyncio from "../src/index.js";
import { certs, echoHandler, portOf, tempDir, until } from "./helpers/net.js";

const str = (x: Uint8Array): string => Buffer.from(x).toString();
const serverSSL = (): asyncio.SSLOptions => ({ key: certs().serverKey, cert: certs().serverCert });
const clientSSL = (): asyncio.SSLOptions => ({ ca: certs().ca });
const code = (e: unknown): string | undefined => (e as { code?: string }).code;

test(`the certificates are made in the set-up (${certs().maker})`, () => {
  const c = certs();
  assert.match(c.ca, /BEGIN CERTIFICATE/);
  assert.match(c.serverKey, /PRIVATE KEY/);
  const x = new X509Certificate(c.serverCert);
  assert.equal(x.checkHost("localhost"), "localhost");
  assert.equal(x.checkIP("127.0.0.1"), "127.0.0.1");
});

test("a TLS echo over streams, verified against the test CA", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0, { ssl: serverSSL() });
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", portOf(server), { ssl: clientSSL(), serverHostname: "localhost" });
    writer.write("secret\n");
    assert.equal(str(await reader.readline()), "secret\n");
    writer.close();
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
  });
});

test("tls.SecureContext objects work on both sides, and an IP host is checked against the IP SAN", async () => {
  await asyncio.run(async () => {
    const serverCtx = tls.createSecureContext(serverSSL());
    const clientCtx = tls.createSecureContext(clientSSL());
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0, { ssl: serverCtx });
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", portOf(server), { ssl: clientCtx });
    writer.write("ctx\n");
    assert.equal(str(await reader.readline()), "ctx\n");
    assert.equal(writer.getExtraInfo("sslcontext"), clientCtx);
    writer.close();
    server.close();
    await server.waitClosed();
  });
});

test("getExtraInfo gives peercert, cipher, sslcontext and the TLS socket", async () => {
  await asyncio.run(async () => {
    let serverSide: Record<string, unknown> = {};
    const server = await asyncio.startServer(async (reader, writer) => {
      serverSide = { peercert: writer.getExtraInfo("peercert"), sslcontext: writer.getExtraInfo("sslcontext") };
      await reader.read();
      writer.close();
    }, "127.0.0.1", 0, { ssl: serverSSL() });
    const ssl = clientSSL();
    const [, writer] = await asyncio.openConnection("localhost", portOf(server), { ssl });
    const cert = writer.getExtraInfo("peercert") as tls.PeerCertificate;
    assert.equal(cert.subject.CN, "localhost");
    const cipher = writer.getExtraInfo("cipher") as tls.CipherNameAndProtocol;
    assert.equal(typeof cipher.name, "string");
    assert.match(cipher.version, /TLS/);
    assert.equal(writer.getExtraInfo("sslcontext"), ssl);
    assert.ok(writer.getExtraInfo("ssl_object") instanceof tls.TLSSocket);
    assert.ok(writer.getExtraInfo("socket") instanceof net.Socket);
    await until(() => "peercert" in serverSide, "the server handler");
    assert.equal(serverSide.peercert, null, "no client certificate was asked for");
    assert.notEqual(serverSide.sslcontext, undefined);
    writer.close();
    server.close();
    await server.waitClosed();
  });
});

test("a wrong host name is rejected (ERR_TLS_CERT_ALTNAME_INVALID)", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0, { ssl: serverSSL() });
    await assert.rejects(
      asyncio.openConnection("127.0.0.1", portOf(server), { ssl: clientSSL(), serverHostname: "wrong.example" }),
      (e: unknown) => code(e) === "ERR_TLS_CERT_ALTNAME_INVALID",
    );
    server.close();
    await server.waitClosed();
  });
});

test("certificate checks are on by default: a certificate no trusted CA signed is rejected", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0, { ssl: { key: certs().selfKey, cert: certs().selfCert } });
    await assert.rejects(asyncio.openConnection("localhost", portOf(server), { ssl: true }), (e: unknown) =>
      ["DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_VERIFY_LEAF_SIGNATURE"].includes(code(e) ?? ""),
    );
    // The test CA does not vouch for it either.
    await assert.rejects(asyncio.openConnection("localhost", portOf(server), { ssl: clientSSL() }), (e: unknown) => code(e) !== undefined);
    server.close();
    await server.waitClosed();
  });
});

test("rejectUnauthorized: false accepts an unverified certificate", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0, { ssl: { key: certs().selfKey, cert: certs().selfCert } });
    const [reader, writer] = await asyncio.openConnection("localhost", portOf(server), { ssl: { rejectUnauthorized: false } });
    writer.write("anyway\n");
    assert.equal(str(await reader.readline()), "anyway\n");
    writer.close();
    server.close();
    await server.waitClosed();
  });
});

test('serverHostname "" turns the host name check off, but the chain is still verified', async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0, { ssl: serverSSL() });
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", portOf(server), { ssl: clientSSL(), serverHostname: "" });
    writer.write("no name\n");
    assert.equal(str(await reader.readline()), "no name\n");
    writer.close();
    await assert.rejects(asyncio.openConnection("127.0.0.1", portOf(server), { ssl: true, serverHostname: "" }), (e: unknown) => code(e) !== undefined);
    server.close();
    await server.waitClosed();
  });
});

test("canWriteEof is false over TLS and writeEof is a RuntimeError; closing sends EOF to the peer", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(async (_reader, writer) => {
      assert.equal(writer.canWriteEof(), false);
      assert.throws(() => writer.writeEof(), asyncio.RuntimeError);
      writer.write("bye");
      writer.close();
      await writer.waitClosed();
    }, "127.0.0.1", 0, { ssl: serverSSL() });
    const [reader, writer] = await asyncio.openConnection("localhost", portOf(server), { ssl: clientSSL() });
    assert.equal(str(await reader.read()), "bye");
    assert.ok(reader.atEof());
    writer.close();
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
  });
});

test("4 MiB each way over TLS, with flow control", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0, { ssl: serverSSL() });
    const [reader, writer] = await asyncio.openConnection("localhost", portOf(server), { ssl: clientSSL(), limit: 16 << 10 });
    const payload = Buffer.alloc(4 << 20);
    for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE(i, i);
    const echoed = asyncio.createTask(() => reader.readexactly(payload.length));
    for (let i = 0; i < payload.length; i += 1 << 18) {
      writer.write(payload.subarray(i, i + (1 << 18)));
      await writer.drain();
    }
    assert.ok((await echoed).equals(payload));
    writer.close();
    server.close();
    await server.waitClosed();
  });
});

test("startTls upgrades a plain connection on both sides (STARTTLS)", async () => {
  await asyncio.run(async () => {
    let serverPeer: unknown = "unset";
    const server = await asyncio.startServer(async (reader, writer) => {
      assert.equal(str(await reader.readline()), "STARTTLS\n");
      writer.write("GO\n");
      await writer.startTls(serverSSL());
      serverPeer = writer.getExtraInfo("peercert");
      const line = await reader.readline();
      writer.write(`secure ${str(line)}`);
      await writer.drain();
      await reader.read();
      writer.close();
    }, "127.0.0.1", 0);
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", portOf(server));
    assert.equal(writer.getExtraInfo("sslcontext"), undefined);
    writer.write("STARTTLS\n");
    assert.equal(str(await reader.readline()), "GO\n");
    const plain = writer.transport;
    await writer.startTls(clientSSL(), { serverHostname: "localhost" });
    assert.notEqual(writer.transport, plain);
    assert.equal(plain.isClosing(), true, "the plain transport is retired");
    assert.equal((writer.getExtraInfo("peercert") as tls.PeerCertificate).subject.CN, "localhost");
    writer.write("hello\n");
    assert.equal(str(await reader.readline()), "secure hello\n");
    assert.equal(serverPeer, null);
    writer.close();
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
  });
});

test("startTls with a wrong host name rejects and closes the connection", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(async (reader, writer) => {
      await reader.readline();
      writer.write("GO\n");
      await writer.startTls(serverSSL()).catch(() => {});
      writer.close();
    }, "127.0.0.1", 0);
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", portOf(server));
    writer.write("STARTTLS\n");
    await reader.readline();
    await assert.rejects(writer.startTls(clientSSL(), { serverHostname: "wrong.example" }), (e: unknown) => code(e) === "ERR_TLS_CERT_ALTNAME_INVALID");
    await assert.rejects(writer.waitClosed(), (e: unknown) => code(e) === "ERR_TLS_CERT_ALTNAME_INVALID");
    await assert.rejects(reader.read(), (e: unknown) => code(e) === "ERR_TLS_CERT_ALTNAME_INVALID");
    server.close();
    await server.waitClosed();
  });
});

test("loop.startTls checks its arguments", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0, { ssl: serverSSL() });
    const [, writer] = await asyncio.openConnection("localhost", portOf(server), { ssl: clientSSL() });
    await assert.rejects(loop.startTls(writer.transport, {}, clientSSL()), /already uses TLS/);
    await assert.rejects(loop.startTls(new asyncio.Transport(), {}, clientSSL()), TypeError);
    writer.close();
    server.close();
    await server.waitClosed();
  });
});

test("mutual TLS: a client without a certificate is refused, one with a CA-signed certificate is accepted", async () => {
  await asyncio.run(async () => {
    let clientCN: string | string[] | undefined;
    const server = await asyncio.startServer(async (reader, writer) => {
      clientCN = (writer.getExtraInfo("peercert") as tls.PeerCertificate | null)?.subject.CN;
      writer.write("welcome\n");
      await reader.read();
      writer.close();
    }, "127.0.0.1", 0, { ssl: { ...serverSSL(), ca: certs().ca, requestCert: true, rejectUnauthorized: true } });
    const port = portOf(server);
    const refused = (ssl: asyncio.SSLOptions): Promise<boolean> =>
      asyncio.openConnection("localhost", port, { ssl }).then(
        async ([reader, writer]) => {
          // TLS 1.3 may finish the client's handshake before the server refuses: the refusal then ends the stream.
          const r = await reader.read(100).then(
            (d) => d.length,
            () => -1,
          );
          writer.close();
          return r <= 0;
        },
        () => true,
      );
    assert.equal(await refused(clientSSL()), true, "no client certificate");
    assert.equal(await refused({ ...clientSSL(), key: certs().selfKey, cert: certs().selfCert }), true, "a certificate the CA did not sign");
    const [reader, writer] = await asyncio.openConnection("localhost", port, {
      ssl: { ...clientSSL(), key: certs().clientKey, cert: certs().clientCert },
    });
    assert.equal(str(await reader.readline()), "welcome\n");
    assert.equal(clientCN, "test client");
    writer.close();
    server.close();
    await server.waitClosed();
  });
});

test("a client that never starts the handshake is dropped after sslHandshakeTimeout", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0, { ssl: serverSSL(), sslHandshakeTimeout: 0.1 });
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", portOf(server));
    const ended = await reader.read().then((d) => d.length === 0, () => true);
    assert.equal(ended, true);
    writer.close();
    server.close();
    await server.waitClosed();
  });
});

test("TLS over a Unix socket needs serverHostname", async () => {
  const path = join(tempDir(), "tls.sock");
  await asyncio.run(async () => {
    const server = await asyncio.startUnixServer(echoHandler, path, { ssl: serverSSL() });
    await assert.rejects(asyncio.openUnixConnection(path, { ssl: clientSSL() }), RangeError);
    const [reader, writer] = await asyncio.openUnixConnection(path, { ssl: clientSSL(), serverHostname: "localhost" });
    writer.write("unix tls\n");
    assert.equal(str(await reader.readline()), "unix tls\n");
    writer.close();
    server.close();
    await server.waitClosed();
  });
});

test("protocols over TLS: createConnection with ssl gives a TLS transport", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0, { ssl: serverSSL() });
    const got: Buffer[] = [];
    const lost = loop.createFuture<Error | null>();
    const [transport] = await loop.createConnection(
      () => ({ dataReceived: (d: Buffer) => got.push(d), connectionLost: (e: Error | null) => lost.setResult(e) }),
      "localhost",
      portOf(server),
      { ssl: clientSSL(), sslHandshakeTimeout: 5, sslShutdownTimeout: 5 },
    );
    assert.equal(transport.canWriteEof(), false);
    transport.write("proto");
    await until(() => Buffer.concat(got).toString() === "proto", "the echo");
    transport.close();
    assert.equal(await lost, null);
    server.close();
    await server.waitClosed();
  });
});
