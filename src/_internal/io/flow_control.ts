/**
 * Write flow control, written once for every transport that writes (CPython's `transports._FlowControlMixin`): the
 * socket and TLS transports, the datagram transport and the subprocess's stdin pipe.
 *
 * The transports extend different public classes (`Transport`, `DatagramTransport`, `WriteTransport`), so they own
 * one `WriteFlowControl` each instead of inheriting it. Each tells it when its buffer grew or shrank; it decides when
 * the protocol is told to pause or resume, with asyncio's rules: pause when the buffer goes over the high-water mark,
 * resume when it drains to the low-water mark (64 KiB and 16 KiB by default).
 * @module
 */
import type { EventLoop } from "../../events.js";
import { describe } from "../validate.js";

/** Checks and resolves write-buffer limits as asyncio: `high` defaults to 64 KiB (or 4 × low), `low` to high / 4. */
export function resolveWriteLimits(high: number | null | undefined, low: number | null | undefined, method: string): [number, number] {
  for (const [name, v] of [["high", high], ["low", low]] as const) {
    if (v !== null && v !== undefined && (typeof v !== "number" || Number.isNaN(v))) {
      throw new TypeError(`${method}: expected \`${name}\` to be a number of bytes, got ${describe(v)}`);
    }
  }
  let h = high ?? null;
  let l = low ?? null;
  if (h === null) h = l === null ? 64 * 1024 : 4 * l;
  if (l === null) l = Math.floor(h / 4);
  if (!(h >= l && l >= 0)) throw new RangeError(`${method}: expected \`high\` (${h}) >= \`low\` (${l}) >= 0`);
  return [h, l];
}

/** What flow control calls when the protocol must pause or may resume writing. */
export interface FlowControlTarget {
  /** @internal */
  _pauseWriting(): void;
  /** @internal */
  _resumeWriting(): void;
}

/** The water marks of one transport's write buffer, and whether its protocol is paused. */
export class WriteFlowControl {
  // Invariant: `paused` is true between a `_pauseWriting()` and the `_resumeWriting()` that follows it.
  paused = false;
  high = 64 * 1024;
  low = 16 * 1024;

  constructor(private readonly target: FlowControlTarget) {}

  /** The buffer now holds `size` bytes after a write: pauses the protocol when that is over the high-water mark. */
  grew(size: number): void {
    if (!this.paused && size > this.high) {
      this.paused = true;
      this.target._pauseWriting();
    }
  }

  /** The buffer now holds `size` bytes after a write finished: resumes the protocol once it drained to the low mark. */
  shrank(size: number): void {
    if (this.paused && size <= this.low) {
      this.paused = false;
      this.target._resumeWriting();
    }
  }

  /** `setWriteBufferLimits(high, low)` of a transport whose buffer holds `size` bytes. */
  setLimits(high: number | null | undefined, low: number | null | undefined, size: number): void {
    [this.high, this.low] = resolveWriteLimits(high, low, "setWriteBufferLimits");
    this.grew(size);
  }

  /** `getWriteBufferLimits()`: `[low, high]`, as asyncio. */
  limits(): [number, number] {
    return [this.low, this.high];
  }
}

/**
 * Calls the protocol's `pauseWriting` or `resumeWriting`, if it has one; an exception goes to the loop's exception
 * handler, as asyncio's `_maybe_pause_protocol` reports it.
 */
export function callWritingHook(
  loop: EventLoop,
  transport: object,
  protocol: { pauseWriting?(): void; resumeWriting?(): void },
  hook: "pauseWriting" | "resumeWriting",
): void {
  try {
    protocol[hook]?.();
  } catch (exception) {
    loop.callExceptionHandler({ message: `protocol.${hook}() failed`, exception, transport, protocol });
  }
}
