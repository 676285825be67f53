#!/usr/bin/env node
// Runs every test/**/*.test.ts file with node's built-in test runner, TypeScript loaded through tsx.
// Usage: node scripts/run-tests.mjs [file-or-substring ...]
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...collect(p));
    else if (name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = collect("test").filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
// A per-test timeout turns a hang into a failure with a name, instead of a CI run that never ends. The
// `asyncio-ts-source` condition resolves the package's own name ("asyncio-ts", as the examples import it) to src/,
// so that no test ever runs a stale build.
const args = ["--conditions=asyncio-ts-source", "--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=120000"];
// On a terminal node:test's own `spec` reporter; elsewhere (CI logs, a pipe) a dot per test, the failures in full and
// the summary, instead of thousands of lines of TAP (scripts/concise-reporter.mjs).
if (!process.stdout.isTTY) args.push(`--test-reporter=${new URL("./concise-reporter.mjs", import.meta.url).href}`, "--test-reporter-destination=stdout");
args.push(...files);
// Tests that run the built package rebuild dist/ when the sources are newer; two test files doing so at once (the
// runner runs two) could read a file the other is writing. One build here, first, leaves them nothing to do.
spawnSync(process.execPath, ["--import", "tsx", "-e", 'import("./test/helpers/process.ts").then((m) => m.ensureBuilt())'], { stdio: "inherit" });
const r = spawnSync(process.execPath, args, { stdio: "inherit" });
process.exit(r.status ?? 1);
