/**
 * Every error class of asyncio-ts. Each sets `name` to its class name and carries its facts as fields,
 * so callers can branch on `instanceof` and read the details without parsing messages.
 * @module
 */

/** Raised inside a task at the `await` it is suspended on when the task is cancelled. */
export class CancelledError extends Error {
  override name = "CancelledError";
  constructor(message?: string) {
    super(message ?? "");
  }
}

/** The operation exceeded its deadline (`timeout()`, `waitFor()`, `wait()`'s callers, `asCompleted()`). */
export class TimeoutError extends Error {
  override name = "TimeoutError";
  constructor(message?: string) {
    super(message ?? "");
  }
}

/** A Future or Task was asked to do something its current state does not allow (e.g. `setResult` twice). */
export class InvalidStateError extends Error {
  override name = "InvalidStateError";
}

/** `StreamReader.readexactly()`/`readuntil()` hit EOF before the request was met; `partial` holds what was read. */
export class IncompleteReadError extends Error {
  override name = "IncompleteReadError";
  /** The bytes read before EOF. */
  readonly partial: Uint8Array;
  /** How many bytes were expected in total; `null` when reading until a separator. */
  readonly expected: number | null;
  constructor(partial: Uint8Array, expected: number | null) {
    const what = expected === null ? "undefined" : String(expected);
    super(`${partial.length} bytes read on a total of ${what} expected bytes`);
    this.partial = partial;
    this.expected = expected;
  }
}

/** `StreamReader.readuntil()` did not find the separator within the reader's limit. */
export class LimitOverrunError extends Error {
  override name = "LimitOverrunError";
  /** How many bytes of the buffer would have to be consumed to make progress. */
  readonly consumed: number;
  constructor(message: string, consumed: number) {
    super(message);
    this.consumed = consumed;
  }
}

/** `Queue.getNowait()` on an empty queue. */
export class QueueEmpty extends Error {
  override name = "QueueEmpty";
}

/** `Queue.putNowait()` on a full queue. */
export class QueueFull extends Error {
  override name = "QueueFull";
}

/** A `put()` or `get()` on a queue that was shut down (as Python 3.13). */
export class QueueShutDown extends Error {
  override name = "QueueShutDown";
}

/** A `Barrier` was reset or aborted while tasks waited on it, or is broken. */
export class BrokenBarrierError extends Error {
  override name = "BrokenBarrierError";
}

/** `sendfile` is not available for the given transport or file. */
export class SendfileNotAvailableError extends Error {
  override name = "SendfileNotAvailableError";
}

/** Python's `RuntimeError`: an operation used in the wrong state (a closed loop, no running loop, a finished TaskGroup). */
export class RuntimeError extends Error {
  override name = "RuntimeError";
}

/**
 * Python's `concurrent.futures.BrokenExecutor`: the executor can run no more work (a worker's `initializer` failed).
 * `submit()` on it throws this; the jobs it had queued fail with it. `cause` is the error that broke it.
 */
export class BrokenExecutor extends RuntimeError {
  override name = "BrokenExecutor";
}

/** A `ThreadPoolExecutor` that can run no more work (a thread's `initializer` failed); `cause` says why. */
export class BrokenThreadPool extends BrokenExecutor {
  override name = "BrokenThreadPool";
}

/** A `ProcessPoolExecutor` that can run no more work (a process's `initializer` failed); `cause` says why. */
export class BrokenProcessPool extends BrokenExecutor {
  override name = "BrokenProcessPool";
}

/** Python's `KeyboardInterrupt`: `run()` rejects with it when Ctrl-C (SIGINT) cancelled the main task. */
export class KeyboardInterrupt extends Error {
  override name = "KeyboardInterrupt";
  constructor(message?: string) {
    super(message ?? "");
  }
}

/** A predicate over the leaves of an {@link ExceptionGroup}, or an error class to match with `instanceof`. */
export type ExceptionMatcher = ((error: unknown) => boolean) | (abstract new (...args: any[]) => unknown);

function toPredicate(matcher: ExceptionMatcher): (error: unknown) => boolean {
  if (typeof matcher !== "function") {
    throw new TypeError(`Expected \`pred\` to be a function or an error class, got ${typeof matcher}`);
  }
  const proto: unknown = (matcher as { prototype?: unknown }).prototype;
  if (matcher === Error || proto instanceof Error) {
    const cls = matcher as abstract new (...args: any[]) => unknown;
    return (e) => e instanceof cls;
  }
  return matcher as (error: unknown) => boolean;
}

/**
 * Python's `ExceptionGroup`: several errors raised together (a TaskGroup's failures).
 * Extends `AggregateError`, so `errors` and `exceptions` are the same array.
 */
export class ExceptionGroup<E = unknown> extends AggregateError {
  override name = "ExceptionGroup";
  /** The errors of the group, in the order they happened; groups may nest. */
  readonly exceptions: readonly E[];

  constructor(message: string, exceptions: Iterable<E>) {
    if (typeof message !== "string") {
      throw new TypeError(`Expected \`message\` to be a string, got ${typeof message}`);
    }
    if (exceptions == null || typeof (exceptions as any)[Symbol.iterator] !== "function") {
      throw new TypeError("Expected `exceptions` to be an iterable of errors");
    }
    const list = Array.from(exceptions);
    if (list.length === 0) throw new RangeError("Expected `exceptions` to be a non-empty iterable, got an empty one");
    super(list, message);
    // One array under both names: AggregateError's `errors` and Python's `exceptions`.
    this.exceptions = this.errors as E[];
  }

  /** A copy of this group holding only the leaves (and nested groups) that match, or `null` when none does. */
  subgroup(pred: ExceptionMatcher): ExceptionGroup<E> | null {
    return this.split(pred)[0];
  }

  /** Splits the group into `[match, rest]`, keeping nesting and the message; either side is `null` when empty. */
  split(pred: ExceptionMatcher): [ExceptionGroup<E> | null, ExceptionGroup<E> | null] {
    const test = toPredicate(pred);
    if (test(this)) return [this, null];
    const matched: E[] = [];
    const rest: E[] = [];
    for (const e of this.exceptions) {
      if (e instanceof ExceptionGroup) {
        const [m, r] = e.split(test);
        if (m !== null) matched.push(m as E);
        if (r !== null) rest.push(r as E);
      } else if (test(e)) {
        matched.push(e);
      } else {
        rest.push(e);
      }
    }
    return [this.derive(matched), this.derive(rest)];
  }

  /** Makes a group of the same message around other exceptions (used by `split`); `null` for none. */
  protected derive(exceptions: E[]): ExceptionGroup<E> | null {
    if (exceptions.length === 0) return null;
    if (exceptions.length === this.exceptions.length && exceptions.every((e, i) => e === this.exceptions[i])) return this;
    const g = new ExceptionGroup<E>(this.message, exceptions);
    if (this.cause !== undefined) g.cause = this.cause;
    return g;
  }
}
