/**
 * `toThread(fn, ...args)`: Python's `asyncio.to_thread`, on the running loop's default executor (worker threads).
 * @module
 */
import { getRunningLoop } from "./events.js";
import type { ModuleFunction, WorkerFunction } from "./executors.js";
import "./executors.js";
import { toRequest } from "./_internal/processes/worker_pool.js";

/**
 * Runs `fn(...args)` in a worker thread of the running loop's default executor and returns its result, so
 * CPU-bound work does not block the event loop. `fn` is sent to the worker as its source text: it must be
 * self-contained (it sees globals, `require` and `await import()`, not the variables of the module that defined
 * it); arguments and result are copied with the structured clone algorithm. Or pass `{ module, export }`.
 * Unlike Python, the caller's async context (context variables) does not travel to the thread.
 *
 * Cancellation: the caller gets `CancelledError` at once; the job keeps running in its worker and its result is
 * dropped (Python cannot stop a thread either), unless the default executor was set to a
 * `new ThreadPoolExecutor({ cancel: "terminate" })`, which ends that worker. A job still queued never runs.
 *
 * @throws {RuntimeError} outside a running loop, or after `loop.shutdownDefaultExecutor()`.
 * @throws {TypeError} `fn` is not a function written in JavaScript nor `{ module, export }`.
 */
export async function toThread<A extends unknown[], R>(fn: WorkerFunction<A, R>, ...args: A): Promise<Awaited<R>>;
export async function toThread<R = unknown>(fn: ModuleFunction, ...args: unknown[]): Promise<R>;
export async function toThread(fn: WorkerFunction | ModuleFunction, ...args: unknown[]): Promise<unknown> {
  const loop = getRunningLoop();
  toRequest(fn, "toThread");
  return await loop.runInExecutor(null, fn as WorkerFunction, ...args);
}
