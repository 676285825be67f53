/**
 * `toThread(fn, ...args)`: Python's `asyncio.to_thread`, on the running loop's default executor (worker threads).
 * @module
 */
import { getRunningLoop } from "./events.js";
import type { FunctionCall, ModuleFunction, WorkerFunction } from "./executors.js";
import "./executors.js";
import { toCallOptions, toRequest } from "./_internal/processes/worker_pool.js";

/**
 * Runs `fn(...args)` in a worker thread of the running loop's default executor and returns its result, so
 * CPU-bound work does not block the event loop. `fn` is sent to the worker as its source text: it must be
 * self-contained (it sees globals, `require` and `await import()`, not the variables of the module that defined
 * it); arguments and result are copied with the structured clone algorithm. Or pass `{ module, export }`.
 * Unlike Python, the caller's async context (context variables) does not travel to the thread.
 *
 * The options of the call travel with the function: `toThread({ fn, signal, timeout, transferList }, ...args)`
 * (or `{ module, export, signal, ... }`). `timeout` (seconds) ends the job with `TimeoutError`, an abort of
 * `signal` with `CancelledError` whose message is the abort reason's; either ends the worker if the job runs.
 * `transferList` moves `ArrayBuffer`s (and ports) to the thread instead of copying them.
 *
 * Cancellation: the caller gets `CancelledError` at once; the job keeps running in its worker and its result is
 * dropped (Python cannot stop a thread either), unless the default executor was set to a
 * `new ThreadPoolExecutor({ cancel: "terminate" })`, which ends that worker. A job still queued never runs.
 *
 * @throws {TypeError} (synchronously) `fn` is not a function written in JavaScript, `{ fn }` nor
 * `{ module, export }`, or its `signal` is not an `AbortSignal`.
 * @throws {RangeError} (synchronously) a relative `module` path, or a negative `timeout`.
 * @throws {RuntimeError} (as a rejection) outside a running loop, or after `loop.shutdownDefaultExecutor()`.
 */
export function toThread<A extends unknown[], R>(fn: WorkerFunction<A, R> | FunctionCall<WorkerFunction<A, R>>, ...args: A): Promise<Awaited<R>>;
export function toThread<R = unknown>(fn: ModuleFunction, ...args: unknown[]): Promise<R>;
export function toThread(fn: WorkerFunction | FunctionCall | ModuleFunction, ...args: unknown[]): Promise<unknown> {
  // Bad arguments are refused at the call; the loop is looked up when the work starts, as Python's coroutine does.
  toRequest(fn, "toThread");
  toCallOptions(fn, "toThread");
  return runInDefaultExecutor(fn, args);
}

async function runInDefaultExecutor(fn: WorkerFunction | FunctionCall | ModuleFunction, args: unknown[]): Promise<unknown> {
  const loop = getRunningLoop();
  return await loop.runInExecutor(null, fn as WorkerFunction, ...args);
}
