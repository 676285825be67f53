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
 * clone algorithm. Pass `{ module, export }` to run a function of a module instead.
 * @module
 */
import { availableParallelism } from "node:os";
import { EventLoop } from "./events.js";
import { CancelledError, RuntimeError } from "./exceptions.js";
import type { Future } from "./futures.js";
import {
  type CancelMode,
  ExecutorFuture,
  type ModuleFunction,
  WorkerPool,
  toRequest,
} from "./_internal/processes/worker_pool.js";

export { ExecutorFuture } from "./_internal/processes/worker_pool.js";
export type { CancelMode, JobState, ModuleFunction } from "./_internal/processes/worker_pool.js";

/** A function that can run in a worker: self-contained, taking and returning structured-cloneable values. */
export type WorkerFunction<A extends unknown[] = any[], R = unknown> = (...args: A) => R;

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
}

/** What `loop.runInExecutor()` needs from an executor: `submit` returning an awaitable, cancellable if it can be. */
export interface ExecutorLike {
  submit(fn: any, ...args: any[]): PromiseLike<unknown> & { cancel?(): boolean };
}

/**
 * Python's `concurrent.futures.Executor`: runs functions away from the event loop. `with(body)` shuts it down
 * (waiting) when the body ends.
 */
export abstract class Executor implements ExecutorLike {
  /** Queues `fn(...args)` and returns its future. `RuntimeError` after `shutdown()`. */
  abstract submit<A extends unknown[], R>(fn: WorkerFunction<A, R> | ModuleFunction, ...args: A): ExecutorFuture<Awaited<R>>;

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
}

function checkOptions(options: unknown, cls: string, defaultWorkers: number): { maxWorkers: number; cancel: CancelMode } {
  if (options === undefined || options === null) return { maxWorkers: defaultWorkers, cancel: "abandon" };
  if (typeof options !== "object") throw new TypeError(`${cls}: expected \`options\` to be an object, got ${typeof options}`);
  const { maxWorkers, cancel } = options as ExecutorOptions;
  let workers = defaultWorkers;
  if (maxWorkers !== undefined && maxWorkers !== null) {
    if (typeof maxWorkers !== "number") {
      throw new TypeError(`${cls}: expected \`maxWorkers\` to be a number, got ${typeof maxWorkers}`);
    }
    if (!Number.isInteger(maxWorkers) || maxWorkers < 1) {
      throw new RangeError(`${cls}: expected \`maxWorkers\` to be an integer from 1 up, got ${maxWorkers}`);
    }
    workers = maxWorkers;
  }
  if (cancel !== undefined && cancel !== "abandon" && cancel !== "terminate") {
    throw new RangeError(`${cls}: expected \`cancel\` to be "abandon" or "terminate", got ${JSON.stringify(cancel)}`);
  }
  return { maxWorkers: workers, cancel: cancel ?? "abandon" };
}

function checkShutdown(options: unknown): { wait: boolean; cancelFutures: boolean } {
  if (options === undefined || options === null) return { wait: true, cancelFutures: false };
  if (typeof options !== "object") throw new TypeError(`shutdown: expected \`options\` to be an object, got ${typeof options}`);
  const { wait, cancelFutures } = options as ShutdownOptions;
  return { wait: wait ?? true, cancelFutures: cancelFutures ?? false };
}

/**
 * Runs functions in a pool of worker threads (`node:worker_threads`), started as needed up to `maxWorkers`
 * (default `min(32, CPUs + 4)`, as Python). Each job runs alone in its worker; CPU-bound work there does not
 * block the event loop.
 */
export class ThreadPoolExecutor extends Executor {
  /** @internal */ readonly _pool: WorkerPool;

  constructor(options?: ExecutorOptions) {
    super();
    const { maxWorkers, cancel } = checkOptions(options, "ThreadPoolExecutor", Math.min(32, availableParallelism() + 4));
    this._pool = new WorkerPool({ kind: "thread", maxWorkers, cancel });
  }

  /** The most workers that run at once. */
  get maxWorkers(): number {
    return this._pool.options.maxWorkers;
  }

  /** Queues `fn(...args)` (a self-contained function, or `{ module, export }`) and returns its future. */
  submit<A extends unknown[], R>(fn: WorkerFunction<A, R> | ModuleFunction, ...args: A): ExecutorFuture<Awaited<R>> {
    return this._pool.submit(toRequest(fn, "ThreadPoolExecutor.submit"), args);
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
    return `<ThreadPoolExecutor maxWorkers=${this.maxWorkers} workers=${this._pool.workerCount}${this._pool.isShutdown ? " shutdown" : ""}>`;
  }
}

/**
 * Runs functions in a pool of Node child processes, started as needed up to `maxWorkers` (default: the number of
 * CPUs, as Python). Each worker is a separate `node` with the parent's Node flags (so a loader such as tsx is
 * there too); a job's `console` output goes to the parent's stdout and stderr.
 */
export class ProcessPoolExecutor extends Executor {
  /** @internal */ readonly _pool: WorkerPool;

  constructor(options?: ExecutorOptions) {
    super();
    const { maxWorkers, cancel } = checkOptions(options, "ProcessPoolExecutor", availableParallelism());
    this._pool = new WorkerPool({ kind: "process", maxWorkers, cancel });
  }

  /** The most workers that run at once. */
  get maxWorkers(): number {
    return this._pool.options.maxWorkers;
  }

  /** Queues `fn(...args)` (a self-contained function, or `{ module, export }`) and returns its future. */
  submit<A extends unknown[], R>(fn: WorkerFunction<A, R> | ModuleFunction, ...args: A): ExecutorFuture<Awaited<R>> {
    return this._pool.submit(toRequest(fn, "ProcessPoolExecutor.submit"), args);
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
    return `<ProcessPoolExecutor maxWorkers=${this.maxWorkers} workers=${this._pool.workerCount}${this._pool.isShutdown ? " shutdown" : ""}>`;
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
     * Cancellation: cancelling the Future (or the task awaiting it) stops the wait at once. A queued job is dropped;
     * a running one keeps running and its result is dropped, as in Python, unless the executor was made with
     * `cancel: "terminate"`, which ends its worker (the pool starts another when needed).
     *
     * @throws {RuntimeError} the loop is closed, or `executor` is null after `shutdownDefaultExecutor()`.
     * @throws {TypeError} `executor` has no `submit` method, or `fn` cannot be sent to a worker.
     */
    runInExecutor<A extends unknown[], R>(executor: ExecutorLike | null, fn: WorkerFunction<A, R>, ...args: A): Future<Awaited<R>>;
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
  fn: WorkerFunction | ModuleFunction,
  ...args: unknown[]
): Future<any> {
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
  job.then(
    (value) => {
      if (!future.done() && !this.isClosed()) future.setResult(value);
    },
    (error) => {
      if (future.done() || this.isClosed()) return;
      if (error instanceof CancelledError) future.cancel();
      else future.setException(error);
    },
  );
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
