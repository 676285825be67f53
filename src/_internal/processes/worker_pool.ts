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
import { isAbsolute, loadChildProcess, loadWorkerThreads, pathToFileURL, process } from "../node.js";
import type { ChildProcess } from "node:child_process";
import type { TransferListItem, Worker } from "node:worker_threads";
import {
  type BrokenExecutor,
  BrokenProcessPool,
  BrokenThreadPool,
  CancelledError,
  RuntimeError,
  TimeoutError,
} from "../../exceptions.js";
import { Deque } from "../kernel/deque.js";
import { WORKER_SOURCE } from "./worker_source.js";
import { type AbortRegistration, abortError, onAbort } from "../abort.js";
import { describe } from "../validate.js";

/** Options of one call, given with its function: `{ fn, signal, timeout, transferList }` or `{ module, export, ... }`. */
export interface CallOptions {
  /** Aborting it ends the job with `CancelledError` (its message the abort reason's); a running job's worker is ended. */
  readonly signal?: AbortSignal | null | undefined;
  /** Seconds from the call after which the job ends with `TimeoutError`; a running job's worker is ended. */
  readonly timeout?: number | null | undefined;
  /** Objects of the arguments to move to a worker thread instead of copying them (`ArrayBuffer`s, `MessagePort`s). */
  readonly transferList?: readonly TransferListItem[] | null | undefined;
}

/** A function of a module, to run in a worker: `{ module: new URL("./work.js", import.meta.url), export: "hash" }`. */
export interface ModuleFunction extends CallOptions {
  /** The module: a `URL`, a URL string (`file:`, `node:`, `data:`), or an absolute path. */
  readonly module: string | URL;
  /** The export to call (default `"default"`). */
  readonly export?: string;
}

/** A self-contained function with the options of one call: `{ fn: (x) => x * 2, timeout: 5 }`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parameter list of any[] is what lets every function's own signature through
export interface FunctionCall<F extends (...args: any[]) => unknown = (...args: any[]) => unknown> extends CallOptions {
  /** The function; sent to the worker as its source text, so it must be self-contained. */
  readonly fn: F;
}

/** What a job runs, as sent to the worker. */
export type JobRequest =
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
  /** Sent instead of any reply when the worker's initializer failed. */
  initError?: ErrorDescription;
}

const NATIVE_SOURCE = /\{\s*\[native code\]\s*\}\s*$/;

const sourceRequests = new WeakMap<(...args: never[]) => unknown, JobRequest>();

function functionRequest(fn: (...args: never[]) => unknown, method: string): JobRequest {
  const cached = sourceRequests.get(fn);
  if (cached !== undefined) return cached;
  const source = Function.prototype.toString.call(fn);
  if (NATIVE_SOURCE.test(source)) {
    throw new TypeError(
      `${method}: cannot send ${fn.name ? `\`${fn.name}\`` : "this function"} to a worker: it is native or bound, so it has no ` +
        "source; wrap it in a function written in JavaScript, such as `(x) => Math.sqrt(x)`",
    );
  }
  const request: JobRequest = { kind: "source", source, label: fn.name || "<anonymous>" };
  sourceRequests.set(fn, request);
  return request;
}

function moduleRequest(spec: ModuleFunction, method: string, what: string): JobRequest {
  const exportName = spec.export ?? "default";
  if (typeof exportName !== "string") {
    throw new TypeError(`${method}: expected \`${what}.export\` to be a string, got ${typeof exportName}`);
  }
  let url: string;
  if (spec.module instanceof URL) url = spec.module.href;
  else if (typeof spec.module === "string") {
    if (isAbsolute(spec.module)) url = pathToFileURL(spec.module).href;
    else if (/^[a-z][a-z0-9+.-]*:/i.test(spec.module)) url = spec.module;
    else {
      throw new RangeError(
        `${method}: expected \`${what}.module\` to be a URL or an absolute path, got "${spec.module}"; ` +
          'resolve it first, such as `new URL("./work.js", import.meta.url)`',
      );
    }
  } else {
    throw new TypeError(
      `${method}: expected \`${what}.module\` to be a URL or a string, got ${spec.module === null ? "null" : typeof spec.module}`,
    );
  }
  return { kind: "module", url, exportName, label: `${url}#${exportName}` };
}

/**
 * @internal Checks `fn` (a function, `{ fn, ...options }` or `{ module, export, ...options }`) and turns it into what
 * the worker needs. `what` names the argument in messages.
 */
export function toRequest(fn: unknown, method: string, what = "fn"): JobRequest {
  if (typeof fn === "function") return functionRequest(fn as (...args: never[]) => unknown, method);
  if (fn !== null && typeof fn === "object") {
    const hasModule = "module" in fn;
    const hasFn = "fn" in fn;
    if (hasModule && hasFn) {
      throw new TypeError(`${method}: expected \`${what}\` to have \`fn\` or \`module\`, not both`);
    }
    if (hasModule) return moduleRequest(fn as ModuleFunction, method, what);
    if (hasFn) {
      const inner = (fn as FunctionCall).fn;
      if (typeof inner !== "function") {
        throw new TypeError(`${method}: expected \`${what}.fn\` to be a function, got ${inner === null ? "null" : typeof inner}`);
      }
      return functionRequest(inner, method);
    }
  }
  throw new TypeError(
    `${method}: expected \`${what}\` to be a function, { fn } or { module, export }, got ${fn === null ? "null" : typeof fn}`,
  );
}

/** The checked options of one call; `null` when the call has none (a bare function). */
export interface CheckedCallOptions {
  readonly signal: AbortSignal | null;
  /** Milliseconds, or null for none. */
  readonly timeoutMs: number | null;
  readonly transferList: readonly TransferListItem[] | null;
}

/** @internal Checks the call options carried by `fn` (see {@link CallOptions}); null for a bare function or none set. */
export function toCallOptions(fn: unknown, method: string): CheckedCallOptions | null {
  if (typeof fn === "function" || fn === null || typeof fn !== "object") return null;
  const { signal, timeout, transferList } = fn as CallOptions;
  if (signal == null && timeout == null && transferList == null) return null;
  if (signal != null && !(signal instanceof AbortSignal)) {
    throw new TypeError(`${method}: expected \`signal\` to be an AbortSignal, got ${describe(signal)}`);
  }
  let timeoutMs: number | null = null;
  if (timeout != null) {
    if (typeof timeout !== "number") throw new TypeError(`${method}: expected \`timeout\` to be a number of seconds, got ${typeof timeout}`);
    if (Number.isNaN(timeout) || timeout < 0) {
      throw new RangeError(`${method}: expected \`timeout\` to be a number of seconds from 0 up, got ${timeout}`);
    }
    if (timeout !== Infinity) timeoutMs = timeout * 1000;
  }
  if (transferList != null && !Array.isArray(transferList)) {
    throw new TypeError(`${method}: expected \`transferList\` to be an array, got ${describe(transferList)}`);
  }
  return { signal: signal ?? null, timeoutMs, transferList: transferList ?? null };
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

/**
 * The pool's own view adds "sent": pending, but sent to a busy thread as its next job, which the pool can still take
 * back (then it is pending again) until the thread starts it.
 */
type PoolJobState = JobState | "sent";

let jobCounter = 0;

/**
 * What `executor.submit()` returns, as Python's `concurrent.futures.Future`: await it (it is a `PromiseLike`),
 * or `cancel()` it. Independent of any event loop: it settles once the job finished, failed or was cancelled
 * (then with `CancelledError`).
 *
 * Cancellation: awaiting it directly in a task gives no way to stop the job when the task is cancelled (the task
 * gets `CancelledError` at its next await of an asyncio-ts awaitable); use `loop.runInExecutor()`, whose Future
 * cancels the job, or call `cancel()`, or give the call a `signal`.
 */
export class ExecutorFuture<T = unknown> implements PromiseLike<T> {
  // Invariants: `_state` only moves forward (but "sent" back to "pending"); `_worker` is set exactly while "sent"
  // or "running"; the promise settles once,
  // when the state becomes "finished" or "cancelled", and at that moment the job's timer is cleared and its signal
  // watch dropped (`_release`), so an ended job holds nothing.
  /** @internal */ readonly _id = ++jobCounter;
  /** @internal */ _state: PoolJobState = "pending";
  /** @internal */ _worker: PoolWorker | null = null;
  /** @internal */ readonly _request: JobRequest;
  /** @internal */ readonly _args: unknown[];
  /** @internal */ readonly _pool: WorkerPool;
  /** @internal The abort registration of the call's `signal`, until the job ends. */ _abortRegistration: AbortRegistration | null = null;
  /** @internal */ _timer: ReturnType<typeof setTimeout> | null = null;
  /** @internal */ _transfer: readonly TransferListItem[] | null = null;
  // The outcome, once done: a value (`_ok`) or an error. The promise exists only once someone calls `then`,
  // `catch` or `finally` (`runInExecutor` listens through `_onDone` instead), so a job costs no promise unless
  // awaited, and one nobody awaits cannot become an unhandled rejection.
  private _ok = false;
  private _outcome: unknown = undefined;
  private _promise: Promise<T> | null = null;
  private _resolve: ((value: T) => void) | null = null;
  private _reject: ((error: unknown) => void) | null = null;
  private _doneHooks: ((ok: boolean, outcome: unknown) => void)[] | null = null;

  /** @internal Use `executor.submit()`. */
  constructor(pool: WorkerPool, request: JobRequest, args: unknown[]) {
    this._pool = pool;
    this._request = request;
    this._args = args;
  }

  /** @internal Calls `hook(ok, outcome)` once the job is done (at once if it is); no promise involved. */
  _onDone(hook: (ok: boolean, outcome: unknown) => void): void {
    if (this.done()) hook(this._ok, this._outcome);
    else (this._doneHooks ??= []).push(hook);
  }

  private _settled(): Promise<T> {
    if (this._promise === null) {
      if (this.done()) {
        this._promise = this._ok ? Promise.resolve(this._outcome as T) : Promise.reject(this._outcome);
      } else {
        this._promise = new Promise<T>((resolve, reject) => {
          this._resolve = resolve;
          this._reject = reject;
        });
      }
    }
    return this._promise;
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
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as lib.es5's Promise: a rejection handler may declare the error type it expects
    onRejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this._settled().then(onFulfilled, onRejected);
  }

  /** Promise interop: `future.catch(fn)`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as lib.es5's Promise: a rejection handler may declare the error type it expects
  catch<R = never>(onRejected?: ((reason: any) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this._settled().catch(onRejected);
  }

  /** Promise interop: `future.finally(fn)`. */
  finally(onFinally?: (() => void) | null): Promise<T> {
    return this._settled().finally(onFinally);
  }

  /** @internal */
  _finish(ok: boolean, value: unknown): void {
    if (this.done()) return;
    this._state = "finished";
    this._settle(ok, value);
  }

  /** @internal */
  _markCancelled(error?: CancelledError): void {
    if (this.done()) return;
    this._state = "cancelled";
    this._settle(false, error ?? new CancelledError());
  }

  private _settle(ok: boolean, outcome: unknown): void {
    this._worker = null;
    this._release();
    this._ok = ok;
    this._outcome = outcome;
    if (this._promise !== null) {
      if (ok) this._resolve!(outcome as T);
      else this._reject!(outcome);
      this._resolve = this._reject = null;
    }
    const hooks = this._doneHooks;
    if (hooks !== null) {
      this._doneHooks = null;
      for (const hook of hooks) hook(ok, outcome);
    }
  }

  /** Clears the timer and the signal watch of an ended job. */
  private _release(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
    if (this._abortRegistration !== null) {
      this._abortRegistration.dispose();
      this._abortRegistration = null;
    }
    this._transfer = null;
  }

  toString(): string {
    return `<ExecutorFuture ${this._state} ${this._request.label}>`;
  }
}

function noop(): void {}

// ------------------------------------------------------------------ workers

/** One worker thread or process, running one job at a time. */
export abstract class PoolWorker {
  /** The job it runs, or null when idle. */
  job: ExecutorFuture<unknown> | null = null;
  /**
   * The job sent to it while `job` runs, to start as soon as `job` ends (threads only): while it is "sent", the pool
   * may still take it back (`takeBack`). Null when none.
   */
  next: ExecutorFuture<unknown> | null = null;
  /** Set when the pool ends the worker on purpose (shutdown, terminate on cancel): its exit is not a crash. */
  retiring = false;
  /** The error it reported before exiting, if any. */
  lastError: unknown = undefined;
  exited = false;
  /** How many jobs it finished (for `maxTasksPerChild`). */
  jobsDone = 0;
  /** While idle beyond `minWorkers` with an `idleTimeout`: the timer that retires it. */
  idleTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(protected readonly pool: WorkerPool) {}

  abstract post(message: object, transfer: readonly TransferListItem[] | null): void;
  /** Whether it can be sent a next job now, while one runs (`sendAhead`). */
  readyForJobAhead(): boolean {
    return false;
  }
  /** Sends `message` as the next job, which the worker starts only if the pool did not take it back by then. */
  sendAhead(_message: { claim?: number }, _transfer: readonly TransferListItem[] | null): void {
    throw new RuntimeError(`${this.describe()} takes no job ahead`);
  }
  /** Takes back the job sent ahead: true when the worker had not started it (and now never will). */
  takeBack(): boolean {
    return false;
  }
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
  /**
   * Shared with the thread, for the last job sent ahead (worker_source.ts): its token `t` until the thread starts it
   * (then 0), `-t` once the pool took it back (0 again when the thread reached it and dropped it). The pool swaps `t`
   * for `-t` to take the job back, the thread `t` for 0 to start it: whoever swaps first owns the job. The pool sends
   * the next job ahead once this one started or was let go (the job before it ended), never while the cell holds a
   * `-t`: so the thread drops a job exactly when it finds its own `-t` there.
   */
  private readonly claim = new Int32Array(new SharedArrayBuffer(4));
  private lastToken = 0;

  constructor(pool: WorkerPool) {
    super(pool);
    // The worker inherits the parent's Node flags (Node keeps those a thread may have), so loaders apply there too.
    this.worker = new (loadWorkerThreads().Worker)(THREAD_SOURCE, { eval: true, workerData: { claim: this.claim.buffer } });
    this.worker.on("message", (reply: Reply) => pool._onReply(this, reply));
    this.worker.on("error", (error) => {
      this.lastError = error;
    });
    this.worker.on("exit", (code) => pool._onExit(this, `exited with code ${code}`));
  }

  post(message: object, transfer: readonly TransferListItem[] | null): void {
    if (transfer === null) this.worker.postMessage(message);
    else this.worker.postMessage(message, transfer);
  }

  override sendAhead(message: { claim?: number }, transfer: readonly TransferListItem[] | null): void {
    // Tokens run from 1 to 2^31 - 1: positive, so that -t (taken back) differs from t and from 0.
    const token = (this.lastToken % 0x7fffffff) + 1;
    this.lastToken = token;
    message.claim = token;
    // Stored before the post, or the thread could reach the message first and drop it.
    Atomics.store(this.claim, 0, token);
    try {
      this.post(message, transfer);
    } catch (error) {
      Atomics.store(this.claim, 0, 0);
      throw error;
    }
  }

  override takeBack(): boolean {
    const token = this.lastToken;
    return Atomics.compareExchange(this.claim, 0, token, -token) === token;
  }

  override readyForJobAhead(): boolean {
    return Atomics.load(this.claim, 0) >= 0;
  }

  stop(): void {
    this.retiring = true;
    // Referenced again so that whoever waits for the exit (shutdown) keeps Node alive until it happens.
    this.worker.ref();
    this.worker.terminate().catch(noop);
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

/** The parts of an IPC channel this pool uses; Node's has both methods, other runtimes (Bun) may have neither. */
interface ChannelLike {
  ref?: unknown;
  unref?: unknown;
}

/** Whether a `kill()` or `terminate()` error only says the process is already gone. */
function isGoneError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ESRCH" || code === "EPIPE" || code === "ECONNRESET" || code === "ERR_IPC_CHANNEL_CLOSED";
}

class ProcessWorker extends PoolWorker {
  private readonly child: ChildProcess;
  // No memory is shared with a process, so nothing would decide between it and the pool who starts a job sent
  // ahead: a process gets a job only when idle (the base class's readyForJobAhead).

  constructor(pool: WorkerPool) {
    super(pool);
    this.child = loadChildProcess().spawn(process.execPath, [...childExecArgv(), "-e", PROCESS_SOURCE], {
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
    // Processes get copies: a transfer list has no meaning across the IPC channel.
    this.child.send(message);
  }

  stop(): void {
    this.retiring = true;
    // Referenced again so that whoever waits for the exit (shutdown) keeps Node alive until it happens.
    this.setBusy(true);
    try {
      this.child.kill("SIGKILL");
    } catch (error) {
      // Already gone: its exit event comes (or came) anyway.
      if (!isGoneError(error)) throw error;
    }
  }

  setBusy(busy: boolean): void {
    // Node's ChildProcess and its channel both have ref/unref; other runtimes may lack either.
    const channel = this.child.channel as ChannelLike | null | undefined;
    if (busy) {
      if (typeof this.child.ref === "function") this.child.ref();
      if (typeof channel?.ref === "function") (channel.ref as () => void).call(channel);
    } else {
      if (typeof this.child.unref === "function") this.child.unref();
      if (typeof channel?.unref === "function") (channel.unref as () => void).call(channel);
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
  /** Workers started at once and kept even when idle. */
  readonly minWorkers: number;
  /** Milliseconds after which a worker idle beyond `minWorkers` exits; null: never. */
  readonly idleTimeoutMs: number | null;
  /** Jobs after which a worker is replaced; null: never. */
  readonly maxTasksPerChild: number | null;
  /** What every worker runs once before its first job, with `initargs`. */
  readonly initializer: JobRequest | null;
  readonly initargs: readonly unknown[];
}

export class WorkerPool {
  // Invariants: `queue` holds the pending jobs in order, and may also hold jobs that ended while queued (they are
  // skipped when reached, so that cancelling many queued jobs is not quadratic, and the queue is compacted when they
  // are more than half of it); when a worker is idle, `queue` is empty and no other worker holds a job "sent" ahead.
  // Every worker in `workers` (at most `maxWorkers`) is either busy (`job` set) or in `idle`; only a busy thread has
  // a `next` job, `sentAhead` counts those, and a worker is stopped only once its `next` is dealt with. A stopped
  // worker moves from `workers` to `stopping` at once, so its replacement can start before it has exited. After
  // shutdown, submit refuses work; idle workers are stopped once the queue is empty, and the drain waiters resolve
  // when no worker is left in either set. Once `broken` is set (an initializer failed) it stays set: no job is
  // queued or started again.
  readonly options: PoolOptions;
  private readonly queue = new Deque<ExecutorFuture<unknown>>();
  private readonly workers = new Set<PoolWorker>();
  private readonly stopping = new Set<PoolWorker>();
  private readonly idle: PoolWorker[] = [];
  private shutdownCalled = false;
  private drainWaiters: (() => void)[] = [];
  private broken: BrokenExecutor | null = null;
  /** How many jobs in `queue` ended while queued (at most; the count is reset when the queue is compacted). */
  private endedInQueue = 0;
  /** How many workers have a `next` job. */
  private sentAhead = 0;

  constructor(options: PoolOptions) {
    this.options = options;
    this.keepMinWorkers();
  }

  get isShutdown(): boolean {
    return this.shutdownCalled;
  }

  /** Whether an initializer failed, so the pool runs nothing more. */
  get isBroken(): boolean {
    return this.broken !== null;
  }

  /** How many workers exist (busy or idle). */
  get workerCount(): number {
    return this.workers.size;
  }

  submit<T>(request: JobRequest, args: unknown[], options: CheckedCallOptions | null): ExecutorFuture<T> {
    if (this.broken !== null) throw this.brokenError();
    if (this.shutdownCalled) throw new RuntimeError("cannot schedule new futures after shutdown");
    const job = new ExecutorFuture<T>(this, request, args);
    if (options !== null) {
      const { signal, timeoutMs, transferList } = options;
      if (signal !== null) {
        if (signal.aborted) {
          job._markCancelled(abortError(signal));
          return job;
        }
        job._abortRegistration = onAbort(signal, (message) => this._interrupt(job as ExecutorFuture<unknown>, new CancelledError(message)));
      }
      if (timeoutMs !== null) {
        const seconds = timeoutMs / 1000;
        job._timer = setTimeout(() => {
          this._interrupt(job as ExecutorFuture<unknown>, new TimeoutError(`${request.label} did not finish within ${seconds} seconds`));
        }, timeoutMs);
      }
      job._transfer = transferList;
    }
    this.queue.push(job as ExecutorFuture<unknown>);
    this.dispatch();
    return job;
  }

  /** A new error of the pool's broken kind, the initializer's error as its cause. */
  private brokenError(): BrokenExecutor {
    const broken = this.broken!;
    const Cls = this.options.kind === "thread" ? BrokenThreadPool : BrokenProcessPool;
    return new Cls(broken.message, { cause: broken.cause });
  }

  shutdown(wait: boolean, cancelFutures: boolean): Promise<void> {
    this.shutdownCalled = true;
    if (cancelFutures) {
      while (this.queue.length > 0) this.queue.shift()!._markCancelled();
      // Jobs sent ahead that no thread started yet are still queued, as far as the caller can tell.
      for (const worker of this.workers) this.takeBackNext(worker)?._markCancelled();
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
    if (worker.idleTimer !== null) {
      clearTimeout(worker.idleTimer);
      worker.idleTimer = null;
    }
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
      this.clearNext(worker)?._markCancelled();
      this.stopWorker(worker);
    }
  }

  /** @internal `cancel()` of a job: always for a queued one, for a running one in "terminate" mode only. */
  _cancel(job: ExecutorFuture<unknown>): boolean {
    if (job._state === "sent") {
      if (this.takeBackNext(job._worker!) !== null) {
        job._markCancelled();
        return true;
      }
      // Its thread has started it.
      job._state = "running";
    }
    if (job._state === "pending" || (job._state === "running" && this.options.cancel === "terminate")) {
      this._interrupt(job, new CancelledError());
      return true;
    }
    return false;
  }

  /**
   * @internal Ends `job` with `error` (a `CancelledError`, or the `TimeoutError` of its timeout) whatever the cancel
   * mode: a queued job is dropped, a running one's worker is ended (and replaced when work is waiting).
   */
  _interrupt(job: ExecutorFuture<unknown>, error: Error): void {
    if (job.done()) return;
    const worker = job._worker;
    const queued = job._state === "pending";
    if (error instanceof CancelledError) job._markCancelled(error);
    else job._finish(false, error);
    if (worker === null) {
      if (queued && ++this.endedInQueue > 64 && this.endedInQueue * 2 > this.queue.length) this.compactQueue();
      return;
    }
    if (worker.next === job) {
      // Sent ahead: dropped when taken back. Else its thread runs it now, so the job before it has ended there and
      // its answer is on the way; the thread is stopped when that answer arrives (`_onReply`).
      this.takeBackNext(worker);
      return;
    }
    const next = this.clearNext(worker);
    if (next !== null) {
      if (worker.takeBack()) {
        this.requeue(next);
      } else if (!next.done()) {
        // The thread had ended `job` and started `next`: it keeps running, for `next`.
        next._state = "running";
        worker.job = next;
        return;
      }
    }
    worker.job = null;
    this.stopWorker(worker);
    this.dispatch();
  }

  /** Takes back the job sent ahead to `worker` if its thread has not started it: that job, else null. */
  private takeBackNext(worker: PoolWorker): ExecutorFuture<unknown> | null {
    return worker.next !== null && worker.takeBack() ? this.clearNext(worker) : null;
  }

  /** Clears `worker.next` and returns it. */
  private clearNext(worker: PoolWorker): ExecutorFuture<unknown> | null {
    const next = worker.next;
    if (next !== null) {
      worker.next = null;
      this.sentAhead--;
    }
    return next;
  }

  /** Puts a job taken back from a thread first in the queue again (it was ahead of everything queued). */
  private requeue(job: ExecutorFuture<unknown>): void {
    job._state = "pending";
    job._worker = null;
    this.queue.unshift(job);
  }

  /** Drops the jobs that ended while queued, so that many cancellations behind a long job hold no memory. */
  private compactQueue(): void {
    const pending: ExecutorFuture<unknown>[] = [];
    for (;;) {
      const job = this.queue.shift();
      if (job === undefined) break;
      if (!job.done()) pending.push(job);
    }
    for (const job of pending) this.queue.push(job);
    this.endedInQueue = 0;
  }

  private newWorker(): PoolWorker | null {
    let worker: PoolWorker;
    try {
      worker = this.options.kind === "thread" ? new ThreadWorker(this) : new ProcessWorker(this);
    } catch (error) {
      // Node refused to start a worker (bad flags, no resources): the job that needed it fails.
      this.failNext(error);
      return null;
    }
    this.workers.add(worker);
    const init = this.options.initializer;
    if (init !== null) {
      try {
        worker.post(initMessage(init, this.options.initargs), null);
      } catch (error) {
        // The initargs cannot be copied: as an initializer that failed.
        this.breakPool(worker, error);
        return null;
      }
    }
    return worker;
  }

  /** Fails the first pending job with `error`. */
  private failNext(error: unknown): void {
    for (;;) {
      const job = this.queue.shift();
      if (job === undefined || !job.done()) {
        job?._finish(false, error);
        return;
      }
    }
  }

  private dispatch(): void {
    for (;;) {
      const job = this.queue.peekFirst();
      if (job === undefined) break;
      if (job.done()) {
        this.queue.shift();
        if (this.endedInQueue > 0) this.endedInQueue--;
        continue;
      }
      let worker = this.takeIdle();
      if (worker === undefined) {
        if (this.workers.size >= this.options.maxWorkers || this.broken !== null) {
          // Every worker is busy: a thread that has no next job gets this one now, so that it starts it the moment
          // its current job ends instead of a round trip later.
          const ahead = this.workerToSendAhead(job);
          if (ahead === null) break;
          this.queue.shift();
          this.sendAhead(ahead, job);
          continue;
        }
        const made = this.newWorker();
        if (made === null) continue;
        worker = made;
      }
      this.queue.shift();
      this.start(worker, job);
    }
    if (this.workers.size < this.options.minWorkers) this.keepMinWorkers();
    if (this.sentAhead > 0 && this.idle.length > 0) this.moveSentToIdle();
    // Ended jobs may have been all that kept a worker from retiring after shutdown.
    if (this.shutdownCalled && this.queue.length === 0 && this.idle.length > 0) this.retireIdle();
  }

  private takeIdle(): PoolWorker | undefined {
    const worker = this.idle.pop();
    if (worker !== undefined && worker.idleTimer !== null) {
      clearTimeout(worker.idleTimer);
      worker.idleTimer = null;
    }
    return worker;
  }

  /** A busy thread to send `job` to as its next one, or null when none can take it. */
  private workerToSendAhead(job: ExecutorFuture<unknown>): PoolWorker | null {
    // A job that moves objects (a transfer list) could not be sent again if taken back.
    if (this.options.kind !== "thread" || this.sentAhead >= this.workers.size || job._transfer !== null) return null;
    for (const worker of this.workers) {
      if (worker.next === null && worker.job !== null && worker.readyForJobAhead()) return worker;
    }
    return null;
  }

  /** Jobs sent ahead to busy threads that have not started them go to the idle workers. */
  private moveSentToIdle(): void {
    for (const worker of this.workers) {
      if (this.idle.length === 0) return;
      const job = worker.next;
      if (job === null || job._state !== "sent") continue;
      if (this.takeBackNext(worker) !== null) this.start(this.takeIdle()!, job);
      // Else its thread has started it.
      else job._state = "running";
    }
  }

  /** Starts idle workers until there are `minWorkers` (not after shutdown, nor once broken). */
  private keepMinWorkers(): void {
    while (this.workers.size < this.options.minWorkers && !this.shutdownCalled && this.broken === null) {
      const worker = this.newWorker();
      if (worker === null) return;
      this.makeIdle(worker);
    }
  }

  private start(worker: PoolWorker, job: ExecutorFuture<unknown>): void {
    try {
      worker.post(jobMessage(job), job._transfer);
    } catch (error) {
      // The arguments cannot be copied (a function, a socket, ...) or moved: the job fails, the worker stays idle.
      job._finish(false, error);
      this.makeIdle(worker);
      return;
    }
    job._state = "running";
    job._worker = worker;
    job._transfer = null;
    worker.job = job;
    worker.setBusy(true);
  }

  private sendAhead(worker: PoolWorker, job: ExecutorFuture<unknown>): void {
    try {
      worker.sendAhead(jobMessage(job), null);
    } catch (error) {
      // The arguments cannot be copied: the job fails, and the worker goes on with the job it runs.
      job._finish(false, error);
      return;
    }
    job._state = "sent";
    job._worker = worker;
    worker.next = job;
    this.sentAhead++;
  }

  private makeIdle(worker: PoolWorker): void {
    worker.setBusy(false);
    this.idle.push(worker);
    if (this.shutdownCalled && this.queue.length === 0) {
      this.retireIdle();
      return;
    }
    const ms = this.options.idleTimeoutMs;
    if (ms !== null && this.workers.size > this.options.minWorkers && worker.idleTimer === null) {
      const timer = setTimeout(() => {
        worker.idleTimer = null;
        if (worker.job === null && this.workers.size > this.options.minWorkers) this.stopWorker(worker);
      }, ms);
      // An idle worker does not keep Node alive, nor does its countdown.
      timer.unref();
      worker.idleTimer = timer;
    }
  }

  private retireIdle(): void {
    if (this.queue.length > 0) return;
    for (const worker of this.idle.slice()) this.stopWorker(worker);
  }

  /**
   * An initializer failed (in `worker`, with `error`): the pool is broken, as Python's. The worker's job and every
   * queued job fail with `BrokenThreadPool`/`BrokenProcessPool`, idle workers stop; jobs running elsewhere finish.
   */
  private breakPool(worker: PoolWorker, error: unknown): void {
    if (this.broken === null) {
      const what = this.options.kind === "thread" ? "thread" : "process";
      const Cls = this.options.kind === "thread" ? BrokenThreadPool : BrokenProcessPool;
      this.broken = new Cls(`A ${what} initializer failed, the ${what} pool is not usable anymore`, { cause: error });
    }
    const job = worker.job;
    worker.job = null;
    job?._finish(false, this.brokenError());
    // That thread runs no job once its initializer failed, even one it took.
    this.clearNext(worker)?._finish(false, this.brokenError());
    for (;;) {
      const queued = this.queue.shift();
      if (queued === undefined) break;
      queued._finish(false, this.brokenError());
    }
    for (const w of this.workers) this.takeBackNext(w)?._finish(false, this.brokenError());
    this.stopWorker(worker);
    for (const w of this.idle.slice()) this.stopWorker(w);
  }

  /** @internal A worker answered. */
  _onReply(worker: PoolWorker, reply: Reply): void {
    if (reply === null || typeof reply !== "object") return;
    if (reply.initError !== undefined) {
      const init = this.options.initializer;
      this.breakPool(worker, rebuildError(reply.initError, init?.kind === "source"));
      return;
    }
    const job = worker.job;
    if (job === null || reply.jobId !== job._id) return;
    worker.job = null;
    if (reply.ok) job._finish(true, reply.value);
    else job._finish(false, rebuildError(reply.error!, job._request.kind === "source"));
    worker.jobsDone++;
    const next = this.clearNext(worker);
    if (next !== null) {
      // Not taken back, so the thread has started it or starts it now.
      if (next.done()) {
        // It ended on the way (a timeout, an abort, a cancel in "terminate" mode): so does the thread.
        this.stopWorker(worker);
      } else {
        next._state = "running";
        worker.job = next;
      }
      this.dispatch();
      return;
    }
    const max = this.options.maxTasksPerChild;
    if (this.broken !== null || (max !== null && worker.jobsDone >= max)) this.stopWorker(worker);
    else this.makeIdle(worker);
    this.dispatch();
  }

  /** Fails `job`, which `worker` ran when it ended. */
  private failOnExit(worker: PoolWorker, job: ExecutorFuture<unknown>, how: string): void {
    const cause = worker.lastError;
    const error = new RuntimeError(`${worker.describe()} ${how} while running ${job._request.label}`);
    if (cause !== undefined) error.cause = cause;
    job._finish(false, cause instanceof Error && !worker.retiring ? cause : error);
  }

  /** @internal A worker ended (on purpose or not). */
  _onExit(worker: PoolWorker, how: string): void {
    if (worker.exited) return;
    worker.exited = true;
    this.workers.delete(worker);
    this.stopping.delete(worker);
    const at = this.idle.indexOf(worker);
    if (at >= 0) this.idle.splice(at, 1);
    if (worker.idleTimer !== null) {
      clearTimeout(worker.idleTimer);
      worker.idleTimer = null;
    }
    const job = worker.job;
    worker.job = null;
    const next = this.clearNext(worker);
    if (next !== null && !next.done()) {
      if (worker.takeBack()) this.requeue(next);
      else this.failOnExit(worker, next, how);
    }
    if (job !== null && !job.done()) this.failOnExit(worker, job, how);
    // Replace it when work is waiting (the next dispatch starts a new worker), or to keep `minWorkers`.
    this.dispatch();
    if (this.drained()) {
      for (const resolve of this.drainWaiters.splice(0)) resolve();
    }
  }
}

/** A job as a worker gets it (worker_source.ts); `claim` is set on one sent ahead. */
interface JobMessage {
  jobId: number;
  kind: "source" | "module";
  source?: string;
  url?: string;
  exportName?: string;
  args: unknown[];
  claim?: number;
}

function jobMessage(job: ExecutorFuture<unknown>): JobMessage {
  const request = job._request;
  return request.kind === "source"
    ? { jobId: job._id, kind: "source", source: request.source, args: job._args }
    : { jobId: job._id, kind: "module", url: request.url, exportName: request.exportName, args: job._args };
}

function initMessage(init: JobRequest, args: readonly unknown[]): object {
  return init.kind === "source"
    ? { init: true, kind: "source", source: init.source, args }
    : { init: true, kind: "module", url: init.url, exportName: init.exportName, args };
}
