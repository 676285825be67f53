/**
 * Testing with virtual time: `import { testing } from "asyncio-ts"` or `import * as testing from "asyncio-ts/testing"`.
 *
 * `VirtualEventLoop` is an `EventLoop` whose clock is virtual. Whenever every task is waiting (the ready queue is
 * empty and the microtask queue has been drained), the clock jumps straight to the next timer, as Trio's
 * `MockClock(autojump_threshold=0)`, so a test of a one-hour timeout runs in milliseconds and the same scenario always
 * gives the same trace. Node's own timers (`setTimeout`, `timers/promises`) are left alone: only the loop's clock
 * (`loop.time()`, `sleep`, `callLater`, timeouts) is virtual.
 *
 * ```ts
 * await testing.run(async () => {
 *   await asyncio.timeout(7200).with(() => asyncio.sleep(3600)); // returns at once
 *   assert.equal(asyncio.getRunningLoop().time(), 3600);
 * });
 * ```
 * @module
 */
import { EventLoop } from "./events.js";
import { RuntimeError } from "./exceptions.js";
import type { Future } from "./futures.js";
import { type RunnerOptions, run as runWithRunner } from "./runners.js";
// A loop has the same methods whichever entry point was imported: these modules add theirs to EventLoop.prototype.
import "./base_net.js";
import "./unix_events.js";
import "./base_subprocess.js";
import "./executors.js";

/** Options of `VirtualEventLoop` and `testing.run`. */
export interface VirtualEventLoopOptions {
  /**
   * Jump the clock to the next timer whenever the loop is idle (default true). With `false`, time only moves
   * with `advance()`.
   */
  autojump?: boolean;
  /**
   * Real seconds the loop must stay idle before the clock jumps (default 0: as soon as the microtasks are drained).
   * Set it above the latency of the real I/O the code under test does (sockets, files, child processes), so the
   * clock does not run ahead while real work is still in flight.
   */
  idleThreshold?: number;
  /** The clock's start value in seconds (default 0). */
  start?: number;
}

function checkSeconds(value: unknown, name: string, method: string): number {
  if (typeof value !== "number") throw new TypeError(`${method}: expected \`${name}\` to be a number of seconds, got ${typeof value}`);
  if (Number.isNaN(value) || value < 0) {
    throw new RangeError(`${method}: expected \`${name}\` to be a number of seconds from 0 and up, got ${value}`);
  }
  return value;
}

/**
 * An event loop with a virtual clock: `time()` starts at 0 and only moves when the loop is idle (autojump) or with
 * `advance()`. Timers still run in `when` order, ties in scheduling order, so runs are deterministic.
 */
export class VirtualEventLoop extends EventLoop {
  // Invariants:
  // - `_clock` never decreases; it changes only in `_onIdle`, which runs when nothing is ready (no iteration queued,
  //   ready queue empty) from a fresh macrotask, so every microtask of the previous iteration has run.
  // - `_idleCheck` is the pending idle check (a setImmediate, or a setTimeout of `idleThreshold`), or null; any
  //   queued iteration cancels it, and the end of each iteration re-arms it when there is something to jump to.
  // - `_advancing` is the pending `advance()`: its target time and the Future its caller awaits.
  /** @internal */ _clock: number;
  private _autojump: boolean;
  private _idleThreshold: number;
  private _idleCheck: NodeJS.Immediate | NodeJS.Timeout | null = null;
  private _idleCheckIsTimeout = false;
  private _advancing: { target: number; future: Future<void> } | null = null;

  constructor(options: VirtualEventLoopOptions = {}) {
    super();
    const start = options.start ?? 0;
    if (typeof start !== "number" || !Number.isFinite(start)) {
      throw new TypeError(`VirtualEventLoop: expected \`start\` to be a finite number of seconds, got ${String(start)}`);
    }
    this._clock = start;
    this._autojump = options.autojump ?? true;
    this._idleThreshold = checkSeconds(options.idleThreshold ?? 0, "idleThreshold", "VirtualEventLoop");
  }

  /** The virtual clock, in seconds. */
  override time(): number {
    return this._clock;
  }

  /** Whether the clock jumps to the next timer by itself when the loop is idle. */
  get autojump(): boolean {
    return this._autojump;
  }

  set autojump(enabled: boolean) {
    this._autojump = Boolean(enabled);
    this._wake();
  }

  /** Real seconds of idleness before the clock moves (0: as soon as microtasks are drained). */
  get idleThreshold(): number {
    return this._idleThreshold;
  }

  set idleThreshold(seconds: number) {
    this._idleThreshold = checkSeconds(seconds, "idleThreshold", "idleThreshold");
    this._cancelIdleCheck();
    this._wake();
  }

  /**
   * Moves the clock `seconds` forward, running every timer due on the way in order (each at its own `when`, with
   * everything it wakes run before the clock moves again), and resolves once the clock reached the target and the
   * loop is idle. Called where the loop is not running, it runs the loop until then. `RangeError` for a negative
   * or NaN `seconds`; `RuntimeError` while another `advance()` is in progress.
   *
   * Cancellation: the clock stops where it is; timers already run stay run.
   */
  async advance(seconds: number): Promise<void> {
    checkSeconds(seconds, "seconds", "advance");
    if (!this._running) {
      await this.runUntilComplete(() => this.advance(seconds));
      return;
    }
    if (this._advancing !== null) throw new RuntimeError("advance() is already in progress");
    const future = this.createFuture<void>();
    const advancing = { target: this._clock + seconds, future };
    this._advancing = advancing;
    future.addDoneCallback(() => {
      if (this._advancing === advancing) this._advancing = null;
    });
    this._wake();
    await future;
  }

  /** @internal Instead of arming a Node timer for `when`, wait for the loop to be idle and jump. */
  protected override _armNodeTimer(_when: number): void {
    this._scheduleIdleCheck();
  }

  /** @internal Work is ready: no jump until the loop is idle again. */
  protected override _scheduleIteration(): void {
    this._cancelIdleCheck();
    super._scheduleIteration();
  }

  /** @internal An iteration ended with nothing to start at once: when timers wait, check for idleness. */
  protected override _afterIteration(): void {
    if (this._running && this._immediate === null && (this._timers.length > 0 || this._advancing !== null)) {
      this._scheduleIdleCheck();
    }
  }

  override toString(): string {
    return `<VirtualEventLoop time=${this._clock} running=${this._running} closed=${this._closed} debug=${this._debug}>`;
  }

  /** Arms an idle check if the loop runs and nothing is queued. */
  private _wake(): void {
    if (this._running && this._immediate === null && !this._inIteration) this._scheduleIdleCheck();
  }

  private _scheduleIdleCheck(): void {
    if (this._idleCheck !== null) return;
    this._idleCheckIsTimeout = this._idleThreshold > 0;
    const check = this._idleCheckIsTimeout ? setTimeout(this._onIdle, this._idleThreshold * 1000) : setImmediate(this._onIdle);
    // A left-over timeout must not keep the process alive once the loop stopped. (An immediate is never unref'd:
    // Node would then let the poll phase block, and the check would wait for unrelated I/O.)
    if (this._idleCheckIsTimeout) check.unref();
    this._idleCheck = check;
  }

  private _cancelIdleCheck(): void {
    const check = this._idleCheck;
    if (check === null) return;
    this._idleCheck = null;
    if (this._idleCheckIsTimeout) clearTimeout(check as NodeJS.Timeout);
    else clearImmediate(check as NodeJS.Immediate);
  }

  /** The loop stayed idle (since a fresh macrotask, or for `idleThreshold`): move the clock, run what became due. */
  private readonly _onIdle = (): void => {
    this._idleCheck = null;
    if (!this._running || this._immediate !== null || this._inIteration || this._ready.length > 0) return;
    const top = this._peekTimer();
    const advancing = this._advancing;
    let when: number;
    if (advancing !== null && (top === undefined || top._when > advancing.target)) {
      // Nothing more is due before the target: settle the advance.
      if (advancing.target > this._clock) this._clock = advancing.target;
      this._advancing = null;
      this._scope!.runInAsyncScope(() => {
        if (!advancing.future.done()) advancing.future.setResult();
      });
      return;
    } else if (top !== undefined && (advancing !== null || this._autojump)) {
      when = top._when;
    } else {
      return;
    }
    if (when > this._clock) this._clock = when;
    this._scope!.runInAsyncScope(this._runOnce, this);
  };
}

/**
 * Runs `main` as `asyncio.run` does, on a new `VirtualEventLoop` (options as its constructor's, plus `debug`).
 * Resolves with main's result or rejects with its error.
 */
export function run<T>(
  main: () => PromiseLike<T> | T,
  options: VirtualEventLoopOptions & Pick<RunnerOptions, "debug"> = {},
): Promise<T> {
  const { debug, ...loopOptions } = options;
  return runWithRunner(main, { debug, loopFactory: (): EventLoop => new VirtualEventLoop(loopOptions) });
}
