/**
 * Timeouts: `timeout(delay).with(body)` cancels the current task when the deadline passes and turns that
 * cancellation, and only that one, into `TimeoutError` when the body ends.
 * @module
 */
import { inspect } from "./_internal/node.js";
import { currentTaskOrNull, requireRunningLoop } from "./_internal/kernel/context.js";
import { CancelledError, RuntimeError, TimeoutError, _asCancelledError } from "./exceptions.js";
import { type AbortRegistration, abortError, onAbort, signalOf } from "./_internal/abort.js";
import type { Handle } from "./events.js";
import type { Task } from "./tasks.js";
import { checkSecondsOrNull } from "./_internal/validate.js";
import { type CancelScope, type _Parked, _heldOnEntry, _requestCancel, _scopeCancelVisible, _scopeOf, _withdraw } from "./cancel_scopes.js";

/** The life of a Timeout: created → entered → (expiring → expired | exited). */
type TimeoutState = "created" | "active" | "expiring" | "expired" | "finished";

/** Options of `timeout` and `timeoutAt`. */
export interface TimeoutOptions {
  /**
   * Aborting it cancels the block as the deadline would, but `with` then rejects with `CancelledError` (the abort
   * reason's message), not `TimeoutError`; already aborted, the body never runs.
   */
  signal?: AbortSignal | null;
}

/**
 * A deadline for a block of code: `await timeout(5).with(async (t) => ...)`. Make one with `timeout()` or
 * `timeoutAt()`; it can be entered once.
 */
export class Timeout {
  // Invariants: `handle` is the scheduled expiry while "active" with a deadline, else null. `task` and
  // `cancellingAtEntry` are set on entry: the expiry's own cancel is told apart from others by comparing the
  // task's `uncancel()` count with the count at entry. `origin` is the task's innermost cancel scope at entry (the
  // level the expiry's cancel comes from, so a shield inside the block holds it back), `parked` the expiry's cancel
  // while such a shield holds it.
  private state: TimeoutState = "created";
  private whenValue: number | null;
  private handle: Handle | null = null;
  private task: Task<unknown> | null = null;
  private cancellingAtEntry = 0;
  private origin: CancelScope | null = null;
  private parked: _Parked | null = null;
  // The abort: `signal` given at creation, `registration` while the block is active, `abortedWith` the message once
  // the abort cancelled the task (told apart from other cancellations as the expiry is).
  private readonly signal: AbortSignal | null;
  private registration: AbortRegistration | null = null;
  private abortedWith: string | null = null;

  /** @internal Use `timeout()` or `timeoutAt()`. */
  constructor(when: number | null, signal: AbortSignal | null = null) {
    this.whenValue = when;
    this.signal = signal;
  }

  /** The deadline in loop time (seconds), or null for none. */
  when(): number | null {
    return this.whenValue;
  }

  /**
   * Moves the deadline to loop time `when` (null: none). `RuntimeError` before entry or after the block ended.
   */
  reschedule(when: number | null): void {
    const value = checkSecondsOrNull(when, "when", "reschedule");
    if (this.state !== "active") {
      if (this.state === "created") throw new RuntimeError("Timeout has not been entered");
      throw new RuntimeError(`Cannot change state of ${this.state} Timeout`);
    }
    this.whenValue = value;
    this.handle?.cancel();
    this.handle = null;
    if (value === null || this.abortedWith !== null) return;
    const loop = requireRunningLoop();
    this.handle = value <= loop.time() ? loop.callSoon(this.onTimeout) : loop.callAt(value, this.onTimeout);
  }

  /** Whether the deadline passed and the task was cancelled for it. */
  expired(): boolean {
    return this.state === "expiring" || this.state === "expired";
  }

  /**
   * Runs `body` with this deadline. When it passes, the current task is cancelled; if the body then ends with that
   * cancellation, `with` throws `TimeoutError` (its `cause` is the `CancelledError`). Other cancellations pass
   * through unchanged. `RuntimeError` outside a task or when entered twice.
   *
   * Cancellation: an outer cancel propagates as `CancelledError`, never as `TimeoutError`.
   */
  async with<R>(body: (timeout: Timeout) => PromiseLike<R> | R): Promise<R> {
    if (typeof body !== "function") throw new TypeError(`Timeout.with: expected \`body\` to be a function, got ${typeof body}`);
    if (this.signal?.aborted === true && this.state === "created") {
      this.state = "finished";
      throw abortError(this.signal);
    }
    this.enter();
    let result: R;
    try {
      result = await body(this);
    } catch (error) {
      this.exit(error, true);
      throw error;
    }
    this.exit(undefined, false);
    return result;
  }

  private enter(): void {
    if (this.state !== "created") throw new RuntimeError("Timeout has already been entered");
    const task = currentTaskOrNull();
    if (task === null) throw new RuntimeError("Timeout should be used inside a task");
    this.task = task;
    this.state = "active";
    // A request a shield held back and released is not ours even though it will be delivered inside the block.
    this.cancellingAtEntry = task.cancelling() - (_heldOnEntry(task) ? 1 : 0);
    this.origin = _scopeOf(task);
    this.reschedule(this.whenValue);
    if (this.signal !== null) this.registration = onAbort(this.signal, this.onAbort);
  }

  /** Ends the block; throws TimeoutError when the block ended through our own expiry's cancellation. */
  private exit(error: unknown, failed: boolean): void {
    this.handle?.cancel();
    this.handle = null;
    this.registration?.dispose();
    this.registration = null;
    if (this.abortedWith !== null) {
      // Aborted: our cancel is taken back, and the block's end by it is a CancelledError with the abort's message.
      const message = this.abortedWith;
      this.abortedWith = null;
      this.state = "finished";
      if (this.task!.uncancel() <= this.cancellingAtEntry && failed && _asCancelledError(error) !== null) {
        throw new CancelledError(message);
      }
    } else if (this.state === "expiring") {
      this.state = "expired";
      const task = this.task!;
      _withdraw(this.parked);
      this.parked = null;
      // A cancelled cancel scope around the block owns the CancelledError as much as we do: it wins, as in Trio.
      if (task.uncancel() <= this.cancellingAtEntry && failed && (task._cancelScope === null || !_scopeCancelVisible(task))) {
        const cancelled = _asCancelledError(error);
        if (cancelled !== null) {
          const timeoutError = new TimeoutError();
          timeoutError.cause = cancelled;
          throw timeoutError;
        }
      }
    } else if (this.state === "active") {
      this.state = "finished";
    }
  }

  private readonly onAbort = (message: string): void => {
    if (this.state !== "active") return;
    this.handle?.cancel();
    this.handle = null;
    this.abortedWith = message;
    this.task!.cancel(message);
  };

  private readonly onTimeout = (): void => {
    const task = this.task!;
    if (task._cancelScope === null) task.cancel();
    else this.parked = _requestCancel(task, this.origin);
    this.state = "expiring";
    this.handle = null;
  };

  toString(): string {
    // As CPython: the deadline is shown only while the block is active (`when=null` when there is none).
    const when = this.state !== "active" ? "" : ` when=${this.whenValue === null ? "null" : this.whenValue.toFixed(3)}`;
    return `<Timeout [${this.state}]${when}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/** A Timeout that expires `delay` seconds from now (`null`: no deadline); enter it with `.with(body)`. `RuntimeError` outside a loop. */
export function timeout(delay: number | null, options?: TimeoutOptions | null): Timeout {
  const value = checkSecondsOrNull(delay, "delay", "timeout");
  const signal = options === undefined ? null : signalOf(options, "timeout");
  if (value === null) return new Timeout(null, signal);
  return new Timeout(requireRunningLoop().time() + value, signal);
}

/** A Timeout at loop time `when` (seconds, as `loop.time()`; `null`: no deadline). */
export function timeoutAt(when: number | null, options?: TimeoutOptions | null): Timeout {
  const value = checkSecondsOrNull(when, "when", "timeoutAt");
  return new Timeout(value, options === undefined ? null : signalOf(options, "timeoutAt"));
}
