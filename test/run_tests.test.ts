// scripts/run-tests.mjs and its reporter: `npm test` off a terminal prints a dot per test, failures in full, and the
// summary lines, rather than thousands of lines of TAP.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const reporter = new URL("../scripts/concise-reporter.mjs", import.meta.url).href;

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  // Without the variable that tells a child it runs inside a test, or it would refuse to run test files.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, args, { cwd: repoRoot, env, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("the concise reporter prints a dot per test, each failure with its error and the file's output, then the counts", () => {
  const r = run(["--import", "tsx", "--test", `--test-reporter=${reporter}`, "test/fixtures/reporter-sample.ts"]);
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stdout.split("\n");
  assert.ok(lines.length < 60, `${lines.length} lines:\n${r.stdout}`);
  assert.match(r.stdout, /^\.\.F\n/);
  assert.match(r.stdout, /not ok - the failing sample test \(.*reporter-sample\.ts/);
  assert.match(r.stdout, /'left value'/);
  assert.match(r.stdout, /output printed by the sample file/);
  for (const [key, n] of [["tests", 3], ["pass", 2], ["fail", 1]] as const) {
    assert.match(r.stdout, new RegExp(`^# ${key} ${n}$`, "m"));
  }
  assert.doesNotMatch(r.stdout, /TAP version|^ok \d/m);
});

test("run-tests.mjs off a terminal uses the concise reporter and keeps the summary", () => {
  const r = run(["scripts/run-tests.mjs", "test/exports.test.ts"]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.doesNotMatch(r.stdout, /TAP version|# Subtest/);
  assert.match(r.stdout, /^\.+\n/);
  assert.match(r.stdout, /^# tests \d+$/m);
  assert.match(r.stdout, /^# pass \d+$/m);
  assert.match(r.stdout, /^# fail 0$/m);
  assert.ok(r.stdout.split("\n").length < 20, r.stdout);
});
