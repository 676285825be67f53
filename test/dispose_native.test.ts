// Native `using` / `await using` (Node 24), and TypeScript's own down-levelled form (its `__addDisposableResource`
// helpers, not esbuild's), on the same scenario: test/fixtures/dispose-native.mjs, run in a child process.
// On a runtime without the syntax (Node 20) the native run must fail to parse: that is asserted, not skipped.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";

const fixture = fileURLToPath(new URL("./fixtures/dispose-native.mjs", import.meta.url));
const entry = new URL("../src/index.ts", import.meta.url).href;

const EXPECTED = {
  lockInside: true,
  lockAfter: false,
  semInside: 0,
  semAfter: 2,
  serverInside: true,
  serverAfter: false,
  processAfter: -9,
  runnerResult: 42,
  runnerClosed: true,
  loopClosed: true,
};

function parsesNativeUsing(): boolean {
  try {
    new Function("return async () => { await using x = null; };");
    return true;
  } catch (error) {
    assert.equal(error instanceof SyntaxError, true);
    return false;
  }
}

function runScript(path: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", path], {
    env: { ...process.env, ASYNCIO_TS_ENTRY: entry },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const major = Number(process.versions.node.split(".")[0]);

test("this runtime parses native `await using` exactly when its Node version has it (24 and later)", () => {
  assert.equal(parsesNativeUsing(), major >= 24);
});

test("native `using` / `await using` release the guards and dispose every resource (or fail to parse on Node < 24)", () => {
  const r = runScript(fixture);
  if (parsesNativeUsing()) {
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), EXPECTED);
  } else {
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /SyntaxError/);
  }
});

test("TypeScript's down-levelled `await using` finds the dispose methods on this runtime", () => {
  const source = readFileSync(fixture, "utf8");
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
  });
  assert.equal(outputText.includes("__addDisposableResource"), true, "the compiler down-levelled `using`");
  const dir = mkdtempSync(join(tmpdir(), "asyncio-ts-dispose-"));
  try {
    const path = join(dir, "dispose-downlevelled.mjs");
    writeFileSync(path, outputText);
    const r = runScript(pathToFileURL(path).pathname);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), EXPECTED);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
