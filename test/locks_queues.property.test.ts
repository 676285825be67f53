// Property-based tests of locks and queues: random programs of producers, consumers and lock users, with
// cancellations at random loop iterations. Each program runs twice; both runs must give the same trace, nothing
// may be lost or duplicated, every lock must be free at the end and no waiter may be left hanging.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as asyncio from "../src/index.js";
import { tick } from "./helpers/loop.js";

/** A cancellation of actor `target` (an index into the program's tasks) when the loop reaches step `at`. */
interface Cancel {
  target: number;
  at: number;
}

/**
 * One action of an actor: a pause (loop iterations) before it and, right after it, maybe the cancellation of
 * another actor. Cancelling right after a put, a get or a release hits a waiter that has just been woken and has
 * not run yet, the case where a wakeup is most easily lost.
 */
interface Step {
  pause: number;
  cancelAfter: number | null;
}

const stepArb = (maxTargets: number): fc.Arbitrary<Step> =>
  fc.record({
    pause: fc.nat({ max: 2 }),
    cancelAfter: fc.option(fc.nat({ max: maxTargets - 1 }), { freq: 4 }),
  });

/** Cancels `tasks[target]` for an actor's step, logging it. */
function cancelFromActor(tasks: asyncio.Task<unknown>[], target: number | null, who: string, log: string[]): void {
  if (target === null || tasks.length === 0) return;
  const task = tasks[target % tasks.length]!;
  if (task.cancel()) log.push(`${who} cancels #${target % tasks.length}`);
}

const cancelsArb = (maxTargets: number): fc.Arbitrary<Cancel[]> =>
  fc.array(fc.record({ target: fc.nat({ max: maxTargets - 1 }), at: fc.nat({ max: 40 }) }), { maxLength: 6 });

/** Cancels the listed tasks at their steps, one loop iteration per step. */
async function cancelOnSchedule(tasks: asyncio.Task<unknown>[], cancels: Cancel[], log: string[]): Promise<void> {
  const last = cancels.reduce((m, c) => Math.max(m, c.at), -1);
  for (let step = 0; step <= last; step++) {
    for (const c of cancels) {
      const task = tasks[c.target % tasks.length];
      if (c.at === step && task !== undefined && task.cancel()) log.push(`step ${step}: cancel #${c.target % tasks.length}`);
    }
    await asyncio.sleep(0);
  }
}

/** Waits for every task; a task still running after a second means a waiter was left hanging. */
async function allFinish(tasks: asyncio.Task<unknown>[], what: string): Promise<void> {
  try {
    await asyncio.waitFor(() => asyncio.gather(...tasks, { returnExceptions: true }), 1);
  } catch (e) {
    if (e instanceof asyncio.TimeoutError) {
      const stuck = tasks.filter((t) => !t.done()).map((t) => t.getName());
      assert.fail(`${what}: tasks left hanging: ${stuck.join(", ")}`);
    }
    throw e;
  }
}

function outcome(task: asyncio.Task<unknown>): string {
  if (task.cancelled()) return "cancelled";
  const e = task.exception();
  return e === null ? "ok" : `error ${(e as Error).name}`;
}

// ------------------------------------------------------------------ queues

interface QueueProgram {
  kind: "Queue" | "LifoQueue" | "PriorityQueue";
  maxsize: number;
  /** Per producer, one step per put. */
  producers: Step[][];
  /** Per consumer, how it consumes (get() loop or for await) and its steps, used in turn after each item. */
  consumers: { iterate: boolean; steps: Step[] }[];
  cancels: Cancel[];
}

const queueProgramArb: fc.Arbitrary<QueueProgram> = fc.record({
  kind: fc.constantFrom("Queue" as const, "LifoQueue" as const, "PriorityQueue" as const),
  maxsize: fc.nat({ max: 3 }),
  producers: fc.array(fc.array(stepArb(6), { maxLength: 8 }), { minLength: 1, maxLength: 3 }),
  consumers: fc.array(fc.record({ iterate: fc.boolean(), steps: fc.array(stepArb(6), { minLength: 1, maxLength: 3 }) }), {
    minLength: 1,
    maxLength: 3,
  }),
  cancels: cancelsArb(6),
});

async function runQueueProgram(prog: QueueProgram): Promise<string[]> {
  return asyncio.run(async () => {
    const Q = { Queue: asyncio.Queue, LifoQueue: asyncio.LifoQueue, PriorityQueue: asyncio.PriorityQueue }[prog.kind];
    const q = new Q<number>(prog.maxsize);
    const log: string[] = [];
    const putOk: number[] = [];
    const putCancelled: number[] = [];
    const received: number[] = [];
    let nextId = 0;

    const actors: asyncio.Task<unknown>[] = [];
    const producers = prog.producers.map((steps, p) => {
      const ids = steps.map(() => nextId++);
      return asyncio.createTask(
        async () => {
          for (let i = 0; i < ids.length; i++) {
            await tick(steps[i]!.pause);
            try {
              await q.put(ids[i]!);
            } catch (e) {
              putCancelled.push(ids[i]!);
              log.push(`P${p} put ${ids[i]} failed: ${(e as Error).name}`);
              throw e;
            }
            putOk.push(ids[i]!);
            log.push(`P${p} put ${ids[i]}`);
            cancelFromActor(actors, steps[i]!.cancelAfter, `P${p}`, log);
          }
        },
        { name: `producer ${p}` },
      );
    });
    const consumers = prog.consumers.map(({ iterate, steps }, c) =>
      asyncio.createTask(
        async () => {
          let n = 0;
          const take = async (item: number): Promise<void> => {
            received.push(item);
            log.push(`C${c} got ${item}`);
            const step = steps[n++ % steps.length]!;
            cancelFromActor(actors, step.cancelAfter, `C${c}`, log);
            await tick(step.pause);
          };
          if (iterate) {
            for await (const item of q) await take(item);
          } else {
            for (;;) {
              let item: number;
              try {
                item = await q.get();
              } catch (e) {
                if (e instanceof asyncio.QueueShutDown) return;
                throw e;
              }
              await take(item);
            }
          }
        },
        { name: `consumer ${c}` },
      ),
    );

    actors.push(...producers, ...consumers);
    await cancelOnSchedule(actors, prog.cancels, log);
    await tick(40);
    // No waiter left hanging. Once everything has settled, a live consumer means an empty queue (it would be
    // taking the items otherwise), and a producer still blocked in put() means a full queue that nobody drains.
    const liveConsumers = consumers.filter((t) => !t.done()).length;
    const liveProducers = producers.filter((t) => !t.done()).length;
    assert.ok(q.qsize() === 0 || liveConsumers === 0, `${q.qsize()} items wait while ${liveConsumers} consumers are alive`);
    assert.ok(liveProducers === 0 || (q.full() && liveConsumers === 0), `${liveProducers} producers blocked on ${q}`);
    assert.equal(q.statistics().putters, liveProducers);
    q.shutdown(); // ends blocked producers with QueueShutDown; consumers drain what is left, then stop
    await allFinish(producers, "producers");
    await allFinish(consumers, "consumers");
    assert.equal(q.statistics().getters, 0);
    const remaining: number[] = [];
    while (!q.empty()) remaining.push(q.getNowait());

    // Nothing lost, nothing duplicated, nothing inserted by a cancelled put.
    const delivered = [...received, ...remaining].sort((a, b) => a - b);
    assert.deepEqual(delivered, [...putOk].sort((a, b) => a - b));
    for (const id of putCancelled) assert.ok(!delivered.includes(id), `item ${id} of a cancelled put was inserted`);
    if (prog.kind === "Queue" && prog.consumers.length === 1) {
      // FIFO: each producer's items come out in the order it put them (seen in that order by a single consumer).
      for (const ids of prog.producers.map((_, p) => putOk.filter((id) => log.includes(`P${p} put ${id}`)))) {
        const order = delivered.length === 0 ? [] : [...received, ...remaining].filter((id) => ids.includes(id));
        assert.deepEqual(order, ids);
      }
    }
    log.push(`outcomes ${[...producers, ...consumers].map(outcome).join(" ")}`);
    return log;
  });
}

test("random producers, consumers and cancellations never lose, duplicate or invent a queue item", async () => {
  await fc.assert(
    fc.asyncProperty(queueProgramArb, async (prog) => {
      const first = await runQueueProgram(prog);
      const second = await runQueueProgram(prog);
      assert.deepEqual(second, first, "two runs of the same program gave different traces");
    }),
    { numRuns: 250 },
  );
});

// ------------------------------------------------------------------ Lock, Semaphore, Event

interface LockProgram {
  capacity: number;
  /** Per lock user, one step per time it takes the lock: the pause is how long it holds it. */
  lockUsers: Step[][];
  /** Per semaphore user, the same. */
  semUsers: Step[][];
  /** Tasks waiting for an event that is set at step `setAt`. */
  eventWaiters: number;
  setAt: number;
  cancels: Cancel[];
}

const lockProgramArb: fc.Arbitrary<LockProgram> = fc.record({
  capacity: fc.integer({ min: 1, max: 3 }),
  lockUsers: fc.array(fc.array(stepArb(13), { minLength: 1, maxLength: 4 }), { maxLength: 5 }),
  semUsers: fc.array(fc.array(stepArb(13), { minLength: 1, maxLength: 4 }), { maxLength: 5 }),
  eventWaiters: fc.nat({ max: 3 }),
  setAt: fc.nat({ max: 30 }),
  cancels: cancelsArb(13),
});

async function runLockProgram(prog: LockProgram): Promise<string[]> {
  return asyncio.run(async () => {
    const lock = new asyncio.Lock();
    const sem = new asyncio.BoundedSemaphore(prog.capacity);
    const event = new asyncio.Event();
    const log: string[] = [];
    let inLock = 0;
    let inSem = 0;

    const actors: asyncio.Task<unknown>[] = [];
    const lockTasks = prog.lockUsers.map((steps, u) =>
      asyncio.createTask(async () => {
        for (const [r, step] of steps.entries()) {
          await lock.with(async () => {
            inLock++;
            try {
              assert.equal(inLock, 1, "two tasks held the lock at once");
              log.push(`L${u} in ${r}`);
              await tick(step.pause);
            } finally {
              inLock--;
            }
          });
          cancelFromActor(actors, step.cancelAfter, `L${u}`, log);
        }
        return steps.length;
      }),
    );
    const semTasks = prog.semUsers.map((steps, u) =>
      asyncio.createTask(async () => {
        for (const [r, step] of steps.entries()) {
          await sem.acquire();
          inSem++;
          try {
            assert.ok(inSem <= prog.capacity, `${inSem} tasks inside a semaphore of ${prog.capacity}`);
            log.push(`S${u} in ${r}`);
            await tick(step.pause);
          } finally {
            inSem--;
            sem.release(); // a BoundedSemaphore: a permit given back twice would throw
          }
          cancelFromActor(actors, step.cancelAfter, `S${u}`, log);
        }
        return steps.length;
      }),
    );
    const eventTasks = Array.from({ length: prog.eventWaiters }, (_, w) =>
      asyncio.createTask(async () => {
        await event.wait();
        log.push(`E${w} woke`);
      }),
    );
    const all = [...lockTasks, ...semTasks, ...eventTasks];
    actors.push(...all);
    const setter = asyncio.createTask(async () => {
      await tick(prog.setAt);
      event.set();
    });
    await cancelOnSchedule(all, prog.cancels, log);
    await setter;
    await allFinish(all, "lock users");

    assert.equal(lock.locked(), false, "the lock is still held");
    assert.deepEqual(lock.statistics(), { locked: false, waiters: 0 });
    assert.deepEqual(sem.statistics(), { value: prog.capacity, locked: false, waiters: 0, bound: prog.capacity });
    assert.deepEqual(event.statistics(), { isSet: true, waiters: 0 });
    [...lockTasks, ...semTasks].forEach((t, i) => {
      // A task that was not cancelled did all its rounds.
      if (!t.cancelled()) assert.equal(t.result(), [...prog.lockUsers, ...prog.semUsers][i]!.length);
    });
    for (const t of eventTasks) assert.ok(t.cancelled() || t.exception() === null);
    log.push(`outcomes ${all.map(outcome).join(" ")}`);
    return log;
  });
}

test("random lock, semaphore and event users with cancellations keep exclusion and release everything", async () => {
  await fc.assert(
    fc.asyncProperty(lockProgramArb, async (prog) => {
      const first = await runLockProgram(prog);
      const second = await runLockProgram(prog);
      assert.deepEqual(second, first, "two runs of the same program gave different traces");
    }),
    { numRuns: 120 },
  );
});

// ------------------------------------------------------------------ Condition

interface ConditionProgram {
  /** Per producer, one step per token it makes. */
  producers: Step[][];
  /** Per consumer, its step after each token. */
  consumers: Step[];
  cancels: Cancel[];
}

const conditionProgramArb: fc.Arbitrary<ConditionProgram> = fc.record({
  producers: fc.array(fc.array(stepArb(7), { maxLength: 6 }), { minLength: 1, maxLength: 3 }),
  consumers: fc.array(stepArb(7), { minLength: 1, maxLength: 4 }),
  cancels: cancelsArb(7),
});

async function runConditionProgram(prog: ConditionProgram): Promise<string[]> {
  return asyncio.run(async () => {
    const cond = new asyncio.Condition();
    const log: string[] = [];
    let tokens = 0;
    let produced = 0;
    let consumed = 0;
    let closed = false;

    const actors: asyncio.Task<unknown>[] = [];
    const producers = prog.producers.map((steps, p) =>
      asyncio.createTask(async () => {
        for (const step of steps) {
          await tick(step.pause);
          await cond.with(() => {
            tokens++;
            produced++;
            log.push(`P${p} made a token`);
            cond.notify();
            cancelFromActor(actors, step.cancelAfter, `P${p}`, log); // may hit the consumer just notified
          });
        }
      }),
    );
    const consumers = prog.consumers.map((step, c) =>
      asyncio.createTask(async () => {
        for (;;) {
          const got = await cond.with(async () => {
            await cond.waitFor(() => tokens > 0 || closed);
            assert.ok(cond.locked(), "waitFor returned without the lock");
            if (tokens === 0) return false;
            tokens--;
            consumed++;
            log.push(`C${c} took a token`);
            return true;
          });
          if (!got) return;
          cancelFromActor(actors, step.cancelAfter, `C${c}`, log);
          await tick(step.pause);
        }
      }),
    );

    actors.push(...producers, ...consumers);
    await cancelOnSchedule(actors, prog.cancels, log);
    await allFinish(producers, "producers");
    await tick(20);
    const live = consumers.filter((t) => !t.done()).length;
    assert.ok(tokens === 0 || live === 0, `${tokens} tokens left while ${live} consumers wait: a notification was lost`);
    closed = true;
    await cond.with(() => cond.notifyAll());
    await allFinish(consumers, "consumers");
    assert.equal(cond.locked(), false, "the condition's lock is still held");
    assert.deepEqual(cond.statistics(), { locked: false, waiters: 0, lockWaiters: 0 });
    assert.equal(consumed + tokens, produced);
    log.push(`outcomes ${[...producers, ...consumers].map(outcome).join(" ")}`);
    return log;
  });
}

test("random condition producers and consumers with cancellations never lose a notification", async () => {
  await fc.assert(
    fc.asyncProperty(conditionProgramArb, async (prog) => {
      const first = await runConditionProgram(prog);
      const second = await runConditionProgram(prog);
      assert.deepEqual(second, first, "two runs of the same program gave different traces");
    }),
    { numRuns: 120 },
  );
});

// ------------------------------------------------------------------ Barrier

interface BarrierProgram {
  parties: number;
  /** Per task, one step per wait. */
  tasks: Step[][];
  cancels: Cancel[];
}

const barrierProgramArb: fc.Arbitrary<BarrierProgram> = fc.record({
  parties: fc.integer({ min: 1, max: 4 }),
  tasks: fc.array(fc.array(stepArb(6), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 6 }),
  cancels: cancelsArb(6),
});

async function runBarrierProgram(prog: BarrierProgram): Promise<string[]> {
  return asyncio.run(async () => {
    const barrier = new asyncio.Barrier(prog.parties);
    const log: string[] = [];
    const tasks: asyncio.Task<unknown>[] = [];
    tasks.push(
      ...prog.tasks.map((steps, t) =>
        asyncio.createTask(async () => {
          for (const step of steps) {
            await tick(step.pause);
            const index = await barrier.wait();
            assert.ok(index >= 0 && index < prog.parties);
            log.push(`T${t} passed as ${index}`);
            cancelFromActor(tasks, step.cancelAfter, `T${t}`, log); // may hit a task of the same round
          }
        }),
      ),
    );
    await cancelOnSchedule(tasks, prog.cancels, log);
    await tick(20);
    // Never more tasks waiting than parties: a full round must have been let out.
    assert.ok(barrier.nWaiting < prog.parties);
    await barrier.abort();
    await allFinish(tasks, "barrier tasks");
    for (const t of tasks) assert.ok(t.cancelled() || t.exception() === null || t.exception() instanceof asyncio.BrokenBarrierError);
    // After cancellations and an abort, a reset barrier works for a full round.
    await barrier.reset();
    const indices = await asyncio.gather(...Array.from({ length: prog.parties }, () => () => barrier.wait()));
    assert.deepEqual(
      [...indices].sort((a, b) => a - b),
      Array.from({ length: prog.parties }, (_, i) => i),
    );
    log.push(`outcomes ${tasks.map(outcome).join(" ")}`);
    return log;
  });
}

test("random barrier users with cancellations never leave the barrier stuck", async () => {
  await fc.assert(
    fc.asyncProperty(barrierProgramArb, async (prog) => {
      const first = await runBarrierProgram(prog);
      const second = await runBarrierProgram(prog);
      assert.deepEqual(second, first, "two runs of the same program gave different traces");
    }),
    { numRuns: 100 },
  );
});

// ------------------------------------------------------------------ woken, then cancelled

interface HandoffRound {
  /** How many items to put (for waiting getters) or to take (for waiting putters). */
  wake: number;
  /** Waiters to cancel right after, before any of them could run. */
  cancel: number[];
  /** Whether to let the loop run before the next round. */
  settle: boolean;
}

test("a get() or put() woken and cancelled before it runs always passes the wakeup on", async () => {
  const roundArb: fc.Arbitrary<HandoffRound> = fc.record({
    wake: fc.nat({ max: 3 }),
    cancel: fc.array(fc.nat({ max: 4 }), { maxLength: 2 }),
    settle: fc.boolean(),
  });
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom("get" as const, "put" as const),
      fc.integer({ min: 2, max: 5 }),
      fc.array(roundArb, { minLength: 1, maxLength: 6 }),
      (side, n, rounds) =>
        asyncio.run(async () => {
          const q = new asyncio.Queue<number>(side === "put" ? 1 : 0);
          const inserted: number[] = [];
          const taken: number[] = [];
          if (side === "put") {
            q.putNowait(-1);
            inserted.push(-1);
          }
          const waiters = Array.from({ length: n }, (_, i) =>
            asyncio.createTask(async () => {
              if (side === "get") {
                taken.push(await q.get());
              } else {
                await q.put(i);
                inserted.push(i);
              }
            }),
          );
          await tick(1);
          let next = 100;
          for (const round of rounds) {
            for (let k = 0; k < round.wake; k++) {
              if (side === "get") {
                q.putNowait(next);
                inserted.push(next++);
              } else if (!q.empty()) {
                taken.push(q.getNowait());
              }
            }
            for (const c of round.cancel) waiters[c % n]!.cancel();
            if (round.settle) await tick(3);
          }
          await tick(10);
          const live = waiters.filter((t) => !t.done()).length;
          if (side === "get") assert.ok(live === 0 || q.empty(), `${live} getters wait on ${q}`);
          else assert.ok(live === 0 || q.full(), `${live} putters wait on ${q}`);
          for (const t of waiters) t.cancel();
          await asyncio.gather(...waiters, { returnExceptions: true });
          while (!q.empty()) taken.push(q.getNowait());
          assert.deepEqual(
            [...taken].sort((a, b) => a - b),
            [...inserted].sort((a, b) => a - b),
          );
        }),
    ),
    { numRuns: 300 },
  );
});

// ------------------------------------------------------------------ a model of the three queues

type QueueOp = { kind: "put"; priority: number } | { kind: "get" };

test("putNowait/getNowait on the three queues agree with a simple model, QueueFull and QueueEmpty included", () => {
  const opArb: fc.Arbitrary<QueueOp> = fc.oneof(
    fc.record({ kind: fc.constant("put" as const), priority: fc.nat({ max: 4 }) }),
    fc.record({ kind: fc.constant("get" as const) }),
  );
  fc.assert(
    fc.property(fc.constantFrom("Queue", "LifoQueue", "PriorityQueue"), fc.nat({ max: 5 }), fc.array(opArb, { maxLength: 200 }), (kind, maxsize, ops) => {
      type Item = [number, number];
      const q =
        kind === "Queue"
          ? new asyncio.Queue<Item>(maxsize)
          : kind === "LifoQueue"
            ? new asyncio.LifoQueue<Item>(maxsize)
            : new asyncio.PriorityQueue<Item>(maxsize);
      const model: Item[] = [];
      let seq = 0;
      for (const op of ops) {
        if (op.kind === "put") {
          const item: Item = [op.priority, seq++];
          if (maxsize > 0 && model.length >= maxsize) {
            assert.throws(() => q.putNowait(item), asyncio.QueueFull);
          } else {
            q.putNowait(item);
            model.push(item);
          }
        } else if (model.length === 0) {
          assert.throws(() => q.getNowait(), asyncio.QueueEmpty);
        } else {
          let at = 0;
          if (kind === "LifoQueue") at = model.length - 1;
          if (kind === "PriorityQueue") {
            // The smallest priority; among equals the first put (the sequence number decides as a tuple would).
            for (let i = 1; i < model.length; i++) if (model[i]![0] < model[at]![0]) at = i;
          }
          assert.deepEqual(q.getNowait(), model.splice(at, 1)[0]);
        }
        assert.equal(q.qsize(), model.length);
        assert.equal(q.full(), maxsize > 0 && model.length >= maxsize);
      }
    }),
    { numRuns: 300 },
  );
});
