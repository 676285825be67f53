/**
 * Properties of cancel scopes nested at random with timeout(), TaskGroup and an outside task.cancel(), on the
 * virtual clock: every cancellation ends where it belongs, and nothing runs after the block it belongs to ended.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as asyncio from "../src/index.js";

const { testing } = asyncio;

/** A random program: sleeps, cancel scopes, timeouts and task groups, nested. */
type Prog =
  | { k: "sleep"; d: number }
  | { k: "scope"; delay: number | null; cancelAt: number | null; shield: boolean; body: Prog[] }
  | { k: "timeout"; delay: number; body: Prog[] }
  | { k: "group"; children: Prog[][]; starts: { before: Prog[]; after: Prog[] }[]; body: Prog[]; cancelAt: number | null };

const progArb = fc.letrec<{ node: Prog; seq: Prog[] }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({ k: fc.constant("sleep" as const), d: fc.integer({ min: 0, max: 5 }) }),
    fc.record({
      k: fc.constant("scope" as const),
      delay: fc.option(fc.integer({ min: 0, max: 6 }), { nil: null }),
      cancelAt: fc.option(fc.integer({ min: 0, max: 6 }), { nil: null }),
      shield: fc.boolean(),
      body: tie("seq") as fc.Arbitrary<Prog[]>,
    }),
    fc.record({ k: fc.constant("timeout" as const), delay: fc.integer({ min: 0, max: 6 }), body: tie("seq") as fc.Arbitrary<Prog[]> }),
    fc.record({
      k: fc.constant("group" as const),
      children: fc.array(tie("seq") as fc.Arbitrary<Prog[]>, { minLength: 1, maxLength: 2 }),
      starts: fc.array(
        fc.record({ before: tie("seq") as fc.Arbitrary<Prog[]>, after: tie("seq") as fc.Arbitrary<Prog[]> }),
        { maxLength: 1 },
      ),
      body: tie("seq") as fc.Arbitrary<Prog[]>,
      cancelAt: fc.option(fc.integer({ min: 0, max: 6 }), { nil: null }),
    }),
  ),
  seq: fc.array(tie("node") as fc.Arbitrary<Prog>, { minLength: 1, maxLength: 3 }),
}));

const caseArb = fc.record({
  program: progArb.seq,
  externalCancelAt: fc.option(fc.integer({ min: 0, max: 8 }), { nil: null }),
});

/** A block of the running program, for the checks: the chain of blocks up to the task that runs it. */
interface Frame {
  readonly kind: "root" | "task" | "scope" | "timeout" | "group";
  readonly parent: Frame | null;
  readonly scope?: asyncio.CancelScope;
  readonly timeout?: asyncio.Timeout;
  closed: boolean;
  /** For a group: the group, whose `toString()` says "cancelling" once it cancels its tasks. */
  group?: asyncio.TaskGroup;
  /** For a group: a task failed or the body threw. */
  aborted?: boolean;
  /** For the task of a `start()`: someone called its `cancel()` (its caller giving up, or the group). */
  cancelRequested?: boolean;
}

type Category = "level" | "afterExit" | "ownership" | "cancelling" | "outerWins";

interface Outcome {
  violations: Map<Category, string[]>;
  rootCancelled: boolean;
  rootError: unknown;
  externalIssued: boolean;
}

/** True when a scope the frame can see (no shield, no task boundary in between) is cancelled. */
function visibleCancelled(frame: Frame | null): boolean {
  for (let f = frame; f !== null; f = f.parent) {
    if (f.kind === "task" || f.kind === "root") return false;
    if (f.kind === "scope") {
      if (f.scope!.cancelCalled) return true;
      if (f.scope!.shield) return false;
    }
  }
  return false;
}

/**
 * True when a request from outside may have reached the task at `frame`: a cancelled scope or an expired timeout
 * around it, a group around it (or around its task) that aborted, or, for the root task, the outside cancel.
 */
function outsideRequest(frame: Frame | null, externalIssued: boolean): boolean {
  for (let f = frame; f !== null; f = f.parent) {
    if (f.kind === "timeout" && f.timeout!.expired()) return true;
    if (f.kind === "scope" && f.scope!.cancelCalled) return true;
    if (f.kind === "group" && aborting(f)) return true;
    if (f.kind === "root") return externalIssued;
    if (f.kind === "task") return f.cancelRequested === true || aborting(f.parent!);
  }
  return false;
}

function aborting(group: Frame): boolean {
  return group.aborted === true || String(group.group).includes("cancelling");
}

function anyClosed(frame: Frame | null): boolean {
  for (let f = frame; f !== null; f = f.parent) if (f.closed) return true;
  return false;
}

async function execute(program: Prog[], externalCancelAt: number | null): Promise<Outcome> {
  const violations = new Map<Category, string[]>();
  const report = (category: Category, what: string): void => {
    const list = violations.get(category) ?? [];
    list.push(what);
    violations.set(category, list);
  };
  let externalIssued = false;
  // TimeoutErrors already seen by an inner timeout: an outer one only lets them through.
  const seenTimeouts = new WeakSet<object>();
  const loop = asyncio.getRunningLoop();
  const me = (): asyncio.Task<unknown> => asyncio.currentTask()!;

  const runSeq = async (seq: Prog[], frame: Frame): Promise<void> => {
    for (const node of seq) await runNode(node, frame);
  };

  const runNode = async (node: Prog, frame: Frame): Promise<void> => {
    if (anyClosed(frame)) report("afterExit", `${node.k} started after its block ended`);
    switch (node.k) {
      case "sleep": {
        const mustThrow = visibleCancelled(frame);
        let threw = false;
        try {
          await asyncio.sleep(node.d);
        } catch (e) {
          threw = e instanceof asyncio.CancelledError;
          throw e;
        } finally {
          if (mustThrow && !threw) report("level", `sleep(${node.d}) in a cancelled scope did not throw`);
          if (anyClosed(frame)) report("afterExit", "a sleep ended after its block ended");
        }
        return;
      }
      case "scope": {
        const scope =
          node.delay === null ? new asyncio.CancelScope({ shield: node.shield }) : asyncio.moveOnAfter(node.delay, { shield: node.shield });
        const timer = node.cancelAt === null ? null : loop.callLater(node.cancelAt, () => scope.cancel());
        const inner: Frame = { kind: "scope", parent: frame, scope, closed: false };
        const entry = me().cancelling();
        try {
          await scope.with(() => runSeq(node.body, inner));
          if (scope.cancelledCaught && visibleCancelled(frame) && !scope.shield) {
            report("outerWins", "a scope caught a cancellation while a scope around it was cancelled");
          }
          if (!outsideRequest(frame, externalIssued) && me().cancelling() !== entry) {
            report("cancelling", `cancelling() went from ${entry} to ${me().cancelling()} across a scope`);
          }
        } finally {
          inner.closed = true;
          timer?.cancel();
        }
        return;
      }
      case "timeout": {
        const timeout = asyncio.timeout(node.delay);
        const inner: Frame = { kind: "timeout", parent: frame, timeout, closed: false };
        const entry = me().cancelling();
        try {
          await timeout.with(() => runSeq(node.body, inner));
          if (!outsideRequest(frame, externalIssued) && me().cancelling() !== entry) {
            report("cancelling", `cancelling() went from ${entry} to ${me().cancelling()} across a timeout`);
          }
        } catch (e) {
          if (e instanceof asyncio.TimeoutError && !seenTimeouts.has(e)) {
            seenTimeouts.add(e);
            if (visibleCancelled(frame)) report("outerWins", "a timeout turned a cancellation of a scope around it into TimeoutError");
          }
          throw e;
        } finally {
          inner.closed = true;
        }
        return;
      }
      case "group": {
        const group = new asyncio.TaskGroup();
        const inner: Frame = { kind: "group", parent: frame, group, closed: false };
        const tasks: asyncio.Task<unknown>[] = [];
        const timer = node.cancelAt === null ? null : loop.callLater(node.cancelAt, () => group.cancel());
        try {
          await group.with(async (tg) => {
            for (const child of node.children) {
              const childFrame: Frame = { kind: "task", parent: inner, closed: false };
              tasks.push(
                tg.createTask(async () => {
                  try {
                    await runSeq(child, childFrame);
                  } catch (e) {
                    if (!(e instanceof asyncio.CancelledError)) inner.aborted = true;
                    throw e;
                  }
                  if (!aborting(inner) && me().cancelling() !== 0) report("cancelling", "a child task ended normally with cancelling() above 0");
                }),
              );
            }
            try {
              for (const start of node.starts) {
                const startFrame: Frame = { kind: "task", parent: inner, closed: false };
                await tg.start(async (status) => {
                  const task = me();
                  tasks.push(task);
                  const cancel = task.cancel.bind(task);
                  task.cancel = (msg?: string): boolean => {
                    startFrame.cancelRequested = true;
                    return cancel(msg);
                  };
                  await runSeq(start.before, startFrame);
                  status.started();
                  await runSeq(start.after, startFrame);
                });
              }
              await runSeq(node.body, inner);
            } catch (e) {
              inner.aborted = true;
              throw e;
            }
          });
        } finally {
          inner.closed = true;
          timer?.cancel();
          if (tasks.some((t) => !t.done())) report("afterExit", "a task of a group was still running when the group ended");
        }
        return;
      }
    }
  };

  const rootFrame: Frame = { kind: "root", parent: null, closed: false };
  const root = asyncio.createTask(async () => {
    await runSeq(program, rootFrame);
    if (!externalIssued && me().cancelling() !== 0) report("cancelling", "the root ended with cancelling() above 0");
  });
  if (externalCancelAt !== null) {
    loop.callLater(externalCancelAt, () => {
      if (!root.done()) {
        externalIssued = true;
        root.cancel("outside");
      }
    });
  }
  let rootError: unknown = null;
  try {
    await root;
  } catch (e) {
    rootError = e;
  }
  rootFrame.closed = true;
  // Anything still scheduled by the program must not run code of it any more.
  await asyncio.sleep(20);
  return { violations, rootCancelled: root.cancelled(), rootError, externalIssued };
}

function runCase(check: (outcome: Outcome) => void): (c: { program: Prog[]; externalCancelAt: number | null }) => Promise<void> {
  return async ({ program, externalCancelAt }) => {
    const outcome = await testing.run(() => execute(program, externalCancelAt));
    check(outcome);
  };
}

const RUNS = 150;

test("property: every suspension inside a visibly cancelled scope throws CancelledError", async () => {
  await fc.assert(
    fc.asyncProperty(
      caseArb,
      runCase((o) => assert.deepEqual(o.violations.get("level") ?? [], [])),
    ),
    { numRuns: RUNS },
  );
});

test("property: nothing of a block runs after the block ended, and a group ends after all its tasks", async () => {
  await fc.assert(
    fc.asyncProperty(
      caseArb,
      runCase((o) => assert.deepEqual(o.violations.get("afterExit") ?? [], [])),
    ),
    { numRuns: RUNS },
  );
});

test("property: the task ends cancelled exactly when it was cancelled from outside", async () => {
  await fc.assert(
    fc.asyncProperty(
      caseArb,
      runCase((o) => {
        if (!o.externalIssued) {
          assert.equal(o.rootCancelled, false, `the task ended cancelled though nobody cancelled it: ${String(o.rootError)}`);
        } else if (!o.rootCancelled) {
          // A real failure of a group takes precedence over the cancellation, as in asyncio.
          assert.ok(o.rootError instanceof asyncio.ExceptionGroup, `the outside cancel was lost: ${String(o.rootError)}`);
        }
        if (o.rootError !== null && !o.rootCancelled) {
          const errors = o.rootError instanceof asyncio.ExceptionGroup ? flatten(o.rootError) : [o.rootError];
          for (const e of errors) assert.ok(e instanceof asyncio.TimeoutError, `unexpected error ${String(e)}`);
        }
      }),
    ),
    { numRuns: RUNS },
  );
});

test("property: a scope never catches what belongs to a scope around it, nor a timeout", async () => {
  await fc.assert(
    fc.asyncProperty(
      caseArb,
      runCase((o) => assert.deepEqual(o.violations.get("outerWins") ?? [], [])),
    ),
    { numRuns: RUNS },
  );
});

test("property: cancelling() after a scope or timeout that ended normally is what it was before", async () => {
  await fc.assert(
    fc.asyncProperty(
      caseArb,
      runCase((o) => assert.deepEqual(o.violations.get("cancelling") ?? [], [])),
    ),
    { numRuns: RUNS },
  );
});

function flatten(group: asyncio.ExceptionGroup): unknown[] {
  return group.exceptions.flatMap((e) => (e instanceof asyncio.ExceptionGroup ? flatten(e) : [e]));
}
