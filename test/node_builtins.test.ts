// How the package takes Node's built-ins (src/_internal/node.ts): the heavy ones load on first use, and work then.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import * as tls from "node:tls";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ProcessResult, ensureBuilt, repoRoot, runNode } from "./helpers/process.js";
import { isTlsSocket } from "../src/_internal/node.js";

const HEAVY = ["tls", "crypto", "dgram", "dns", "child_process", "worker_threads", "readline", "internal/fs/promises"];

// Imports the build in a fresh process, prints which of HEAVY the import loaded, then uses UDP, DNS, a subprocess
// and a worker thread through the package and prints which of HEAVY are loaded after that. A module of its own is
// imported first: Node 20's module loader loads fs/promises to read the first file it imports.
const program = (emptyModule: string): string => `
const heavy = ${JSON.stringify(HEAVY)};
const loaded = () => heavy.filter((m) => process.moduleLoadList.includes("NativeModule " + m));
await import(${JSON.stringify(emptyModule)});
const before = loaded();
const asyncio = await import(${JSON.stringify(join(repoRoot, "dist", "index.js"))});
console.log(JSON.stringify(loaded().filter((m) => !before.includes(m))));
await asyncio.run(async () => {
  const loop = asyncio.getRunningLoop();
  const [transport] = await loop.createDatagramEndpoint(() => new asyncio.DatagramProtocol(), { localAddr: ["127.0.0.1", 0] });
  transport.close();
  const infos = await loop.getaddrinfo("localhost", 80);
  const proc = await asyncio.createSubprocessExec(process.execPath, ["-e", "process.exit(3)"]);
  const code = await proc.wait();
  const sum = await asyncio.toThread((a, b) => a + b, 2, 3);
  console.log(JSON.stringify({ infos: infos.length > 0, code, sum }));
});
console.log(JSON.stringify(loaded()));
`;

describe("Node's built-ins", () => {
  let result: ProcessResult;
  before(async () => {
    ensureBuilt();
    assert.equal(existsSync(join(repoRoot, "dist", "index.js")), true, "dist/index.js could not be built");
    const dir = mkdtempSync(join(tmpdir(), "asyncio-ts-builtins-"));
    try {
      const empty = join(dir, "empty.mjs");
      writeFileSync(empty, "export {};\n");
      result = await runNode(["--input-type=module", "-e", program(empty)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("importing the package loads no TLS, crypto, UDP, DNS, child process, worker thread or readline module", () => {
    assert.equal(result.code, 0, result.stderr);
    const [atImport] = result.stdout.trim().split("\n");
    assert.deepEqual(JSON.parse(atImport!), []);
  });

  test("UDP, DNS, subprocesses and worker threads load their modules on first use and work", () => {
    assert.equal(result.code, 0, result.stderr);
    const [, outcome, afterUse] = result.stdout.trim().split("\n");
    assert.deepEqual(JSON.parse(outcome!), { infos: true, code: 3, sum: 5 });
    const loaded = JSON.parse(afterUse!) as string[];
    for (const m of ["dgram", "dns", "child_process", "worker_threads"]) assert.ok(loaded.includes(m), `${m} was not loaded: ${loaded.join(", ")}`);
  });
});

describe("isTlsSocket", () => {
  test("a plain socket is not a TLS socket", () => {
    assert.equal(isTlsSocket(new net.Socket()), false);
  });

  test("a TLSSocket is one", () => {
    const sock = new tls.TLSSocket(new net.Socket());
    try {
      assert.equal(isTlsSocket(sock), true);
    } finally {
      sock.destroy();
    }
  });

  test("an object that only says `encrypted: true` is not one", () => {
    assert.equal(isTlsSocket({ encrypted: true }), false);
  });
});
