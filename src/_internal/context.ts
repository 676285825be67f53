/**
 * The async-context plumbing shared by the loop and tasks.
 *
 * One AsyncLocalStorage holds a {@link Frame}: the loop that runs the code and the task it belongs to.
 * A task enters it once, when its body starts; every continuation of the body inherits it, which is how
 * `currentTask()` and `getRunningLoop()` are right after any `await`, and how a Future's `then` (called by
 * V8 in the awaiting function's context) learns which task awaits it.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { EventLoop } from "../events.js";
import type { Task } from "../tasks.js";
import { RuntimeError } from "../exceptions.js";

/** What the async context knows: the loop, and the task when the code is a task's body. */
export interface Frame {
  readonly _frameLoop: EventLoop;
  readonly _frameTask: Task<unknown> | null;
}

export const frameStorage = new AsyncLocalStorage<Frame>();

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

/** Anything that can sit in the loop's ready queue: a Handle, a Future delivering its callbacks, a Task starting. */
export interface Runnable {
  _run(): void;
}
