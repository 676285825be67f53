/**
 * The async-context plumbing shared by the loop and tasks.
 *
 * One AsyncLocalStorage holds a {@link Frame}: the loop that runs the code and the task it belongs to.
 * A task enters it once, when its body starts; every continuation of the body inherits it, which is how
 * `currentTask()` and `getRunningLoop()` are right after any `await`, and how a Future's `then` (called by
 * V8 in the awaiting function's context) learns which task awaits it.
 */
import { AsyncLocalStorage } from "../node.js";
import type { EventLoop } from "../../events.js";
import type { Task } from "../../tasks.js";
import { RuntimeError } from "../../exceptions.js";

/** What the async context knows: the loop, and the task when the code is a task's body. */
export interface Frame {
  /** @internal */ readonly _frameLoop: EventLoop;
  /** @internal */ readonly _frameTask: Task<unknown> | null;
}

export const frameStorage = new AsyncLocalStorage<Frame>();

/** The loops between `runForever()` and their stop, for tools that list every task of the process (`asyncio-ts ps`). */
export const runningLoops = new Set<EventLoop>();

/** The loop running in this async context, or null. */
export function runningLoopOrNull(): EventLoop | null {
  const frame = frameStorage.getStore();
  if (frame === undefined) return null;
  const loop = frame._frameLoop;
  return loop._running ? loop : null;
}

/** The loop running in this async context; `RuntimeError('no running event loop')` outside one. */
export function requireRunningLoop(): EventLoop {
  const loop = runningLoopOrNull();
  if (loop === null) throw new RuntimeError("no running event loop");
  return loop;
}

/** The task whose body this async context belongs to (only while its loop runs), or null. */
export function currentTaskOrNull(): Task<unknown> | null {
  const frame = frameStorage.getStore();
  if (frame === undefined) return null;
  return frame._frameLoop._running ? frame._frameTask : null;
}

/**
 * What running one ready-queue item did, for the loop's driver (`EventLoop._drive`):
 * - `RUN_DONE`: the item ran plain code (a callback); the next item may run at once.
 * - `RUN_STEP`: the item started a task step (a task's start or resumption); nothing else may run until the
 *   microtask queue has drained, which is when that step has ended.
 * - `RUN_STEP_MORE`: as `RUN_STEP`, and the item put what it has left to deliver at the front of the ready queue.
 * - `RUN_DEFER`: the item would start a step, but microtasks released by earlier callbacks have not run yet; it did
 *   nothing and runs again, first, once they have.
 */
export const RUN_DONE = 0;
export const RUN_STEP = 1;
export const RUN_STEP_MORE = 2;
export const RUN_DEFER = 3;
export type RunResult = typeof RUN_DONE | typeof RUN_STEP | typeof RUN_STEP_MORE | typeof RUN_DEFER;

/** Anything that can sit in the loop's ready queue: a Handle, a Future delivering its callbacks, a Task starting. */
export interface Runnable {
  /** @internal */ _run(): RunResult;
}
