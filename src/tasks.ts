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
import { AsyncResource, process } from "./_internal/node.js";
import {
  RUN_DEFER,
  RUN_DONE,
  RUN_STEP,
  type RunResult,
  type Runnable,
  currentTaskOrNull,
  frameStorage,
  requireRunningLoop,
} from "./_internal/kernel/context.js";
import { CancelledError, RuntimeError, _asCancelledError } from "./exceptions.js";
import { type ContextRunner, type EventLoop, type TimerHandle, _TaskSleep, _runningOrSetLoop } from "./events.js";
import {
  type Awaitable,
  Future,
  type _CancelSource,
  type _Resolvers,
  type _Waiter,
  _cancelSourceOf,
  _onLoop,
  _promiseFor,
  _suspendOn,
} from "./futures.js";
import { isPromiseLike, checkOptions } from "./_internal/validate.js";
import { abortMessage, cancelOnAbort, checkSignal, onAbort, signalOf } from "./_internal/abort.js";

/** The options argument of an operation that only takes a `signal`. */
export interface SignalOption {
  /** Aborting it cancels the operation (not the calling task) with `CancelledError(reason's message)`. */
  signal?: AbortSignal | null;
}

/** Options of `createTask`, `loop.createTask`, `TaskGroup.createTask`. */
export interface TaskOptions {
  /** The task's name (default `Task-N`). */
  name?: string;
  /** Runs the body in this async context (`AsyncLocalStorage.snapshot()`); default: the context `createTask` was called in. */
  context?: ContextRunner;
  /** Start the body synchronously inside `createTask` (as `eagerTaskFactory`). */
  eagerStart?: boolean;
  /**
   * Aborting it cancels the task as `task.cancel(msg)` would, `msg` being the abort reason's message; an
   * already-aborted signal cancels the task before its first step (the body never runs).
   */
  signal?: AbortSignal | null;
}

let taskCounter = 0;

/** @internal The options of a task created without any (shared, never written). */
export const _NO_TASK_OPTIONS: TaskOptions = Object.freeze({});

/**
 * @internal What the kernel asks of the innermost cancel scope of a task (src/cancel_scopes.ts implements it). A task
 * with no active scope (`_cancelScope === null`) never calls any of these: its fast paths pay one field check.
 */
export interface _ScopeHooks {
  /** The task suspends on `future`: deliver what the scopes make visible (level-triggered scope cancels, held requests). */
  _onAwait(task: Task<unknown>, future: Future<unknown>): void;
  /** `task.cancel(msg)` was called (and counted): deliver it now, or hold it back behind a shield. */
  _onCancel(task: Task<unknown>, msg: string | undefined): boolean;
  /** A step of `task` starts: true when a held-back request is visible now and is delivered instead of the result. */
  _takeAtStep(task: Task<unknown>): boolean;
  /** The count of requests fell to 0: forget every request not yet delivered. */
  _dropPending(): void;
}

/** A task's scope only carries its creator's async context: no destroy tracking needed. */
const RESOURCE_OPTIONS = { requireManualDestroy: true };

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

function startBody(task: Task<unknown>): void {
  frameStorage.run(task, attachBody, task);
}

/**
 * `startBody` inside the creator's context entered by `AsyncResource.runInAsyncScope`, which restores the loop's context
 * when it returns: entering the task's frame needs no `run`, whose exit copies a context frame once more on Node 24.
 */
function startBodyInScope(task: Task<unknown>): void {
  frameStorage.enterWith(task);
  attachBody(task);
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
export class Task<T = unknown> extends Future<T> {
  // Invariants:
  // - `_started` is false until the body is called. Until then the Task sits once on the ready queue, and `_run`
  //   means "start"; afterwards `_run` delivers done callbacks as for any Future.
  // - `_futWaiter` is the last Future the body awaited, or the kernel's own wait that stands for one (a `_TaskSleep`).
  //   It may be stale (done) once the body moved on: `cancel()` only uses it while it is pending. The kernel's own
  //   waits are made only outside a cancel scope, but one made before the body entered a scope may still be pending
  //   in it; the scopes cancel it as they would a Future (`_Waiter.cancel`).
  // - `_mustCancel` is a requested cancellation no awaited Future carried yet. It is delivered at the body's next
  //   suspension on a Future (which is cancelled), at the next awaiter delivery, or at the body's end.
  // - `_numCancelsRequested` counts `cancel()` calls minus `uncancel()` calls (3.11+ semantics); a cancelled cancel
  //   scope the task is inside counts one until it exits.
  // - `_cancelScope` is the innermost cancel scope the body is inside, or null; while it is set, every delivery of a
  //   cancellation goes through it (shields hold requests back, cancelled scopes throw at every suspension).
  /** @internal */ readonly _coro: () => PromiseLike<T> | T;
  /** @internal The name, or the N of the default name `Task-N` (the string is made only when asked for). */
  _name: string | number;
  /** @internal Absent unless given (see Future's rare fields). */ declare readonly _context: ContextRunner | undefined;
  /** @internal */ _started = false;
  /** @internal */ _futWaiter: Future<unknown> | _Waiter | null = null;
  /** @internal Absent (falsy) until a `cancel()` sets it (see Future's rare fields). */ declare _mustCancel: boolean | undefined;
  /** @internal */ _numCancelsRequested = 0;
  /** @internal */ _cancelScope: _ScopeHooks | null = null;
  /** @internal The async context of the creator, for a lazily started task with no explicit context. */
  private _scope: AsyncResource | null = null;
  /** @internal Absent until `signal` is first read. */ declare _abort: AbortController | undefined;
  /** @internal Neighbours in the loop's list of pending tasks (`loop._tasks`). */ _prevPending: Task<unknown> | null = null;
  /** @internal */ _nextPending: Task<unknown> | null = null;

  /** A task running `coro` on `options.loop` (default: the running loop). Prefer `createTask()`. `loopArg` is internal. */
  constructor(coro: () => PromiseLike<T> | T, options: TaskOptions & { loop?: EventLoop } = _NO_TASK_OPTIONS, loopArg?: EventLoop) {
    _checkCoroutineFunction(coro, "Task");
    if (typeof options !== "object" || options === null) options = checkOptions(options, "Task") ?? {};
    const signal = options.signal === undefined ? null : checkSignal(options.signal, "createTask");
    const loop = loopArg ?? options.loop ?? requireRunningLoop();
    super(_onLoop(loop));
    this._coro = coro;
    this._name = options.name !== undefined ? String(options.name) : ++taskCounter;
    if (options.context !== undefined && options.context !== null) this._context = options.context;
    loop._tasks.add(this as Task<unknown>);
    if (signal !== null) this._followSignal(signal);
    if (options.eagerStart === true && loop._running) {
      this._start(true);
    } else {
      if (this._context === undefined) this._scope = new AsyncResource("asyncio-ts.Task", RESOURCE_OPTIONS);
      loop._enqueue(this);
    }
  }

  /** Aborting `signal` cancels the task with the reason's message; already aborted, the body never runs. */
  private _followSignal(signal: AbortSignal): void {
    if (signal.aborted) {
      this.cancel(abortMessage(signal));
      return;
    }
    const registration = onAbort(signal, (message) => {
      this.cancel(message);
    });
    this.addDoneCallback(() => registration.dispose());
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
    const loop = this._loop;
    if (!eager) loop._beginStep(this as Task<unknown>);
    const scope = this._scope;
    if (this._context !== undefined) {
      this._context(startBody, this);
    } else if (scope !== null && !eager) {
      this._scope = null;
      scope.runInAsyncScope(startBodyInScope, null, this);
    } else {
      startBody(this as Task<unknown>);
    }
    // The body's first part has returned: a `then` from here on is V8's, for an await (see EventLoop's invariants).
    if (!eager) loop._stepOwnCode = false;
    return RUN_STEP;
  }

  /** @internal The body returned `value`. */
  _bodyDone(value: T): void {
    if (this._state !== "PENDING") return;
    this._loop._stepOver(this as Task<unknown>);
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
    this._loop._stepOver(this as Task<unknown>);
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

  /**
   * @internal A step of this task starts (a wakeup delivered by the loop). Cancellation is decided now, as CPython's
   * `_must_cancel` at the top of a step: true when a cancellation is due, which this takes.
   */
  _startStep(): boolean {
    this._loop._beginStep(this as Task<unknown>);
    const scope = this._cancelScope;
    if (scope === null ? !this._mustCancel : !scope._takeAtStep(this as Task<unknown>)) return false;
    if (scope === null) this._mustCancel = false;
    return true;
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
    if (this._cancelScope !== null) {
      this._futWaiter = future;
      this._cancelScope._onAwait(this as Task<unknown>, future);
      return;
    }
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
    this._countCancel(msg);
    if (this._cancelScope !== null) return this._cancelScope._onCancel(this as Task<unknown>, msg);
    const waiter = this._futWaiter;
    // A waiter that was cancelled may be a Task that ignores it; it stays our waiter so a later cancel reaches it.
    if (waiter !== null && waiter._state === "PENDING" && waiter.cancel(msg)) return true;
    this._mustCancel = true;
    this._cancelMessage = msg;
    return true;
  }

  /** @internal What every cancel request does first, delivered or not: count it in `cancelling()`, abort `signal`. */
  _countCancel(msg: string | undefined): void {
    this._numCancelsRequested++;
    if (this._abort !== undefined && !this._abort.signal.aborted) this._abort.abort(new CancelledError(msg));
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
      if (this._cancelScope !== null) this._cancelScope._dropPending();
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
    if (this._futWaiter !== null && this._futWaiter._state === "PENDING") info.push(`wait_for=${String(this._futWaiter)}`);
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
 * Aborting `options.signal` cancels the task as `cancel(msg)` would.
 */
export function createTask<T>(fn: () => PromiseLike<T> | T, options?: TaskOptions | null): Task<T> {
  _checkCoroutineFunction(fn, "createTask");
  if (typeof options !== "object" && options !== undefined) checkOptions(options, "createTask");
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
    const source = _cancelSourceOf(aw);
    const fut = source === undefined ? new Future<T>(_onLoop(loop)) : new LinkedFuture<T>(loop, source);
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
export function ensureFuture<T>(aw: Awaitable<T>, options?: { loop?: EventLoop } | null): Future<T> {
  if (options !== undefined) options = checkOptions(options, "ensureFuture");
  const loop = options?.loop ?? (aw instanceof Future ? aw._loop : _runningOrSetLoop());
  return _ensureFutureOn(aw, loop);
}

/** The Future following a promise of one of our waits: cancelling it cancels that wait (see `_linkCancel`). */
class LinkedFuture<T> extends Future<T> {
  constructor(
    loop: EventLoop,
    private readonly _source: _CancelSource,
  ) {
    super(_onLoop(loop));
  }

  override cancel(msg?: string): boolean {
    if (!super.cancel(msg)) return false;
    this._source.cancel(msg);
    return true;
  }
}

// ------------------------------------------------------------------ sleep

/**
 * The Future behind `sleep()` (outside a task, or in a cancel scope, or with a delay): made scheduled, it completes from
 * its timer, or for `sleep(0)` when its ready-queue turn comes.
 */
class SleepFuture<T> extends Future<T> {
  /** @internal */ _timer: TimerHandle | null = null;
  /** @internal True for `sleep(0)`: the Future sits on the ready queue and completes when it runs. */
  _yield = false;

  constructor(
    loop: EventLoop,
    delay: number,
    readonly _value: T,
  ) {
    super(_onLoop(loop));
    if (delay <= 0) {
      this._yield = true;
      this._scheduled = true;
      loop._enqueue(this);
    } else {
      this._timer = loop._timerAt(loop.time() + delay, finishSleep, this as SleepFuture<unknown>);
    }
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
 * Called from a task, it returns a native promise (as Python's `sleep` is a coroutine, not a Future) registered with
 * that task, so `cancel()` reaches it; called elsewhere (a loop callback), a Future, which registers the task that
 * awaits it later. Await it where you call it.
 *
 * Cancellation: the sleep ends at once with `CancelledError`; nothing is lost. Aborting `options.signal` does the
 * same (already aborted: an already-rejected promise), without cancelling the calling task.
 */
export function sleep<T = void>(delay: number, result?: T, options?: SignalOption | null): Promise<T> {
  if (typeof delay !== "number") throw new TypeError(`sleep: expected \`delay\` to be a number of seconds, got ${typeof delay}`);
  if (Number.isNaN(delay)) throw new RangeError("sleep: expected `delay` to be a number of seconds, got NaN");
  if (options !== undefined) return sleepWithOptions(delay, result as T, options);
  const loop = requireRunningLoop();
  const task = currentTaskOrNull();
  if (task !== null && task._loop === loop && task._cancelScope === null) {
    if (delay <= 0) return yieldOnce(task, result);
    // Debug mode keeps the Future, whose creation stack shows where a suspended task sleeps.
    if (!loop._debug) return sleepInTask(task, loop.time() + delay, result);
  }
  return new SleepFuture(loop, delay, result as T)._wait();
}

/** `sleep` given an options argument: an aborted signal cancels the sleep (already aborted: an already-rejected promise). */
function sleepWithOptions<T>(delay: number, result: T, options: SignalOption | null): Promise<T> {
  const signal = signalOf(options, "sleep");
  if (signal === null) return sleep(delay, result);
  const loop = requireRunningLoop();
  if (signal.aborted) {
    const fut = loop.createFuture<T>();
    fut.cancel(abortMessage(signal));
    return fut._wait();
  }
  const fut = new SleepFuture(loop, delay, result);
  cancelOnAbort(signal, fut);
  return fut._wait();
}

/**
 * `sleep(0)` from a task outside any cancel scope, CPython's bare `yield`: one ready-queue item that starts the task's
 * next step, and the native promise it settles. No Future is needed: a yield is not something `cancel()` cancels; a
 * cancel meanwhile is decided when the step starts, as for any wakeup (see `_ThenReaction._deliver`).
 */
class YieldOnce implements Runnable, _Resolvers {
  /** @internal */ _resolve: ((value: unknown) => void) | null = null;
  /** @internal */ _reject: ((reason: unknown) => void) | null = null;

  constructor(
    readonly task: Task<unknown>,
    readonly value: unknown,
  ) {}

  _run(): RunResult {
    const task = this.task;
    if (task._loop._dirty) return RUN_DEFER;
    if (task._startStep()) {
      this._reject!(task._makeCancelledError());
    } else {
      this._resolve!(this.value);
    }
    this._resolve = this._reject = null;
    return RUN_STEP;
  }
}

function yieldOnce<T>(task: Task<unknown>, value: unknown): Promise<T> {
  const item = new YieldOnce(task, value);
  const promise = _promiseFor(item);
  // As `_awaiting` does for a yield: nothing for `cancel()` to cancel until the task resumes.
  task._futWaiter = null;
  task._loop._stepOver(task);
  task._loop._enqueue(item);
  return promise;
}

/** `sleep` from `task` until loop time `when`, with no Future: see `_TaskSleep`. */
function sleepInTask<T>(task: Task<unknown>, when: number, value: unknown): Promise<T> {
  const sleeping = new _TaskSleep(task, when, value);
  task._loop._addTimer(sleeping);
  return _suspendOn(task, sleeping);
}
