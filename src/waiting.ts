/**
 * The functions that wait on several awaitables at once, or on one with a limit: `gather`, `wait`, `waitFor`,
 * `asCompleted` and `shield`. CPython's `tasks.py` keeps them beside the Python Task, which its `_asyncio` module
 * implements apart; here tasks.ts keeps the Task and its life, and this module what is built on it.
 * @module
 */
import { addAwaitedBy, discardAwaitedBy } from "./_internal/kernel/awaited_by.js";
import {
  requireRunningLoop,
} from "./_internal/kernel/context.js";
import { CancelledError, TimeoutError, _asCancelledError } from "./exceptions.js";
import { type EventLoop, type TimerHandle, _runningOrSetLoop } from "./events.js";
import { type Awaitable, Future, _onLoop, _sharedDoneCallback } from "./futures.js";
import { timeout as makeTimeout } from "./timeouts.js";
import { Deque } from "./_internal/kernel/deque.js";
import { checkSecondsOrNull, isIterable, isPromiseLike, checkOptions } from "./_internal/validate.js";
import { abortError, abortMessage, cancelOnAbort, checkSignal, signalOf } from "./_internal/abort.js";

import { type SignalOption, _ensureFutureOn } from "./tasks.js";

// ------------------------------------------------------------------ gather

/** What an awaitable argument of `gather` resolves to. */
export type AwaitedOf<A> = A extends () => infer R ? Awaited<R> : Awaited<A>;

/** Options of `gather`. */
export interface GatherOptions {
  /** Return errors (and `CancelledError`s) in the results array instead of failing. */
  returnExceptions?: boolean;
  /** Aborting it cancels the gather as `cancel(msg)` would: every child not done is cancelled. */
  signal?: AbortSignal | null;
}

/** The Future `gather` returns: cancelling it cancels every child. */
export class GatheringFuture<T> extends Future<T> {
  /** @internal */ _cancelRequested = false;

  /** @internal */
  constructor(
    loop: EventLoop,
    /** @internal */ readonly _children: readonly Future<unknown>[],
  ) {
    super(_onLoop(loop));
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
    !isPromiseLike(value) &&
    Object.getPrototypeOf(value) === Object.prototype
  );
}

/**
 * Runs the awaitables concurrently; resolves with their results in argument order (typed as a tuple).
 * The first failure rejects the gather while the others keep running, unless `returnExceptions`.
 * Cancelling the gather cancels every child; so does aborting the `signal` option (already aborted: the gather is
 * returned cancelled and coroutine functions never start).
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
  let signal: AbortSignal | null = null;
  if (args.length > 0 && isGatherOptions(args[args.length - 1])) {
    const options = args.pop() as GatherOptions;
    returnExceptions = Boolean(options.returnExceptions);
    if (options.signal !== undefined) signal = checkSignal(options.signal, "gather");
  }
  if (signal !== null) return gatherWithSignal(signal, returnExceptions, args);
  if (args.length === 0) {
    const outer = new GatheringFuture<unknown[]>(_runningOrSetLoop(), []);
    outer.setResult([]);
    return outer;
  }
  let loop: EventLoop | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a instanceof Future) loop ??= a._loop;
    else if (Array.isArray(a)) {
      // Checked before any awaitable is wrapped, so that no task is started for a call that fails.
      throw new TypeError(`gather: argument ${i} is an array, not an awaitable: spread the array: \`gather(...tasks)\``);
    }
  }
  loop ??= _runningOrSetLoop();
  const children: Future<unknown>[] = new Array(args.length);
  const unique: Future<unknown>[] = [];
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
  // The same awaitable given twice is awaited once and its result repeated, as CPython. A pending Future (the usual
  // child) is recognised by the shared callback being the last one it got; anything else goes through a map.
  const callback = _sharedDoneCallback(onChildDone);
  let seen: Map<unknown, Future<unknown>> | null = null;
  let doneAtOnce: Future<unknown>[] | null = null;
  try {
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      if (a instanceof Future && a._loop === loop && a._state === "PENDING") {
        if (!a._lastDeliveryIs(callback)) {
          a._addDelivery(callback);
          unique.push(a);
        }
        children[i] = a;
        continue;
      }
      let fut = seen?.get(a);
      if (fut === undefined) {
        fut = _ensureFutureOn(a as Awaitable<unknown>, loop);
        (seen ??= new Map()).set(a, fut);
        unique.push(fut);
        if (fut._state === "PENDING") fut._addDelivery(callback);
        else (doneAtOnce ??= []).push(fut);
      }
      children[i] = fut;
    }
  } catch (error) {
    // A bad awaitable: the gather is not made; the children registered so far forget it.
    for (const child of unique) child.removeDoneCallback(onChildDone);
    throw error;
  }
  // Children already done are counted at once, so a gather of done futures is done when it returns, as CPython.
  if (doneAtOnce !== null) for (const child of doneAtOnce) onChildDone(child);
  return outer;
}

/**
 * `gather` with a signal: aborting it cancels the gather (so every child) with the abort's message. Already
 * aborted, the children are cancelled (coroutine functions never start) and the gather is cancelled at once.
 */
function gatherWithSignal(signal: AbortSignal, returnExceptions: boolean, args: unknown[]): GatheringFuture<unknown[]> {
  const outer = (gather as (...a: unknown[]) => GatheringFuture<unknown[]>)(...args, { returnExceptions });
  if (signal.aborted) {
    const message = abortMessage(signal);
    if (outer._state === "PENDING") {
      for (const child of outer._children) child.cancel(message);
      Future.prototype.cancel.call(outer, message);
      return outer;
    }
    // Everything was done already: the gather still fails, as any operation given an aborted signal.
    if (outer._state === "FINISHED") outer.exception();
    const cancelled = new GatheringFuture<unknown[]>(outer._loop, outer._children);
    Future.prototype.cancel.call(cancelled, message);
    return cancelled;
  }
  if (outer._state === "PENDING") cancelOnAbort(signal, outer);
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

/**
 * Waits for the Futures/Tasks in `fs` until `returnWhen` holds or `timeout` seconds pass; returns `[done, pending]`.
 * Does not cancel anything and does not throw on timeout. Empty `fs` → `RangeError`; a promise or function → `TypeError`.
 *
 * Cancellation: stops waiting; the awaitables keep running. Aborting `options.signal` does the same, with
 * `CancelledError(reason's message)`, without cancelling the calling task.
 */
export function wait<T>(
  fs: Iterable<Future<T>>,
  options?: { timeout?: number | null; returnWhen?: ReturnWhen; signal?: AbortSignal | null } | null,
): Promise<[Set<Future<T>>, Set<Future<T>>]> {
  const checked = checkOptions(options, "wait") ?? {};
  const signal = checked.signal === undefined ? null : checkSignal(checked.signal, "wait");
  return waitImpl(fs, checked, signal);
}

async function waitImpl<T>(
  fs: Iterable<Future<T>>,
  options: { timeout?: number | null; returnWhen?: ReturnWhen },
  signal: AbortSignal | null,
): Promise<[Set<Future<T>>, Set<Future<T>>]> {
  if (!isIterable(fs)) {
    throw new TypeError(`wait: expected \`fs\` to be an iterable of Tasks or Futures, got ${fs === null ? "null" : typeof fs}`);
  }
  const timeout = checkSecondsOrNull(options.timeout, "timeout", "wait");
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
  if (signal?.aborted === true) throw abortError(signal);
  const waiter = loop.createFuture<void>();
  if (signal !== null) cancelOnAbort(signal, waiter);
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
 * Cancellation: cancels `aw` too (a Future or Task), like the timeout does. Aborting `options.signal` does the
 * same and rejects with `CancelledError` (the abort reason's message) instead of `TimeoutError`.
 */
export function waitFor<T>(aw: Awaitable<T>, timeout: number | null, options?: SignalOption | null): Promise<T> {
  const signal = options === undefined ? null : signalOf(options, "waitFor");
  return waitForImpl(aw, timeout, signal);
}

async function waitForImpl<T>(aw: Awaitable<T>, timeout: number | null, signal: AbortSignal | null): Promise<T> {
  const limit = checkSecondsOrNull(timeout, "timeout", "waitFor");
  const loop = requireRunningLoop();
  if (signal?.aborted === true) {
    // As a cancellation of the wait: a Future or Task given is cancelled too; a coroutine function never runs.
    if (aw instanceof Future) aw.cancel(abortMessage(signal));
    throw abortError(signal);
  }
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
  return makeTimeout(limit, signal === null ? undefined : { signal }).with(target);
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
export function asCompleted<T>(aws: Iterable<Awaitable<T>>, options?: { timeout?: number | null } | null): AsCompletedIterator<T> {
  options = checkOptions(options, "asCompleted") ?? {};
  if (aws instanceof Future || isPromiseLike(aws) || !isIterable(aws)) {
    throw new TypeError(`asCompleted: expected an iterable of awaitables, got ${aws === null ? "null" : aws instanceof Future ? "a Future" : typeof aws}`);
  }
  const timeout = checkSecondsOrNull(options.timeout, "timeout", "asCompleted");
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
