/**
 * Synchronization primitives: Lock, Event, Condition, Semaphore, BoundedSemaphore, Barrier.
 *
 * Every waiter is a Future of the loop, kept in a FIFO list. Waking a waiter only completes its Future; the waiter
 * does the bookkeeping itself when it resumes, and removes its Future from the list whether it was woken,
 * cancelled, or both. A waiter that was woken and then cancelled before it could run hands the wakeup to the next
 * one, so a cancellation never swallows a release or a notify. Nothing allocates a Future unless it has to wait.
 *
 * A single wait (Lock, Event, Semaphore) registers with `fut._wait(onWoken, onFailed)` inside the call, with the
 * calling task, so cancelling that task cancels `fut`, and returns a native promise; the handlers run when the
 * calling task resumes, with a `CancelledError` if it was cancelled after being woken. Waits that may repeat (Condition,
 * queues) are async functions, so each new waiter is awaited in the caller's context too.
 * @module
 */
import "./_internal/dispose.js";
import type { EventLoop } from "./events.js";
import { Future, _onLoop } from "./futures.js";
import { Deque } from "./_internal/kernel/deque.js";
import type { RunResult } from "./_internal/kernel/context.js";
import { BrokenBarrierError, CancelledError, RuntimeError } from "./exceptions.js";
import { describe, isPromiseLike, checkBody } from "./_internal/validate.js";
import { AbortLink, abortError, cancelOnAbort, signalOf } from "./_internal/abort.js";
import { Guard, _LoopBound, _removeWaiter } from "./mixins.js";

/** The options argument of a wait that takes an `AbortSignal`. */
export interface WaitOptions {
  /** Aborting it cancels this wait (not the calling task) with `CancelledError(reason's message)`. */
  signal?: AbortSignal | null;
}

/** What `acquire()`/`wait()` return when no waiting is needed: one shared settled promise, nothing allocated. */
const RESOLVED_TRUE: Promise<true> = Promise.resolve(true);

/** `async with primitive: body`: acquires, runs `body`, releases however it ends; resolves with its result. */
async function holding<R>(primitive: { acquire(): PromiseLike<unknown>; release(): void }, body: () => PromiseLike<R> | R, owner: string): Promise<R> {
  checkBody(body, owner);
  await primitive.acquire();
  try {
    return await body();
  } finally {
    primitive.release();
  }
}

function withWaiters(info: string, waiters: number): string {
  return waiters > 0 ? `${info}, waiters: ${waiters}` : info;
}

// ------------------------------------------------------------------ Lock

/** What `Lock.statistics()` reports. */
export interface LockStatistics {
  /** Whether the lock is held. */
  locked: boolean;
  /** How many `acquire()` calls are blocked (cancelled ones count until they have resumed). */
  waiters: number;
}

/**
 * A mutual-exclusion lock, not owned by a task: `await lock.with(async () => ...)`, or `acquire()` then `release()`
 * in a `finally`. Waiters get the lock in FIFO order and a new `acquire()` never overtakes them.
 */
export class Lock extends _LoopBound {
  // Invariants: `#locked` is true from a successful acquire() until the matching release(). `#waiters` (created on
  // first contention) holds the Futures of blocked acquire() calls in arrival order; each call removes its own
  // Future when it resumes. A head Future that is done but not cancelled is a wakeup in flight: that waiter takes
  // the lock when it runs, so neither release() nor a new acquire() may take it meanwhile.
  #waiters: Deque<Future<boolean>> | null = null;
  #locked = false;

  /** Whether the lock is held. */
  locked(): boolean {
    return this.#locked;
  }

  /**
   * Takes the lock, waiting in FIFO order behind earlier callers if it is held or anyone is queued. Resolves with
   * `true`. A free lock nobody waits for is taken by the call itself, before the promise is awaited.
   *
   * Cancellation: a cancelled call leaves the lock untouched and the queue as if it had never waited; if the lock
   * had already been handed to it, the lock goes to the next waiter.
   * Aborting `options.signal` acts as a cancellation of this call alone, with `CancelledError(reason's message)`; the calling task is not cancelled.
   */
  /** Free for a new caller: not held, and nobody queued but cancelled waiters (no barging past a live one). */
  #free(): boolean {
    return !this.#locked && (this.#waiters === null || allCancelled(this.#waiters));
  }

  acquire(options?: WaitOptions | null): Promise<true> {
    if (options !== undefined) return this.#acquireWithOptions(options);
    if (this.#free()) {
      this.#locked = true;
      return RESOLVED_TRUE;
    }
    return this.#acquireSlow();
  }

  #acquireWithOptions(options: WaitOptions | null): Promise<true> {
    const signal = signalOf(options, "Lock.acquire");
    if (signal === null) return this.acquire();
    if (signal.aborted) return Promise.reject(abortError(signal));
    return this._acquireLinked(new AbortLink(signal), true);
  }

  /** @internal `acquire()` an abort may cancel through `link` (disposed when the call ends if `ownLink`). */
  _acquireLinked(link: AbortLink, ownLink: boolean): Promise<true> {
    if (link.message !== null) {
      if (ownLink) link.dispose();
      return Promise.reject(new CancelledError(link.message));
    }
    if (this.#free()) {
      if (ownLink) link.dispose();
      this.#locked = true;
      return RESOLVED_TRUE;
    }
    return this._queueWaiter((this.#waiters ??= new Deque()), this.#onWoken, this.#onFailed, link, ownLink);
  }

  /**
   * Takes the lock (as `acquire`) and resolves with a `Guard` that releases it once disposed:
   * `using held = await lock.acquireGuard();`.
   *
   * Cancellation: as `acquire`: a cancelled or aborted call holds nothing and returns no guard.
   */
  acquireGuard(options?: WaitOptions | null): Promise<Guard> {
    return this.acquire(options).then(() => new Guard(() => this.release()));
  }

  #acquireSlow(): Promise<true> {
    return this._queueWaiter((this.#waiters ??= new Deque()), this.#onWoken, this.#onFailed);
  }

  readonly #onWoken = (): void => {
    this.#locked = true;
  };

  readonly #onFailed = (): void => {
    // Woken and cancelled, or cancelled while the lock is free: make sure the next waiter gets its turn.
    if (!this.#locked) this.#wakeUpFirst();
  };

  /** Releases the lock and wakes the first waiter. `RuntimeError` when the lock is not held. */
  release(): void {
    if (!this.#locked) throw new RuntimeError("Lock.release: the lock is not acquired");
    this.#locked = false;
    this.#wakeUpFirst();
  }

  /**
   * Runs `body` holding the lock and releases it however `body` ends; resolves with `body`'s result.
   *
   * Cancellation: cancelled while waiting, `body` never runs and the lock is not taken; cancelled inside `body`,
   * the lock is released before the `CancelledError` propagates.
   */
  with<R>(body: () => PromiseLike<R> | R): Promise<R> {
    return holding(this, body, "Lock");
  }

  /** Whether the lock is held, and how many callers wait for it. */
  statistics(): LockStatistics {
    return { locked: this.#locked, waiters: this.#waiters?.length ?? 0 };
  }

  /** Wakes the head waiter unless its wakeup is already in flight (its Future is done). */
  #wakeUpFirst(): void {
    const first = this.#waiters?.peekFirst();
    if (first !== undefined && !first.done()) first.setResult(true);
  }

  protected override _reprInfo(): string {
    return withWaiters(this.#locked ? "locked" : "unlocked", this.#waiters?.length ?? 0);
  }
}

function allCancelled(waiters: Deque<Future<boolean>>): boolean {
  for (let i = 0; i < waiters.length; i++) if (!waiters.at(i)!.cancelled()) return false;
  return true;
}

// ------------------------------------------------------------------ Event

/** What `Event.statistics()` reports. */
export interface EventStatistics {
  /** Whether the flag is set. */
  isSet: boolean;
  /** How many `wait()` calls are blocked. */
  waiters: number;
}

/**
 * A blocked `Event.wait()`: a Future that leaves its Event's waiter list once its outcome is delivered to the
 * awaiting task (as CPython's waiter leaves in a `finally` when it resumes), or at once when cancelled.
 */
class EventWaiter extends Future<true> {
  /** The Event's waiter list while this waiter is in it; null once it left. */
  private list: Deque<EventWaiter> | null;

  constructor(loop: EventLoop, list: Deque<EventWaiter>) {
    super(_onLoop(loop));
    this.list = list;
  }

  override cancel(msg?: string): boolean {
    if (!super.cancel(msg)) return false;
    this.unlist();
    return true;
  }

  override _run(): RunResult {
    const r = super._run();
    this.unlist();
    return r;
  }

  // Awaiting a done Future does not go through `_run`: leave the list there too, as the outcome is delivered now.
  override then<R1 = true, R2 = never>(
    onFulfilled?: ((value: true) => R1 | PromiseLike<R1>) | null,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as lib.es5's Promise: a rejection handler may declare the error type it expects
    onRejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    if (this._state !== "PENDING") this.unlist();
    return super.then(onFulfilled, onRejected);
  }

  private unlist(): void {
    const list = this.list;
    if (list === null) return;
    this.list = null;
    _removeWaiter(list, this);
  }
}

/**
 * A flag tasks can wait for: `set()` wakes every waiter, `clear()` resets it. Waiters woken by `set()` return
 * even if the flag was cleared again before they ran.
 */
export class Event extends _LoopBound {
  // Invariants: `#waiters` holds the Futures of blocked wait() calls until each is delivered or cancelled;
  // set() completes the pending ones.
  #waiters: Deque<EventWaiter> | null = null;
  #value = false;

  /** Whether the flag is set. */
  isSet(): boolean {
    return this.#value;
  }

  /** Sets the flag and wakes every waiter; later `wait()` calls return at once. */
  set(): void {
    if (this.#value) return;
    this.#value = true;
    const waiters = this.#waiters;
    if (waiters === null) return;
    for (let i = 0; i < waiters.length; i++) {
      const fut = waiters.at(i)!;
      if (!fut.done()) fut.setResult(true);
    }
  }

  /** Resets the flag: `wait()` blocks again until the next `set()`. */
  clear(): void {
    this.#value = false;
  }

  /**
   * Resolves with `true` once the flag is set (at once if it already is). A blocked call from a task registers its
   * waiter Future with the task at once and returns a native promise of it (see `Future._wait`).
   *
   * Cancellation: the call stops waiting; nothing else changes. Aborting `options.signal` acts as a cancellation of this call alone, with `CancelledError(reason's message)`; the calling task is not cancelled.
   */
  wait(options?: WaitOptions | null): Promise<true> {
    if (options !== undefined) return this.#waitWithOptions(options);
    return this.#wait(null);
  }

  /** A blocked call queues a waiter Future, which `set()` completes and an abort of `signal` cancels. */
  #wait(signal: AbortSignal | null): Promise<true> {
    if (this.#value) return RESOLVED_TRUE;
    let fut: EventWaiter;
    try {
      const loop = this._getLoop();
      const waiters = (this.#waiters ??= new Deque());
      fut = new EventWaiter(loop, waiters);
      waiters.push(fut);
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal !== null) cancelOnAbort(signal, fut);
    return fut._wait();
  }

  #waitWithOptions(options: WaitOptions | null): Promise<true> {
    const signal = signalOf(options, "Event.wait");
    if (signal?.aborted === true) return Promise.reject(abortError(signal));
    return this.#wait(signal);
  }

  /** Whether the flag is set, and how many callers wait for it. */
  statistics(): EventStatistics {
    return { isSet: this.#value, waiters: this.#waiters?.length ?? 0 };
  }

  protected override _reprInfo(): string {
    return withWaiters(this.#value ? "set" : "unset", this.#waiters?.length ?? 0);
  }
}

// ------------------------------------------------------------------ Condition

/** What `Condition.statistics()` reports. */
export interface ConditionStatistics {
  /** Whether the underlying lock is held. */
  locked: boolean;
  /** How many `wait()` calls wait for a notification. */
  waiters: number;
  /** How many callers wait for the underlying lock (including notified waiters taking it back). */
  lockWaiters: number;
}

/**
 * A condition variable: tasks holding the lock `wait()` until another task holding it calls `notify()`.
 * Give a `Lock` to share it between conditions; by default each Condition has its own.
 */
export class Condition extends _LoopBound {
  // Invariants: `#waiters` holds the Futures of wait() calls waiting for a notification, in arrival order; notify()
  // completes the first n not yet completed, and each wait() removes its own Future when it resumes.
  readonly #lock: Lock;
  readonly #waiters = new Deque<Future<boolean>>();

  /** A condition over `lock` (default: a new `Lock`). `TypeError` if `lock` is not a `Lock`. */
  constructor(lock?: Lock | null) {
    super();
    if (lock === undefined || lock === null) lock = new Lock();
    else if (!(lock instanceof Lock)) {
      throw new TypeError(`Condition: expected \`lock\` to be an asyncio Lock, got ${describe(lock)}`);
    }
    this.#lock = lock;
  }

  /** Whether the underlying lock is held. */
  locked(): boolean {
    return this.#lock.locked();
  }

  /**
   * Takes the underlying lock (see `Lock.acquire`).
   *
   * Cancellation: as `Lock.acquire`: the lock is not taken and a wakeup handed to this call goes to the next waiter.
   */
  acquire(options?: WaitOptions | null): Promise<true> {
    return this.#lock.acquire(options);
  }

  /** @internal `acquire()` an abort may cancel through `link` (which the caller disposes). */
  _acquireLinked(link: AbortLink): Promise<true> {
    return this.#lock._acquireLinked(link, false);
  }

  /** Releases the underlying lock. `RuntimeError` when it is not held. */
  release(): void {
    this.#lock.release();
  }

  /**
   * Runs `body` holding the underlying lock, released however `body` ends; resolves with `body`'s result.
   *
   * Cancellation: as `Lock.with`: cancelled while waiting, `body` never runs; the lock is always released.
   */
  async with<R>(body: () => PromiseLike<R> | R): Promise<R> {
    checkBody(body, "Condition");
    await this.#lock.acquire();
    try {
      return await body();
    } finally {
      this.#lock.release();
    }
  }

  /**
   * Releases the lock, waits for a `notify()`, takes the lock back and resolves with `true`. The caller must hold
   * the lock (`RuntimeError` otherwise). Wakeups may be spurious: check the state again (or use `waitFor`).
   *
   * Cancellation: the lock is taken back before the `CancelledError` reaches the caller, who still holds it and
   * must release it; a notification this call had received is passed to the next waiter. Aborting `options.signal` acts as a cancellation of this call alone, with `CancelledError(reason's message)`; the calling task is not cancelled.
   */
  wait(options?: WaitOptions | null): Promise<true> {
    if (options === undefined) return this._wait(null);
    const signal = signalOf(options, "Condition.wait");
    if (signal === null) return this._wait(null);
    if (signal.aborted) {
      if (!this.#lock.locked()) return Promise.reject(new RuntimeError("Condition.wait: cannot wait on an un-acquired lock"));
      return Promise.reject(abortError(signal));
    }
    const link = new AbortLink(signal);
    return link.until(this._wait(link));
  }

  /** @internal `wait()`; an abort through `link` cancels the wait for a notification (the lock is still taken back). */
  async _wait(link: AbortLink | null): Promise<true> {
    if (!this.#lock.locked()) throw new RuntimeError("Condition.wait: cannot wait on an un-acquired lock");
    const fut = this._getLoop().createFuture<boolean>();
    this.#lock.release();
    let failed = false;
    let failure: unknown;
    try {
      this.#waiters.push(fut);
      try {
        if (link !== null) link.track(fut);
        await fut;
        if (link !== null) link.throwIfAborted();
      } finally {
        _removeWaiter(this.#waiters, fut);
      }
    } catch (error) {
      failed = true;
      failure = error;
    }
    // The lock must be held again whatever happened; a cancellation while taking it back is re-thrown after,
    // in place of any earlier error.
    let cancelled: CancelledError | null = null;
    for (;;) {
      try {
        await this.#lock.acquire();
        break;
      } catch (error) {
        if (!(error instanceof CancelledError)) {
          this.#notify(1);
          throw error;
        }
        cancelled = error;
      }
    }
    if (cancelled !== null || failed) {
      // This call may have consumed a notification it cannot act on: give one to another waiter (a spurious
      // wakeup at worst, which the protocol allows).
      this.#notify(1);
      throw cancelled ?? failure;
    }
    return true;
  }

  /**
   * Waits until `predicate()` returns a truthy value and resolves with that value; checks it first, then after
   * each wakeup. The caller must hold the lock. `predicate` must be synchronous (`TypeError` if it returns a promise).
   *
   * Cancellation: as `wait()`: the lock is held again when the `CancelledError` reaches the caller.
   */
  waitFor<R>(predicate: () => R): Promise<R> {
    return this._waitFor(predicate, null);
  }

  /** @internal `waitFor()` whose waits an abort through `link` cancels. */
  async _waitFor<R>(predicate: () => R, link: AbortLink | null): Promise<R> {
    if (typeof predicate !== "function") {
      throw new TypeError(`Condition.waitFor: expected \`predicate\` to be a function, got ${describe(predicate)}`);
    }
    let result = checkPredicate(predicate());
    while (!result) {
      await this._wait(link);
      result = checkPredicate(predicate());
    }
    return result;
  }

  /**
   * Wakes up to `n` tasks waiting in `wait()` (default 1). The caller must hold the lock (`RuntimeError`
   * otherwise); the woken tasks return once they get the lock back.
   */
  notify(n = 1): void {
    if (typeof n !== "number") throw new TypeError(`Condition.notify: expected \`n\` to be a number, got ${describe(n)}`);
    if (Number.isNaN(n)) throw new RangeError("Condition.notify: expected `n` to be a number, got NaN");
    if (!this.#lock.locked()) throw new RuntimeError("Condition.notify: cannot notify on an un-acquired lock");
    this.#notify(n);
  }

  /** Wakes every task waiting in `wait()`. The caller must hold the lock (`RuntimeError` otherwise). */
  notifyAll(): void {
    this.notify(this.#waiters.length);
  }

  #notify(n: number): void {
    let woken = 0;
    const waiters = this.#waiters;
    for (let i = 0; i < waiters.length && woken < n; i++) {
      const fut = waiters.at(i)!;
      if (!fut.done()) {
        woken++;
        fut.setResult(false);
      }
    }
  }

  /** Whether the lock is held, how many wait for a notification, and how many for the lock. */
  statistics(): ConditionStatistics {
    const lock = this.#lock.statistics();
    return { locked: lock.locked, waiters: this.#waiters.length, lockWaiters: lock.waiters };
  }

  protected override _reprInfo(): string {
    return withWaiters(this.#lock.locked() ? "locked" : "unlocked", this.#waiters.length);
  }
}

function checkPredicate<R>(value: R): R {
  if (isPromiseLike(value)) {
    throw new TypeError("Condition.waitFor: `predicate` returned a promise; pass a synchronous function");
  }
  return value;
}

// ------------------------------------------------------------------ Semaphore

/** What `Semaphore.statistics()` reports. */
export interface SemaphoreStatistics {
  /** The counter: how many more `acquire()` calls could succeed at once if nobody waited. */
  value: number;
  /** Whether `acquire()` would wait now. */
  locked: boolean;
  /** How many `acquire()` calls are blocked. */
  waiters: number;
}

function checkCounter(value: unknown, owner: string): number {
  if (typeof value !== "number") {
    throw new TypeError(`${owner}: expected \`value\` to be a number, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${owner}: expected \`value\` to be an integer >= 0, got ${describe(value)}`);
  }
  return value;
}

/**
 * A counter of permits: `acquire()` takes one (waiting while there is none), `release()` gives one back.
 * FIFO: while anyone waits, a new `acquire()` queues behind them even if a permit is free.
 */
export class Semaphore extends _LoopBound {
  // Invariants: `_value` >= 0 counts free permits. A permit handed to a waiter is taken off `_value` when its
  // Future is completed, so a done-but-not-cancelled Future in `#waiters` owns a permit until its call resumes
  // (and gives it back if it was cancelled meanwhile). `#waiters` is in arrival order; each call removes its own.
  /** @internal */ protected _value: number;
  #waiters: Deque<Future<boolean>> | null = null;

  /** A semaphore with `value` permits (default 1). `RangeError` for a negative or fractional value. */
  constructor(value = 1) {
    super();
    this._value = checkCounter(value, new.target.name);
  }

  /** Whether `acquire()` would wait: no permit is free, or earlier callers are still queued. */
  locked(): boolean {
    if (this._value === 0) return true;
    const waiters = this.#waiters;
    if (waiters === null) return false;
    for (let i = 0; i < waiters.length; i++) if (!waiters.at(i)!.cancelled()) return true;
    return false;
  }

  /**
   * Takes a permit, waiting in FIFO order if none is free or others wait. Resolves with `true`. A free permit
   * nobody waits for is taken by the call itself, before the promise is awaited.
   *
   * Cancellation: a cancelled call takes no permit; a permit already handed to it goes back and on to the next waiter.
   * Aborting `options.signal` acts as a cancellation of this call alone, with `CancelledError(reason's message)`; the calling task is not cancelled.
   */
  acquire(options?: WaitOptions | null): Promise<true> {
    if (options !== undefined) return this.#acquireWithOptions(options);
    if (!this.locked()) {
      this._value--;
      return RESOLVED_TRUE;
    }
    return this.#acquireSlow();
  }

  #acquireWithOptions(options: WaitOptions | null): Promise<true> {
    const signal = signalOf(options, `${this.constructor.name}.acquire`);
    if (signal === null) return this.acquire();
    if (signal.aborted) return Promise.reject(abortError(signal));
    if (!this.locked()) {
      this._value--;
      return RESOLVED_TRUE;
    }
    return this._queueWaiter((this.#waiters ??= new Deque()), this.#onWoken, this.#onFailed, new AbortLink(signal), true);
  }

  /**
   * Takes a permit (as `acquire`) and resolves with a `Guard` that gives it back once disposed:
   * `using permit = await semaphore.acquireGuard();`.
   *
   * Cancellation: as `acquire`: a cancelled or aborted call takes no permit and returns no guard.
   */
  acquireGuard(options?: WaitOptions | null): Promise<Guard> {
    return this.acquire(options).then(() => new Guard(() => this.release()));
  }

  #acquireSlow(): Promise<true> {
    return this._queueWaiter((this.#waiters ??= new Deque()), this.#onWoken, this.#onFailed);
  }

  readonly #onWoken = (): void => {
    this.#wakeUpQueued();
  };

  readonly #onFailed = (fut: Future<boolean>): void => {
    // Handed a permit but cancelled before using it: give the permit back (and pass it on below).
    if (fut.done() && !fut.cancelled()) this._value++;
    this.#wakeUpQueued();
  };

  /** Wakes the callers that queued behind a waiter only because of FIFO order, as many as there are permits. */
  #wakeUpQueued(): void {
    while (this._value > 0 && this.#wakeUpNext()) {
      // Each wakeup took one permit.
    }
  }

  /** Gives a permit back and wakes the first waiter. */
  release(): void {
    this._value++;
    this.#wakeUpNext();
  }

  /**
   * Runs `body` holding a permit, released however `body` ends; resolves with `body`'s result.
   *
   * Cancellation: cancelled while waiting, `body` never runs and no permit is taken; the permit is always released.
   */
  with<R>(body: () => PromiseLike<R> | R): Promise<R> {
    return holding(this, body, this.constructor.name);
  }

  /** The counter, whether `acquire()` would wait, and how many callers wait. */
  statistics(): SemaphoreStatistics {
    return { value: this._value, locked: this.locked(), waiters: this.#waiters?.length ?? 0 };
  }

  /** Hands a permit to the first waiter not yet woken; false when there is none. */
  #wakeUpNext(): boolean {
    const waiters = this.#waiters;
    if (waiters === null) return false;
    for (let i = 0; i < waiters.length; i++) {
      const fut = waiters.at(i)!;
      if (!fut.done()) {
        this._value--;
        fut.setResult(true);
        return true;
      }
    }
    return false;
  }

  protected override _reprInfo(): string {
    return withWaiters(this.locked() ? "locked" : `unlocked, value: ${this._value}`, this.#waiters?.length ?? 0);
  }
}

/** What `BoundedSemaphore.statistics()` reports. */
export interface BoundedSemaphoreStatistics extends SemaphoreStatistics {
  /** The initial value, which `release()` may not exceed. */
  bound: number;
}

/** A Semaphore whose `release()` throws `RangeError` instead of raising the counter above its initial value. */
export class BoundedSemaphore extends Semaphore {
  readonly #bound: number;

  /** A bounded semaphore with `value` permits (default 1), which is also its bound. */
  constructor(value = 1) {
    super(value);
    this.#bound = value;
  }

  /** Gives a permit back; `RangeError` when every permit is already free (released more often than acquired). */
  override release(): void {
    if (this._value >= this.#bound) {
      throw new RangeError(
        `BoundedSemaphore released too many times: value ${this._value} is already at its bound ${this.#bound}`,
      );
    }
    super.release();
  }

  /** As `Semaphore.statistics()`, plus the bound. */
  override statistics(): BoundedSemaphoreStatistics {
    return { ...super.statistics(), bound: this.#bound };
  }
}

// ------------------------------------------------------------------ Barrier

/** The states of a Barrier: filling up, letting a full round out, resetting, or broken by `abort()`. */
export type BarrierState = "filling" | "draining" | "resetting" | "broken";

/** What `Barrier.statistics()` reports. */
export interface BarrierStatistics {
  /** How many tasks trip the barrier. */
  parties: number;
  /** How many tasks wait for it to trip. */
  nWaiting: number;
  /** Its state. */
  state: BarrierState;
  /** Whether it is broken. */
  broken: boolean;
}

/**
 * Makes `parties` tasks meet: each `wait()` blocks until `parties` tasks have called it, then all return, each
 * with its own index from 0 to `parties - 1`. Reusable: the next round starts once the last one has left.
 */
export class Barrier extends _LoopBound {
  // Invariants: `#count` counts the tasks inside wait() past the entry check (waiting, or leaving after the trip).
  // While "draining" or "resetting", new callers wait at the entry until `#count` is back to 0, which sets the
  // state to "filling" again. "broken" is left only by reset(). Every state change is signalled with notifyAll.
  readonly #cond = new Condition();
  readonly #parties: number;
  #state: BarrierState = "filling";
  #count = 0;

  /** A barrier for `parties` tasks. `RangeError` unless `parties` is an integer >= 1. */
  constructor(parties: number) {
    super();
    if (typeof parties !== "number") {
      throw new TypeError(`Barrier: expected \`parties\` to be a number, got ${describe(parties)}`);
    }
    if (!Number.isInteger(parties) || parties < 1) {
      throw new RangeError(`Barrier: expected \`parties\` to be an integer >= 1, got ${describe(parties)}`);
    }
    this.#parties = parties;
  }

  /**
   * Waits until `parties` tasks are waiting, then resolves with this task's index (0 for the first to arrive).
   * `BrokenBarrierError` when the barrier is aborted or reset meanwhile, or is broken.
   *
   * Cancellation: the task leaves the barrier and gives its place back; the others keep waiting for a full round
   * and the barrier stays usable. Aborting `options.signal` acts as a cancellation of this call alone, with `CancelledError(reason's message)`; the calling task is not cancelled.
   */
  wait(options?: WaitOptions | null): Promise<number> {
    if (options === undefined) return this.#wait(null);
    const signal = signalOf(options, "Barrier.wait");
    if (signal === null) return this.#wait(null);
    if (signal.aborted) return Promise.reject(abortError(signal));
    const link = new AbortLink(signal);
    return link.until(this.#wait(link));
  }

  async #wait(link: AbortLink | null): Promise<number> {
    if (link === null) await this.#cond.acquire();
    else await this.#cond._acquireLinked(link);
    try {
      await this.#block(link);
      try {
        const index = this.#count++;
        if (index + 1 === this.#parties) {
          // The last one in: let the whole round out.
          this.#state = "draining";
          this.#cond.notifyAll();
        } else {
          await this.#cond._waitFor(() => this.#state !== "filling", link);
          if (this.#state === "broken" || this.#state === "resetting") {
            throw new BrokenBarrierError("Barrier.wait: the barrier was aborted or reset while waiting");
          }
        }
        return index;
      } finally {
        this.#count--;
        this.#exit();
      }
    } finally {
      this.#cond.release();
    }
  }

  /**
   * Waits for the barrier (as `wait()`), then runs `body(index)`; resolves with its result.
   *
   * Cancellation: as `wait()` while waiting; once `body` runs, it is `body`'s own business.
   */
  async with<R>(body: (index: number) => PromiseLike<R> | R): Promise<R> {
    checkBody(body, "Barrier");
    const index = await this.wait();
    return await body(index);
  }

  /** Waits while a finished round drains or a reset completes; `BrokenBarrierError` if broken. */
  async #block(link: AbortLink | null): Promise<void> {
    await this.#cond._waitFor(() => this.#state !== "draining" && this.#state !== "resetting", link);
    if (this.#state === "broken") throw new BrokenBarrierError("Barrier.wait: the barrier is broken (aborted)");
  }

  /** The last task out of a drained or reset round opens the barrier for the next one. */
  #exit(): void {
    if (this.#count === 0) {
      if (this.#state === "resetting" || this.#state === "draining") this.#state = "filling";
      this.#cond.notifyAll();
    }
  }

  /**
   * Returns the barrier to its initial, empty state; tasks waiting in it get `BrokenBarrierError`. Also repairs a
   * broken barrier.
   *
   * Cancellation: cancelled while waiting for the barrier's internal lock, nothing is reset.
   */
  async reset(): Promise<void> {
    await this.#cond.with(() => {
      if (this.#count > 0) {
        if (this.#state !== "resetting") this.#state = "resetting";
      } else {
        this.#state = "filling";
      }
      this.#cond.notifyAll();
    });
  }

  /**
   * Breaks the barrier: waiting tasks and later `wait()` calls get `BrokenBarrierError` until `reset()`.
   *
   * Cancellation: cancelled while waiting for the barrier's internal lock, the barrier is not broken.
   */
  async abort(): Promise<void> {
    await this.#cond.with(() => {
      this.#state = "broken";
      this.#cond.notifyAll();
    });
  }

  /** How many tasks trip the barrier. */
  get parties(): number {
    return this.#parties;
  }

  /** How many tasks wait for the barrier to trip (0 unless it is filling). */
  get nWaiting(): number {
    return this.#state === "filling" ? this.#count : 0;
  }

  /** Whether the barrier is broken (by `abort()`). */
  get broken(): boolean {
    return this.#state === "broken";
  }

  /** Parties, waiting tasks, state. */
  statistics(): BarrierStatistics {
    return { parties: this.#parties, nWaiting: this.nWaiting, state: this.#state, broken: this.broken };
  }

  protected override _reprInfo(): string {
    return this.broken ? this.#state : `${this.#state}, waiters: ${this.nWaiting}/${this.#parties}`;
  }
}
