import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

/** What a parked task holds on the V8 heap, measured in a fresh child with --expose-gc (see the fixture). */
function heapPerParkedTask(kind: string): number {
  const args = ["--expose-gc", "--import", "tsx", "test/fixtures/parked-tasks.ts", kind];
  const r = spawnSync(process.execPath, args, { cwd: repoRoot, encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const line = r.stdout.trim().split("\n").pop() ?? "";
  const { heapPerTask } = JSON.parse(line) as { heapPerTask: number };
  return heapPerTask;
}

test("a task waiting on an Event holds at most 1,500 bytes of V8 heap", () => {
  const bytes = heapPerParkedTask("event");
  assert.ok(bytes > 0, `measured ${bytes} B per task`);
  assert.ok(bytes <= 1500, `a task waiting on an Event holds ${bytes} B of heap, more than 1,500`);
});
