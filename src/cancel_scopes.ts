/**
 * Cancel scopes (Trio's): `await new CancelScope().with(async (scope) => ...)` marks a block of a task that can be
 * cancelled on its own, by `scope.cancel()`, by a deadline on the loop clock, or by an `AbortSignal`. The
 * cancellation is level-triggered: once the scope is cancelled, every suspension inside it throws `CancelledError`
 * until the block ends, and the scope then swallows the error (`with` resolves `undefined`). A `shield` scope holds
 * back every cancellation coming from outside it until it exits.
 *
 * How it meets the kernel: a task keeps its innermost scope in `_cancelScope` (each scope links to the enclosing
 * one of the same task). While that is set, the task hands every delivery of a cancellation to this module
 * (`_ScopeHooks`), which decides what the current suspension may see. Requests that cannot be delivered yet are
 * "held": a `task.cancel()` as the kernel's `_mustCancel`, a `timeout()` or `TaskGroup` request on the scope that
 * was innermost when that timeout or group was entered (its origin). A request is visible from the innermost scope
 * when no shield stands between the two.
 * @module
 */
import { inspect } from "./_internal/node.js";
import { currentTaskOrNull, requireRunningLoop, runningLoopOrNull } from "./_internal/kernel/context.js";
import { RuntimeError, TimeoutError, _asCancelledError } from "./exceptions.js";
import type { EventLoop, TimerHandle } from "./events.js";
import type { Future, _Waiter } from "./futures.js";
import type { Task } from "./tasks.js";

/** Options of `new CancelScope()`. */
export interface CancelScopeOptions {
  /** Loop time (as `loop.time()`, seconds) at which the scope cancels itself; `Infinity` (default) for none. */
  deadline?: number;
  /** Hold back every cancellation from outside the scope until it exits (default false). */
  shield?: boolean;
  /** Aborting this signal cancels the scope, as `cancel()`. */
  signal?: AbortSignal;
}

/** The life of a scope: created → active (entered) → exited. A scope is entered once. */
type ScopeState = "created" | "active" | "exited";

/** A held request of a timeout or task group, as `_requestCancel` parked it; `_withdraw` takes it back. */
export interface _Parked {
  readonly node: CancelScope;
  readonly epoch: number;
}

/** Tasks whose pending `task.cancel()` was held back by a shield (it is delivered later, maybe inside a timeout). */
const heldRequests = new WeakSet<Task<unknown>>();

/**
 * @internal Whether the cancellation pending for `task` is a `task.cancel()` a shield held back: a timeout entered now
 * must not count it as its own.
 */
export function _heldOnEntry(task: Task<unknown>): boolean {
  return task._mustCancel === true && heldRequests.has(task);
}

/** Waits that a cancelled scope does not interrupt (a task group waiting for children it has already cancelled). */
const exemptWaits = new WeakSet<_Waiter>();

/** @internal `future` is a wait that level-triggered scope cancellation leaves alone (requests still interrupt it). */
export function _exemptFromScopes(future: Future<unknown>): void {
  exemptWaits.add(future);
}

function innermost(task: Task<unknown>): CancelScope | null {
  return task._cancelScope as CancelScope | null;
}

/** @internal The innermost cancel scope of `task`, or null: the origin of a timeout or task group entered now. */
export function _scopeOf(task: Task<unknown>): CancelScope | null {
  return innermost(task);
}

/**
 * Delivers to `task`, by cancelling `future` (or, with `future` null, at the start of a step), what its scopes let
 * through: a cancelled scope (level-triggered, only when `future` is given) or held requests (edge-triggered, taken
 * once). Returns whether something was delivered.
 */
function deliver(task: Task<unknown>, future: _Waiter | null): boolean {
  let cancelled = false;
  // The outermost visible scope holding a request; `null` for a held `task.cancel()`; undefined when none.
  let edge: CancelScope | null | undefined = undefined;
  let rootVisible = true;
  for (let node = innermost(task); node !== null; node = node._parent) {
    if (node._counted) cancelled = true;
    if (node._pending > 0) edge = node;
    if (node._shield) {
      rootVisible = false;
      break;
    }
  }
  if (rootVisible && task._mustCancel) edge = null;
  if (edge === undefined) {
    if (!cancelled || future === null || exemptWaits.has(future)) return false;
    return future.cancel();
  }
  if (future !== null && !future.cancel(edge === null ? task._cancelMessage : undefined)) return false;
  // Take every visible held request, and note in each scope between it and the innermost one that a cancellation
  // from outside was thrown into it: such a scope must not swallow it.
  let marking = true;
  for (let node = innermost(task); node !== null; node = node._parent) {
    if (node === edge) marking = false;
    if (marking) node._foreign = true;
    if (node._pending > 0) {
      node._pending = 0;
      node._epoch++;
    }
    if (node._shield) break;
  }
  if (edge === null) {
    task._mustCancel = false;
    heldRequests.delete(task);
  }
  return true;
}

/** Forgets the held requests of `scope` and every scope around it. */
function dropPending(scope: CancelScope): void {
  for (let node: CancelScope | null = scope; node !== null; node = node._parent) {
    if (node._pending > 0) {
      node._pending = 0;
      node._epoch++;
    }
  }
}

/** Something became visible while `task` may be suspended: interrupt the Future it waits on. */
function recheck(task: Task<unknown>): void {
  const waiter = task._futWaiter;
  if (waiter !== null && waiter._state === "PENDING") deliver(task, waiter);
}

/**
 * @internal Requests the cancellation of `task` on behalf of a timeout or task group entered when `origin` was the
 * innermost scope (null: none). Counted in `cancelling()` like `task.cancel()`; delivered unless a shield entered
 * since holds it back. Returns what to give `_withdraw` if the request was held, else null.
 */
export function _requestCancel(task: Task<unknown>, origin: CancelScope | null, msg?: string): _Parked | null {
  if (origin === null || task._cancelScope === null) {
    task.cancel(msg);
    return null;
  }
  if (task._state !== "PENDING") return null;
  task._countCancel(msg);
  origin._pending++;
  const parked: _Parked = { node: origin, epoch: origin._epoch };
  recheck(task);
  return parked;
}

/** @internal Takes back a request `_requestCancel` held, if it is still held (the timeout or group is leaving). */
export function _withdraw(parked: _Parked | null): void {
  if (parked === null) return;
  const node = parked.node;
  if (node._epoch === parked.epoch && node._pending > 0) node._pending--;
}

/** @internal Whether a cancelled scope is visible from the innermost scope of `task` (a cancellation in progress). */
export function _scopeCancelVisible(task: Task<unknown>): boolean {
  for (let node = innermost(task); node !== null; node = node._parent) {
    if (node._counted) return true;
    if (node._shield) return false;
  }
  return false;
}

/**
 * @internal A task group replaced the cancellation of `task` by an error: request it again (from `origin`) so the
 * next suspension sees it, as CPython's uncancel-and-cancel, but only for requests; a cancelled scope needs none.
 */
export function _rearm(task: Task<unknown>, origin: CancelScope | null): void {
  let scopes = 0;
  for (let node = innermost(task); node !== null; node = node._parent) if (node._counted) scopes++;
  if (task.cancelling() - scopes <= 0) return;
  task.uncancel();
  _requestCancel(task, origin);
}

function checkDeadline(value: unknown, name: string, method: string): number {
  if (typeof value !== "number") throw new TypeError(`${method}: expected \`${name}\` to be a number (loop time in seconds), got ${typeof value}`);
  if (Number.isNaN(value)) throw new RangeError(`${method}: expected \`${name}\` to be a number (loop time in seconds), got NaN`);
  return value;
}

function checkShield(value: unknown, method: string): boolean {
  if (typeof value !== "boolean") throw new TypeError(`${method}: expected \`shield\` to be a boolean, got ${typeof value}`);
  return value;
}

/**
 * A block of a task that can be cancelled on its own (Trio's `CancelScope`). Enter it once with `with(body)`.
 * Cancelled (by `cancel()`, its `deadline`, or its `signal`), every suspension inside it throws `CancelledError` until
 * the body ends; the scope then swallows that error and `with` resolves `undefined` (`cancelledCaught` tells).
 * A `shield` scope keeps cancellations from outside (outer scopes, `timeout()`, `task.cancel()`) out until it exits;
 * they are delivered at the first suspension after it.
 */
export class CancelScope {
  // It is the `_ScopeHooks` of tasks.ts (structurally: the published types leave internal interfaces out).
  // Invariants:
  // - `_task` and `_parent` are set on entry: the task, and its innermost scope at that moment (the enclosing one).
  //   While "active", the scope is on the chain from `_task._cancelScope` through `_parent` links.
  // - `_counted` is true while the scope is active and cancelled: it then counts one in `_task.cancelling()`,
  //   taken back on exit.
  // - `_pending` counts requests of timeouts and task groups entered directly inside this scope that could not be
  //   delivered yet; `_epoch` changes whenever they are taken, so a leaving timeout withdraws only its own.
  // - `_foreign` records that a cancellation requested outside this scope was thrown into it.
  /** @internal */ _task: Task<unknown> | null = null;
  /** @internal */ _parent: CancelScope | null = null;
  /** @internal */ _counted = false;
  /** @internal */ _pending = 0;
  /** @internal */ _epoch = 0;
  /** @internal */ _foreign = false;
  /** @internal */ _shield: boolean;
  /** @internal With `failAfter`/`failAt`: the deadline's cancellation comes out as `TimeoutError`. */
  _fail = false;
  private state: ScopeState = "created";
  private deadlineValue: number;
  private cancelCalledValue = false;
  private reason: "cancel" | "deadline" | null = null;
  private caught = false;
  private timer: TimerHandle | null = null;
  private loop: EventLoop | null = null;
  private signal: AbortSignal | null = null;

  /** A scope with an optional `deadline` (loop time), `shield`, and `signal` (aborting it cancels the scope). */
  constructor(options: CancelScopeOptions = {}) {
    if (options === null || typeof options !== "object") {
      throw new TypeError(`CancelScope: expected \`options\` to be an object, got ${options === null ? "null" : typeof options}`);
    }
    this.deadlineValue = options.deadline === undefined ? Infinity : checkDeadline(options.deadline, "deadline", "CancelScope");
    this._shield = options.shield === undefined ? false : checkShield(options.shield, "CancelScope");
    const signal = options.signal;
    if (signal !== undefined) {
      if (!(signal instanceof AbortSignal)) {
        throw new TypeError(`CancelScope: expected \`signal\` to be an AbortSignal, got ${signal === null ? "null" : typeof signal}`);
      }
      if (signal.aborted) {
        this.cancel();
      } else {
        this.signal = signal;
        signal.addEventListener("abort", this.onAbort, { once: true });
      }
    }
  }

  /** Whether cancellation was requested: by `cancel()`, the signal, or the deadline having passed. Never goes back. */
  get cancelCalled(): boolean {
    if (!this.cancelCalledValue && this.state === "created" && this.deadlineValue !== Infinity) {
      const loop = runningLoopOrNull();
      if (loop !== null && this.deadlineValue <= loop.time()) this.markCancelled("deadline");
    }
    return this.cancelCalledValue;
  }

  /** Whether the scope swallowed its own cancellation (the body ended with it). */
  get cancelledCaught(): boolean {
    return this.caught;
  }

  /** The deadline in loop time (seconds); `Infinity` for none. Settable: a deadline already passed cancels at once. */
  get deadline(): number {
    return this.deadlineValue;
  }

  set deadline(value: number) {
    this.deadlineValue = checkDeadline(value, "deadline", "CancelScope.deadline");
    if (this.state === "active") this.schedule();
  }

  /** Whether the scope holds back cancellations from outside it. Settable; unshielding delivers what was held. */
  get shield(): boolean {
    return this._shield;
  }

  set shield(value: boolean) {
    const was = this._shield;
    this._shield = checkShield(value, "CancelScope.shield");
    if (was && !this._shield && this.state === "active") recheck(this._task!);
  }

  /**
   * Cancels the scope: the body gets `CancelledError` at the suspension it is in and at every one after, until it
   * ends. Idempotent; before entry, the scope is cancelled on entry; after exit, it only sets `cancelCalled`.
   */
  cancel(): void {
    if (this.cancelCalledValue) return;
    this.markCancelled("cancel");
  }

  /**
   * Runs `body(scope)` inside the scope in the current task. Resolves with the body's value, or `undefined` when
   * the scope caught its own cancellation; with `failAfter`/`failAt`, that case throws `TimeoutError` instead (its
   * `cause` the `CancelledError`) when the deadline cancelled the body. A cancellation that belongs outside the
   * scope (an outer scope, a timeout, `task.cancel()`) always comes out as `CancelledError`. `RuntimeError` when
   * entered a second time or outside a task.
   *
   * Cancellation: the task's `cancelling()` is what it was before, once the block has ended.
   */
  async with<T>(body: (scope: CancelScope) => T | PromiseLike<T>): Promise<T | undefined> {
    if (typeof body !== "function") throw new TypeError(`CancelScope.with: expected \`body\` to be a function, got ${typeof body}`);
    this.enter();
    let result: T;
    try {
      result = await body(this);
    } catch (error) {
      if (this.exit(true, error)) return this.caughtResult(error);
      throw error;
    }
    this.exit(false, undefined);
    return result;
  }

  private enter(): void {
    if (this.state !== "created") throw new RuntimeError(`CancelScope ${this} has already been entered: a scope is entered once`);
    const task = currentTaskOrNull();
    if (task === null) throw new RuntimeError("CancelScope should be used inside a task");
    this.loop = task._loop;
    this._task = task;
    this._parent = innermost(task);
    task._cancelScope = this;
    this.state = "active";
    if (this.cancelCalledValue) this.activate();
    else this.schedule();
  }

  /** Leaves the scope; true when the body's `CancelledError` was this scope's own and is swallowed. */
  private exit(failed: boolean, error: unknown): boolean {
    const task = this._task!;
    this.timer?.cancel();
    this.timer = null;
    this.signal?.removeEventListener("abort", this.onAbort);
    this.signal = null;
    this.unlink(task);
    this.state = "exited";
    if (!this._counted) return false;
    this._counted = false;
    task.uncancel();
    if (!failed || _asCancelledError(error) === null) return false;
    if (this._foreign && task.cancelling() > 0) return false;
    if (!this._shield) {
      // Trio's rule: a cancellation of an outer scope we can see takes precedence; it catches the error instead.
      for (let node = this._parent; node !== null; node = node._parent) {
        if (node._counted) return false;
        if (node._shield) break;
      }
    }
    this.caught = true;
    return true;
  }

  private caughtResult(error: unknown): undefined {
    if (this._fail && this.reason === "deadline") {
      const timeoutError = new TimeoutError();
      timeoutError.cause = _asCancelledError(error);
      throw timeoutError;
    }
    return undefined;
  }

  /** Takes the scope off its task's chain; held requests go to the enclosing scope (or back to the task). */
  private unlink(task: Task<unknown>): void {
    const parent = this._parent;
    if (task._cancelScope === this) {
      task._cancelScope = parent;
    } else {
      // Exited out of order (a `with` that was not awaited): splice it out so the chain stays whole.
      for (let node = innermost(task); node !== null; node = node._parent) {
        if (node._parent === this) {
          node._parent = parent;
          break;
        }
      }
    }
    if (this._pending > 0) {
      if (parent !== null) parent._pending += this._pending;
      else task._mustCancel = true;
      this._pending = 0;
    }
  }

  private markCancelled(reason: "cancel" | "deadline"): void {
    this.cancelCalledValue = true;
    this.reason ??= reason;
    if (this.state === "active") this.activate();
  }

  /** The scope is active and cancelled: count it once and interrupt the task if it can see us. */
  private activate(): void {
    this.timer?.cancel();
    this.timer = null;
    if (this._counted) return;
    this._counted = true;
    const task = this._task!;
    task._numCancelsRequested++;
    recheck(task);
  }

  /** (Re)arms the deadline of an active scope. */
  private schedule(): void {
    this.timer?.cancel();
    this.timer = null;
    if (this.cancelCalledValue) return;
    const when = this.deadlineValue;
    if (when === Infinity) return;
    if (when <= this.loop!.time()) this.markCancelled("deadline");
    else this.timer = this.loop!.callAt(when, this.onDeadline);
  }

  private readonly onDeadline = (): void => {
    this.timer = null;
    if (!this.cancelCalledValue) this.markCancelled("deadline");
  };

  private readonly onAbort = (): void => {
    this.signal = null;
    this.cancel();
  };

  // ---- _ScopeHooks: called by the kernel on the task's innermost scope.

  /** @internal */
  _onAwait(task: Task<unknown>, future: Future<unknown>): void {
    deliver(task, future);
  }

  /** @internal */
  _onCancel(task: Task<unknown>, msg: string | undefined): boolean {
    task._mustCancel = true;
    task._cancelMessage = msg;
    recheck(task);
    if (task._mustCancel) heldRequests.add(task);
    return true;
  }

  /** @internal */
  _takeAtStep(task: Task<unknown>): boolean {
    return deliver(task, null);
  }

  /** @internal */
  _dropPending(): void {
    dropPending(this);
  }

  toString(): string {
    const info: string[] = [this.state];
    if (this.cancelCalledValue) info.push("cancelled");
    if (this._shield) info.push("shield");
    if (this.deadlineValue !== Infinity) {
      const loop = runningLoopOrNull();
      if (loop !== null) {
        const delta = this.deadlineValue - loop.time();
        info.push(delta >= 0 ? `deadline in ${delta.toFixed(3)}s` : `deadline ${(-delta).toFixed(3)}s ago`);
      } else {
        info.push(`deadline=${this.deadlineValue}`);
      }
    }
    return `<CancelScope ${info.join(" ")}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

function checkDelay(value: unknown, method: string): number | null {
  if (value === null) return null;
  if (typeof value !== "number") throw new TypeError(`${method}: expected \`delay\` to be a number of seconds or null, got ${typeof value}`);
  if (Number.isNaN(value) || value < 0) {
    throw new RangeError(`${method}: expected \`delay\` to be a number of seconds from 0 and up, or null, got ${value}`);
  }
  return value;
}

function checkWhen(value: unknown, method: string): number {
  if (value === null) return Infinity;
  return checkDeadline(value, "when", method);
}

function shieldOption(options: { shield?: boolean } | undefined, method: string): boolean {
  if (options === undefined || options.shield === undefined) return false;
  return checkShield(options.shield, method);
}

/**
 * A scope cancelled `delay` seconds from now (`null`: never): `await moveOnAfter(5).with(body)` resolves `undefined`
 * if the body was still running then. Negative or `NaN` delays are a `RangeError`. `RuntimeError` outside a loop.
 */
export function moveOnAfter(delay: number | null, options?: { shield?: boolean }): CancelScope {
  const value = checkDelay(delay, "moveOnAfter");
  const shield = shieldOption(options, "moveOnAfter");
  const deadline = value === null ? Infinity : requireRunningLoop().time() + value;
  return new CancelScope({ deadline, shield });
}

/** A scope cancelled at loop time `when` (`null`: never); as `moveOnAfter`. `NaN` is a `RangeError`. */
export function moveOnAt(when: number | null, options?: { shield?: boolean }): CancelScope {
  return new CancelScope({ deadline: checkWhen(when, "moveOnAt"), shield: shieldOption(options, "moveOnAt") });
}

/**
 * As `moveOnAfter`, but when the deadline cancelled the body, `with` throws `TimeoutError` instead of resolving
 * `undefined`. Negative or `NaN` delays are a `RangeError`.
 */
export function failAfter(delay: number | null, options?: { shield?: boolean }): CancelScope {
  const scope = moveOnAfter(checkDelay(delay, "failAfter"), options);
  scope._fail = true;
  return scope;
}

/** As `moveOnAt`, but when the deadline cancelled the body, `with` throws `TimeoutError`. */
export function failAt(when: number | null, options?: { shield?: boolean }): CancelScope {
  const scope = new CancelScope({ deadline: checkWhen(when, "failAt"), shield: shieldOption(options, "failAt") });
  scope._fail = true;
  return scope;
}
