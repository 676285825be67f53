/**
 * Every error class of asyncio-ts. Each sets `name` to its class name and carries its facts as fields,
 * so callers can branch on `instanceof` and read the details without parsing messages.
 * @module
 */
import type { InspectOptionsStylized } from "node:util";
import { inspect } from "./_internal/node.js";
import { isIterable } from "./_internal/validate.js";
import { installGroupPrinting, installInterruptExit } from "./_internal/tools/uncaught.js";

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
    super(
      expected === null
        ? `${partial.length} bytes read before EOF, without the separator`
        : `${partial.length} bytes read on a total of ${expected} expected bytes`,
    );
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

/** A non-blocking call could not proceed without waiting (`CapacityLimiter.acquireNowait()` with no free token), as Trio's. */
export class WouldBlock extends Error {
  override name = "WouldBlock";
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

/**
 * Python's `KeyboardInterrupt`: `run()` rejects with it when Ctrl-C (SIGINT) cancelled the main task. Left uncaught,
 * it ends the process as Ctrl-C does: `KeyboardInterrupt` on stderr, then death by SIGINT (shell status 130), unless
 * the program listens for `uncaughtException`.
 */
export class KeyboardInterrupt extends Error {
  override name = "KeyboardInterrupt";
  constructor(message?: string) {
    super(message ?? "");
    installInterruptExit((e) => e instanceof KeyboardInterrupt);
  }
}

// ------------------------------------------------------------------ connection errors
// Python raises OSError subclasses for a lost connection; Node raises plain errors with a `code`. These classes let
// Python-shaped code test Node's own errors, unchanged: `err instanceof ConnectionResetError` is true for any error
// whose `code` is ECONNRESET, so nothing is wrapped and `err.code` keeps working. Instances made with `new` match too.

/** Whether `value` is an object whose `code` is one of `codes`. */
function hasCode(value: unknown, codes: ReadonlySet<string>): boolean {
  if (typeof value !== "object" || value === null) return false;
  const code = (value as { code?: unknown }).code;
  return typeof code === "string" && codes.has(code);
}

const RESET_CODES: ReadonlySet<string> = new Set(["ECONNRESET"]);
const BROKEN_PIPE_CODES: ReadonlySet<string> = new Set(["EPIPE", "ESHUTDOWN"]);
const ABORTED_CODES: ReadonlySet<string> = new Set(["ECONNABORTED"]);
const REFUSED_CODES: ReadonlySet<string> = new Set(["ECONNREFUSED"]);
const CONNECTION_CODES: ReadonlySet<string> = new Set([...RESET_CODES, ...BROKEN_PIPE_CODES, ...ABORTED_CODES, ...REFUSED_CODES]);

/** The ordinary prototype-chain test, which `Symbol.hasInstance` below extends. */
const ownInstance = Function.prototype[Symbol.hasInstance];

/**
 * Python's `ConnectionError`: `instanceof` matches Node's errors whose `code` is ECONNRESET, EPIPE, ESHUTDOWN,
 * ECONNABORTED or ECONNREFUSED (and instances of the subclasses below). Node's errors are not wrapped: catch them as
 * they are and test them with `instanceof`.
 */
export class ConnectionError extends Error {
  override name = "ConnectionError";
  /** Node's error code, as on Node's own errors (Python's `errno`). */
  readonly code: string | undefined;
  constructor(message?: string, code?: string) {
    super(message ?? "");
    this.code = code;
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    return ownInstance.call(this, value) || (this === ConnectionError && hasCode(value, CONNECTION_CODES));
  }
}

/** Python's `ConnectionResetError`: `instanceof` matches Node's errors with `code` ECONNRESET (the peer reset). */
export class ConnectionResetError extends ConnectionError {
  override name = "ConnectionResetError";
  constructor(message?: string) {
    super(message, "ECONNRESET");
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    return ownInstance.call(this, value) || (this === ConnectionResetError && hasCode(value, RESET_CODES));
  }
}

/** Python's `BrokenPipeError`: `instanceof` matches Node's errors with `code` EPIPE or ESHUTDOWN (writing to a closed peer). */
export class BrokenPipeError extends ConnectionError {
  override name = "BrokenPipeError";
  constructor(message?: string) {
    super(message, "EPIPE");
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    return ownInstance.call(this, value) || (this === BrokenPipeError && hasCode(value, BROKEN_PIPE_CODES));
  }
}

/** Python's `ConnectionAbortedError`: `instanceof` matches Node's errors with `code` ECONNABORTED. */
export class ConnectionAbortedError extends ConnectionError {
  override name = "ConnectionAbortedError";
  constructor(message?: string) {
    super(message, "ECONNABORTED");
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    return ownInstance.call(this, value) || (this === ConnectionAbortedError && hasCode(value, ABORTED_CODES));
  }
}

/** Python's `ConnectionRefusedError`: `instanceof` matches Node's errors with `code` ECONNREFUSED (nobody listens). */
export class ConnectionRefusedError extends ConnectionError {
  override name = "ConnectionRefusedError";
  constructor(message?: string) {
    super(message, "ECONNREFUSED");
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    return ownInstance.call(this, value) || (this === ConnectionRefusedError && hasCode(value, REFUSED_CODES));
  }
}

/** A predicate over the leaves of an {@link ExceptionGroup}, or an error class to match with `instanceof`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parameter list of any[] is what lets every function's own signature through
export type ExceptionMatcher = ((error: unknown) => boolean) | (abstract new (...args: any[]) => unknown);

function toPredicate(matcher: ExceptionMatcher): (error: unknown) => boolean {
  if (typeof matcher !== "function") {
    throw new TypeError(`Expected \`pred\` to be a function or an error class, got ${typeof matcher}`);
  }
  const proto: unknown = (matcher as { prototype?: unknown }).prototype;
  if (matcher === Error || proto instanceof Error) {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parameter list of any[] is what lets every function's own signature through
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

  /** The errors of the group, in the order they happened; groups may nest. The same array as `errors`. */
  get exceptions(): readonly E[] {
    return this.errors as E[];
  }

  constructor(message: string, exceptions: Iterable<E>) {
    if (typeof message !== "string") {
      throw new TypeError(`Expected \`message\` to be a string, got ${typeof message}`);
    }
    if (!isIterable(exceptions)) {
      throw new TypeError("Expected `exceptions` to be an iterable of errors");
    }
    const list = Array.from(exceptions);
    if (list.length === 0) throw new RangeError("Expected `exceptions` to be a non-empty iterable, got an empty one");
    super(list, message);
    installGroupPrinting(
      (e) => e instanceof ExceptionGroup,
      (g) => formatExceptionGroup(g as ExceptionGroup<unknown>, { colors: false }, inspect, 0, false).join("\n"),
    );
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

  /**
   * How Node shows the group (`console.log`, an uncaught group): its own stack once, then each sub-error once,
   * numbered and nested as Python prints an exception group, instead of Node's dump of both `exceptions` and
   * `errors`. Like Python, at most 15 sub-errors per group are shown, and groups nested deeper than 10 are elided.
   * (`formatExceptionGroup` below does the layout.)
   */
  [inspect.custom](depth: number, options: InspectOptionsStylized, show: typeof inspect = inspect): string {
    if (depth < 0) return `[${this.name}: ${this.message}]`;
    return formatExceptionGroup(this, options, show).join("\n");
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

/** Python's limits when printing a group: sub-errors shown per group, and nesting depth. */
const MAX_GROUP_WIDTH = 15;
const MAX_GROUP_DEPTH = 10;

/**
 * A group laid out as Python prints one: its header (with the count of sub-errors) and stack, then each sub-error
 * once, in a numbered box; a nested group's boxes sit one step further right. `top` leaves the header unboxed.
 */
function formatExceptionGroup(
  group: ExceptionGroup<unknown>,
  options: InspectOptionsStylized | { colors: boolean },
  show: typeof inspect = inspect,
  level = 0,
  withCause = true,
): string[] {
  const n = group.exceptions.length;
  const title = `${group.name}: ${group.message}`;
  const stack = typeof group.stack === "string" ? group.stack : title;
  const frames = stack.startsWith(title) ? stack.slice(title.length).split("\n").filter((l) => l !== "") : [];
  const head = [`${title} (${n} sub-exception${n === 1 ? "" : "s"})`, ...frames];
  if (withCause && group.cause !== undefined) head.push(...`[cause]: ${show(group.cause, options)}`.split("\n"));
  if (level >= MAX_GROUP_DEPTH) head.push(`... (max_group_depth is ${MAX_GROUP_DEPTH})`);
  const lines = level === 0 ? head : head.map((l) => `| ${l}`);
  if (level >= MAX_GROUP_DEPTH) return lines;
  const rule = (label: string): string => `${"-".repeat(16)} ${label} ${"-".repeat(16)}`;
  // The innermost last box closes every box around it with one line, as in Python.
  let closed = false;
  group.exceptions.slice(0, MAX_GROUP_WIDTH).forEach((error, i) => {
    lines.push(`${i === 0 ? "+-+" : "  +"}${rule(String(i + 1))}`);
    const inner =
      error instanceof ExceptionGroup
        ? formatExceptionGroup(error, options, show, level + 1)
        : show(error, options).split("\n").map((l) => `| ${l}`);
    for (const l of inner) lines.push(`  ${l}`);
    closed = error instanceof ExceptionGroup && level + 1 < MAX_GROUP_DEPTH;
  });
  if (n > MAX_GROUP_WIDTH) {
    const more = n - MAX_GROUP_WIDTH;
    lines.push(`  +${rule("...")}`, `  | and ${more} more exception${more === 1 ? "" : "s"}`);
    closed = false;
  }
  if (!closed) lines.push(`  +${"-".repeat(36)}`);
  return lines;
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
