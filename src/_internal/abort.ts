/**
 * AbortSignal as input: one `abort` listener per signal, shared by every operation using it.
 *
 * Node warns once 11 listeners sit on one signal, and a long-lived signal (a server's, a UI's) may be handed to
 * millions of operations over its life. So the registry keeps, per signal, the set of live registrations and a
 * single listener; a registration leaves the set when its operation ends, and the listener is removed with the last.
 * @module
 */
import { CancelledError } from "../exceptions.js";
import type { Future } from "../futures.js";
import { checkOptions, describe } from "./validate.js";

/** The message of the `CancelledError` an abort becomes: the reason's message, or `String(reason)`. */
export function abortMessage(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (reason !== null && typeof reason === "object" && typeof (reason as { message?: unknown }).message === "string") {
    return (reason as { message: string }).message;
  }
  return String(reason);
}

/** The `CancelledError` for an aborted `signal`. */
export function abortError(signal: AbortSignal): CancelledError {
  return new CancelledError(abortMessage(signal));
}

/** The `signal` option checked: an `AbortSignal`, or null when absent (undefined or null); else `TypeError`. */
export function checkSignal(signal: unknown, method: string): AbortSignal | null {
  if (signal === undefined || signal === null) return null;
  if (!(signal instanceof AbortSignal)) {
    throw new TypeError(`${method}: expected \`signal\` to be an AbortSignal, got ${describe(signal)}`);
  }
  return signal;
}

/** The checked `signal` of an options argument (both may be absent). */
export function signalOf(options: { signal?: AbortSignal | null } | null | undefined, method: string): AbortSignal | null {
  const checked = checkOptions(options, method);
  return checked === undefined ? null : checkSignal(checked.signal, method);
}

/** What an abort does to one operation: called once, with the abort's message. */
export type AbortCallback = (message: string) => void;

/** The live registrations of each signal, and the one listener that serves them. */
interface SignalEntry {
  readonly registrations: Set<AbortRegistration>;
  readonly listener: () => void;
}

const entries = new Map<AbortSignal, SignalEntry>();

/**
 * One operation's interest in a signal. `dispose()` when the operation ends (idempotent); after an abort it is
 * already out of the registry.
 */
export class AbortRegistration {
  #signal: AbortSignal | null;
  #callback: AbortCallback | null;

  /** @internal Use `onAbort()`. */
  constructor(signal: AbortSignal, callback: AbortCallback) {
    this.#signal = signal;
    this.#callback = callback;
  }

  /** @internal Runs the callback once and forgets it. */
  _fire(message: string): void {
    const callback = this.#callback;
    this.#signal = null;
    this.#callback = null;
    callback?.(message);
  }

  /** Leaves the registry; the signal's listener goes with the last registration. */
  dispose(): void {
    const signal = this.#signal;
    if (signal === null) return;
    this.#signal = null;
    this.#callback = null;
    const entry = entries.get(signal);
    if (entry === undefined) return;
    entry.registrations.delete(this);
    if (entry.registrations.size === 0) {
      entries.delete(signal);
      signal.removeEventListener("abort", entry.listener);
    }
  }
}

/**
 * Calls `callback(message)` when `signal` aborts, until the returned registration is disposed. The signal must not
 * be aborted yet (callers check `signal.aborted` first and fail at once).
 */
export function onAbort(signal: AbortSignal, callback: AbortCallback): AbortRegistration {
  const registration = new AbortRegistration(signal, callback);
  let entry = entries.get(signal);
  if (entry === undefined) {
    const registrations = new Set<AbortRegistration>();
    const listener = (): void => {
      entries.delete(signal);
      const message = abortMessage(signal);
      for (const r of registrations) r._fire(message);
      registrations.clear();
    };
    entry = { registrations, listener };
    entries.set(signal, entry);
    signal.addEventListener("abort", listener, { once: true });
  }
  entry.registrations.add(registration);
  return registration;
}

/** How many registrations `signal` has (for tests of the registry). @internal */
export function _registrationCount(signal: AbortSignal): number {
  return entries.get(signal)?.registrations.size ?? 0;
}

/** How many signals have a listener of the registry (for leak tests). @internal */
export function _listenedSignalCount(): number {
  return entries.size;
}

/**
 * An operation made of one or more waits on Futures: an abort cancels the Future it waits on now (`track`), and
 * is remembered (`aborted`) for a wait that was already woken or is yet to come.
 */
export class AbortLink {
  /** The abort's message once aborted, else null. */
  message: string | null = null;
  #current: Future<unknown> | null = null;
  readonly #registration: AbortRegistration;

  /** A link for a signal not aborted yet. */
  constructor(signal: AbortSignal) {
    this.#registration = onAbort(signal, (message) => {
      this.message = message;
      const current = this.#current;
      this.#current = null;
      if (current !== null && !current.done()) current.cancel(message);
    });
  }

  /** The operation now waits on `fut`: cancelled at once if the abort came already. */
  track(fut: Future<unknown>): void {
    if (this.message !== null) fut.cancel(this.message);
    else this.#current = fut;
  }

  /** Throws the `CancelledError` of the abort if it came. */
  throwIfAborted(): void {
    if (this.message !== null) throw new CancelledError(this.message);
  }

  /** The operation ended: leave the registry. */
  dispose(): void {
    this.#current = null;
    this.#registration.dispose();
  }

  /** Disposes of the link once `operation` settles, whichever way; returns `operation`. */
  until<T>(operation: Promise<T>): Promise<T> {
    const dispose = (): void => this.dispose();
    operation.then(dispose, dispose);
    return operation;
  }
}

/**
 * Cancels `fut` with the abort's message when `signal` aborts, until `fut` is done. For operations whose only wait
 * is `fut` itself (sleep, Event.wait, a lock's waiter). `signal` must not be aborted yet.
 */
export function cancelOnAbort(signal: AbortSignal, fut: Future<unknown>): void {
  const registration = onAbort(signal, (message) => {
    fut.cancel(message);
  });
  fut.addDoneCallback(() => registration.dispose());
}
