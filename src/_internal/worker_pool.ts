/**
 * The pool behind `ThreadPoolExecutor` and `ProcessPoolExecutor`: a FIFO queue of jobs and up to `maxWorkers`
 * workers (threads or child processes) started on demand, each running one job at a time.
 *
 * A job's function travels as its source text (or as a module URL and export name); its arguments and result are
 * copied with the structured clone algorithm. Errors come back described (class name, name, message, stack, own
 * fields, cause) and are rebuilt here, as the built-in class when there is one.
 *
 * Liveness: a busy worker keeps Node alive (like a running thread keeps Python alive); an idle one does not, so a
 * program that forgets `shutdown()` still exits.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { Worker } from "node:worker_threads";
import { pathToFileURL } from "node:url";
import { isAbsolute } from "node:path";
import { CancelledError, RuntimeError } from "../exceptions.js";
import { Deque } from "./deque.js";
import { WORKER_SOURCE } from "./worker_source.js";

/** A function of a module, to run in a worker: `{ module: new URL("./work.js", import.meta.url), export: "hash" }`. */
export interface ModuleFunction {
  /** The module: a `URL`, a URL string (`file:`, `node:`, `data:`), or an absolute path. */
  readonly module: string | URL;
  /** The export to call (default `"default"`). */
  readonly export?: string;
}

/** What a job runs, as sent to the worker. */
type JobRequest =
  | { readonly kind: "source"; readonly source: string; readonly label: string }
  | { readonly kind: "module"; readonly url: string; readonly exportName: string; readonly label: string };

/** What to do with a running job when its future is cancelled. */
export type CancelMode = "abandon" | "terminate";

/** A worker's error as described by the worker program. */
interface ErrorDescription {
  thrown?: boolean;
  value?: unknown;
  className: string;
  name: string;
  message: string;
  stack: string;
  props: Record<string, unknown>;
  cause?: ErrorDescription;
  errors?: ErrorDescription[];
}

interface Reply {
  jobId: number;
  ok: boolean;
  value?: unknown;
  error?: ErrorDescription;
}

const NATIVE_SOURCE = /\{\s*\[native code\]\s*\}\s*$/;

/** @internal Checks `fn` and turns it into what the worker needs. */
export function toRequest(fn: unknown, method: string): JobRequest {
  if (typeof fn === "function") {
    const source = Function.prototype.toString.call(fn);
    if (NATIVE_SOURCE.test(source)) {
      throw new TypeError(
        `${method}: cannot send ${fn.name ? `\`${fn.name}\`` : "this function"} to a worker: it is native or bound, so it has no ` +
          "source; wrap it in a function written in JavaScript, such as `(x) => Math.sqrt(x)`",
      );
    }
    return { kind: "source", source, label: fn.name || "<anonymous>" };
  }
  if (fn !== null && typeof fn === "object" && "module" in fn) {
    const spec = fn as ModuleFunction;
    const exportName = spec.export ?? "default";
    if (typeof exportName !== "string") {
      throw new TypeError(`${method}: expected \`fn.export\` to be a string, got ${typeof exportName}`);
    }
    let url: string;
    if (spec.module instanceof URL) url = spec.module.href;
    else if (typeof spec.module === "string") {
      if (isAbsolute(spec.module)) url = pathToFileURL(spec.module).href;
      else if (/^[a-z][a-z0-9+.-]*:/i.test(spec.module)) url = spec.module;
      else {
        throw new RangeError(
          `${method}: expected \`fn.module\` to be a URL or an absolute path, got "${spec.module}"; ` +
            'resolve it first, such as `new URL("./work.js", import.meta.url)`',
        );
      }
    } else {
      throw new TypeError(`${method}: expected \`fn.module\` to be a URL or a string, got ${spec.module === null ? "null" : typeof spec.module}`);
    }
    return { kind: "module", url, exportName, label: `${url}#${exportName}` };
  }
  throw new TypeError(
    `${method}: expected \`fn\` to be a function or { module, export }, got ${fn === null ? "null" : typeof fn}`,
  );
}

const BUILTIN_ERRORS: Record<string, new (message?: string) => Error> = {
  Error,
  TypeError,
  RangeError,
  ReferenceError,
  SyntaxError,
  EvalError,
  URIError,
};

const SOURCE_HINT =
  " (the function ran in a worker from its source text alone, so it cannot use the variables and imports of the " +
  "module that defined it: move them inside the function, use `await import(...)` or `require(...)` there, pass " +
  "values as arguments, or pass { module, export } instead)";

/** @internal Rebuilds an error described by a worker. */
export function rebuildError(d: ErrorDescription, hint = false): unknown {
  if (d.thrown === true) return d.value;
  const builtin = Object.hasOwn(BUILTIN_ERRORS, d.className) ? BUILTIN_ERRORS[d.className]! : null;
  let message = d.message;
  let stack = d.stack;
  if (hint && d.className === "ReferenceError") {
    const head = `${d.name}: ${d.message}`;
    message += SOURCE_HINT;
    stack = stack.startsWith(head) ? `${d.name}: ${message}${stack.slice(head.length)}` : stack;
  }
  let error: Error;
  if (d.className === "AggregateError") error = new AggregateError((d.errors ?? []).map((e) => rebuildError(e)), message);
  else error = new (builtin ?? Error)(message);
  // Keep the class's name visible even when the class itself does not exist on this side.
  const name = builtin !== null || d.className === "AggregateError" || d.name !== "Error" ? d.name : d.className;
  if (error.name !== name) Object.defineProperty(error, "name", { value: name, writable: true, configurable: true });
  if (stack !== "") error.stack = stack;
  for (const [key, value] of Object.entries(d.props)) (error as unknown as Record<string, unknown>)[key] = value;
  if (d.cause !== undefined) error.cause = rebuildError(d.cause);
  return error;
}

// ------------------------------------------------------------------ jobs

/** The life of a job: pending (queued) → running → finished, or cancelled from pending or (terminate) running. */
export type JobState = "pending" | "running" | "finished" | "cancelled";

let jobCounter = 0;

/**
 * What `executor.submit()` returns, as Python's `concurrent.futures.Future`: await it (it is a `PromiseLike`),
 * or `cancel()` it. Independent of any event loop: it settles once the job finished, failed or was cancelled
 * (then with `CancelledError`).
 *
 * Cancellation: awaiting it directly in a task gives no way to stop the job when the task is cancelled (the task
 * gets `CancelledError` at its next await of an asyncio-ts awaitable); use `loop.runInExecutor()`, whose Future
 * cancels the job, or call `cancel()`.
 */
export class ExecutorFuture<T = unknown> implements PromiseLike<T> {
  // Invariants: `_state` only moves forward; `_worker` is set exactly while "running"; the promise settles once,
  // when the state becomes "finished" or "cancelled".
  /** @internal */ readonly _id = ++jobCounter;
  /** @internal */ _state: JobState = "pending";
  /** @internal */ _worker: PoolWorker | null = null;
  /** @internal */ readonly _request: JobRequest;
  /** @internal */ readonly _args: unknown[];
  private readonly _pool: WorkerPool;
  private readonly _promise: Promise<T>;
  private _resolve!: (value: T) => void;
  private _reject!: (error: unknown) => void;

  /** @internal Use `executor.submit()`. */
  constructor(pool: WorkerPool, request: JobRequest, args: unknown[]) {
    this._pool = pool;
    this._request = request;
    this._args = args;
    this._promise = new Promise<T>((resolve, reject) => {
      this._resolve = resolve;
      this._reject = reject;
    });
    // A job nobody awaits (its caller was cancelled) must not become an unhandled rejection.
    this._promise.catch(() => {});
  }

  /**
   * Cancels the job, as Python's `Future.cancel()`: a queued job is dropped; a running one is terminated (its
   * worker ends and is replaced) when the executor was made with `cancel: "terminate"`, else it keeps running
   * and `cancel()` returns false. True when the job is (now) cancelled.
   */
  cancel(): boolean {
    if (this._state === "cancelled") return true;
    if (this._state === "finished") return false;
    return this._pool._cancel(this as ExecutorFuture<unknown>);
  }

  /** Whether the job was cancelled. */
  cancelled(): boolean {
    return this._state === "cancelled";
  }

  /** Whether a worker is running the job now. */
  running(): boolean {
    return this._state === "running";
  }

  /** Whether the job finished or was cancelled. */
  done(): boolean {
    return this._state === "finished" || this._state === "cancelled";
  }

  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this._promise.then(onFulfilled, onRejected);
  }

  /** Promise interop: `future.catch(fn)`. */
  catch<R = never>(onRejected?: ((reason: any) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this._promise.catch(onRejected);
  }

  /** Promise interop: `future.finally(fn)`. */
  finally(onFinally?: (() => void) | null): Promise<T> {
    return this._promise.finally(onFinally);
  }

  /** @internal */
  _finish(ok: boolean, value: unknown): void {
    if (this.done()) return;
    this._state = "finished";
    this._worker = null;
    if (ok) this._resolve(value as T);
    else this._reject(value);
  }

  /** @internal */
  _markCancelled(): void {
    if (this.done()) return;
    this._state = "cancelled";
    this._worker = null;
    this._reject(new CancelledError());
  }

  toString(): string {
    return `<ExecutorFuture ${this._state} ${this._request.label}>`;
  }
}

// ------------------------------------------------------------------ workers

/** One worker thread or process, running at most one job. */
export abstract class PoolWorker {
  /** The job it runs, or null when idle. */
  job: ExecutorFuture<unknown> | null = null;
  /** Set when the pool ends the worker on purpose (shutdown, terminate on cancel): its exit is not a crash. */
  retiring = false;
  /** The error it reported before exiting, if any. */
  lastError: unknown = undefined;
  exited = false;

  constructor(protected readonly pool: WorkerPool) {}

  abstract post(message: object): void;
  abstract stop(): void;
  abstract setBusy(busy: boolean): void;
  abstract describe(): string;
}

// Bun caches what it compiled of a program by the program's text, but compiles a thread's program as a module and
// a process's `-e` program as a script: with one text for both, whichever ran first broke the other (a thread saw
// "require is not defined", a process exited before its first job). So each kind gets a text of its own.
const THREAD_SOURCE = `// worker thread\n${WORKER_SOURCE}`;
const PROCESS_SOURCE = `// worker process\n${WORKER_SOURCE}`;

class ThreadWorker extends PoolWorker {
  private readonly worker: Worker;

  constructor(pool: WorkerPool) {
    super(pool);
    // The worker inherits the parent's Node flags (Node keeps those a thread may have), so loaders apply there too.
    this.worker = new Worker(THREAD_SOURCE, { eval: true });
    this.worker.on("message", (reply: Reply) => pool._onReply(this, reply));
    this.worker.on("error", (error) => {
      this.lastError = error;
    });
    this.worker.on("exit", (code) => pool._onExit(this, `exited with code ${code}`));
  }

  post(message: object): void {
    this.worker.postMessage(message);
  }

  stop(): void {
    this.retiring = true;
    // Referenced again so that whoever waits for the exit (shutdown) keeps Node alive until it happens.
    this.worker.ref();
    void this.worker.terminate();
  }

  setBusy(busy: boolean): void {
    if (busy) this.worker.ref();
    else this.worker.unref();
  }

  describe(): string {
    return `worker thread ${this.worker.threadId}`;
  }
}

/** Node flags a worker process must not inherit: the parent's program (`-e`), the test runner, watchers, debuggers. */
function childExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-e" || a === "--eval" || a === "-p" || a === "--print") {
      i++;
      continue;
    }
    if (/^(--test|--watch|--inspect|--debug|--input-type|--eval=|--print=|-i$|--interactive|-c$|--check)/.test(a)) continue;
    out.push(a);
  }
  return out;
}

class ProcessWorker extends PoolWorker {
  private readonly child: ChildProcess;

  constructor(pool: WorkerPool) {
    super(pool);
    this.child = spawn(process.execPath, [...childExecArgv(), "-e", PROCESS_SOURCE], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      serialization: "advanced",
      windowsHide: true,
    });
    this.child.on("message", (reply: Reply) => pool._onReply(this, reply));
    this.child.on("error", (error) => {
      this.lastError = error;
      // A process that could not start emits no exit event.
      if (this.child.pid === undefined) pool._onExit(this, "could not start");
    });
    this.child.on("exit", (code, signal) => pool._onExit(this, signal !== null ? `was killed by ${signal}` : `exited with code ${code}`));
  }

  post(message: object): void {
    this.child.send(message);
  }

  stop(): void {
    this.retiring = true;
    // Referenced again so that whoever waits for the exit (shutdown) keeps Node alive until it happens.
    this.setBusy(true);
    this.child.kill("SIGKILL");
  }

  setBusy(busy: boolean): void {
    // Bun's IPC channel has no ref() or unref(): there the child alone holds the process open.
    if (busy) {
      this.child.ref();
      this.child.channel?.ref?.();
    } else {
      this.child.unref();
      this.child.channel?.unref?.();
    }
  }

  describe(): string {
    return `worker process ${this.child.pid}`;
  }
}

// ------------------------------------------------------------------ the pool

/** Options the executors pass on. */
export interface PoolOptions {
  readonly kind: "thread" | "process";
  readonly maxWorkers: number;
  readonly cancel: CancelMode;
}

export class WorkerPool {
  // Invariants: `queue` holds only pending jobs. Every worker in `workers` (at most `maxWorkers`) is either busy
  // (`job` set) or in `idle`. A stopped worker moves from `workers` to `stopping` at once, so its replacement can
  // start before it has exited. After shutdown, submit refuses work; idle workers are stopped once the queue is
  // empty, and the drain waiters resolve when no worker is left in either set.
  readonly options: PoolOptions;
  private readonly queue = new Deque<ExecutorFuture<unknown>>();
  private readonly workers = new Set<PoolWorker>();
  private readonly stopping = new Set<PoolWorker>();
  private readonly idle: PoolWorker[] = [];
  private shutdownCalled = false;
  private drainWaiters: (() => void)[] = [];

  constructor(options: PoolOptions) {
    this.options = options;
  }

  get isShutdown(): boolean {
    return this.shutdownCalled;
  }

  /** How many workers exist (busy or idle). */
  get workerCount(): number {
    return this.workers.size;
  }

  submit<T>(request: JobRequest, args: unknown[]): ExecutorFuture<T> {
    if (this.shutdownCalled) throw new RuntimeError("cannot schedule new futures after shutdown");
    const job = new ExecutorFuture<T>(this, request, args);
    this.queue.push(job as ExecutorFuture<unknown>);
    this.dispatch();
    return job;
  }

  shutdown(wait: boolean, cancelFutures: boolean): Promise<void> {
    this.shutdownCalled = true;
    if (cancelFutures) {
      while (this.queue.length > 0) this.queue.shift()!._markCancelled();
    }
    this.retireIdle();
    if (!wait || this.drained()) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private drained(): boolean {
    return this.workers.size === 0 && this.stopping.size === 0 && this.queue.length === 0;
  }

  /** Stops `worker` (busy or idle) and takes it out of the count of workers. */
  private stopWorker(worker: PoolWorker): void {
    this.workers.delete(worker);
    const at = this.idle.indexOf(worker);
    if (at >= 0) this.idle.splice(at, 1);
    if (worker.exited) return;
    this.stopping.add(worker);
    worker.stop();
  }

  /** Stops every worker now; running jobs are cancelled. For a loop that gave up waiting. */
  terminateAll(): void {
    this.shutdownCalled = true;
    while (this.queue.length > 0) this.queue.shift()!._markCancelled();
    for (const worker of Array.from(this.workers)) {
      worker.job?._markCancelled();
      worker.job = null;
      this.stopWorker(worker);
    }
  }

  /** @internal */
  _cancel(job: ExecutorFuture<unknown>): boolean {
    if (job._state === "pending") {
      this.queue.remove(job);
      job._markCancelled();
      return true;
    }
    if (job._state === "running" && this.options.cancel === "terminate") {
      const worker = job._worker!;
      job._markCancelled();
      worker.job = null;
      this.stopWorker(worker);
      this.dispatch();
      return true;
    }
    return false;
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let worker = this.idle.pop();
      if (worker === undefined) {
        if (this.workers.size >= this.options.maxWorkers) return;
        try {
          worker = this.options.kind === "thread" ? new ThreadWorker(this) : new ProcessWorker(this);
        } catch (error) {
          // Node refused to start a worker (bad flags, no resources): the job that needed it fails.
          this.queue.shift()!._finish(false, error);
          continue;
        }
        this.workers.add(worker);
      }
      const job = this.queue.shift()!;
      this.start(worker, job);
    }
  }

  private start(worker: PoolWorker, job: ExecutorFuture<unknown>): void {
    const request = job._request;
    const message =
      request.kind === "source"
        ? { jobId: job._id, kind: "source", source: request.source, args: job._args }
        : { jobId: job._id, kind: "module", url: request.url, exportName: request.exportName, args: job._args };
    try {
      worker.post(message);
    } catch (error) {
      // The arguments cannot be copied (a function, a socket, ...): the job fails, the worker stays idle.
      job._finish(false, error);
      this.makeIdle(worker);
      return;
    }
    job._state = "running";
    job._worker = worker;
    worker.job = job;
    worker.setBusy(true);
  }

  private makeIdle(worker: PoolWorker): void {
    worker.setBusy(false);
    this.idle.push(worker);
    if (this.shutdownCalled && this.queue.length === 0) this.retireIdle();
  }

  private retireIdle(): void {
    if (this.queue.length > 0) return;
    for (const worker of this.idle.slice()) this.stopWorker(worker);
  }

  /** @internal A worker answered. */
  _onReply(worker: PoolWorker, reply: Reply): void {
    const job = worker.job;
    if (job === null || reply === null || typeof reply !== "object" || reply.jobId !== job._id) return;
    worker.job = null;
    if (reply.ok) job._finish(true, reply.value);
    else job._finish(false, rebuildError(reply.error!, job._request.kind === "source"));
    this.makeIdle(worker);
    this.dispatch();
  }

  /** @internal A worker ended (on purpose or not). */
  _onExit(worker: PoolWorker, how: string): void {
    if (worker.exited) return;
    worker.exited = true;
    this.workers.delete(worker);
    this.stopping.delete(worker);
    const at = this.idle.indexOf(worker);
    if (at >= 0) this.idle.splice(at, 1);
    const job = worker.job;
    worker.job = null;
    if (job !== null && !job.done()) {
      const cause = worker.lastError;
      const error = new RuntimeError(`${worker.describe()} ${how} while running ${job._request.label}`);
      if (cause !== undefined) error.cause = cause;
      job._finish(false, cause instanceof Error && !worker.retiring ? cause : error);
    }
    // Replace it when work is waiting (the next dispatch starts a new worker).
    this.dispatch();
    if (this.drained()) {
      for (const resolve of this.drainWaiters.splice(0)) resolve();
    }
  }
}
