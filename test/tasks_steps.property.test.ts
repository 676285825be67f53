// Property-based tests of task steps: a Future awaited by several tasks, with plain done callbacks registered
// between them, delivers to every one exactly once, in registration order, and each task's step (including awaits
// that do not suspend) runs whole before the next delivery. Nothing is lost when some of the waiting tasks are
// cancelled after the Future completed and before their turn.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as asyncio from "../src/index.js";

/** One registration on the shared Future: a task awaiting it (maybe cancelled before its turn), or a done callback. */
type Waiter = { kind: "task"; hops: number; cancel: boolean } | { kind: "callback" };

const waiterArb: fc.Arbitrary<Waiter> = fc.oneof(
  fc.record({ kind: fc.constant("task" as const), hops: fc.integer({ min: 0, max: 4 }), cancel: fc.boolean() }),
  fc.record({ kind: fc.constant("callback" as const) }),
);

async function nothing(): Promise<void> {}

/** What CPython would print: each waiter in registration order, a task's two lines together. */
function expectedTrace(waiters: readonly Waiter[]): string[] {
  const out: string[] = [];
  waiters.forEach((w, i) => {
    if (w.kind === "callback") out.push(`cb${i}`);
    else if (w.cancel) out.push(`t${i} cancelled`);
    else out.push(`t${i} resumed`, `t${i} step end`);
  });
  return out;
}

async function runTrace(waiters: readonly Waiter[]): Promise<string[]> {
  return asyncio.testing.run(async () => {
    const loop = asyncio.getRunningLoop();
    const trace: string[] = [];
    const shared = loop.createFuture<string>();
    const tasks = new Map<number, asyncio.Task<void>>();
    // Register in order: each task is started (and suspended on `shared`) before the next registration.
    for (let i = 0; i < waiters.length; i++) {
      const w = waiters[i]!;
      if (w.kind === "callback") {
        shared.addDoneCallback(() => trace.push(`cb${i}`));
        continue;
      }
      const t = asyncio.createTask(async () => {
        try {
          await shared;
        } catch (e) {
          if (e instanceof asyncio.CancelledError) {
            trace.push(`t${i} cancelled`);
            return;
          }
          throw e;
        }
        trace.push(`t${i} resumed`);
        for (let h = 0; h < w.hops; h++) await nothing();
        trace.push(`t${i} step end`);
      });
      tasks.set(i, t);
      await asyncio.sleep(0);
    }
    // Complete, then cancel the chosen tasks before the deliveries run: their step starts with CancelledError.
    shared.setResult("value");
    waiters.forEach((w, i) => {
      if (w.kind === "task" && w.cancel) tasks.get(i)!.cancel();
    });
    await asyncio.gather(...tasks.values());
    return trace;
  });
}

test("a Future delivers to every waiter once, in registration order, each task's step whole", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(waiterArb, { minLength: 1, maxLength: 8 }), async (waiters) => {
      assert.deepEqual(await runTrace(waiters), expectedTrace(waiters));
    }),
    { numRuns: 150 },
  );
});
