/**
 * A property of task steps: whatever mix of awaits that suspend (a pending Future, `sleep`, a contended lock, a
 * promise of Node's) and awaits that do not (resolved promises, async functions that return at once, a done Future, a
 * free lock, `then` called on a pending Future by the task itself) random tasks run, each step runs whole. Between a task's resumption and its next suspension no other
 * task's code runs, however the loop learns that the step ended (our awaitable, or the microtask queue drained).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as asyncio from "../src/index.js";

/** What a task does next: `hops` microtasks that do not suspend, or one of the awaits that do. */
type Op =
  | { k: "hops"; n: number }
  | { k: "nothing" }
  | { k: "doneFuture" }
  | { k: "sleep"; d: number }
  | { k: "future" }
  | { k: "lock"; hold: number }
  | { k: "foreign"; hops: number }
  | { k: "thenHops"; n: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant("hops" as const), n: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ k: fc.constant("nothing" as const) }),
  fc.record({ k: fc.constant("doneFuture" as const) }),
  fc.record({ k: fc.constant("sleep" as const), d: fc.constantFrom(0, 0, 0.001, 0.002) }),
  fc.record({ k: fc.constant("future" as const) }),
  fc.record({ k: fc.constant("lock" as const), hold: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ k: fc.constant("foreign" as const), hops: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ k: fc.constant("thenHops" as const), n: fc.integer({ min: 1, max: 6 }) }),
);

async function nothing(): Promise<void> {}

/**
 * Runs the tasks and returns the log: one [task, step] entry per op and per microtask hop, where `step` counts the
 * task's suspensions so far. Whether an await of ours suspended is read from a loop callback scheduled just before
 * it: it can only run once the task's step is over, and it runs before the task resumes exactly when the task
 * suspended (its wakeup comes from a later iteration).
 */
async function runTasks(programs: Op[][]): Promise<[number, number][]> {
  const log: [number, number][] = [];
  const lock = new asyncio.Lock();
  const loop = asyncio.getRunningLoop();
  const tasks = programs.map((ops, id) =>
    asyncio.createTask(async () => {
      let step = 0;
      const suspending = async (aw: () => Promise<unknown>): Promise<void> => {
        let iterated = false;
        loop.callSoon(() => (iterated = true));
        await aw();
        if (iterated) step++;
        log.push([id, step]);
      };
      for (const op of ops) {
        log.push([id, step]);
        switch (op.k) {
          case "hops":
            for (let i = 0; i < op.n; i++) {
              await Promise.resolve(i);
              log.push([id, step]);
            }
            break;
          case "nothing":
            await suspending(nothing);
            break;
          case "doneFuture": {
            const f = loop.createFuture<number>();
            f.setResult(1);
            await suspending(async () => await f);
            break;
          }
          case "sleep":
            await suspending(() => asyncio.sleep(op.d));
            break;
          case "future": {
            const f = loop.createFuture<void>();
            loop.callSoon(() => f.setResult());
            await suspending(async () => await f);
            break;
          }
          case "lock":
            await suspending(() => lock.acquire());
            try {
              for (let i = 0; i < op.hold; i++) await suspending(() => asyncio.sleep(0));
            } finally {
              lock.release();
            }
            break;
          case "thenHops": {
            // The task's own code calls then() on a pending Future and runs on: that is no suspension.
            const f = loop.createFuture<void>();
            void f.then(() => undefined);
            loop.callSoon(() => f.setResult());
            for (let i = 0; i < op.n; i++) {
              await Promise.resolve(i);
              log.push([id, step]);
            }
            break;
          }
          case "foreign":
            // Always a suspension; the task may resume from Node's check phase before the loop's next iteration, so
            // the callback that tells other suspensions apart cannot tell this one.
            await new Promise((resolve) => setImmediate(resolve));
            step++;
            log.push([id, step]);
            for (let i = 0; i < op.hops; i++) {
              await Promise.resolve(i);
              log.push([id, step]);
            }
            break;
        }
      }
      log.push([id, step]);
    }),
  );
  await asyncio.gather(...tasks);
  return log;
}

/** Each (task, step) pair's entries must be one unbroken run of the log. */
function assertStepsWhole(log: [number, number][]): void {
  const finished = new Set<string>();
  let current: string | null = null;
  for (const [task, step] of log) {
    const key = `${task}:${step}`;
    if (key === current) continue;
    if (current !== null) finished.add(current);
    assert.ok(!finished.has(key), `step ${step} of task ${task} was interrupted: ${JSON.stringify(log)}`);
    current = key;
  }
}

const programsArb = fc.array(fc.array(opArb, { maxLength: 8 }), { minLength: 2, maxLength: 5 });

test("every task step runs whole, on the real loop", async () => {
  await fc.assert(
    fc.asyncProperty(programsArb, async (programs) => {
      assertStepsWhole(await asyncio.run(() => runTasks(programs)));
    }),
    { numRuns: 150 },
  );
});

test("every task step runs whole, on the virtual-time loop", async () => {
  await fc.assert(
    fc.asyncProperty(programsArb, async (programs) => {
      assertStepsWhole(await asyncio.testing.run(() => runTasks(programs)));
    }),
    { numRuns: 150 },
  );
});
