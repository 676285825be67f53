/**
 * Queues: Queue (FIFO), PriorityQueue (smallest first), LifoQueue (last in, first out), with 3.13's `shutdown()`.
 *
 * Items stay in the queue until a getter actually takes them, and a putter inserts only once it runs: waking a
 * waiter just completes its Future, and the waiter re-checks the queue when it resumes. So a `get()` cancelled after
 * being woken leaves the item for the next getter (to which it passes the wakeup), and a cancelled `put()` never
 * inserts. Subclasses change the storage through three hooks, `_init`, `_put` and `_get`, as in CPython.
 * @module
 */
import { type Future, _CurrentWaiter, _linkCancel } from "./futures.js";
import { Deque } from "./_internal/kernel/deque.js";
import { BinaryHeap } from "./_internal/kernel/heap.js";
import { QueueEmpty, QueueFull, QueueShutDown } from "./exceptions.js";
import { Event, type WaitOptions } from "./locks.js";
import { _LoopBound, _removeWaiter } from "./mixins.js";
import { checkOptions, describe } from "./_internal/validate.js";
import { AbortLink, abortError, signalOf } from "./_internal/abort.js";

/** What `put()` returns when no waiting is needed: one shared settled promise, nothing allocated. */
const RESOLVED: Promise<void> = Promise.resolve();

/** The storage a subclass keeps in `_queue`: anything with a length (`qsize()` reads it). */
export interface QueueStorage {
  readonly length: number;
}

/** What `Queue.statistics()` reports. */
export interface QueueStatistics {
  /** Items in the queue. */
  qsize: number;
  /** The bound (`<= 0`: unbounded). */
  maxsize: number;
  /** How many `get()` calls wait for an item. */
  getters: number;
  /** How many `put()` calls wait for room. */
  putters: number;
  /** Items put and not yet marked done with `taskDone()`. */
  unfinishedTasks: number;
  /** Whether `shutdown()` was called. */
  shutdown: boolean;
}

/**
 * A FIFO queue for producer and consumer tasks. `maxsize <= 0` (the default) means unbounded; otherwise `put()`
 * waits while the queue holds `maxsize` items. `for await (const item of queue)` gets items until the queue is
 * shut down and drained.
 */
export class Queue<T = unknown> extends _LoopBound implements AsyncIterable<T> {
  // Invariants: `_queue` holds the items (through the hooks). `#getters`/`#putters` hold the Futures of blocked
  // get()/put() calls in arrival order; waking one removes it from its list, and each call also removes its own
  // Future when it resumes by cancellation. `#unfinishedTasks` counts put items not yet marked done; `#finished`
  // is set exactly when it is 0. Once `#isShutdown` is true it stays true.
  /** The items; set by `_init` (a subclass keeps its own kind of storage there). */
  protected _queue!: QueueStorage;
  readonly #maxsize: number;
  readonly #getters = new Deque<Future<void>>();
  readonly #putters = new Deque<Future<void>>();
  #unfinishedTasks = 0;
  readonly #finished = new Event();
  #isShutdown = false;

  /**
   * A queue holding at most `maxsize` items (default 0: unbounded, as is any `maxsize <= 0`).
   * `TypeError` when `maxsize` is not a number, `RangeError` for NaN.
   */
  constructor(maxsize = 0) {
    super();
    if (typeof maxsize !== "number") {
      throw new TypeError(`${new.target.name}: expected \`maxsize\` to be a number, got ${describe(maxsize)}`);
    }
    if (Number.isNaN(maxsize)) throw new RangeError(`${new.target.name}: expected \`maxsize\` to be a number, got NaN`);
    this.#maxsize = maxsize;
    this.#finished.set();
    this._init(maxsize);
  }

  // ---------------------------------------------------------------- the hooks subclasses override

  /** Creates the storage in `_queue`. Runs inside the base constructor, before a subclass's own fields exist. */
  protected _init(_maxsize: number): void {
    this._queue = new Deque<T>();
  }

  /** Adds `item` to the storage. May throw to refuse it (the queue is then unchanged). */
  protected _put(item: T): void {
    (this._queue as Deque<T>).push(item);
  }

  /** Removes and returns the next item; called only when the storage is not empty. */
  protected _get(): T {
    return (this._queue as Deque<T>).shift() as T;
  }

  // ---------------------------------------------------------------- state

  /** How many items the queue holds. */
  qsize(): number {
    return this._queue.length;
  }

  /** The bound given to the constructor (`<= 0`: unbounded). */
  get maxsize(): number {
    return this.#maxsize;
  }

  /** Whether the queue holds no item. */
  empty(): boolean {
    return this._queue.length === 0;
  }

  /** Whether the queue holds `maxsize` items (never true for an unbounded queue). */
  full(): boolean {
    return this.#maxsize > 0 && this._queue.length >= this.#maxsize;
  }

  // ---------------------------------------------------------------- put

  /**
   * Puts `item` in the queue, waiting for room while it is full. The item is in the queue when the call returns,
   * unless it had to wait. `QueueShutDown` once the queue is shut down (also for a call waiting when it happens).
   *
   * Cancellation: a cancelled call never inserts its item; if room had been made for it, the next waiting `put()`
   * is woken instead. Aborting `options.signal` acts as a cancellation of this call alone, with `CancelledError(reason's message)`; the calling task is not cancelled.
   */
  put(item: T, options?: WaitOptions | null): Promise<void> {
    if (options !== undefined) return this.#putWithOptions(item, options);
    if (!this.full()) {
      try {
        this.putNowait(item);
      } catch (error) {
        return Promise.reject(error);
      }
      return RESOLVED;
    }
    const current = new _CurrentWaiter();
    return _linkCancel(this.#putSlow(item, null, current), current);
  }

  #putWithOptions(item: T, options: WaitOptions | null): Promise<void> {
    const signal = signalOf(options, `${this.constructor.name}.put`);
    if (signal === null) return this.put(item);
    if (signal.aborted) return Promise.reject(abortError(signal));
    if (!this.full()) return this.put(item);
    const link = new AbortLink(signal);
    return link.until(this.#putSlow(item, link));
  }

  async #putSlow(item: T, link: AbortLink | null = null, current: _CurrentWaiter | null = null): Promise<void> {
    const putters = this.#putters;
    while (this.full()) {
      if (this.#isShutdown) throw new QueueShutDown(`${this.constructor.name}.put: the queue is shut down`);
      const putter = this._getLoop().createFuture<void>();
      putters.push(putter);
      if (current !== null) current.fut = putter;
      try {
        if (link !== null) link.track(putter);
        await putter;
        if (link !== null) link.throwIfAborted();
      } catch (error) {
        putter.cancel(); // In case it is still pending.
        _removeWaiter(putters, putter); // Absent if a get() or shutdown() already took it off.
        // Woken for room we will not use: wake the next putter instead.
        if (!this.full() && !putter.cancelled()) this.#wakeupNext(putters);
        throw error;
      }
    }
    try {
      this.putNowait(item);
    } catch (error) {
      // Refused (shut down, or `_put` threw): the room we were woken for is still free for the next putter.
      if (!this.full()) this.#wakeupNext(putters);
      throw error;
    }
  }

  /**
   * Puts `item` in the queue without waiting. `QueueFull` when it is full, `QueueShutDown` once it is shut down.
   */
  putNowait(item: T): void {
    if (this.#isShutdown) throw new QueueShutDown(`${this.constructor.name}.putNowait: the queue is shut down`);
    if (this.full()) {
      throw new QueueFull(`${this.constructor.name}.putNowait: the queue is full (maxsize ${this.#maxsize})`);
    }
    this._put(item);
    this.#unfinishedTasks++;
    this.#finished.clear();
    this.#wakeupNext(this.#getters);
  }

  // ---------------------------------------------------------------- get

  /**
   * Removes and resolves with the next item, waiting while the queue is empty. `QueueShutDown` when the queue is
   * shut down and empty (at once after `shutdown(true)`), also for a call waiting when it happens.
   * As with any promise, an item that is itself a thenable is adopted: wrap such items (`[promise]`).
   *
   * Cancellation: a cancelled call takes no item: an item it had been woken for stays in the queue and the next
   * waiting `get()` is woken for it. Aborting `options.signal` acts as a cancellation of this call alone, with `CancelledError(reason's message)`; the calling task is not cancelled.
   */
  get(options?: WaitOptions | null): Promise<T> {
    if (options !== undefined) return this.#getWithOptions(options);
    if (this._queue.length > 0) {
      try {
        return Promise.resolve(this.getNowait());
      } catch (error) {
        return Promise.reject(error);
      }
    }
    if (this.#isShutdown) {
      return Promise.reject(new QueueShutDown(`${this.constructor.name}.get: the queue is shut down and empty`));
    }
    const current = new _CurrentWaiter();
    return _linkCancel(this.#getSlow(null, current), current);
  }

  #getWithOptions(options: WaitOptions | null): Promise<T> {
    const signal = signalOf(options, `${this.constructor.name}.get`);
    if (signal === null) return this.get();
    if (signal.aborted) return Promise.reject(abortError(signal));
    if (this._queue.length > 0 || this.#isShutdown) return this.get();
    const link = new AbortLink(signal);
    return link.until(this.#getSlow(link));
  }

  async #getSlow(link: AbortLink | null = null, current: _CurrentWaiter | null = null): Promise<T> {
    const getters = this.#getters;
    while (this._queue.length === 0) {
      if (this.#isShutdown) throw new QueueShutDown(`${this.constructor.name}.get: the queue is shut down and empty`);
      const getter = this._getLoop().createFuture<void>();
      getters.push(getter);
      if (current !== null) current.fut = getter;
      try {
        if (link !== null) link.track(getter);
        await getter;
        if (link !== null) link.throwIfAborted();
      } catch (error) {
        getter.cancel(); // In case it is still pending.
        _removeWaiter(getters, getter); // Absent if a put() or shutdown() already took it off.
        // Woken for an item we will not take: it stays in the queue, and the next getter is woken for it.
        if (this._queue.length > 0 && !getter.cancelled()) this.#wakeupNext(getters);
        throw error;
      }
    }
    return this.getNowait();
  }

  /**
   * Removes and returns the next item without waiting. `QueueEmpty` when the queue is empty; `QueueShutDown`
   * instead when it is also shut down.
   */
  getNowait(): T {
    if (this._queue.length === 0) {
      if (this.#isShutdown) {
        throw new QueueShutDown(`${this.constructor.name}.getNowait: the queue is shut down and empty`);
      }
      throw new QueueEmpty(`${this.constructor.name}.getNowait: the queue is empty`);
    }
    const item = this._get();
    this.#wakeupNext(this.#putters);
    return item;
  }

  // ---------------------------------------------------------------- join

  /**
   * Marks one item taken with `get()` as processed; `join()` returns once every item put has been marked.
   * `RangeError` when called more times than items were put.
   */
  taskDone(): void {
    if (this.#unfinishedTasks <= 0) {
      throw new RangeError(
        `${this.constructor.name}.taskDone: called too many times (0 unfinished tasks: every item put is already marked done)`,
      );
    }
    this.#unfinishedTasks--;
    if (this.#unfinishedTasks === 0) this.#finished.set();
  }

  /**
   * Waits until every item put in the queue has been marked done with `taskDone()` (at once if none is pending).
   *
   * Cancellation: the call stops waiting; the queue is not affected.
   */
  async join(): Promise<void> {
    if (this.#unfinishedTasks > 0) await this.#finished.wait();
  }

  // ---------------------------------------------------------------- shutdown

  /**
   * Shuts the queue down: `put()` and `putNowait()` throw `QueueShutDown` from now on, and `get()` does once the
   * queue is empty. Every blocked `put()` and `get()` is woken to re-check. With `immediate` (`true` or
   * `{ immediate: true }`), the remaining items are dropped, each counting as done for `join()`, so `get()`
   * throws at once.
   */
  shutdown(immediate: boolean | { immediate?: boolean } = false): void {
    const drop = typeof immediate === "object" && immediate !== null ? Boolean(immediate.immediate) : Boolean(immediate);
    this.#isShutdown = true;
    if (drop) {
      while (this._queue.length > 0) {
        this._get();
        if (this.#unfinishedTasks > 0) this.#unfinishedTasks--;
      }
      if (this.#unfinishedTasks === 0) this.#finished.set();
    }
    // Every blocked call re-checks: getters of an empty queue and all putters will throw QueueShutDown.
    wakeAll(this.#getters);
    wakeAll(this.#putters);
  }

  // ---------------------------------------------------------------- iteration and introspection

  /**
   * `for await (const item of queue)`: gets items one by one (as `get()`), ending when the queue is shut down
   * and drained. The loop does not call `taskDone()`; do it in the body if you `join()` the queue.
   *
   * Cancellation: as `get()`: no item is lost; the `CancelledError` leaves the loop.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return new QueueIterator(this);
  }

  /** Sizes, waiting callers, unfinished tasks, shutdown. */
  statistics(): QueueStatistics {
    return {
      qsize: this._queue.length,
      maxsize: this.#maxsize,
      getters: this.#getters.length,
      putters: this.#putters.length,
      unfinishedTasks: this.#unfinishedTasks,
      shutdown: this.#isShutdown,
    };
  }

  protected override _reprInfo(): string {
    const parts = [`maxsize: ${this.#maxsize}`];
    if (this._queue.length > 0) parts.push(`qsize: ${this._queue.length}`);
    if (this.#getters.length > 0) parts.push(`getters: ${this.#getters.length}`);
    if (this.#putters.length > 0) parts.push(`putters: ${this.#putters.length}`);
    if (this.#unfinishedTasks > 0) parts.push(`tasks: ${this.#unfinishedTasks}`);
    if (this.#isShutdown) parts.push("shutdown");
    return parts.join(", ");
  }

  /** Wakes the first waiter of `waiters` not already done, taking it off the list. */
  #wakeupNext(waiters: Deque<Future<void>>): void {
    while (waiters.length > 0) {
      const waiter = waiters.shift()!;
      if (!waiter.done()) {
        waiter.setResult(undefined);
        return;
      }
    }
  }
}

function wakeAll(waiters: Deque<Future<void>>): void {
  while (waiters.length > 0) {
    const waiter = waiters.shift()!;
    if (!waiter.done()) waiter.setResult(undefined);
  }
}

/** The iterator of `for await (const item of queue)`. */
class QueueIterator<T> implements AsyncIterableIterator<T> {
  #finished = false;

  constructor(private readonly queue: Queue<T>) {}

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#finished) return Promise.resolve({ done: true, value: undefined });
    return this.queue.get().then(
      (value) => ({ done: false, value }),
      (error: unknown) => {
        if (!(error instanceof QueueShutDown)) throw error;
        this.#finished = true;
        return { done: true, value: undefined };
      },
    );
  }

  return(): Promise<IteratorResult<T, undefined>> {
    this.#finished = true;
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}

// ------------------------------------------------------------------ PriorityQueue

const NO_ERROR: unique symbol = Symbol("no error");

/**
 * Python's ordering for the values it can compare: numbers, bigints and booleans together, strings with strings,
 * Dates with Dates, arrays element-wise like tuples (the first unequal pair decides, then the length). `TypeError`
 * for anything else.
 */
function pythonOrder(a: unknown, b: unknown): number {
  if (a === b) return 0;
  const ta = typeof a;
  const tb = typeof b;
  if ((ta === "number" || ta === "bigint" || ta === "boolean") && (tb === "number" || tb === "bigint" || tb === "boolean")) {
    const x = ta === "boolean" ? Number(a) : (a as number | bigint);
    const y = tb === "boolean" ? Number(b) : (b as number | bigint);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (ta === "string" && tb === "string") return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      const c = pythonOrder(a[i], b[i]);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime();
  throw new TypeError(
    `PriorityQueue: cannot order ${describe(a)} and ${describe(b)}; ` +
      "the default order handles numbers, bigints, booleans, strings, Dates and arrays of them (pass `{ compare }` for others)",
  );
}

/** One stored item with its arrival number, which orders equal priorities first in, first out. */
interface Entry<T> {
  readonly item: T;
  readonly seq: number;
}

/** Options of `PriorityQueue`. */
export interface PriorityQueueOptions<T> {
  /** `Array.prototype.sort`-style order: negative when `a` comes out first. Default: Python's order (see the class). */
  compare?: (a: T, b: T) => number;
}

/**
 * A queue that gives the smallest item first: numbers, strings and arrays compare as Python does (arrays
 * element-wise like tuples, so `[priority, data]` entries work), or by `compare`. Equal items come out in the order
 * they were put.
 */
export class PriorityQueue<T = unknown> extends Queue<T> {
  /** @internal */ declare protected _queue: BinaryHeap<Entry<T>>;
  #compare: (a: T, b: T) => number;
  #seq = 0;
  /** The first error `compare` threw during one heap operation. */
  #error: unknown = NO_ERROR;

  /** A priority queue holding at most `maxsize` items (`<= 0`: unbounded), ordered by `compare` if given. */
  constructor(maxsize = 0, options: PriorityQueueOptions<T> | null = {}) {
    super(maxsize);
    const compare = checkOptions(options, "PriorityQueue")?.compare;
    if (compare !== undefined && typeof compare !== "function") {
      throw new TypeError(`PriorityQueue: expected \`compare\` to be a function, got ${describe(compare)}`);
    }
    this.#compare = compare ?? pythonOrder;
  }

  protected override _init(_maxsize: number): void {
    this._queue = new BinaryHeap<Entry<T>>((a, b) => this.#less(a, b));
  }

  /** Puts `item` in heap order; if comparing it throws, the item is taken out again and the error re-thrown. */
  protected override _put(item: T): void {
    const entry: Entry<T> = { item, seq: this.#seq++ };
    this._queue.push(entry);
    if (this.#error !== NO_ERROR) {
      const error = this.#error;
      this._queue.filter((e) => e !== entry);
      this.#error = NO_ERROR;
      throw error;
    }
  }

  protected override _get(): T {
    const entry = this._queue.pop()!;
    // A comparison that failed now was fine when the items went in: keep the heap going rather than lose an item.
    this.#error = NO_ERROR;
    return entry.item;
  }

  #less(a: Entry<T>, b: Entry<T>): boolean {
    let c: number;
    try {
      c = this.#compare(a.item, b.item);
    } catch (error) {
      // Answering "not less" keeps the heap's shape intact; _put then undoes the insertion.
      if (this.#error === NO_ERROR) this.#error = error;
      return false;
    }
    return c < 0 || (!(c > 0) && a.seq < b.seq);
  }
}

// ------------------------------------------------------------------ LifoQueue

/** A queue that gives the most recently put item first. */
export class LifoQueue<T = unknown> extends Queue<T> {
  declare protected _queue: T[];

  protected override _init(_maxsize: number): void {
    this._queue = [];
  }

  protected override _put(item: T): void {
    this._queue.push(item);
  }

  protected override _get(): T {
    return this._queue.pop() as T;
  }
}
