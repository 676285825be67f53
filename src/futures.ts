/**
 * Future: a result that will be set later, awaitable like a promise.
 *
 * A Future allocates no native Promise until something calls `then` (which `await` does). Its done callbacks
 * and its awaiters are delivered by the loop: on completion the Future puts itself once on the ready queue and,
 * when its turn comes, runs every callback in registration order. Delivering to an awaiting task starts that task's
 * step; the loop lets the step end (the microtask queue drain) before the next callback runs, exactly as if each
 * callback had been scheduled on its own with `callSoon` at completion time, as in CPython.
 * @module
 */
import { inspect, process } from "./_internal/node.js";
import {
  RUN_DEFER,
  RUN_DONE,
  RUN_STEP,
  RUN_STEP_MORE,
  type RunResult,
  type Runnable,
  currentTaskOrNull,
  requireRunningLoop,
} from "./_internal/kernel/context.js";
import { createdAtSuffix, recordCreation } from "./_internal/tools/debug.js";
import { CancelledError, InvalidStateError, RuntimeError } from "./exceptions.js";
import type { ContextRunner, EventLoop } from "./events.js";
import type { Task } from "./tasks.js";

/** The three states of a Future; a done Future never changes state again. */
export type FutureState = "PENDING" | "CANCELLED" | "FINISHED";

/** Anything `ensureFuture`, `gather`, `shield`, `waitFor` accept: a Future, a promise, or a coroutine function. */
export type Awaitable<T> = PromiseLike<T> | (() => PromiseLike<T> | T);

/** A done callback: called with the Future once it is done, always from the loop, never inline. */
export type DoneCallback<T> = (future: Future<T>) => void;

/**
 * @internal One entry of a Future's callback list: delivered when the Future is done. Returns `RUN_STEP` when the
 * delivery started a task step, `RUN_DEFER` when it would have but must wait for pending microtasks (it did nothing
 * then), `RUN_DONE` otherwise.
 */
export interface Delivery {
  _deliver(future: Future<unknown>): RunResult;
}

/** @internal One done callback that many Futures can share (see `Future._lastDeliveryIs`). */
export function _sharedDoneCallback<T>(fn: DoneCallback<T>): Delivery {
  return new UserCallback(fn, undefined);
}

class UserCallback implements Delivery {
  constructor(
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- one reaction serves Futures of every value type; the public signatures carry the types
    readonly fn: DoneCallback<any>,
    readonly context: ContextRunner | undefined,
  ) {}

  _deliver(future: Future<unknown>): RunResult {
    try {
      if (this.context === undefined) this.fn(future);
      else this.context(this.fn, future);
    } catch (exception) {
      future._loop.callExceptionHandler({
        message: `Exception in callback ${this.fn.name || "<anonymous>"}(${future})`,
        exception,
        future,
      });
    }
    return RUN_DONE;
  }
}

// The `{ loop }` argument of the Future constructor, made once: the constructor reads it and clears it at once, so
// that making a Future (every Task, sleep and wait) allocates no options object.
const LOOP_OPTION: { loop?: EventLoop } = { loop: undefined };

/** @internal `{ loop }` for a Future's constructor, without allocating it (see `LOOP_OPTION`). */
export function _onLoop(loop: EventLoop): { loop?: EventLoop } {
  LOOP_OPTION.loop = loop;
  return LOOP_OPTION;
}

/** @internal What cancels the operation a promise of ours stands for (see `_linkCancel`). */
export interface _CancelSource {
  cancel(msg?: string): boolean;
}

const CANCEL_SOURCE = Symbol("asyncio-ts.cancelSource");

/**
 * @internal Marks `promise`, returned by a wait of ours that is blocked, with what cancels that wait. A promise cannot
 * be cancelled, so `waitFor`, `gather` and `ensureFuture` follow a promise with a Future; when that Future is
 * cancelled (a timeout, a cancelled gather), the wait is cancelled too, as Python cancels the coroutine it wrapped,
 * instead of staying registered (a Lock acquired by nobody, a Queue item taken by nobody).
 */
export function _linkCancel<P extends Promise<unknown>>(promise: P, source: _CancelSource): P {
  (promise as P & { [CANCEL_SOURCE]?: _CancelSource })[CANCEL_SOURCE] = source;
  return promise;
}

/** @internal What `_linkCancel` attached to `aw`, if anything. */
export function _cancelSourceOf(aw: object): _CancelSource | undefined {
  return (aw as { [CANCEL_SOURCE]?: _CancelSource })[CANCEL_SOURCE];
}

/**
 * @internal What a suspended task waits on, which `task.cancel()` cancels: a Future, or a wait of the kernel's own that
 * needs no Future (a task's `sleep`: `_TaskSleep` in src/events.ts). Pending while `_state` is "PENDING".
 */
export interface _Waiter extends _CancelSource {
  readonly _state: FutureState;
}

/**
 * @internal A wait of the kernel's own that is not a Future: made for one task, which awaits the native promise it
 * settles (`_suspendOn`), and put on the ready queue once it completes or is cancelled, to resume that task
 * (`_resumeTaskWait`), exactly where a Future would have delivered to it.
 */
export interface _TaskWait extends _Waiter, _Resolvers {
  readonly task: Task<unknown>;
  readonly _cancelMessage: string | undefined;
  /** Settles the promise: with `cancelled` when given, else with what the wait came to. Clears the resolvers. */
  _finish(cancelled: CancelledError | null): void;
}

/**
 * @internal `task` suspends on `wait`, made for it: returns the promise it awaits, as `Future._wait` does for a
 * Future. A cancellation requested before goes to the wait at once, as `Task._awaiting` hands it to a Future.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a promise of whatever the wait settles it with
export function _suspendOn(task: Task<unknown>, wait: _TaskWait): Promise<any> {
  const promise = _promiseFor(wait);
  task._futWaiter = wait;
  task._loop._stepOver(task);
  if (task._mustCancel && wait.cancel(task._cancelMessage)) task._mustCancel = false;
  return _linkCancel(promise, wait);
}

/**
 * @internal Run from the ready queue once `wait` is done: starts the step of its task, which gets `CancelledError` if
 * the wait was cancelled or a cancellation is due now (as `_ThenReaction._deliver` decides for a Future), else what the
 * wait came to. Waits until pending microtasks have run first (`RUN_DEFER`).
 */
export function _resumeTaskWait(wait: _TaskWait): RunResult {
  const task = wait.task;
  if (task._loop._dirty) return RUN_DEFER;
  const cancelDue = task._startStep();
  // A finished wait is not what the task waits on any more: `cancel()` and the call graph need not look at it.
  if (task._futWaiter === wait) task._futWaiter = null;
  if (wait._state === "CANCELLED") wait._finish(new CancelledError(wait._cancelMessage));
  else wait._finish(cancelDue ? task._makeCancelledError() : null);
  return RUN_STEP;
}

/** @internal For an operation that may wait on several Futures in turn: `cancel` reaches the one it waits on now. */
export class _CurrentWaiter implements _CancelSource {
  fut: Future<unknown> | null = null;

  cancel(msg?: string): boolean {
    const fut = this.fut;
    return fut !== null && fut._state === "PENDING" && fut.cancel(msg);
  }
}

/** @internal An object that settles a native promise: it holds the promise's two resolvers until it does. */
export interface _Resolvers {
  _resolve: ((value: unknown) => void) | null;
  _reject: ((reason: unknown) => void) | null;
}

// Two ways to make a native promise and hand its resolvers to a holder; which costs less depends on V8. Instructions
// per task of W1 (spawn, sleep(0), gather), one executor shared through module variables against a closure per
// call: Node 20 (V8 11) 34.5k against 36.5k; Node 22 (V8 12) 51.0k against 44.5k; Node 24 (V8 13) 23.7k against
// 21.0k. The shared executor makes no closure, but from V8 12 on storing the new resolvers in the module's (old)
// context costs more than the closure: each store takes the write barrier's slow path.
let capturedResolve: ((value: unknown) => void) | null = null;
let capturedReject: ((reason: unknown) => void) | null = null;
function captureResolvers(resolve: (value: unknown) => void, reject: (reason: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/** The major version of the V8 running us; runtimes that do not say (or are not V8) count as recent. */
const V8_MAJOR = Number.parseInt(String(process.versions.v8 ?? ""), 10) || Infinity;
const RESOLVERS_BY_CLOSURE = V8_MAJOR >= 12;

/** @internal A new native promise whose resolvers go to `holder`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a promise of whatever the holder settles it with
export function _promiseFor(holder: _Resolvers): Promise<any> {
  if (RESOLVERS_BY_CLOSURE) {
    return new Promise((resolve, reject) => {
      holder._resolve = resolve;
      holder._reject = reject;
    });
  }
  const promise = new Promise(captureResolvers);
  holder._resolve = capturedResolve;
  holder._reject = capturedReject;
  capturedResolve = capturedReject = null;
  return promise;
}

/** One delivery added to a done Future while its batch was already queued: runs at its own place in the queue. */
class LateDelivery implements Runnable {
  constructor(
    private readonly delivery: Delivery,
    private readonly future: Future<unknown>,
  ) {}

  _run(): RunResult {
    return this.delivery._deliver(this.future);
  }
}

/**
 * The deliveries of a Future that are left after one of them started a task step: it sits at the front of the ready
 * queue while that step runs, and goes on delivering from `index` when its turn comes back.
 */
class RemainingDeliveries implements Runnable {
  constructor(
    readonly future: Future<unknown>,
    readonly list: Delivery[],
    public index: number,
  ) {}

  _run(): RunResult {
    return this.future._deliverFrom(this.list, this.index, this);
  }
}

/**
 * @internal What `then` registers and returns: the awaiter's callbacks, and the promise of their outcome.
 *
 * `await future` calls `then` and ignores what it returns, so the returned promise is made lazily: a native
 * Promise is created only when someone chains on it (`then`/`catch`/`finally`) or when a handler threw (so an
 * unobserved rejection is reported by Node exactly as for any promise). It is a Promise in every way but
 * `instanceof Promise`.
 *
 * `task` is the task that awaits (null when the caller is not a task). Delivering to a task starts a step of that
 * task: if the task was asked to cancel before the step starts, it gets `CancelledError` instead of the result, as
 * CPython's `Task.__step` throws it in when `_must_cancel` is set.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a promise of whatever the handler returns, as lib.es5's Promise.then
export class _ThenReaction implements Delivery, Promise<any> {
  private promise: Promise<unknown> | null = null;
  /** @internal */ _resolve: ((value: unknown) => void) | null = null;
  /** @internal */ _reject: ((reason: unknown) => void) | null = null;
  /** 0: not delivered; 1: delivered, `outcome` is the value to resolve the promise with. */
  private delivered = 0;
  private outcome: unknown = undefined;

  constructor(
    readonly task: Task<unknown> | null,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- one reaction serves Futures of every value type; the public signatures carry the types
    readonly onFulfilled: ((value: any) => any) | null | undefined,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as lib.es5's Promise: a rejection handler may declare the error type it expects
    readonly onRejected: ((reason: any) => any) | null | undefined,
  ) {}

  _deliver(future: Future<unknown>): RunResult {
    const task = this.task;
    if (task === null) {
      this._complete(future);
      return RUN_DONE;
    }
    if (future._loop._dirty) return RUN_DEFER;
    if (task._startStep()) {
      if (future._state === "CANCELLED" || (future._hasException && future._exception instanceof CancelledError)) {
        // What the Future gives is a CancelledError already: that one is thrown in, as CPython keeps it.
        this._complete(future);
      } else {
        if (future._hasException) future._markRetrieved();
        this._handle(false, task._makeCancelledError());
      }
    } else {
      this._complete(future);
    }
    return RUN_STEP;
  }

  private _complete(future: Future<unknown>): void {
    if (future._state === "FINISHED") {
      if (!future._hasException) {
        this._handle(true, future._result);
      } else {
        // Handing the exception to an awaiter retrieves it, as `await` calls `result()` in CPython.
        future._markRetrieved();
        this._handle(false, future._exception);
      }
    } else {
      this._handle(false, future._makeCancelledError());
    }
  }

  private _handle(ok: boolean, value: unknown): void {
    const handler = ok ? this.onFulfilled : this.onRejected;
    if (typeof handler !== "function") {
      this.settle(ok, value);
      return;
    }
    let result: unknown;
    try {
      result = handler(value);
    } catch (e) {
      this.settle(false, e);
      return;
    }
    this.settle(true, result);
  }

  private settle(ok: boolean, value: unknown): void {
    if (this.promise === null) {
      if (ok) {
        this.delivered = 1;
        this.outcome = value;
        return;
      }
      void this.materialize();
    }
    if (ok) this._resolve!(value);
    else this._reject!(value);
    this._resolve = this._reject = null;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a promise of whatever the handler returns, as lib.es5's Promise.then
  private materialize(): Promise<any> {
    if (this.promise === null) {
      this.promise = _promiseFor(this);
      if (this.delivered === 1) {
        this._resolve!(this.outcome);
        this.outcome = undefined;
        this._resolve = this._reject = null;
      }
    }
    return this.promise;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a promise of whatever the handler returns, as lib.es5's Promise.then
  then<R1 = any, R2 = never>(
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- one reaction serves Futures of every value type; the public signatures carry the types
    onFulfilled?: ((value: any) => R1 | PromiseLike<R1>) | null,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as lib.es5's Promise: a rejection handler may declare the error type it expects
    onRejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.materialize().then(onFulfilled, onRejected);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as lib.es5's Promise: a rejection handler may declare the error type it expects
  catch<R = never>(onRejected?: ((reason: any) => R | PromiseLike<R>) | null): Promise<any> {
    return this.materialize().catch(onRejected);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a promise of whatever the handler returns, as lib.es5's Promise.then
  finally(onFinally?: (() => void) | null): Promise<any> {
    return this.materialize().finally(onFinally);
  }

  get [Symbol.toStringTag](): string {
    return "Promise";
  }
}

/**
 * @internal The reaction behind `Future._wait`: settles a native promise, made with it, that the caller awaits. It
 * holds only the task, the promise's resolvers and the handlers when there are any (`declare`: absent otherwise).
 * Its delivery is `_ThenReaction`'s own code (borrowed below), so that a task step starts, and its cancellation is
 * decided, in one place for both.
 */
class _NativeReaction implements Delivery {
  /** `_ThenReaction.prototype._deliver`, set on the prototype below. */
  declare _deliver: (future: Future<unknown>) => RunResult;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- one reaction serves Futures of every value type; the public signatures carry the types
  declare onFulfilled: ((value: any) => any) | undefined;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as lib.es5's Promise: a rejection handler may declare the error type it expects
  declare onRejected: ((reason: any) => any) | undefined;
  /** @internal */ _resolve: ((value: unknown) => void) | null = null;
  /** @internal */ _reject: ((reason: unknown) => void) | null = null;

  constructor(
    readonly task: Task<unknown>,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- one reaction serves Futures of every value type; the public signatures carry the types
    onFulfilled: ((value: any) => any) | null | undefined,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as lib.es5's Promise: a rejection handler may declare the error type it expects
    onRejected: ((reason: any) => any) | null | undefined,
  ) {
    if (onFulfilled != null) this.onFulfilled = onFulfilled;
    if (onRejected != null) this.onRejected = onRejected;
  }

  /** The promise this reaction settles; made once, right after the reaction. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a promise of whatever the handler returns, as lib.es5's Promise.then
  _promise(): Promise<any> {
    return _promiseFor(this);
  }

  /** Called by the borrowed `_handle`: settles the promise. */
  settle(ok: boolean, value: unknown): void {
    if (ok) this._resolve!(value);
    else this._reject!(value);
    this._resolve = this._reject = null;
  }
}

// A class of its own rather than a subclass: a derived class with fields costs V8 more to construct, and
// `_ThenReaction` is made for every `await` of a Future (measured: 5% of W1's instructions).
for (const name of ["_deliver", "_complete", "_handle"]) {
  Object.defineProperty(_NativeReaction.prototype, name, {
    value: (_ThenReaction.prototype as unknown as Record<string, unknown>)[name],
    writable: true,
    configurable: true,
  });
}

/** @internal Reports a Future's exception that nobody retrieved, once: at GC or when the loop closes. */
export class _UnretrievedReport {
  private done = false;
  constructor(
    readonly loop: EventLoop,
    readonly exception: unknown,
    readonly kind: string,
    readonly futureRef: WeakRef<Future<unknown>>,
    readonly sourceTraceback: string | undefined,
  ) {}

  report(): void {
    if (this.done) return;
    this.done = true;
    this.loop._unretrieved.delete(this);
    const context: Record<string, unknown> = {
      message: `${this.kind} exception was never retrieved`,
      exception: this.exception,
    };
    const future = this.futureRef.deref();
    context.future = future ?? `<${this.kind} finished (collected)>`;
    if (this.sourceTraceback !== undefined) context.source_traceback = this.sourceTraceback;
    this.loop.callExceptionHandler(context);
  }

  cancel(): void {
    this.done = true;
    this.loop._unretrieved.delete(this);
  }
}

const unretrievedRegistry = new FinalizationRegistry<_UnretrievedReport>((report) => report.report());

/**
 * A result not yet known. `await` it (it is a `PromiseLike`), or add done callbacks.
 * `result()`, `exception()`, `cancelled()` read it; `setResult`, `setException`, `cancel` settle it once.
 */
export class Future<T = unknown> implements PromiseLike<T> {
  // Invariants: `_state` moves once, from PENDING to CANCELLED or FINISHED. When FINISHED, `_hasException`
  // tells whether `_exception` or `_result` holds the outcome. `_callback0` then `_callbacks` hold, in registration
  // order, what has not been delivered (most Futures have one awaiter: it needs no array);
  // `_scheduled` is true while this Future sits on the loop's ready queue to deliver them.
  // The fields declared with `declare` are rare (a failure, a cancellation, debug mode): they are absent (undefined)
  // until set, so a Future that never needs them does not carry them, which matters with 100,000 waiting tasks.
  /** @internal */ _state: FutureState = "PENDING";
  /** @internal */ _result: T | undefined = undefined;
  /** @internal */ declare _exception: unknown;
  /** @internal */ _hasException = false;
  /** @internal */ readonly _loop: EventLoop;
  /** @internal */ _callback0: Delivery | null = null;
  /** @internal Absent until a second delivery is added. */ declare _callbacks: Delivery[] | null | undefined;
  /** @internal */ _scheduled = false;
  /** @internal */ declare _cancelMessage: string | undefined;
  /** @internal The CancelledError a task's body ended with, re-thrown by `result()`. */
  declare _cancelledExc: CancelledError | null | undefined;
  /** @internal */ declare _unretrieved: _UnretrievedReport | null | undefined;
  /** @internal Where this Future was created, in debug mode. */
  declare _sourceTraceback: string | undefined;

  /** A pending Future on `loop` (default: the running loop). Prefer `loop.createFuture()`. */
  constructor(options?: { loop?: EventLoop }) {
    this._loop = options?.loop ?? requireRunningLoop();
    if (options === LOOP_OPTION) LOOP_OPTION.loop = undefined;
    if (this._loop._debug) recordCreation(this as Future<unknown>);
  }

  /** Whether the Future is cancelled or finished. */
  done(): boolean {
    return this._state !== "PENDING";
  }

  /** Whether the Future was cancelled. */
  cancelled(): boolean {
    return this._state === "CANCELLED";
  }

  /** The loop the Future belongs to. */
  getLoop(): EventLoop {
    return this._loop;
  }

  /**
   * The result; throws the Future's exception if it failed, `CancelledError` if cancelled,
   * `InvalidStateError` if not done.
   */
  result(): T {
    if (this._state === "CANCELLED") throw this._makeCancelledError();
    if (this._state === "PENDING") throw new InvalidStateError("Result is not set.");
    this._markRetrieved();
    if (this._hasException) throw this._exception;
    return this._result as T;
  }

  /** The exception (null when it succeeded); `CancelledError` if cancelled, `InvalidStateError` if not done. */
  exception(): unknown {
    if (this._state === "CANCELLED") throw this._makeCancelledError();
    if (this._state === "PENDING") throw new InvalidStateError("Exception is not set.");
    this._markRetrieved();
    return this._hasException ? this._exception : null;
  }

  /** Marks the Future done with `value` and schedules its callbacks. `InvalidStateError` when already done. */
  setResult(value: T): void {
    if (this._state !== "PENDING") throw new InvalidStateError(`invalid state: ${this._state}: ${this}`);
    this._state = "FINISHED";
    this._result = value;
    this._scheduleCallbacks();
  }

  /** Marks the Future failed with `exception` and schedules its callbacks. `InvalidStateError` when already done. */
  setException(exception: unknown): void {
    if (this._state !== "PENDING") throw new InvalidStateError(`invalid state: ${this._state}: ${this}`);
    this._state = "FINISHED";
    this._exception = exception;
    this._hasException = true;
    this._trackUnretrieved();
    this._scheduleCallbacks();
  }

  /** Cancels the Future and schedules its callbacks; false when it was already done. `msg` becomes the error's message. */
  cancel(msg?: string): boolean {
    if (this._state !== "PENDING") return false;
    this._state = "CANCELLED";
    this._cancelMessage = msg;
    this._scheduleCallbacks();
    return true;
  }

  /** Calls `fn(future)` from the loop once the Future is done (on the next iteration if it already is). */
  addDoneCallback(fn: DoneCallback<T>, options?: { context?: ContextRunner }): void {
    if (typeof fn !== "function") {
      throw new TypeError(`addDoneCallback: expected \`fn\` to be a function, got ${fn === null ? "null" : typeof fn}`);
    }
    this._addDelivery(new UserCallback(fn, options?.context));
  }

  /**
   * @internal `addDoneCallback(fn)` for one callback shared by many Futures (`gather`): made once with
   * `_sharedDoneCallback`, added with `_addDelivery`; `_lastDeliveryIs` tells whether it was the last one added here.
   */
  _lastDeliveryIs(delivery: Delivery): boolean {
    const list = this._callbacks;
    return list != null && list.length > 0 ? list[list.length - 1] === delivery : this._callback0 === delivery;
  }

  /** Removes every registration of `fn` not yet scheduled; returns how many were removed (0 once the Future is done). */
  removeDoneCallback(fn: DoneCallback<T>): number {
    // Once the Future is done its callbacks are scheduled, and a scheduled callback is not taken back (as CPython).
    if (this._state !== "PENDING") return 0;
    const matches = (d: Delivery | null): boolean => d instanceof UserCallback && d.fn === fn;
    let removed = 0;
    if (matches(this._callback0)) {
      this._callback0 = null;
      removed++;
    }
    const list = this._callbacks;
    if (list != null) {
      const kept = list.filter((d) => !matches(d));
      removed += list.length - kept.length;
      this._callbacks = kept.length > 0 ? kept : null;
    }
    if (this._callback0 === null && this._callbacks != null) this._callback0 = this._callbacks.shift() ?? null;
    return removed;
  }

  /**
   * Promise interop; `await future` goes through here. Called in the awaiting task's async context, so the task
   * learns what it awaits: cancelling that task cancels this Future.
   */
  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as lib.es5's Promise: a rejection handler may declare the error type it expects
    onRejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this._register(onFulfilled, onRejected, currentTaskOrNull());
  }

  /**
   * @internal What our own primitives' waits return when a task calls them: a native promise of `then(onFulfilled,
   * onRejected)`, registered with the calling task now rather than when V8 gets to call `then` (awaiting a native
   * promise costs V8 no thenable job and no resolving functions). Outside a task, the Future itself is given, so
   * the task that awaits it later is the one registered.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as lib.es5's Promise: a rejection handler may declare the error type it expects
  _wait<R = T>(onFulfilled?: ((value: T) => R) | null, onRejected?: ((reason: any) => R) | null): Promise<R> {
    const task = currentTaskOrNull();
    if (task === null) {
      return (onFulfilled == null && onRejected == null ? this : this.then(onFulfilled, onRejected)) as Promise<R>;
    }
    if (this._state !== "PENDING" || (task as Future<unknown>) === this || task._loop !== this._loop) {
      return this._register(onFulfilled, onRejected, task) as Promise<R>;
    }
    task._awaiting(this);
    this._loop._stepOver(task);
    const reaction = new _NativeReaction(task, onFulfilled, onRejected);
    const promise = reaction._promise();
    this._addDelivery(reaction);
    return _linkCancel(promise, this);
  }

  /** @internal `then` for the awaiting `task` (null outside a task). */
  private _register<R1, R2>(
    onFulfilled: ((value: T) => R1 | PromiseLike<R1>) | null | undefined,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as lib.es5's Promise: a rejection handler may declare the error type it expects
    onRejected: ((reason: any) => R2 | PromiseLike<R2>) | null | undefined,
    task: Task<unknown> | null,
  ): Promise<R1 | R2> {
    if (this._state !== "PENDING") {
      // As CPython: awaiting a done Future does not suspend, so no loop iteration passes.
      const settled =
        this._state === "FINISHED" && !this._hasException
          ? Promise.resolve(this._result as T)
          : Promise.reject(this._state === "CANCELLED" ? this._makeCancelledError() : this._exception);
      this._markRetrieved();
      return settled.then(onFulfilled, onRejected);
    }
    if (task !== null) {
      if ((task as Future<unknown>) === this) {
        return Promise.reject(new RuntimeError(`Task cannot await on itself: ${this}`)).then(onFulfilled, onRejected);
      }
      if (task._loop !== this._loop) {
        const error = new RuntimeError(`Task ${task} got Future ${this} attached to a different loop`);
        return Promise.reject(error).then(onFulfilled, onRejected);
      }
      task._awaiting(this);
      // V8 calls `then` for `await future` from a job, with two resolving functions; a call by the task's own code
      // (`future.then(cb)`, `Promise.race`) does not mean that it suspended (see EventLoop's invariants).
      if (!this._loop._stepOwnCode && typeof onRejected === "function") this._loop._stepOver(task);
    }
    const reaction = new _ThenReaction(task, onFulfilled, onRejected);
    this._addDelivery(reaction);
    return reaction;
  }

  /** Promise interop: `future.catch(fn)`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as lib.es5's Promise: a rejection handler may declare the error type it expects
  catch<R = never>(onRejected?: ((reason: any) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.then(undefined, onRejected);
  }

  /** A Future is a Promise in all but `instanceof`: it has Promise's methods and a tag of its own. */
  get [Symbol.toStringTag](): string {
    return this._kind();
  }

  /** Promise interop: `future.finally(fn)`. */
  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.then().finally(onFinally);
  }

  /**
   * @internal The CancelledError to throw for this cancelled Future. The error a task's body ended with is handed
   * out once, to the first taker; later ones get a new error, as CPython's `_make_cancelled_error`.
   */
  _makeCancelledError(): CancelledError {
    const exc = this._cancelledExc;
    if (exc !== undefined && exc !== null) {
      this._cancelledExc = null;
      return exc;
    }
    return new CancelledError(this._cancelMessage);
  }

  /** @internal */
  _addDelivery(delivery: Delivery): void {
    // (`_scheduled` while pending is a `sleep(0)` waiting for its turn: what is added now is delivered in it.)
    if (this._scheduled && this._state !== "PENDING") {
      // Done, with a delivery already queued: this one goes to the current end of the ready queue, as a separate
      // call_soon would in CPython, instead of jumping ahead with the queued batch.
      this._loop._enqueue(new LateDelivery(delivery, this));
      return;
    }
    if (this._callback0 === null && this._callbacks == null) this._callback0 = delivery;
    else if (this._callbacks == null) this._callbacks = [delivery];
    else this._callbacks.push(delivery);
    if (this._state !== "PENDING") this._scheduleCallbacks();
  }

  /** @internal */
  _scheduleCallbacks(): void {
    if ((this._callback0 === null && this._callbacks == null) || this._scheduled) return;
    if (this._loop._closed) this._loop._raiseClosed();
    this._scheduled = true;
    this._loop._enqueue(this);
  }

  /**
   * @internal Delivers the callbacks; called by the loop. Each delivery guards itself, so one failure stops none.
   * When a delivery starts a task step, the deliveries left go to the front of the ready queue and run once the
   * step has ended. `_scheduled` stays set until the last one ran, so a callback added meanwhile queues behind.
   */
  _run(): RunResult {
    const first = this._callback0;
    const rest = this._callbacks;
    let r: RunResult = RUN_DONE;
    if (first !== null) {
      r = first._deliver(this);
      if (r === RUN_DEFER) return r;
      this._callback0 = null;
    }
    if (rest == null) {
      this._scheduled = false;
      return r;
    }
    this._callbacks = null;
    if (r === RUN_STEP) return this._deliverLater(rest, 0, null);
    r = this._deliverFrom(rest, 0, null);
    if (r === RUN_DEFER) this._callbacks = rest;
    return r;
  }

  /**
   * @internal Delivers `list` from `index` on. When the microtask queue must drain before `list[i]` is delivered
   * (a delivery started a step, or `list[i]` would start one after plain callbacks ran), `cursor` (made if null)
   * goes to the front of the ready queue to go on from `list[i]`. `RUN_DEFER` means nothing was delivered.
   */
  _deliverFrom(list: Delivery[], index: number, cursor: RemainingDeliveries | null): RunResult {
    const n = list.length;
    for (let i = index; i < n; i++) {
      const r = list[i]!._deliver(this);
      if (r === RUN_DONE) continue;
      if (r === RUN_DEFER) return i === index ? RUN_DEFER : this._deliverLater(list, i, cursor);
      if (i + 1 < n) return this._deliverLater(list, i + 1, cursor);
      this._scheduled = false;
      return RUN_STEP;
    }
    this._scheduled = false;
    return RUN_DONE;
  }

  /** Puts `cursor` (made if null) at the front of the ready queue, to deliver `list` from `index` on. */
  private _deliverLater(list: Delivery[], index: number, cursor: RemainingDeliveries | null): RunResult {
    if (cursor === null) cursor = new RemainingDeliveries(this, list, index);
    else cursor.index = index;
    this._loop._ready.unshift(cursor);
    return RUN_STEP_MORE;
  }

  /** @internal */
  _markRetrieved(): void {
    const report = this._unretrieved;
    if (report !== undefined && report !== null) {
      this._unretrieved = null;
      report.cancel();
      unretrievedRegistry.unregister(report);
    }
  }

  private _trackUnretrieved(): void {
    const kind = this._kind();
    const report = new _UnretrievedReport(
      this._loop,
      this._exception,
      kind,
      new WeakRef(this as Future<unknown>),
      this._sourceTraceback,
    );
    this._unretrieved = report;
    this._loop._unretrieved.add(report);
    unretrievedRegistry.register(this, report, report);
  }

  /** @internal "Future" or "Task", for messages. */
  _kind(): string {
    return "Future";
  }

  /** @internal The state words of the repr. */
  _reprInfo(): string[] {
    const info = [this._state.toLowerCase()];
    if (this._state === "FINISHED") {
      if (this._hasException) info.push(`exception=${inspect(this._exception, { depth: 0, breakLength: Infinity }).split("\n")[0]}`);
      else info.push(`result=${inspect(this._result, { depth: 0, breakLength: Infinity })}`);
    }
    return info;
  }

  toString(): string {
    const created = this._sourceTraceback === undefined ? "" : createdAtSuffix(this._sourceTraceback);
    return `<${this._kind()} ${this._reprInfo().join(" ")}${created}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/** Whether `value` is an asyncio-ts Future (a Task is one too). */
export function isFuture(value: unknown): value is Future<unknown> {
  return value instanceof Future;
}

/** @internal A Future on `loop` (what `loop.createFuture()` returns). */
export function _newFuture<T>(loop: EventLoop): Future<T> {
  return new Future<T>(_onLoop(loop));
}
