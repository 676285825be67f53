/**
 * Limiters beyond Python 3.13: `CapacityLimiter` (Trio's: at most `totalTokens` tasks at once, each holding one
 * token) and `RateLimiter` (a token bucket on the loop's clock: `rate` tokens per `period` seconds, up to `burst`).
 *
 * Both hand out in FIFO order and never let a new caller overtake a queued one. They reuse the waiter machinery of
 * the locks (`_LoopBound._queueWaiter`): each blocked call is a Future of the loop, completed when its token is handed
 * over, and removed from the queue when the call resumes. A token is handed over eagerly, at wakeup; a waiter woken
 * and cancelled before it ran gives it back and it goes on to the next waiter. Both run on `loop.time()`, so a
 * `testing.VirtualEventLoop` drives them through hours of schedule in milliseconds.
 * @module
 */
import type { EventLoop, TimerHandle } from "./events.js";
import type { Future } from "./futures.js";
import type { Task } from "./tasks.js";
import { Deque } from "./_internal/kernel/deque.js";
import { currentTaskOrNull } from "./_internal/kernel/context.js";
import { RuntimeError, WouldBlock } from "./exceptions.js";
import { Guard, _LoopBound } from "./mixins.js";
import { describe, checkBody } from "./_internal/validate.js";

/** What `acquire()` returns when no waiting is needed: one shared settled promise. */
const RESOLVED: Promise<void> = Promise.resolve();

function noop(): void {}

function requireTask(method: string): Task<unknown> {
  const task = currentTaskOrNull();
  if (task === null) throw new RuntimeError(`CapacityLimiter.${method}: must be called from inside a task`);
  return task;
}

// ------------------------------------------------------------------ CapacityLimiter

/** What `CapacityLimiter.statistics()` reports. */
export interface CapacityLimiterStatistics {
  /** How many tokens are held. */
  borrowedTokens: number;
  /** The limiter's capacity. */
  totalTokens: number;
  /** The tasks holding a token, in the order they got it. */
  borrowers: Task<unknown>[];
  /** How many tasks wait in `acquire()` for a token. */
  tasksWaiting: number;
}

function checkTotal(value: unknown): number {
  if (typeof value !== "number") {
    throw new TypeError(`CapacityLimiter: expected \`totalTokens\` to be a number, got ${describe(value)}`);
  }
  if (value !== Infinity && (!Number.isInteger(value) || value < 1)) {
    throw new RangeError(
      `CapacityLimiter: expected \`totalTokens\` to be an integer from 1 up or Infinity, got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * Lets at most `totalTokens` tasks into a section at once, as Trio's `CapacityLimiter`: each task holds at most one
 * token, and only the task that took a token can give it back. `await limiter.with(async () => ...)`, or `acquire()`
 * then `release()` in a `finally`. Waiters get tokens in FIFO order; `totalTokens` can be changed at run time.
 */
export class CapacityLimiter extends _LoopBound {
  // Invariants: `#borrowers` holds the tasks holding a token; its size exceeds `#total` only after `totalTokens`
  // was lowered (nobody loses a token for that). `#pending` maps each task blocked in acquire() to its waiter Future,
  // in arrival order; when a token is handed over, the task moves to `#borrowers` at once and its Future completes,
  // so a done-but-not-cancelled Future still in `#waiters` is a token whose task has not resumed yet. A cancelled
  // Future stays in `#pending` (skipped) until its call resumes. While a Future in `#pending` is not done, no token
  // is free: every change that frees one (`release`, a larger `totalTokens`, a handed token given back) hands it on.
  #total: number;
  readonly #borrowers = new Set<Task<unknown>>();
  readonly #pending = new Map<Task<unknown>, Future<boolean>>();
  #waiters: Deque<Future<boolean>> | null = null;

  /** A limiter of `totalTokens` tokens: an integer from 1 up, or `Infinity`; `TypeError`/`RangeError` otherwise. */
  constructor(totalTokens: number) {
    super();
    this.#total = checkTotal(totalTokens);
  }

  /** The capacity. Setting it checks the value as the constructor does; raising it wakes waiters at once. */
  get totalTokens(): number {
    return this.#total;
  }

  set totalTokens(value: number) {
    this.#total = checkTotal(value);
    this.#handOut();
  }

  /** How many tokens are held (by tasks that acquired one and have not released it). */
  get borrowedTokens(): number {
    return this.#borrowers.size;
  }

  /** How many tokens are free: `totalTokens - borrowedTokens`, never below 0. */
  get availableTokens(): number {
    return Math.max(0, this.#total - this.#borrowers.size);
  }

  /**
   * Takes a token (as `acquire`) and resolves with a `Guard` that gives it back once disposed:
   * `using token = await limiter.acquireGuard();`. Dispose it in the task that took it, as `release()` must be.
   *
   * Cancellation: as `acquire`: a cancelled call takes no token and returns no guard.
   */
  acquireGuard(): Promise<Guard> {
    return this.acquire().then(() => new Guard(() => this.release()));
  }

  /**
   * Takes a token for the current task, waiting in FIFO order behind earlier callers if none is free. A free token
   * nobody waits for is taken by the call itself, before the promise is awaited. Rejects with `RuntimeError` when the
   * task already holds (or waits for) a token of this limiter, or outside a task.
   *
   * Cancellation: a cancelled call takes no token and leaves the queue as if it had never waited; a token already
   * handed to it goes to the next waiter.
   */
  acquire(): Promise<void> {
    let task: Task<unknown>;
    try {
      task = this.#checkNotHolding("acquire");
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#canTake()) {
      this.#borrowers.add(task);
      return RESOLVED;
    }
    return this.#acquireSlow(task);
  }

  #acquireSlow(task: Task<unknown>): Promise<void> {
    try {
      this._getLoop();
    } catch (error) {
      return Promise.reject(error);
    }
    const waiters = (this.#waiters ??= new Deque());
    const wait = this._queueWaiter(waiters, noop, (fut) => this.#onFailed(task, fut));
    // `_queueWaiter` has just pushed the waiter's Future last.
    this.#pending.set(task, waiters.peekLast()!);
    return wait as Promise<unknown> as Promise<void>;
  }

  #onFailed(task: Task<unknown>, fut: Future<boolean>): void {
    if (fut.done() && !fut.cancelled()) {
      // Handed a token, then cancelled before it could use it: give it back (and on, below).
      this.#borrowers.delete(task);
    } else if (this.#pending.get(task) === fut) {
      this.#pending.delete(task);
    }
    this.#handOut();
  }

  /**
   * Takes a token for the current task without waiting; `WouldBlock` when none is free or others wait for one.
   * `RuntimeError` when the task already holds (or waits for) a token of this limiter, or outside a task.
   */
  acquireNowait(): void {
    const task = this.#checkNotHolding("acquireNowait");
    if (!this.#canTake()) {
      throw new WouldBlock(`CapacityLimiter.acquireNowait: no token is free (${this.#borrowers.size}/${this.#total} borrowed)`);
    }
    this.#borrowers.add(task);
  }

  /** Gives back the current task's token and hands it to the first waiter. `RuntimeError` if the task holds none. */
  release(): void {
    this.#release(requireTask("release"));
  }

  #release(task: Task<unknown>): void {
    if (!this.#borrowers.delete(task)) {
      throw new RuntimeError("CapacityLimiter.release: the current task holds no token of this limiter");
    }
    this.#handOut();
  }

  /**
   * Runs `body` holding a token of the current task, given back however `body` ends; resolves with `body`'s result.
   *
   * Cancellation: cancelled while waiting, `body` never runs and no token is taken; the token is always given back.
   */
  async with<T>(body: () => T | PromiseLike<T>): Promise<T> {
    checkBody(body, "CapacityLimiter");
    const task = requireTask("with");
    await this.acquire();
    try {
      return await body();
    } finally {
      this.#release(task);
    }
  }

  /** Held and total tokens, the tasks holding them, and how many tasks wait. */
  statistics(): CapacityLimiterStatistics {
    return {
      borrowedTokens: this.#borrowers.size,
      totalTokens: this.#total,
      borrowers: [...this.#borrowers],
      tasksWaiting: this.#tasksWaiting(),
    };
  }

  #checkNotHolding(method: string): Task<unknown> {
    const task = requireTask(method);
    if (this.#borrowers.has(task)) {
      throw new RuntimeError(`CapacityLimiter.${method}: this task already holds a token of this limiter`);
    }
    const waiting = this.#pending.get(task);
    if (waiting !== undefined && !waiting.done()) {
      throw new RuntimeError(`CapacityLimiter.${method}: this task already waits for a token of this limiter`);
    }
    return task;
  }

  /** Whether a token is free and nobody is queued for one (a cancelled waiter does not count). */
  #canTake(): boolean {
    if (this.#borrowers.size >= this.#total) return false;
    if (this.#pending.size === 0) return true;
    for (const fut of this.#pending.values()) if (!fut.done()) return false;
    return true;
  }

  /** Hands free tokens to the waiters not yet served, first come first served. */
  #handOut(): void {
    if (this.#borrowers.size >= this.#total) return;
    for (const [task, fut] of this.#pending) {
      if (fut.done()) continue; // cancelled: its call removes it when it resumes
      this.#pending.delete(task);
      this.#borrowers.add(task);
      fut.setResult(true);
      if (this.#borrowers.size >= this.#total) return;
    }
  }

  #tasksWaiting(): number {
    let n = 0;
    for (const fut of this.#pending.values()) if (!fut.done()) n++;
    return n;
  }

  protected override _reprInfo(): string {
    const waiting = this.#tasksWaiting();
    const info = `borrowed: ${this.#borrowers.size}/${this.#total}`;
    return waiting > 0 ? `${info}, waiting: ${waiting}` : info;
  }
}

// ------------------------------------------------------------------ RateLimiter

/** The options of `new RateLimiter(options)`. */
export interface RateLimiterOptions {
  /** Tokens added per `period`: a positive finite number. */
  rate: number;
  /** Seconds over which `rate` tokens are added (default 1): a positive finite number. */
  period?: number;
  /** The bucket's size, the most tokens available at once (default `rate`): a positive finite number. */
  burst?: number;
}

/** What `RateLimiter.statistics()` reports. */
export interface RateLimiterStatistics {
  /** Tokens in the bucket now (fractional while it refills). */
  availableTokens: number;
  /** The bucket's size. */
  burst: number;
  /** How many `acquire()` calls wait for tokens. */
  tasksWaiting: number;
}

function checkPositive(value: unknown, name: string): number {
  if (typeof value !== "number") {
    throw new TypeError(`RateLimiter: expected \`${name}\` to be a number, got ${describe(value)}`);
  }
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`RateLimiter: expected \`${name}\` to be a finite number above 0, got ${describe(value)}`);
  }
  return value;
}

/**
 * Tolerance when comparing fractional token counts: a waiter due at time t is served at t even if floating-point
 * rounding left its bucket a hair short.
 */
const EPSILON = 1e-9;

/**
 * A token bucket on the loop's clock: it holds up to `burst` tokens, starts full and refills continuously at `rate`
 * tokens per `period` seconds. `acquire(n)` takes `n` tokens, waiting until the bucket has them; waiters are served
 * in FIFO order, so a large request is never starved by small ones behind it. Its clock is that of the loop of its
 * first `acquire()`, to which it stays bound: an `acquire()` from another loop rejects with `RuntimeError`.
 */
export class RateLimiter extends _LoopBound {
  // Invariants: `#tokens` is the bucket's content at loop time `#stamp` (NaN until the first acquire(), when the
  // bucket is full); it only grows by refilling (up to `#burst`) and by a handed-over request given back. `#wants`
  // maps each waiter Future not yet served to its token count, in arrival order; serving deducts the tokens, removes
  // the entry and completes the Future. `#timer` is set while a waiter that is not done waits: it fires when the
  // first such waiter's tokens will be there.
  readonly #rate: number;
  readonly #period: number;
  readonly #burst: number;
  #tokens: number;
  #stamp = Number.NaN;
  #loop: EventLoop | null = null;
  #waiters: Deque<Future<boolean>> | null = null;
  readonly #wants = new Map<Future<boolean>, number>();
  #timer: TimerHandle | null = null;

  /**
   * A bucket of `burst` tokens (default `rate`) refilled at `rate` tokens per `period` seconds (default 1). Each must
   * be a positive finite number: `TypeError` for a non-number, `RangeError` otherwise, naming the option.
   */
  constructor(options: RateLimiterOptions) {
    super();
    if (options === null || typeof options !== "object") {
      throw new TypeError(`RateLimiter: expected \`options\` to be an object with a \`rate\`, got ${describe(options)}`);
    }
    this.#rate = checkPositive(options.rate, "rate");
    this.#period = checkPositive(options.period === undefined ? 1 : options.period, "period");
    this.#burst = checkPositive(options.burst === undefined ? this.#rate : options.burst, "burst");
    this.#tokens = this.#burst;
  }

  /** Tokens added per `period`. */
  get rate(): number {
    return this.#rate;
  }

  /** Seconds over which `rate` tokens are added. */
  get period(): number {
    return this.#period;
  }

  /** The bucket's size. */
  get burst(): number {
    return this.#burst;
  }

  /**
   * Takes `tokens` tokens (default 1) from the bucket, waiting in FIFO order until they are there. When the bucket
   * has them and nobody waits, the call takes them itself, before the promise is awaited. `TypeError` for a
   * non-number, `RangeError` for a count that is not above 0 or is above `burst` (it could never be served).
   *
   * Cancellation: a cancelled call takes no tokens and does not hold up the callers behind it; tokens already handed
   * to it go back into the bucket and on to the next waiter.
   */
  acquire(tokens = 1): Promise<void> {
    if (typeof tokens !== "number") {
      throw new TypeError(`RateLimiter.acquire: expected \`tokens\` to be a number, got ${describe(tokens)}`);
    }
    if (!(tokens > 0) || tokens > this.#burst) {
      throw new RangeError(
        `RateLimiter.acquire: expected \`tokens\` to be above 0 and at most the burst ${this.#burst}, got ${describe(tokens)}`,
      );
    }
    let loop: EventLoop;
    try {
      loop = this._getLoop();
    } catch (error) {
      return Promise.reject(error);
    }
    this.#loop = loop;
    this.#refill(loop.time());
    if (this.#firstWaiting() === undefined && this.#tokens >= tokens - EPSILON) {
      this.#tokens = Math.max(0, this.#tokens - tokens);
      return RESOLVED;
    }
    const waiters = (this.#waiters ??= new Deque());
    const wait = this._queueWaiter(waiters, noop, (fut) => this.#onFailed(fut, tokens));
    // `_queueWaiter` has just pushed the waiter's Future last.
    this.#wants.set(waiters.peekLast()!, tokens);
    if (this.#timer === null) this.#serve();
    return wait as Promise<unknown> as Promise<void>;
  }

  #onFailed(fut: Future<boolean>, tokens: number): void {
    if (fut.done() && !fut.cancelled()) {
      // Served, then cancelled before it could use the tokens: they go back into the bucket.
      this.#refill(this.#loop!.time());
      this.#tokens = Math.min(this.#burst, this.#tokens + tokens);
    } else {
      this.#wants.delete(fut);
    }
    this.#serve();
  }

  /**
   * Takes one token (waiting as `acquire()` does), then runs `body`; resolves with `body`'s result.
   *
   * Cancellation: cancelled while waiting, `body` never runs and no token is taken.
   */
  async with<T>(body: () => T | PromiseLike<T>): Promise<T> {
    checkBody(body, "RateLimiter");
    await this.acquire();
    return await body();
  }

  /** Tokens in the bucket now, the bucket's size, and how many calls wait. */
  statistics(): RateLimiterStatistics {
    if (this.#loop !== null && !this.#loop.isClosed()) this.#refill(this.#loop.time());
    let waiting = 0;
    for (const fut of this.#wants.keys()) if (!fut.done()) waiting++;
    return { availableTokens: this.#tokens, burst: this.#burst, tasksWaiting: waiting };
  }

  /** Brings the bucket up to loop time `now`. */
  #refill(now: number): void {
    if (Number.isNaN(this.#stamp)) {
      this.#stamp = now;
      return;
    }
    if (now > this.#stamp) {
      this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#stamp) * this.#rate) / this.#period);
      this.#stamp = now;
    }
  }

  #firstWaiting(): Future<boolean> | undefined {
    if (this.#wants.size === 0) return undefined;
    for (const fut of this.#wants.keys()) if (!fut.done()) return fut;
    return undefined;
  }

  /** Serves the waiters whose tokens are there, in order; sets the timer for the first one that must wait. */
  #serve(): void {
    this.#timer?.cancel();
    this.#timer = null;
    if (this.#wants.size === 0) return;
    const loop = this.#loop!;
    const now = loop.time();
    this.#refill(now);
    for (const [fut, tokens] of this.#wants) {
      if (fut.done()) continue; // cancelled: its call removes it when it resumes
      const missing = tokens - this.#tokens;
      if (missing > EPSILON) {
        this.#timer = loop.callAt(now + (missing * this.#period) / this.#rate, this.#onTimer);
        return;
      }
      this.#tokens = Math.max(0, this.#tokens - tokens);
      this.#wants.delete(fut);
      fut.setResult(true);
    }
  }

  readonly #onTimer = (): void => {
    this.#timer = null;
    this.#serve();
  };

  protected override _reprInfo(): string {
    const stats = this.statistics();
    const info = `tokens: ${Number(stats.availableTokens.toFixed(3))}/${this.#burst}, rate: ${this.#rate}/${this.#period}s`;
    return stats.tasksWaiting > 0 ? `${info}, waiting: ${stats.tasksWaiting}` : info;
  }
}
