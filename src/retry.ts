/**
 * `retry(fn, options)`, beyond Python 3.13 (in the spirit of p-retry): calls `fn` until it succeeds, sleeping with an
 * exponential backoff between attempts. The sleeps are `asyncio.sleep` and the per-attempt limit is `timeout()`, so
 * everything runs on the loop's clock and a `testing.VirtualEventLoop` runs an hour of backoff in milliseconds.
 * @module
 */
import { _asCancelledError } from "./exceptions.js";
import { sleep } from "./tasks.js";
import { timeout } from "./timeouts.js";
import { describe } from "./_internal/validate.js";

/** The options of `retry(fn, options)`. */
export interface RetryOptions {
  /** How many times `fn` is called at most (default 3): an integer from 1 up, or `Infinity`. */
  attempts?: number;
  /** Seconds before the second attempt (default 0.1). */
  initialDelay?: number;
  /** What each delay is multiplied by for the next one (default 2). */
  factor?: number;
  /** The longest delay, in seconds (default 10). */
  maxDelay?: number;
  /** Whether each delay is drawn uniformly from `[0, delay]` instead of taken whole (default true). */
  jitter?: boolean;
  /** Decides whether a failure is retried (default: every failure but a cancellation). */
  retryIf?: (error: unknown) => boolean;
  /** Seconds an attempt may take before it fails with `TimeoutError` (default `null`, or `Infinity`: no limit). */
  attemptTimeout?: number | null;
}

/** An option's value, or `fallback` when it is left out (`undefined`; `null` is a value, and a bad one). */
function orDefault<V>(value: V | undefined, fallback: V): V {
  return value === undefined ? fallback : value;
}

function checkNumber(value: unknown, name: string, rule: string, ok: (n: number) => boolean): number {
  if (typeof value !== "number") throw new TypeError(`retry: expected \`${name}\` to be a number, got ${describe(value)}`);
  if (Number.isNaN(value) || !ok(value)) throw new RangeError(`retry: expected \`${name}\` to be ${rule}, got ${describe(value)}`);
  return value;
}

const isCount = (n: number): boolean => n === Infinity || (Number.isInteger(n) && n >= 1);
const isDelay = (n: number): boolean => Number.isFinite(n) && n >= 0;
const isFactor = (n: number): boolean => Number.isFinite(n) && n > 0;

/**
 * Calls `fn(attempt)` (`attempt` counting from 1) in the calling task until it returns or throws an error that is not
 * to be retried, and resolves with what it returned. Before attempt `n + 1` it sleeps
 * `initialDelay · factor^(n−1)` seconds, capped at `maxDelay`, or with `jitter` a uniform draw from `[0, delay]`;
 * there is no sleep after the last attempt, whose error propagates. An error is retried unless it is a
 * `CancelledError`, `retryIf(error)` returns false, or the attempts are used up. With `attemptTimeout`, an attempt
 * still running after that many seconds is cancelled and fails with `TimeoutError` (which `retryIf` sees).
 * Bad options are a `TypeError` or `RangeError` naming the option.
 *
 * Cancellation: cancelling the calling task cancels the running attempt or the sleep, and the `CancelledError`
 * propagates at once: it is never retried.
 */
export async function retry<T>(fn: (attempt: number) => T | PromiseLike<T>, options: RetryOptions = {}): Promise<T> {
  if (typeof fn !== "function") throw new TypeError(`retry: expected \`fn\` to be a function, got ${describe(fn)}`);
  if (options === null || typeof options !== "object") {
    throw new TypeError(`retry: expected \`options\` to be an object, got ${describe(options)}`);
  }
  const attempts = checkNumber(orDefault(options.attempts, 3), "attempts", "an integer from 1 up or Infinity", isCount);
  const initialDelay = checkNumber(orDefault(options.initialDelay, 0.1), "initialDelay", "a finite number from 0 up", isDelay);
  const factor = checkNumber(orDefault(options.factor, 2), "factor", "a finite number above 0", isFactor);
  const maxDelay = checkNumber(orDefault(options.maxDelay, 10), "maxDelay", "a finite number from 0 up", isDelay);
  const jitter = orDefault(options.jitter, true);
  if (typeof jitter !== "boolean") throw new TypeError(`retry: expected \`jitter\` to be a boolean, got ${describe(jitter)}`);
  const retryIf = options.retryIf;
  if (retryIf !== undefined && typeof retryIf !== "function") {
    throw new TypeError(`retry: expected \`retryIf\` to be a function, got ${describe(retryIf)}`);
  }
  let attemptTimeout = options.attemptTimeout ?? null;
  if (attemptTimeout !== null) {
    checkNumber(attemptTimeout, "attemptTimeout", "a number of seconds above 0, or null", (n) => n > 0);
    if (attemptTimeout === Infinity) attemptTimeout = null;
  }

  for (let attempt = 1; ; attempt++) {
    try {
      if (attemptTimeout === null) return await fn(attempt);
      return await timeout(attemptTimeout).with(() => fn(attempt));
    } catch (error) {
      if (_asCancelledError(error) !== null) throw error; // a cancellation is never retried
      if (attempt >= attempts) throw error;
      if (retryIf !== undefined && !retryIf(error)) throw error;
      // Computed from the formula each time (not by repeated multiplication), so a `factor` below 1 is capped right.
      const delay = initialDelay === 0 ? 0 : Math.min(initialDelay * factor ** (attempt - 1), maxDelay);
      await sleep(jitter ? Math.random() * delay : delay);
    }
  }
}
