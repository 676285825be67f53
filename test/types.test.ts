/**
 * Type-level tests of the public signatures. The `expectType<Equal<...>>()` lines are checked by the compiler
 * (`npx tsc -p tsconfig.json --noEmit`, part of `npm run lint`, and the compiler test at the end of this file);
 * the runtime assertions check that the values match the types.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import type * as dgram from "node:dgram";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as tls from "node:tls";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import * as asyncio from "../src/index.js";

/** True when A and B are the same type (not merely assignable to each other). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/** Compiles only when its type argument is `true`. */
function expectType<T extends true>(_proof?: T): void {}

test("gather of a Task<number> and a () => Promise<string> is typed as the tuple [number, string]", async () => {
  await asyncio.run(async () => {
    const task = asyncio.createTask(async () => 1);
    const fetchName = async (): Promise<string> => "x";
    const fut = asyncio.gather(task, fetchName);
    expectType<Equal<typeof fut, asyncio.GatheringFuture<[number, string]>>>();
    const result = await fut;
    expectType<Equal<typeof result, [number, string]>>();
    assert.deepEqual(result, [1, "x"]);
  });
});

test("gather with returnExceptions types each result as its value or an Error", async () => {
  await asyncio.run(async () => {
    const ok = async (): Promise<number> => 1;
    const bad = async (): Promise<string> => {
      throw new RangeError("bad");
    };
    const result = await asyncio.gather(ok, bad, { returnExceptions: true });
    expectType<Equal<typeof result, [number | Error, string | Error]>>();
    assert.equal(result[0], 1);
    assert.equal(result[1] instanceof RangeError, true);
  });
});

test("createTask<T> returns a Task<T>", async () => {
  await asyncio.run(async () => {
    const task = asyncio.createTask(async () => ({ answer: 42 }));
    expectType<Equal<typeof task, asyncio.Task<{ answer: number }>>>();
    const sync = asyncio.createTask(() => "sync");
    expectType<Equal<typeof sync, asyncio.Task<string>>>();
    assert.deepEqual(await task, { answer: 42 });
    assert.equal(await sync, "sync");
  });
});

test("waitFor<T> returns a Promise<T> for a coroutine function and for a Task", async () => {
  await asyncio.run(async () => {
    const fromFunction = asyncio.waitFor(async () => "done", 1);
    expectType<Equal<typeof fromFunction, Promise<string>>>();
    const task = asyncio.createTask(async () => 7);
    const fromTask = asyncio.waitFor(task, null);
    expectType<Equal<typeof fromTask, Promise<number>>>();
    assert.equal(await fromFunction, "done");
    assert.equal(await fromTask, 7);
  });
});

test('sleep(delay, "x") is a Promise<string> and sleep(delay) a Promise<void>', async () => {
  await asyncio.run(async () => {
    const withResult = asyncio.sleep(0.001, "x");
    expectType<Equal<typeof withResult, Promise<string>>>();
    const plain = asyncio.sleep(0);
    expectType<Equal<typeof plain, Promise<void>>>();
    assert.equal(await withResult, "x");
    assert.equal(await plain, undefined);
  });
});

test("run(async () => 1) is a Promise<number>", async () => {
  const p = asyncio.run(async () => 1);
  expectType<Equal<typeof p, Promise<number>>>();
  const sync = asyncio.run(() => "s");
  expectType<Equal<typeof sync, Promise<string>>>();
  assert.equal(await p, 1);
  assert.equal(await sync, "s");
});

test("Runner.run returns a Promise of the function's result type", async () => {
  await new asyncio.Runner().with(async (runner) => {
    const p = runner.run(async () => [1, 2] as const);
    expectType<Equal<typeof p, Promise<readonly [1, 2]>>>();
    assert.deepEqual(await p, [1, 2]);
  });
});

test("TaskGroup.with returns the body's type and tg.createTask a typed Task", async () => {
  await asyncio.run(async () => {
    const p = new asyncio.TaskGroup().with(async (tg) => {
      const t = tg.createTask(async () => true);
      expectType<Equal<typeof t, asyncio.Task<boolean>>>();
      await t;
      return "body";
    });
    expectType<Equal<typeof p, Promise<string>>>();
    assert.equal(await p, "body");
  });
});

test("timeout().with and timeoutAt().with return the body's type", async () => {
  await asyncio.run(async () => {
    const p = asyncio.timeout(1).with(async (_cm) => {
      expectType<Equal<typeof _cm, asyncio.Timeout>>();
      return 5;
    });
    expectType<Equal<typeof p, Promise<number>>>();
    const q = asyncio.timeoutAt(null).with(() => ({ ok: true }));
    expectType<Equal<typeof q, Promise<{ ok: boolean }>>>();
    assert.equal(await p, 5);
    assert.deepEqual(await q, { ok: true });
  });
});

test("shield and ensureFuture keep the awaitable's type", async () => {
  await asyncio.run(async () => {
    const shielded = asyncio.shield(async () => 3);
    expectType<Equal<typeof shielded, asyncio.Future<number>>>();
    const ensured = asyncio.ensureFuture(Promise.resolve("p"));
    expectType<Equal<typeof ensured, asyncio.Future<string>>>();
    assert.equal(await shielded, 3);
    assert.equal(await ensured, "p");
  });
});

test("getExtraInfo is typed per name, and unknown names give unknown", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(async (_reader, writer) => {
      writer.close();
    }, "127.0.0.1", 0);
    expectType<Equal<typeof server, asyncio.Server<asyncio.HostPort>>>();
    const port = server.sockets[0]!.getsockname()[1];
    expectType<Equal<typeof port, number>>();
    const [, writer] = await asyncio.openConnection("127.0.0.1", port);
    const peer = writer.getExtraInfo("peername");
    expectType<Equal<typeof peer, asyncio.HostPort | string | undefined>>();
    const socket = writer.getExtraInfo("socket");
    expectType<Equal<typeof socket, net.Socket | undefined>>();
    const cert = writer.getExtraInfo("peercert", null);
    expectType<Equal<typeof cert, tls.PeerCertificate | null>>();
    const other = writer.getExtraInfo("made-up");
    expectType<Equal<typeof other, unknown>>();
    const transport: asyncio.BaseTransport = writer.transport;
    const child = transport.getExtraInfo("subprocess");
    expectType<Equal<typeof child, ChildProcess | undefined>>();
    const anySocket = transport.getExtraInfo("socket");
    expectType<Equal<typeof anySocket, net.Socket | dgram.Socket | undefined>>();
    assert.deepEqual(peer, ["127.0.0.1", port]);
    assert.ok(socket instanceof net.Socket);
    assert.equal(cert, null);
    assert.equal(other, undefined);
    assert.equal(child, undefined);
    assert.equal(anySocket, socket);
    writer.close();
    server.close();
    await server.waitClosed();
  });
});

test("a Unix server's sockets are typed as paths", async () => {
  await asyncio.run(async () => {
    const dir = mkdtempSync(join(tmpdir(), "asyncio-ts-types-"));
    try {
      const server = await asyncio.startUnixServer(async (_r, writer) => writer.close(), join(dir, "s.sock"));
      const name = server.sockets[0]!.getsockname();
      expectType<Equal<typeof name, string>>();
      assert.equal(name, join(dir, "s.sock"));
      server.close();
      await server.waitClosed();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test("the README's port-0 example compiles under --strict alone, without a cast", () => {
  const readme = readFileSync(here("../README.md"), "utf8");
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const example = blocks.find((b) => b.includes("getsockname()[1]"));
  assert.notEqual(example, undefined, "the README has an example reading the port from getsockname()");
  assert.doesNotMatch(example!, /[\w)\]]\s+as\s+[[A-Za-z]|[\w)\]]!/, "the example casts nothing (no `as`, no `!`)");
  const file = here("./fixtures/readme-port0.ts");
  const source = example!.replace(/from "asyncio-ts"/g, `from "${here("../src/index.js")}"`);
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: ["node"],
  };
  const host = ts.createCompilerHost(options, true);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (name) => name === file || fileExists.call(host, name);
  host.readFile = (name) => (name === file ? source : readFile.call(host, name));
  host.getSourceFile = (name, version, onError, shouldCreate) =>
    name === file ? ts.createSourceFile(name, source, version, true) : getSourceFile.call(host, name, version, onError, shouldCreate);
  const program = ts.createProgram([file], options, host);
  const sourceFile = program.getSourceFile(file)!;
  const diagnostics = [...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile)];
  assert.equal(diagnostics.length, 0, describe(diagnostics));
});

// ---------------------------------------------------------------- the compiler's verdict

const here = (name: string): string => fileURLToPath(new URL(name, import.meta.url));
const typesFile = here("./types.test.ts");
const rejectedFile = here("./fixtures/types-rejected.ts");
/** A copy of the rejected-uses fixture, with each `@ts-expect-error` directive turned into a plain comment. */
const strippedFile = here("./fixtures/types-rejected.stripped.ts");
const DIRECTIVE = /@ts-expect-error/;

let compiled: { program: ts.Program; stripped: string } | null = null;

/** One program for the files of this test (built once: it type-checks the whole package). */
function compile(): { program: ts.Program; stripped: string } {
  if (compiled !== null) return compiled;
  const configPath = here("../tsconfig.json");
  const config = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  assert.equal(config.error, undefined);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, here(".."), { noEmit: true }, configPath);
  const stripped = readFileSync(rejectedFile, "utf8")
    .split("\n")
    .map((line) => line.replace(/@ts-expect-error/g, "expect-error"))
    .join("\n");
  const host = ts.createCompilerHost(parsed.options, true);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (name) => name === strippedFile || fileExists.call(host, name);
  host.readFile = (name) => (name === strippedFile ? stripped : readFile.call(host, name));
  host.getSourceFile = (name, languageVersion, onError, shouldCreate) =>
    name === strippedFile
      ? ts.createSourceFile(name, stripped, languageVersion, true)
      : getSourceFile.call(host, name, languageVersion, onError, shouldCreate);
  const program = ts.createProgram([typesFile, rejectedFile, strippedFile], parsed.options, host);
  compiled = { program, stripped };
  return compiled;
}

function describe(diagnostics: readonly ts.Diagnostic[]): string {
  return ts.formatDiagnostics(diagnostics, {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => process.cwd(),
    getNewLine: () => "\n",
  });
}

test("the compiler accepts these type tests and the fixture of rejected uses", () => {
  const { program } = compile();
  const diagnostics = [typesFile, rejectedFile].flatMap((file) => {
    const source = program.getSourceFile(file);
    assert.notEqual(source, undefined, `${file} is part of the program`);
    return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
  });
  assert.equal(diagnostics.length, 0, describe(diagnostics));
});

test("the compiler rejects every wrong use in the fixture once its @ts-expect-error is removed", () => {
  const { program, stripped } = compile();
  const source = program.getSourceFile(strippedFile)!;
  const errorLines = new Set(
    program.getSemanticDiagnostics(source).map((d) => source.getLineAndCharacterOfPosition(d.start!).line),
  );
  const original = readFileSync(rejectedFile, "utf8").split("\n");
  const marked = original.flatMap((line, i) => (DIRECTIVE.test(line) && !line.trim().startsWith("*") ? [i + 1] : []));
  assert.ok(marked.length >= 8, `the fixture marks ${marked.length} wrong uses`);
  const accepted = marked.filter((line) => !errorLines.has(line));
  assert.deepEqual(
    accepted.map((line) => stripped.split("\n")[line]!.trim()),
    [],
    "these wrong uses compiled without an error",
  );
});
