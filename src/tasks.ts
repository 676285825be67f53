/**
 * Task: runs a coroutine function on the loop, with cancellation delivered at the `await` it is suspended on.
 *
 * How a JS async function becomes a task: the task calls the function once, inside its own async-context frame
 * (entered once per task). Every continuation of the body inherits that frame. When the body awaits a Future,
 * V8 calls the Future's `then` in that frame, so the Future tells the task "you are waiting on me"
 * (`_futWaiter`). `cancel()` cancels that Future, whose rejection with `CancelledError` surfaces at the body's
 * `await`, exactly where CPython throws it into the coroutine.
 * @module
 */
import { AsyncResource } from "node:async_hooks";
import { addAwaitedBy, discardAwaitedBy } from "./_internal/awaited_by.js";
import {
  type Frame,
  RUN_DEFER,
  RUN_DONE,
  RUN_STEP,
  type RunResult,
  currentTaskOrNull,
  frameStorage,
  requireRunningLoop,
} from "./_internal/context.js";
import { CancelledError, RuntimeError, TimeoutError } from "./exceptions.js";
import { type ContextRunner, type EventLoop, type TimerHandle, _runningOrSetLoop } from "./events.js";
import { type Awaitable, Future } from "./futures.js";
import { timeout as makeTimeout } from "./timeouts.js";
import { Deque } from "./_internal/deque.js";

/** Options of `createTask`, `loop.createTask`, `TaskGroup.createTask`. */
export interface TaskOptions {
  /** The task's name (default `Task-N`). */
  name?: string;
  /** Runs the body in this async context (`AsyncLocalStorage.snapshot()`); default: the context `createTask` was called in. */
  context?: ContextRunner;
  /** Start the body synchronously inside `createTask` (as `eagerTaskFactory`). */
  eagerStart?: boolean;
}

let taskCounter = 0;

/** A task's scope only carries its creator's async context: no destroy tracking needed. */
const RESOURCE_OPTIONS = { requireManualDestroy: true };

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null && (typeof value === "object" || typeof value === "function") && typeof (value as any).then === "function"
  );
}

/** @internal Throws a TypeError showing the thunk form when `fn` is not a coroutine function. */
export function _checkCoroutineFunction(fn: unknown, method: string): void {
  if (typeof fn === "function") return;
  if (isPromiseLike(fn)) {
    throw new TypeError(
      `${method}() expects a coroutine function such as \`${method}(() => work())\`, got a ${fn instanceof Future ? fn.constructor.name : "Promise"}: ` +
        "the work already started, so the task could not own it. Pass the function instead of calling it.",
    );
  }
  throw new TypeError(`${method}() expects a coroutine function such as \`() => work()\`, got ${fn === null ? "null" : typeof fn}`);
}

/**
 * When code handed `task.signal` to an API (fetch, timers/promises, events.once), cancelling the task makes that
 * API reject with an AbortError whose cause (or which itself) is our CancelledError: treat it as the cancellation.
 * @internal
 */
export function _asCancelledError(error: unknown): CancelledError | null {
  if (error instanceof CancelledError) return error;
  if (error instanceof Error && error.name === "AbortError" && error.cause instanceof CancelledError) return error.cause;
  return null;
}

function startBody(task: Task<unknown>): void {
  frameStorage.run(task, attachBody, task);
}

// A native promise of the body runs these in the async context `attachBody` ran in, whose frame is the task itself:
// two shared functions instead of two closures per task.
function bodyReturned(value: unknown): void {
  (frameStorage.getStore() as Task<unknown>)._bodyDone(value);
}

function bodyThrew(error: unknown): void {
  (frameStorage.getStore() as Task<unknown>)._bodyFailed(error);
}

function attachBody(task: Task<unknown>): void {
  let result: unknown;
  try {
    result = task._coro();
  } catch (error) {
    task._bodyFailed(error);
    return;
  }
  if (result instanceof Promise) {
    result.then(bodyReturned, bodyThrew);
  } else if (isPromiseLike(result)) {
    // Another thenable (a Future, say) may call back from any context.
    result.then(
      (value) => task._bodyDone(value),
      (error) => task._bodyFailed(error),
    );
  } else {
    task._bodyDone(result);
  }
}

/**
 * A Future that runs a coroutine function. Create one with `createTask(fn)`; await it for the result.
 * `cancel()` throws `CancelledError` into the body at the `await` it is suspended on.
 */
export class Task<T = unknown> extends Future<T> implements Frame {
  // Invariants:
  // - `_started` is false until the body is called. Until then the Task sits once on the ready queue, and `_run`
  //   means "start"; afterwards `_run` delivers done callbacks as for any Future.
  // - `_futWaiter` is the last Future the body awaited. It may be stale (done) once the body moved on:
  //   `cancel()` only uses it while it is pending.
  // - `_mustCancel` is a requested cancellation no awaited Future carried yet. It is delivered at the body's next
  //   suspension on a Future (which is cancelled), at the next awaiter delivery, or at the body's end.
  // - `_numCancelsRequested` counts `cancel()` calls minus `uncancel()` calls (3.11+ semantics).
  /** @internal */ readonly _coro: () => PromiseLike<T> | T;
  /** @internal The name, or the N of the default name `Task-N` (the string is made only when asked for). */
  _name: string | number;
  /** @internal Absent unless given (see Future's rare fields). */ declare readonly _context: ContextRunner | undefined;
  /** @internal */ _started = false;
  /** @internal */ _futWaiter: Future<unknown> | null = null;
  /** @internal Absent (falsy) until a `cancel()` sets it (see Future's rare fields). */ declare _mustCancel: boolean | undefined;
  /** @internal */ _numCancelsRequested = 0;
  /** @internal The async context of the creator, for a lazily started task with no explicit context. */
  private _scope: AsyncResource | null = null;
  /** Absent until `signal` is first read. */
  private declare _abort: AbortController | undefined;

  /** A task running `coro` on `options.loop` (default: the running loop). Prefer `createTask()`. `loopArg` is internal. */
  constructor(coro: () => PromiseLike<T> | T, options: TaskOptions & { loop?: EventLoop } = {}, loopArg?: EventLoop) {
    _checkCoroutineFunction(coro, "Task");
    const loop = loopArg ?? options.loop ?? requireRunningLoop();
    super({ loop });
    this._coro = coro;
    this._name = options.name !== undefined ? String(options.name) : ++taskCounter;
    if (options.context !== undefined && options.context !== null) this._context = options.context;
    loop._tasks.add(this as Task<unknown>);
    if (options.eagerStart === true && loop._running) {
      this._start(true);
    } else {
      if (this._context === undefined) this._scope = new AsyncResource("asyncio-ts.Task", RESOURCE_OPTIONS);
      loop._enqueue(this);
    }
  }

  /** @internal The async-context frame: a task is its own frame. */
  get _frameLoop(): EventLoop {
    return this._loop;
  }

  /** @internal */
  get _frameTask(): Task<unknown> {
    return this as Task<unknown>;
  }

  /** @internal Called by the loop: starts the body (the task's first step) the first time, delivers done callbacks afterwards. */
  override _run(): RunResult {
    if (this._started) return super._run();
    if (this._loop._dirty) return RUN_DEFER;
    return this._start(false);
  }

  private _start(eager: boolean): RunResult {
    this._started = true;
    if (this._mustCancel) {
      // Cancelled before its first step: the body never runs.
      this._mustCancel = false;
      this._bodyFailed(new CancelledError(this._cancelMessage));
      return RUN_DONE;
    }
    if (!eager) this._loop._stepTask = this as Task<unknown>;
    const scope = this._scope;
    if (this._context !== undefined) {
      this._context(startBody, this);
    } else if (scope !== null && !eager) {
      this._scope = null;
      scope.runInAsyncScope(startBody, null, this);
    } else {
      startBody(this as Task<unknown>);
    }
    return RUN_STEP;
  }

  /** @internal The body returned `value`. */
  _bodyDone(value: T): void {
    if (this._state !== "PENDING") return;
    this._loop._tasks.delete(this as Task<unknown>);
    this._futWaiter = null;
    if (this._mustCancel) {
      // Cancelled right before the body ended: the task ends cancelled, as in CPython.
      this._mustCancel = false;
      this._settle(() => Future.prototype.cancel.call(this, this._cancelMessage));
    } else {
      // As `_settle`, without a closure per task: this is every task's end.
      try {
        Future.prototype.setResult.call(this, value);
      } catch {
        // Only the scheduling on a closed loop can fail.
      }
    }
  }

  /** @internal The body threw `error`. */
  _bodyFailed(error: unknown): void {
    if (this._state !== "PENDING") return;
    this._loop._tasks.delete(this as Task<unknown>);
    this._futWaiter = null;
    const cancelled = _asCancelledError(error);
    if (cancelled !== null) {
      // As CPython's `super().cancel()` here: the message lives in the error, handed out once (`_makeCancelledError`).
      this._settle(() => Future.prototype.cancel.call(this));
      this._cancelledExc = cancelled;
    } else {
      this._settle(() => Future.prototype.setException.call(this, error));
    }
  }

  /** Settling can only fail when the loop closed under a still-running body; nobody can observe it then. */
  private _settle(settle: () => unknown): void {
    try {
      settle();
    } catch {
      // The state is set before callbacks are scheduled; only the scheduling on a closed loop failed.
    }
  }

  /**
   * @internal The body is about to suspend on `future`: remember it, and hand it a pending cancellation. `sleep(0)`
   * is CPython's bare `yield`, not a Future the task waits on: a cancel meanwhile is decided when the task resumes,
   * with the message of the last `cancel()`.
   */
  _awaiting(future: Future<unknown>): void {
    if ((future as SleepFuture<unknown>)._yield === true) {
      this._futWaiter = null;
      return;
    }
    this._futWaiter = future;
    if (this._mustCancel && future.cancel(this._cancelMessage)) this._mustCancel = false;
  }

  /**
   * Requests cancellation: the body gets `CancelledError(msg)` at the `await` it is suspended on (a Future it awaits
   * is cancelled), and `signal` aborts at once. False when the task is already done.
   */
  override cancel(msg?: string): boolean {
    this._markRetrieved();
    if (this._state !== "PENDING") return false;
    this._numCancelsRequested++;
    if (this._abort !== undefined && !this._abort.signal.aborted) this._abort.abort(new CancelledError(msg));
    const waiter = this._futWaiter;
    // A waiter that was cancelled may be a Task that ignores it; it stays our waiter so a later cancel reaches it.
    if (waiter !== null && waiter._state === "PENDING" && waiter.cancel(msg)) return true;
    this._mustCancel = true;
    this._cancelMessage = msg;
    return true;
  }

  /** How many cancellations are pending (`cancel()` calls not matched by `uncancel()`). */
  cancelling(): number {
    return this._numCancelsRequested;
  }

  /** Decrements the pending-cancellation count and returns it; at zero a not yet delivered cancellation is dropped. */
  uncancel(): number {
    if (this._numCancelsRequested > 0) this._numCancelsRequested--;
    if (this._numCancelsRequested === 0) {
      this._mustCancel = false;
      // Signals handed out stay aborted; the next `signal` is a fresh one, so a retry after a handled cancel works.
      if (this._abort !== undefined && this._abort.signal.aborted) this._abort = undefined;
    }
    return this._numCancelsRequested;
  }

  /**
   * Aborted (reason: a `CancelledError`) as soon as cancellation is requested: hand it to `fetch`, `fs`,
   * `timers/promises`, `events.once`, so work the task awaits outside asyncio-ts stops too. Once `uncancel()` brought
   * the count of cancel requests back to 0, this is a new signal, not aborted (those handed out before stay aborted).
   */
  get signal(): AbortSignal {
    if (this._abort === undefined) {
      this._abort = new AbortController();
      if (this._numCancelsRequested > 0 || this._state === "CANCELLED") {
        this._abort.abort(new CancelledError(this._cancelMessage));
      }
    }
    return this._abort.signal;
  }

  /** Tasks cannot be given a result from outside: `RuntimeError`. */
  override setResult(_value: T): void {
    throw new RuntimeError("Task does not support set_result operation");
  }

  /** Tasks cannot be given an exception from outside: `RuntimeError`. */
  override setException(_exception: unknown): void {
    throw new RuntimeError("Task does not support set_exception operation");
  }

  /** The task's name. */
  getName(): string {
    return typeof this._name === "number" ? `Task-${this._name}` : this._name;
  }

  /** Renames the task. */
  setName(name: string): void {
    this._name = String(name);
  }

  /** The coroutine function the task runs. */
  getCoro(): () => PromiseLike<T> | T {
    return this._coro;
  }

  /** The async context given with `context`, or null when the task runs in its creator's context. */
  getContext(): ContextRunner | null {
    return this._context ?? null;
  }

  /** Best effort: the creation stack (recorded in debug mode), as a list of frames; empty otherwise. */
  getStack(_options?: { limit?: number }): string[] {
    const frames = this._sourceTraceback?.split("\n").map((l) => l.trim()).filter(Boolean) ?? [];
    const limit = _options?.limit;
    return limit === undefined ? frames : frames.slice(0, Math.max(0, limit));
  }

  /** Prints the stack from `getStack()` to `file` (default stderr). */
  printStack(options?: { limit?: number; file?: { write(s: string): unknown } }): void {
    const out = options?.file ?? process.stderr;
    const frames = this.getStack(options);
    out.write(`Stack for ${this}${frames.length ? ":\n" + frames.map((f) => "  " + f).join("\n") : " (no stack: turn debug mode on to record it)"}\n`);
  }

  /** @internal */
  override _kind(): string {
    return "Task";
  }

  /** @internal */
  override _reprInfo(): string[] {
    const info = super._reprInfo();
    if (this._numCancelsRequested > 0 && this._state === "PENDING") info[0] = "cancelling";
    info.splice(1, 0, `name='${this.getName()}'`, `coro=<${this._coro.name || "anonymous"}>`);
    if (this._futWaiter !== null && this._futWaiter._state === "PENDING") info.push(`wait_for=${this._futWaiter}`);
    return info;
  }
}

/** @internal What `loop.createTask` does without a task factory. */
export function _newTask<T>(fn: () => PromiseLike<T> | T, loop: EventLoop, options: TaskOptions): Task<T> {
  return new Task(fn, options, loop);
}

/**
 * Schedules the coroutine function `fn` as a task on the running loop; it starts on the next iteration (or at once
 * with `eagerStart`). `TypeError` for a started promise: pass `() => work()`. `RuntimeError` outside a loop.
 */
export function createTask<T>(fn: () => PromiseLike<T> | T, options?: TaskOptions): Task<T> {
  _checkCoroutineFunction(fn, "createTask");
  return requireRunningLoop().createTask(fn, options);
}

/**
 * The task whose body is running in this async context, or null (in a callback of the loop, say). Without `loop`,
 * `RuntimeError('no running event loop')` outside a running loop; with `loop`, null unless a task of that loop runs here.
 */
export function currentTask(loop?: EventLoop): Task<unknown> | null {
  if (loop === undefined || loop === null) requireRunningLoop();
  const task = currentTaskOrNull();
  if (task === null || (loop !== undefined && loop !== null && task._loop !== loop)) return null;
  return task;
}

/** The tasks of `loop` (default: the running loop) that are not done yet. */
export function allTasks(loop?: EventLoop): Set<Task<unknown>> {
  return new Set((loop ?? requireRunningLoop())._tasks);
}

/** A task factory whose tasks start their body synchronously inside `createTask`: `loop.setTaskFactory(eagerTaskFactory)`. */
export const eagerTaskFactory = <T>(loop: EventLoop, coro: () => PromiseLike<T> | T, options: TaskOptions): Task<T> =>
  new Task(coro, { ...options, eagerStart: true }, loop);

// ------------------------------------------------------------------ ensureFuture

/** @internal `ensureFuture` with the loop given. */
export function _ensureFutureOn<T>(aw: Awaitable<T>, loop: EventLoop): Future<T> {
  if (aw instanceof Future) {
    if (aw._loop !== loop) {
      throw new RangeError("The future belongs to a different loop than the one specified as the loop argument");
    }
    return aw as Future<T>;
  }
  if (typeof aw === "function") return loop.createTask(aw);
  if (isPromiseLike(aw)) {
    const fut = new Future<T>({ loop });
    aw.then(
      (value) => {
        if (fut._state === "PENDING") fut.setResult(value);
      },
      (error) => {
        if (fut._state === "PENDING") fut.setException(error);
      },
    );
    return fut;
  }
  throw new TypeError(
    `An asyncio-ts Future, a coroutine function or a PromiseLike is required, got ${aw === null ? "null" : typeof aw}`,
  );
}

/**
 * A Future for `aw`: a Future or Task is returned as it is; a coroutine function becomes a Task; any other
 * PromiseLike is followed by a new Future (cancelling that Future stops the waiting, not the promise's work).
 */
export function ensureFuture<T>(aw: Awaitable<T>, options?: { loop?: EventLoop }): Future<T> {
  const loop = options?.loop ?? (aw instanceof Future ? aw._loop : _runningOrSetLoop());
  return _ensureFutureOn(aw, loop);
}

// ------------------------------------------------------------------ sleep

/** The Future behind `sleep()`: completes from its timer, or for `sleep(0)` when its ready-queue turn comes. */
class SleepFuture<T> extends Future<T> {
  /** @internal */ _timer: TimerHandle | null = null;
  /** @internal True for `sleep(0)`: the Future sits on the ready queue and completes when it runs. */
  _yield = false;

  constructor(
    loop: EventLoop,
    readonly _value: T,
  ) {
    super({ loop });
  }

  override _run(): RunResult {
    if (this._yield && this._state === "PENDING") {
      this._state = "FINISHED";
      this._result = this._value;
    }
    return super._run();
  }

  override cancel(msg?: string): boolean {
    if (!super.cancel(msg)) return false;
    this._timer?.cancel();
    this._timer = null;
    return true;
  }
}

function finishSleep(fut: SleepFuture<unknown>): void {
  fut._timer = null;
  if (fut._state === "PENDING") fut.setResult(fut._value);
}

/**
 * Resolves with `result` after `delay` seconds. `sleep(0)` yields to the loop exactly once; a negative delay is 0;
 * `NaN` → `RangeError`.
 *
 * Cancellation: the sleep ends at once with `CancelledError`; nothing is lost.
 */
export function sleep<T = void>(delay: number, result?: T): Future<T> {
  if (typeof delay !== "number") throw new TypeError(`sleep: expected \`delay\` to be a number of seconds, got ${typeof delay}`);
  if (Number.isNaN(delay)) throw new RangeError("sleep: expected `delay` to be a number of seconds, got NaN");
  const loop = requireRunningLoop();
  const fut = new SleepFuture<T>(loop, result as T);
  if (delay <= 0) {
    fut._yield = true;
    fut._scheduled = true;
    loop._enqueue(fut);
  } else {
    fut._timer = loop.callLater(delay, finishSleep, fut as SleepFuture<unknown>);
  }
  return fut;
}

// ------------------------------------------------------------------ gather

/** What an awaitable argument of `gather` resolves to. */
export type AwaitedOf<A> = A extends () => infer R ? Awaited<R> : Awaited<A>;

/** Options of `gather`. */
export interface GatherOptions {
  /** Return errors (and `CancelledError`s) in the results array instead of failing. */
  returnExceptions?: boolean;
}

/** The Future `gather` returns: cancelling it cancels every child. */
export class GatheringFuture<T> extends Future<T> {
  /** @internal */ _cancelRequested = false;

  /** @internal */
  constructor(
    loop: EventLoop,
    /** @internal */ readonly _children: readonly Future<unknown>[],
  ) {
    super({ loop });
  }

  /** Cancels every child not done yet; the gather then fails with `CancelledError` once all children finished. */
  override cancel(msg?: string): boolean {
    if (this._state !== "PENDING") return false;
    let any = false;
    for (const child of this._children) if (child.cancel(msg)) any = true;
    if (any) this._cancelRequested = true;
    return any;
  }
}

function isGatherOptions(value: unknown): value is GatherOptions {
  return (
    value !== null &&
    typeof value === "object" &&
    typeof (value as any).then !== "function" &&
    Object.getPrototypeOf(value) === Object.prototype
  );
}

/**
 * Runs the awaitables concurrently; resolves with their results in argument order (typed as a tuple).
 * The first failure rejects the gather while the others keep running, unless `returnExceptions`.
 * Cancelling the gather cancels every child.
 */
export function gather<const A extends readonly Awaitable<unknown>[]>(
  ...aws: A
): GatheringFuture<{ -readonly [K in keyof A]: AwaitedOf<A[K]> }>;
export function gather<const A extends readonly Awaitable<unknown>[]>(
  ...args: [...A, GatherOptions & { returnExceptions: true }]
): GatheringFuture<{ -readonly [K in keyof A]: AwaitedOf<A[K]> | Error }>;
export function gather<const A extends readonly Awaitable<unknown>[]>(
  ...args: [...A, GatherOptions]
): GatheringFuture<{ -readonly [K in keyof A]: AwaitedOf<A[K]> }>;
export function gather(...args: unknown[]): GatheringFuture<unknown[]> {
  let returnExceptions = false;
  if (args.length > 0 && isGatherOptions(args[args.length - 1])) {
    returnExceptions = Boolean((args.pop() as GatherOptions).returnExceptions);
  }
  if (args.length === 0) {
    const outer = new GatheringFuture<unknown[]>(_runningOrSetLoop(), []);
    outer.setResult([]);
    return outer;
  }
  let loop: EventLoop | null = null;
  for (const a of args) if (a instanceof Future) loop ??= a._loop;
  loop ??= _runningOrSetLoop();
  // The same awaitable given twice is awaited once and its result repeated, as CPython.
  const children: Future<unknown>[] = new Array(args.length);
  const unique: Future<unknown>[] = [];
  const seen = new Map<unknown, Future<unknown>>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    let fut = seen.get(a);
    if (fut === undefined) {
      fut = _ensureFutureOn(a as Awaitable<unknown>, loop);
      seen.set(a, fut);
      unique.push(fut);
    }
    children[i] = fut;
  }
  const outer = new GatheringFuture<unknown[]>(loop, unique);
  let finished = 0;
  const onChildDone = (fut: Future<unknown>): void => {
    finished++;
    if (outer._state !== "PENDING") {
      // Mark the exception retrieved: the gather already reported a failure.
      if (fut._state === "FINISHED") fut.exception();
      return;
    }
    if (!returnExceptions) {
      if (fut._state === "CANCELLED") {
        outer.setException(fut._makeCancelledError());
        return;
      }
      if (fut._hasException) {
        outer.setException(fut.exception());
        return;
      }
    }
    if (finished === unique.length) {
      const results = children.map((f) => {
        if (f._state === "CANCELLED") return new CancelledError(f._cancelMessage);
        return f._hasException ? f.exception() : f.result();
      });
      if (outer._cancelRequested) outer.setException(fut._makeCancelledError());
      else outer.setResult(results);
    }
  };
  // Children already done are counted at once, so a gather of done futures is done when it returns, as CPython.
  for (const child of unique) {
    if (child._state !== "PENDING") onChildDone(child);
    else child.addDoneCallback(onChildDone);
  }
  return outer;
}

// ------------------------------------------------------------------ wait

/** `wait()` returns as soon as any awaitable finishes or is cancelled. */
export const FIRST_COMPLETED = "FIRST_COMPLETED";
/** `wait()` returns when any awaitable fails, or when all are done. */
export const FIRST_EXCEPTION = "FIRST_EXCEPTION";
/** `wait()` returns when all awaitables are done (the default). */
export const ALL_COMPLETED = "ALL_COMPLETED";

/** When `wait()` returns. */
export type ReturnWhen = typeof FIRST_COMPLETED | typeof FIRST_EXCEPTION | typeof ALL_COMPLETED;

function checkTimeoutArg(value: unknown, method: string): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== "number") throw new TypeError(`${method}: expected \`timeout\` to be a number of seconds or null, got ${typeof value}`);
  if (Number.isNaN(value)) throw new RangeError(`${method}: expected \`timeout\` to be a number of seconds or null, got NaN`);
  return value;
}

/**
 * Waits for the Futures/Tasks in `fs` until `returnWhen` holds or `timeout` seconds pass; returns `[done, pending]`.
 * Does not cancel anything and does not throw on timeout. Empty `fs` → `RangeError`; a promise or function → `TypeError`.
 *
 * Cancellation: stops waiting; the awaitables keep running.
 */
export async function wait<T>(
  fs: Iterable<Future<T>>,
  options: { timeout?: number | null; returnWhen?: ReturnWhen } = {},
): Promise<[Set<Future<T>>, Set<Future<T>>]> {
  if (fs == null || typeof (fs as any)[Symbol.iterator] !== "function") {
    throw new TypeError(`wait: expected \`fs\` to be an iterable of Tasks or Futures, got ${fs === null ? "null" : typeof fs}`);
  }
  const timeout = checkTimeoutArg(options.timeout, "wait");
  const returnWhen = options.returnWhen ?? ALL_COMPLETED;
  if (returnWhen !== FIRST_COMPLETED && returnWhen !== FIRST_EXCEPTION && returnWhen !== ALL_COMPLETED) {
    throw new RangeError(`Invalid return_when value: ${String(returnWhen)}`);
  }
  const set = new Set(fs);
  if (set.size === 0) throw new RangeError("Set of Tasks/Futures is empty.");
  for (const f of set) {
    if (!(f instanceof Future)) {
      throw new TypeError(
        `wait() expects Tasks or Futures, got ${typeof f === "function" ? "a function" : isPromiseLike(f) ? "a promise" : typeof f}: ` +
          "wrap it with createTask(() => ...) or ensureFuture(promise) first",
      );
    }
  }
  const loop = requireRunningLoop();
  const waiter = loop.createFuture<void>();
  let counter = set.size;
  const release = (): void => {
    if (waiter._state === "PENDING") waiter.setResult();
  };
  const timer = timeout !== null ? loop.callLater(timeout, release) : null;
  const onCompletion = (f: Future<T>): void => {
    counter--;
    if (
      counter <= 0 ||
      returnWhen === FIRST_COMPLETED ||
      (returnWhen === FIRST_EXCEPTION && f._state === "FINISHED" && f._hasException)
    ) {
      timer?.cancel();
      release();
    }
  };
  for (const f of set) f.addDoneCallback(onCompletion);
  try {
    await waiter;
  } finally {
    timer?.cancel();
    for (const f of set) f.removeDoneCallback(onCompletion);
  }
  const done = new Set<Future<T>>();
  const pending = new Set<Future<T>>();
  for (const f of set) (f.done() ? done : pending).add(f);
  return [done, pending];
}

// ------------------------------------------------------------------ waitFor

/**
 * Waits for `aw` at most `timeout` seconds (`null`: no limit). On timeout cancels it, waits for it to end, and
 * throws `TimeoutError`. As Python 3.12+, it is `timeout(t).with(...)`: a coroutine function runs inside the
 * calling task, not a new one. A plain promise is followed by a Future, so the wait stops on time even though
 * the promise's work cannot be stopped.
 *
 * Cancellation: cancels `aw` too (a Future or Task), like the timeout does.
 */
export async function waitFor<T>(aw: Awaitable<T>, timeout: number | null): Promise<T> {
  const limit = checkTimeoutArg(timeout, "waitFor");
  const loop = requireRunningLoop();
  if (limit !== null && limit <= 0) {
    const fut = _ensureFutureOn(aw, loop);
    if (fut.done()) return fut.result();
    await cancelAndWait(fut, loop);
    try {
      return fut.result();
    } catch (error) {
      if (error instanceof CancelledError) {
        const timeoutError = new TimeoutError();
        timeoutError.cause = error;
        throw timeoutError;
      }
      throw error;
    }
  }
  const target: () => PromiseLike<T> | T =
    typeof aw === "function" ? aw : aw instanceof Future ? () => aw : () => _ensureFutureOn(aw, loop);
  return makeTimeout(limit).with(target);
}

async function cancelAndWait(fut: Future<unknown>, loop: EventLoop): Promise<void> {
  const waiter = loop.createFuture<void>();
  const release = (): void => {
    if (waiter._state === "PENDING") waiter.setResult();
  };
  fut.addDoneCallback(release);
  try {
    fut.cancel();
    // Cancelling this wait must not leave `fut` un-awaited: shield-free, as CPython's _cancel_and_wait.
    await waiter;
  } finally {
    fut.removeDoneCallback(release);
  }
}

// ------------------------------------------------------------------ asCompleted

/**
 * What `asCompleted` returns: iterate it synchronously for awaitables of the results in completion order, or
 * asynchronously for the original Futures/Tasks as they finish (Python 3.13).
 */
export class AsCompletedIterator<T> implements Iterable<PromiseLike<T>>, AsyncIterable<Future<T>> {
  // Invariants: `todo` holds the awaitables not finished yet; each finished one goes once into `done` (or to the
  // oldest pending `waiters` entry); on timeout each remaining one becomes a `null` meaning "TimeoutError".
  private readonly todo: Set<Future<T>>;
  private readonly done = new Deque<Future<T> | null>();
  private readonly waiters = new Deque<Future<void>>();
  private remaining: number;
  private timer: TimerHandle | null = null;

  /** @internal Use `asCompleted()`. */
  constructor(
    private readonly loop: EventLoop,
    futures: Set<Future<T>>,
    timeout: number | null,
  ) {
    this.todo = futures;
    this.remaining = futures.size;
    for (const f of futures) f.addDoneCallback(this.onCompletion);
    if (timeout !== null && futures.size > 0) this.timer = loop.callLater(timeout, this.onTimeout);
  }

  private readonly onCompletion = (f: Future<T>): void => {
    if (!this.todo.delete(f)) return;
    this.done.push(f);
    if (this.todo.size === 0) this.timer?.cancel();
    this.wakeOne();
  };

  private readonly onTimeout = (): void => {
    for (const f of this.todo) {
      f.removeDoneCallback(this.onCompletion);
      this.done.push(null);
    }
    const n = this.todo.size;
    this.todo.clear();
    for (let i = 0; i < n; i++) this.wakeOne();
  };

  private wakeOne(): void {
    while (this.waiters.length > 0) {
      const w = this.waiters.shift()!;
      if (w._state === "PENDING") {
        w.setResult();
        return;
      }
    }
  }

  /** The next finished Future, boxed: an async function must not return a thenable, it would be adopted. */
  private async takeNext(): Promise<{ future: Future<T> }> {
    while (this.done.length === 0) {
      const w = this.loop.createFuture<void>();
      this.waiters.push(w);
      await w;
    }
    const future = this.done.shift() as Future<T> | null;
    if (future === null) throw new TimeoutError();
    return { future };
  }

  /**
   * Sync form: yields one awaitable per input; each, when first awaited, takes the next result to finish (or throws
   * its error). Awaiting them in any order gives results in completion order.
   */
  *[Symbol.iterator](): Iterator<PromiseLike<T>> {
    while (this.remaining > 0) {
      this.remaining--;
      let taken: Promise<T> | null = null;
      const next: PromiseLike<T> = {
        then: (onFulfilled, onRejected) => {
          taken ??= this.takeNext().then((box) => box.future.result());
          return taken.then(onFulfilled, onRejected);
        },
      };
      yield next;
    }
  }

  /** Async form: yields the original Futures/Tasks in the order they finish; `TimeoutError` when time runs out. */
  [Symbol.asyncIterator](): AsyncIterator<Future<T>> {
    return {
      next: async (): Promise<IteratorResult<Future<T>>> => {
        if (this.remaining <= 0) return { done: true, value: undefined };
        this.remaining--;
        const { future } = await this.takeNext();
        return { done: false, value: future };
      },
    };
  }
}

/**
 * The awaitables of `aws` in completion order: `for (const next of asCompleted(xs)) await next` gives results;
 * `for await (const t of asCompleted(xs))` gives the original tasks. After `timeout` seconds, `TimeoutError`.
 */
export function asCompleted<T>(aws: Iterable<Awaitable<T>>, options: { timeout?: number | null } = {}): AsCompletedIterator<T> {
  if (aws instanceof Future || isPromiseLike(aws) || aws == null || typeof (aws as any)[Symbol.iterator] !== "function") {
    throw new TypeError(`asCompleted: expected an iterable of awaitables, got ${aws === null ? "null" : aws instanceof Future ? "a Future" : typeof aws}`);
  }
  const timeout = checkTimeoutArg(options.timeout, "asCompleted");
  const loop = requireRunningLoop();
  // The same awaitable given twice is waited for (and yielded) once, as CPython.
  const seen = new Set<unknown>();
  const futures = new Set<Future<T>>();
  for (const aw of aws) {
    if (seen.has(aw)) continue;
    seen.add(aw);
    futures.add(_ensureFutureOn(aw, loop));
  }
  return new AsCompletedIterator(loop, futures, timeout);
}

// ------------------------------------------------------------------ shield

/**
 * Protects `aw` from cancellation: cancelling the returned Future (or the task awaiting it) leaves `aw` running.
 * If `aw` is a coroutine function, it runs as a new Task.
 */
export function shield<T>(aw: Awaitable<T>): Future<T> {
  const loop = aw instanceof Future ? aw._loop : requireRunningLoop();
  const inner = _ensureFutureOn(aw, loop);
  if (inner.done()) return inner;
  const outer = loop.createFuture<T>();
  addAwaitedBy(inner, outer);
  const onInnerDone = (f: Future<T>): void => {
    discardAwaitedBy(f, outer);
    if (outer._state !== "PENDING") {
      if (f._state === "FINISHED") f.exception(); // mark retrieved
      return;
    }
    if (f._state === "CANCELLED") outer.cancel();
    else if (f._hasException) outer.setException(f.exception());
    else outer.setResult(f.result());
  };
  const onOuterDone = (): void => {
    discardAwaitedBy(inner, outer);
    if (!inner.done()) inner.removeDoneCallback(onInnerDone);
  };
  inner.addDoneCallback(onInnerDone);
  outer.addDoneCallback(onOuterDone);
  return outer;
}
