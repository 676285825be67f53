/**
 * Shared set-up of the network tests: temporary directories, TLS certificates made on the spot, small protocol
 * recorders, and an open-file-descriptor count.
 *
 * Certificates are made with the `openssl` command when it exists, otherwise with `node:crypto` (EC P-256 keys and a
 * small DER encoder below), so a fresh machine needs nothing installed. `ASYNCIO_TEST_CERTS=node` forces the latter.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import * as asyncio from "../../src/index.js";

/** A temporary directory removed when the test file ends. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "asyncio-ts-net-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The number of open file descriptors of this process. */
export function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/** The `[host, port]` a server listens on (the first socket). */
export function addr(server: asyncio.Server): [string, number] {
  return server.sockets[0]!.getsockname() as [string, number];
}

/** The port a server listens on. */
export function portOf(server: asyncio.Server): number {
  return addr(server)[1];
}

/** Runs `body` with a fresh loop and an exception handler that records what it is given. */
export async function runRecording<T>(body: (errors: asyncio.ExceptionContext[]) => Promise<T>): Promise<T> {
  return asyncio.run(async () => {
    const errors: asyncio.ExceptionContext[] = [];
    asyncio.getRunningLoop().setExceptionHandler((_loop, context) => errors.push(context));
    return body(errors);
  });
}

/** An echo handler for `startServer`: writes back everything until EOF, then closes. */
export async function echoHandler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter): Promise<void> {
  for (;;) {
    const data = await reader.read(65536);
    if (data.length === 0) break;
    writer.write(data);
    await writer.drain();
  }
  writer.close();
  await writer.waitClosed();
}

/** A protocol that records every call, for checking call order. */
export class RecordingProtocol extends asyncio.Protocol {
  events: string[] = [];
  data: Buffer[] = [];
  transport: asyncio.Transport | null = null;
  lostWith: Error | null | undefined = undefined;
  keepOpenOnEof = false;
  readonly made: asyncio.Future<void>;
  readonly lost: asyncio.Future<void>;
  readonly eof: asyncio.Future<void>;

  constructor() {
    super();
    const loop = asyncio.getRunningLoop();
    this.made = loop.createFuture<void>();
    this.lost = loop.createFuture<void>();
    this.eof = loop.createFuture<void>();
  }

  override connectionMade(transport: asyncio.Transport): void {
    this.events.push("made");
    this.transport = transport;
    this.made.setResult();
  }

  override dataReceived(data: Buffer): void {
    if (this.events[this.events.length - 1] !== "data") this.events.push("data");
    this.data.push(data);
  }

  override eofReceived(): boolean {
    this.events.push("eof");
    if (!this.eof.done()) this.eof.setResult();
    return this.keepOpenOnEof;
  }

  override pauseWriting(): void {
    this.events.push("pause");
  }

  override resumeWriting(): void {
    this.events.push("resume");
  }

  override connectionLost(exc: Error | null): void {
    this.events.push("lost");
    this.lostWith = exc;
    if (!this.lost.done()) this.lost.setResult();
  }

  received(): Buffer {
    return Buffer.concat(this.data);
  }
}

/** Waits until `pred()` holds, checking once per loop iteration (with a generous cap, never a timing assertion). */
export async function until(pred: () => boolean, what = "condition"): Promise<void> {
  for (let i = 0; i < 20000; i++) {
    if (pred()) return;
    await asyncio.sleep(i < 100 ? 0 : 0.005);
  }
  throw new Error(`gave up waiting for ${what}`);
}

// ------------------------------------------------------------------ certificates

/** PEM material for the TLS tests. */
export interface Certs {
  /** How they were made: "openssl" or "node:crypto". */
  maker: string;
  /** The test CA, which signed `serverCert` and `clientCert`. */
  ca: string;
  /** For CN/SAN `localhost` and IP 127.0.0.1. */
  serverKey: string;
  serverCert: string;
  /** A client certificate, for mutual TLS. */
  clientKey: string;
  clientCert: string;
  /** A self-signed certificate for `localhost` that no CA vouches for. */
  selfKey: string;
  selfCert: string;
}

let certsCache: Certs | null = null;

/** The certificates, made once per test file. */
export function certs(): Certs {
  if (certsCache === null) {
    const useOpenssl = process.env.ASYNCIO_TEST_CERTS !== "node" && spawnSync("openssl", ["version"]).status === 0;
    certsCache = useOpenssl ? opensslCerts() : nodeCerts();
  }
  return certsCache;
}

function opensslCerts(): Certs {
  const dir = tempDir();
  const run = (...args: string[]): void => {
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  run("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=asyncio-ts test CA");
  writeFileSync(join(dir, "server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
  writeFileSync(join(dir, "client.ext"), "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n");
  for (const name of ["server", "client"]) {
    run("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name === "server" ? "localhost" : "test client"}`);
    run("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`);
  }
  run("req", "-x509", ...ec, "-keyout", "self.key", "-out", "self.pem", "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1");
  const read = (f: string): string => readFileSync(join(dir, f), "utf8");
  return {
    maker: "openssl",
    ca: read("ca.pem"),
    serverKey: read("server.key"),
    serverCert: read("server.pem"),
    clientKey: read("client.key"),
    clientCert: read("client.pem"),
    selfKey: read("self.key"),
    selfCert: read("self.pem"),
  };
}

// A minimal DER encoder: enough for X.509 v3 certificates signed with ECDSA P-256 / SHA-256.
function der(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  let len: Buffer;
  if (body.length < 0x80) len = Buffer.from([body.length]);
  else {
    const bytes: number[] = [];
    for (let n = body.length; n > 0; n >>= 8) bytes.unshift(n & 0xff);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, body]);
}
const seq = (...p: Buffer[]): Buffer => der(0x30, ...p);
const set = (...p: Buffer[]): Buffer => der(0x31, ...p);
const octets = (b: Buffer): Buffer => der(0x04, b);
const bits = (b: Buffer, unused = 0): Buffer => der(0x03, Buffer.from([unused]), b);
const bool = (v: boolean): Buffer => der(0x01, Buffer.from([v ? 0xff : 0]));
const explicit = (n: number, p: Buffer): Buffer => der(0xa0 + n, p);
function integer(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  b = b.subarray(i);
  return der(0x02, b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}
function oid(dotted: string): Buffer {
  const n = dotted.split(".").map(Number);
  const out = [40 * n[0]! + n[1]!];
  for (const v of n.slice(2)) {
    const enc = [v & 0x7f];
    for (let x = v >> 7; x > 0; x >>= 7) enc.unshift(0x80 | (x & 0x7f));
    out.push(...enc);
  }
  return der(0x06, Buffer.from(out));
}
function time(d: Date): Buffer {
  const s = d.toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z";
  return der(0x17, Buffer.from(s, "ascii"));
}
const name = (cn: string): Buffer => seq(set(seq(oid("2.5.4.3"), der(0x0c, Buffer.from(cn, "utf8")))));
const ext = (id: string, critical: boolean, value: Buffer): Buffer =>
  critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));

interface Issued {
  key: KeyObject;
  pem: string;
  keyPem: string;
  spkiHash: Buffer;
  cn: string;
}

function issue(cn: string, kind: "ca" | "server" | "client", issuer: Issued | null): Issued {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const spki = publicKey.export({ type: "spki", format: "der" });
  const spkiHash = createHash("sha1").update(spki).digest();
  const ecdsaSha256 = seq(oid("1.2.840.10045.4.3.2"));
  const exts: Buffer[] = [ext("2.5.29.14", false, octets(spkiHash))];
  if (issuer !== null) exts.push(ext("2.5.29.35", false, seq(der(0x80, issuer.spkiHash))));
  if (kind === "ca") {
    exts.push(ext("2.5.29.19", true, seq(bool(true))));
    exts.push(ext("2.5.29.15", true, bits(Buffer.from([0x06]), 1)));
  } else {
    exts.push(ext("2.5.29.19", true, seq()));
    if (kind === "server") exts.push(ext("2.5.29.17", false, seq(der(0x82, Buffer.from("localhost")), der(0x87, Buffer.from([127, 0, 0, 1])))));
    else exts.push(ext("2.5.29.37", false, seq(oid("1.3.6.1.5.5.7.3.2"))));
  }
  const now = Date.now();
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(Buffer.concat([Buffer.from([1]), randomBytes(8)])),
    ecdsaSha256,
    name(issuer?.cn ?? cn),
    seq(time(new Date(now - 3600_000)), time(new Date(now + 2 * 86400_000))),
    name(cn),
    spki,
    explicit(3, seq(...exts)),
  );
  const signature = sign("sha256", tbs, { key: (issuer ?? { key: privateKey }).key, dsaEncoding: "der" });
  const cert = seq(tbs, ecdsaSha256, bits(signature));
  const b64 = cert.toString("base64").replace(/.{64}/g, "$&\n");
  const pem = `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith("\n") ? "" : "\n"}-----END CERTIFICATE-----\n`;
  const keyPem = createPrivateKey(privateKey.export({ type: "pkcs8", format: "pem" })).export({ type: "pkcs8", format: "pem" }) as string;
  return { key: privateKey, pem, keyPem, spkiHash, cn };
}

function nodeCerts(): Certs {
  const ca = issue("asyncio-ts test CA", "ca", null);
  const server = issue("localhost", "server", ca);
  const client = issue("test client", "client", ca);
  const self = issue("localhost", "server", null);
  return {
    maker: "node:crypto",
    ca: ca.pem,
    serverKey: server.keyPem,
    serverCert: server.pem,
    clientKey: client.keyPem,
    clientCert: client.pem,
    selfKey: self.keyPem,
    selfCert: self.pem,
  };
}
