/**
 * Executors: `ThreadPoolExecutor` (worker threads), `ProcessPoolExecutor` (child processes), and the loop's
 * `runInExecutor`, `setDefaultExecutor` and default executor.
 *
 * The loop methods are added to `EventLoop` from here, without touching the kernel: their declarations are merged
 * into the `EventLoop` interface (`declare module "./events.js"`) and the implementations assigned to
 * `EventLoop.prototype`; the kernel's `_shutdownDefaultExecutorHook` and `_closeHooks` let `shutdownDefaultExecutor()`
 * and `close()` reach the default executor.
 *
 * A worker cannot share the caller's memory, so a function is sent as its source text and must be self-contained
 * (no variables or imports from the module that defined it); arguments and results are copied with the structured
 * clone algorithm. Pass `{ module, export }` to run a function of a module instead. Either form may carry the
 * options of one call: `{ fn, signal, timeout, transferList }`, `{ module, export, signal, timeout, transferList }`.
 * @module
 */
import { availableParallelism } from "./_internal/node.js";
import { EventLoop } from "./events.js";
import { CancelledError, RuntimeError } from "./exceptions.js";
import type { Future } from "./futures.js";
import {
  type CancelMode,
  ExecutorFuture,
  type FunctionCall,
  type ModuleFunction,
  type JobRequest,
  type PoolOptions,
  WorkerPool,
  toCallOptions,
  toRequest,
} from "./_internal/processes/worker_pool.js";

export { ExecutorFuture } from "./_internal/processes/worker_pool.js";
export type { CallOptions, CancelMode, FunctionCall, JobState, ModuleFunction } from "./_internal/processes/worker_pool.js";

/** A function that can run in a worker: self-contained, taking and returning structured-cloneable values. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parameter list of any[] is what lets every function's own signature through
export type WorkerFunction<A extends unknown[] = any[], R = unknown> = (...args: A) => R;

/** What `submit`, `runInExecutor` and `toThread` accept as the function: a function, `{ fn, ... }`, `{ module, ... }`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parameter list of any[] is what lets every function's own signature through
export type WorkerCallable<A extends unknown[] = any[], R = unknown> =
  | WorkerFunction<A, R>
  | FunctionCall<WorkerFunction<A, R>>
  | ModuleFunction;

/** Options of `executor.shutdown()`. */
export interface ShutdownOptions {
  /** Wait until every queued and running job is done and the workers have exited (default true). */
  wait?: boolean;
  /** Cancel the jobs still queued (default false: they run, even when not waiting). */
  cancelFutures?: boolean;
}

/** Options of `ThreadPoolExecutor` and `ProcessPoolExecutor`. */
export interface ExecutorOptions {
  /** How many workers at most run jobs at once (default: see each class). An integer from 1 up. */
  maxWorkers?: number;
  /**
   * What cancelling a running job does. `"abandon"` (default, as Python): the caller stops waiting, the job runs
   * to its end and its result is dropped. `"terminate"`: the worker running it is ended and the pool replaces it.
   * A job still queued is dropped either way.
   */
  cancel?: CancelMode;
  /**
   * Run by every worker once, with `initargs`, before its first job (Python's `initializer`): a self-contained
   * function or `{ module, export }`. If it throws, the pool is broken: the jobs waiting fail with
   * `BrokenThreadPool`/`BrokenProcessPool` (its `cause` the initializer's error) and `submit` throws that.
   */
  initializer?: WorkerFunction | ModuleFunction;
  /** The arguments of `initializer` (structured-cloneable). */
  initargs?: readonly unknown[];
  /**
   * Workers started at once and kept even when idle (default 0), so that the first jobs do not wait for a worker to
   * start (about 60 ms for a thread). An integer from 0 to `maxWorkers`.
   */
  minWorkers?: number;
  /** Seconds after which a worker left idle exits, down to `minWorkers` (default `Infinity`: never). */
  idleTimeout?: number;
}

/** Options of `ProcessPoolExecutor`: those of every executor, and `maxTasksPerChild`. */
export interface ProcessPoolExecutorOptions extends ExecutorOptions {
  /** Jobs a worker process runs before it exits and is replaced by a fresh one (Python's `max_tasks_per_child`). */
  maxTasksPerChild?: number | null;
}

/** What `loop.runInExecutor()` needs from an executor: `submit` returning an awaitable, cancellable if it can be. */
export interface ExecutorLike {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parameter list of any[] is what lets every function's own signature through
  submit(fn: any, ...args: any[]): PromiseLike<unknown> & { cancel?(): boolean };
}

/**
 * Python's `concurrent.futures.Executor`: runs functions away from the event loop. `with(body)` shuts it down
 * (waiting) when the body ends.
 */
export abstract class Executor implements ExecutorLike {
  /**
   * Queues `fn(...args)` and returns its future. `fn` is a self-contained function, `{ fn, ...options }` or
   * `{ module, export, ...options }`, the options being `signal`, `timeout` (seconds) and `transferList`.
   * @throws {RuntimeError} after `shutdown()`.
   * @throws {BrokenExecutor} (`BrokenThreadPool`, `BrokenProcessPool`) once an initializer failed.
   * @throws {TypeError} `fn` cannot be sent to a worker, or a `signal` that is not an `AbortSignal`.
   */
  abstract submit<A extends unknown[], R>(fn: WorkerCallable<A, R>, ...args: A): ExecutorFuture<Awaited<R>>;

  /**
   * Stops accepting work. With `wait` (default true) the promise resolves once every queued and running job is
   * done and the workers have exited; with `cancelFutures`, queued jobs are cancelled first.
   *
   * Cancellation: cancelling the caller stops its wait only; the shutdown goes on.
   */
  abstract shutdown(options?: ShutdownOptions): Promise<void>;

  /**
   * Runs `body(executor)`, then `shutdown({ wait: true })`, whatever happens: Python's `with Executor() as ex:`.
   *
   * Cancellation: a cancelled body still shuts the executor down and waits for running jobs.
   */
  async with<R>(body: (executor: this) => PromiseLike<R> | R): Promise<R> {
    if (typeof body !== "function") throw new TypeError(`Executor.with: expected \`body\` to be a function, got ${typeof body}`);
    try {
      return await body(this);
    } finally {
      await this.shutdown({ wait: true });
    }
  }

  /**
   * `await using executor = new ThreadPoolExecutor()`: `shutdown({ wait: true })` at the end of the block. Never
   * fails because a worker was already gone.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown({ wait: true });
  }
}

/** The checked options of an executor, as its pool takes them. */
type CheckedOptions = Omit<PoolOptions, "kind">;

function checkInteger(cls: string, name: string, value: unknown, min: number): number {
  if (typeof value !== "number") throw new TypeError(`${cls}: expected \`${name}\` to be a number, got ${typeof value}`);
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`${cls}: expected \`${name}\` to be an integer from ${min} up, got ${value}`);
  }
  return value;
}

function checkOptions(options: unknown, cls: string, defaultWorkers: number): CheckedOptions {
  const checked = {
    maxWorkers: defaultWorkers,
    cancel: "abandon" as CancelMode,
    minWorkers: 0,
    idleTimeoutMs: null as number | null,
    maxTasksPerChild: null as number | null,
    initializer: null as JobRequest | null,
    initargs: [] as readonly unknown[],
  };
  if (options === undefined || options === null) return checked;
  if (typeof options !== "object") throw new TypeError(`${cls}: expected \`options\` to be an object, got ${typeof options}`);
  const { maxWorkers, cancel, minWorkers, idleTimeout, initializer, initargs } = options as ExecutorOptions;
  const { maxTasksPerChild } = options as ProcessPoolExecutorOptions;
  if (maxWorkers !== undefined && maxWorkers !== null) checked.maxWorkers = checkInteger(cls, "maxWorkers", maxWorkers, 1);
  if (cancel !== undefined && cancel !== "abandon" && cancel !== "terminate") {
    throw new RangeError(`${cls}: expected \`cancel\` to be "abandon" or "terminate", got ${JSON.stringify(cancel)}`);
  }
  checked.cancel = cancel ?? "abandon";
  if (minWorkers !== undefined && minWorkers !== null) {
    checked.minWorkers = checkInteger(cls, "minWorkers", minWorkers, 0);
    if (checked.minWorkers > checked.maxWorkers) {
      throw new RangeError(`${cls}: expected \`minWorkers\` to be at most \`maxWorkers\` (${checked.maxWorkers}), got ${minWorkers}`);
    }
  }
  if (idleTimeout !== undefined && idleTimeout !== null) {
    if (typeof idleTimeout !== "number") throw new TypeError(`${cls}: expected \`idleTimeout\` to be a number of seconds, got ${typeof idleTimeout}`);
    if (Number.isNaN(idleTimeout) || idleTimeout < 0) {
      throw new RangeError(`${cls}: expected \`idleTimeout\` to be a number of seconds from 0 up, got ${idleTimeout}`);
    }
    if (idleTimeout !== Infinity) checked.idleTimeoutMs = idleTimeout * 1000;
  }
  if (maxTasksPerChild !== undefined && maxTasksPerChild !== null) {
    if (cls !== "ProcessPoolExecutor") {
      throw new TypeError(`${cls}: \`maxTasksPerChild\` is an option of ProcessPoolExecutor only (a thread cannot be renewed)`);
    }
    checked.maxTasksPerChild = checkInteger(cls, "maxTasksPerChild", maxTasksPerChild, 1);
  }
  if (initializer !== undefined && initializer !== null) {
    checked.initializer = toRequest(initializer, cls, "initializer");
  }
  if (initargs !== undefined && initargs !== null) {
    if (!Array.isArray(initargs)) throw new TypeError(`${cls}: expected \`initargs\` to be an array, got ${typeof initargs}`);
    if (checked.initializer === null) throw new TypeError(`${cls}: \`initargs\` was given without an \`initializer\``);
    checked.initargs = initargs;
  }
  return checked;
}

function checkShutdown(options: unknown): { wait: boolean; cancelFutures: boolean } {
  if (options === undefined || options === null) return { wait: true, cancelFutures: false };
  if (typeof options !== "object") throw new TypeError(`shutdown: expected \`options\` to be an object, got ${typeof options}`);
  const { wait, cancelFutures } = options as ShutdownOptions;
  return { wait: wait ?? true, cancelFutures: cancelFutures ?? false };
}

/**
 * What the two pool executors share (as CPython's executors share `concurrent.futures.Executor`'s contract): a
 * `WorkerPool` of threads or processes behind `submit`, `shutdown` and `maxWorkers`. Not exported from the package:
 * it shows in the published types only as the base class of both.
 */
export abstract class _PoolExecutor extends Executor {
  /** @internal */ readonly _pool: WorkerPool;
  /** @internal The class name in messages: `ThreadPoolExecutor` or `ProcessPoolExecutor`, subclasses included. */
  readonly _className: string;

  /** @internal */
  constructor(kind: PoolOptions["kind"], options: unknown, defaultWorkers: number) {
    super();
    this._className = kind === "thread" ? "ThreadPoolExecutor" : "ProcessPoolExecutor";
    this._pool = new WorkerPool({ kind, ...checkOptions(options, this._className, defaultWorkers) });
  }

  /** The most workers that run at once. */
  get maxWorkers(): number {
    return this._pool.options.maxWorkers;
  }

  /**
   * Queues `fn(...args)` (a self-contained function, `{ fn, ... }` or `{ module, export, ... }`) and returns its
   * future; see {@link Executor.submit}.
   */
  submit<A extends unknown[], R>(fn: WorkerCallable<A, R>, ...args: A): ExecutorFuture<Awaited<R>> {
    const method = `${this._className}.submit`;
    const request = toRequest(fn, method);
    return this._pool.submit(request, args, toCallOptions(fn, method));
  }

  /**
   * Stops accepting work; see {@link Executor.shutdown}.
   *
   * Cancellation: cancelling the caller stops its wait only; the shutdown goes on.
   */
  shutdown(options?: ShutdownOptions): Promise<void> {
    const { wait, cancelFutures } = checkShutdown(options);
    return this._pool.shutdown(wait, cancelFutures);
  }

  override toString(): string {
    const pool = this._pool;
    return `<${this._className} maxWorkers=${this.maxWorkers} workers=${pool.workerCount}${pool.isBroken ? " broken" : ""}${pool.isShutdown ? " shutdown" : ""}>`;
  }
}

/**
 * Runs functions in a pool of worker threads (`node:worker_threads`), started as needed up to `maxWorkers`
 * (default `min(32, CPUs + 4)`, as Python). Each job runs alone in its worker; CPU-bound work there does not
 * block the event loop.
 */
export class ThreadPoolExecutor extends _PoolExecutor {
  constructor(options?: ExecutorOptions) {
    super("thread", options, Math.min(32, availableParallelism() + 4));
  }
}

/**
 * Runs functions in a pool of Node child processes, started as needed up to `maxWorkers` (default: the number of
 * CPUs, as Python). Each worker is a separate `node` with the parent's Node flags (so a loader such as tsx is
 * there too); a job's `console` output goes to the parent's stdout and stderr.
 */
export class ProcessPoolExecutor extends _PoolExecutor {
  constructor(options?: ProcessPoolExecutorOptions) {
    super("process", options, availableParallelism());
  }
}

// ------------------------------------------------------------------ the loop's methods

declare module "./events.js" {
  interface EventLoop {
    /**
     * Runs `fn(...args)` in `executor` (`null`: the loop's default `ThreadPoolExecutor`, created on first use) and
     * returns a Future for its result. `fn` is sent to a worker as its source, so it must be self-contained; or
     * pass `{ module, export }`. An error thrown there comes back with its class name, message and stack; a
     * `ReferenceError` (a sign the function used something from outside) carries a hint.
     *
     * `fn` may carry the options of this call: `{ fn, signal, timeout, transferList }` (or `{ module, export, ... }`).
     * `timeout` (seconds) ends the job with `TimeoutError`, an abort of `signal` with `CancelledError` (the abort
     * reason's message); either ends the worker when the job is running. An already-aborted `signal` gives a Future
     * already cancelled.
     *
     * Cancellation: cancelling the Future (or the task awaiting it) stops the wait at once. A queued job is dropped;
     * a running one keeps running and its result is dropped, as in Python, unless the executor was made with
     * `cancel: "terminate"`, which ends its worker (the pool starts another when needed).
     *
     * @throws {RuntimeError} the loop is closed, or `executor` is null after `shutdownDefaultExecutor()`.
     * @throws {TypeError} `executor` has no `submit` method, `fn` cannot be sent to a worker, or its `signal` is not
     * an `AbortSignal`.
     * @throws {BrokenExecutor} the executor's initializer failed.
     */
    runInExecutor<A extends unknown[], R>(
      executor: ExecutorLike | null,
      fn: WorkerFunction<A, R> | FunctionCall<WorkerFunction<A, R>>,
      ...args: A
    ): Future<Awaited<R>>;
    runInExecutor<R = unknown>(executor: ExecutorLike | null, fn: ModuleFunction, ...args: unknown[]): Future<R>;
    /** Makes `executor` the default of `runInExecutor(null, ...)` and `toThread()`. `TypeError` unless a `ThreadPoolExecutor`. */
    setDefaultExecutor(executor: ThreadPoolExecutor): void;
  }
}

const defaultExecutors = new WeakMap<EventLoop, ThreadPoolExecutor>();
const hooked = new WeakSet<EventLoop>();

function hookLoop(loop: EventLoop): void {
  if (hooked.has(loop)) return;
  hooked.add(loop);
  loop._shutdownDefaultExecutorHook = shutdownDefaultExecutor;
  loop._closeHooks.push(closeDefaultExecutor);
}

/** Shuts the default executor down and waits for it, for at most `timeout` seconds (null: as long as it takes). */
async function shutdownDefaultExecutor(loop: EventLoop, timeout: number | null): Promise<void> {
  const executor = defaultExecutors.get(loop);
  if (executor === undefined) return;
  const done = loop.createFuture<boolean>();
  const settle = (finished: boolean): void => {
    if (!done.done() && !loop.isClosed()) done.setResult(finished);
  };
  const timer = timeout === null ? null : loop.callLater(timeout, settle, false);
  void executor.shutdown({ wait: true }).then(() => settle(true));
  try {
    if (!(await done)) {
      loop.callExceptionHandler({
        message: `The default executor did not finish its jobs within ${timeout} seconds; its workers were ended`,
      });
      executor._pool.terminateAll();
    }
  } finally {
    timer?.cancel();
  }
}

function closeDefaultExecutor(loop: EventLoop): void {
  const executor = defaultExecutors.get(loop);
  if (executor === undefined) return;
  defaultExecutors.delete(loop);
  void executor.shutdown({ wait: false });
}

EventLoop.prototype.runInExecutor = function runInExecutor(
  this: EventLoop,
  executor: ExecutorLike | null,
  fn: WorkerCallable,
  ...args: unknown[]
): Future<unknown> {
  this._checkClosed();
  let target: ExecutorLike;
  if (executor === null || executor === undefined) {
    if (this._executorShutdownCalled) throw new RuntimeError("Executor shutdown has been called");
    let def = defaultExecutors.get(this);
    if (def === undefined) {
      def = new ThreadPoolExecutor();
      defaultExecutors.set(this, def);
      hookLoop(this);
    }
    target = def;
  } else if (typeof (executor as ExecutorLike).submit === "function") {
    target = executor;
  } else {
    throw new TypeError(`runInExecutor: expected \`executor\` to be an executor or null, got ${typeof executor}`);
  }
  const job = target.submit(fn, ...args);
  const future = this.createFuture<unknown>();
  const settle = (ok: boolean, outcome: unknown): void => {
    if (future.done() || this.isClosed()) return;
    if (ok) future.setResult(outcome);
    else if (outcome instanceof CancelledError) future.cancel(outcome.message === "" ? undefined : outcome.message);
    else future.setException(outcome);
  };
  // Our own executors tell the Future directly, without a promise in between.
  if (job instanceof ExecutorFuture) job._onDone(settle);
  else job.then((value) => settle(true, value), (error) => settle(false, error));
  future.addDoneCallback((f) => {
    if (f.cancelled()) job.cancel?.();
  });
  return future;
};

EventLoop.prototype.setDefaultExecutor = function setDefaultExecutor(this: EventLoop, executor: ThreadPoolExecutor): void {
  if (!(executor instanceof ThreadPoolExecutor)) {
    throw new TypeError(
      `setDefaultExecutor: expected \`executor\` to be a ThreadPoolExecutor, got ${executor === null ? "null" : (executor as object)?.constructor?.name ?? typeof executor}`,
    );
  }
  defaultExecutors.set(this, executor);
  hookLoop(this);
};
