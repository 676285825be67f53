/**
 * Helpers shared by the network modules (transports.ts, base_net.ts, streams.ts): running Node's I/O callbacks in
 * the loop's async context, argument checks, system errors, and the per-loop list of open sockets that
 * `loop.close()` cleans up.
 * @module
 */
import { AsyncResource, Buffer, osConstants } from "../node.js";
import type { EventLoop } from "../../events.js";
import { frameStorage } from "../kernel/context.js";
import { describe } from "../validate.js";

/**
 * Wraps a Node event listener so it runs in the loop's async context (no current task), whatever context Node
 * delivers the event in. Accepted sockets, for one, report their events with no context at all, and a stream
 * resumed from inside a task would report them in that task's context. Events after the loop closed are dropped.
 */
export function inLoop<A extends unknown[]>(loop: EventLoop, fn: (...args: A) => void): (...args: A) => void {
  const frame = loop._frame;
  // Entered per event through a resource made once in the loop's context: `frameStorage.run` per event would copy
  // the context twice per event on Node 24 (on entering and on leaving).
  let scope: AsyncResource | null = null;
  return (...args: A): void => {
    // A closed loop released its sockets; an event Node had already queued for one of them is dropped.
    if (loop._closed) return;
    if (frameStorage.getStore() === frame) {
      fn(...args);
      return;
    }
    scope ??= frameStorage.run(frame, () => new AsyncResource("asyncio-ts.io", SCOPE_OPTIONS));
    scope.runInAsyncScope(fn, null, ...args);
  };
}

/** The scope of `inLoop` only carries the loop's async context: no destroy tracking needed. */
const SCOPE_OPTIONS = { requireManualDestroy: true };

/** Runs `fn()` in the loop's async context; Node objects created inside inherit it. */
export function runInLoop<R>(loop: EventLoop, fn: () => R): R {
  return frameStorage.getStore() === loop._frame ? fn() : frameStorage.run(loop._frame, fn);
}

/** Bytes for a write: `Buffer`/`Uint8Array`/any `ArrayBufferView`/`ArrayBuffer` become a Buffer (no copy); a string stays. */
export function toWritable(data: unknown, method: string): Buffer | string {
  if (typeof data === "string") return data;
  if (Buffer.isBuffer(data)) return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  throw new TypeError(`${method}: expected \`data\` to be a Uint8Array or a string, got ${describe(data)}`);
}

/** Bytes to search for or compare: strings are encoded as UTF-8. */
export function toBytes(data: unknown, what: string, method: string): Buffer {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (Buffer.isBuffer(data)) return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`${method}: expected \`${what}\` to be a Uint8Array or a string, got ${describe(data)}`);
}

/** Node's shape of a system error: `code` (`ECONNRESET`), `errno` (negative, as libuv), `syscall`. */
export interface SystemError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
}

/** A system error made by us with Node's shape, for conditions Node does not report itself (e.g. a lost connection). */
export function systemError(code: string, message: string): SystemError {
  const err = new Error(message) as SystemError;
  err.code = code;
  const errno = (osConstants.errno as Record<string, number | undefined>)[code];
  if (errno !== undefined) err.errno = -errno;
  return err;
}

/** Whether `err` is an operating-system-level error (Python's `OSError`): it carries a string `code`. */
export function isSystemError(err: unknown): err is SystemError {
  return err instanceof Error && typeof (err as Partial<SystemError>).code === "string";
}

/**
 * Whether `err` only says the peer or the child is already gone (`ECONNRESET`, `EPIPE`, `ESRCH`): disposing a
 * resource ignores these, as there is nothing left to release.
 */
export function isGoneError(err: unknown): boolean {
  if (!isSystemError(err)) return false;
  return err.code === "ECONNRESET" || err.code === "EPIPE" || err.code === "ESRCH";
}

/** Checks a port: an integer 0..65535 or a numeric string; `null`/`undefined` give 0. */
export function checkPort(port: unknown, method: string, name = "port"): number {
  if (port === null || port === undefined) return 0;
  let n: number;
  if (typeof port === "number") n = port;
  else if (typeof port === "string" && /^\d+$/.test(port)) n = Number(port);
  else throw new TypeError(`${method}: expected \`${name}\` to be a port number, got ${describe(port)}`);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new RangeError(`${method}: expected \`${name}\` to be an integer from 0 to 65535, got ${port}`);
  }
  return n;
}

/** Checks an optional timeout in seconds: a positive number. */
export function checkTimeout(value: unknown, name: string, method: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number") throw new TypeError(`${method}: expected \`${name}\` to be a number of seconds, got ${describe(value)}`);
  if (!(value > 0)) throw new RangeError(`${method}: expected \`${name}\` to be a positive number of seconds, got ${value}`);
  return value;
}

// ------------------------------------------------------------------ open resources per loop

/** Something that holds a socket and must not outlive its loop (a transport, a server). */
export interface LoopResource {
  /**
   * @internal Called by `loop.close()` when still open: releases the socket without calling back; returns its
   * description.
   */
  _releaseOnLoopClose(): string;
}

const openResources = new WeakMap<EventLoop, Set<LoopResource>>();

function closeOpenResources(loop: EventLoop): void {
  const set = openResources.get(loop);
  if (set === undefined) return;
  openResources.delete(loop);
  for (const r of Array.from(set)) {
    let description: string;
    try {
      description = r._releaseOnLoopClose();
    } catch {
      continue;
    }
    if (loop._debug) loop._log(`unclosed ${description} closed by loop.close()`);
  }
}

/** Registers an open resource of `loop`: `loop.close()` releases it if it is still open then. */
export function trackResource(loop: EventLoop, r: LoopResource): void {
  let set = openResources.get(loop);
  if (set === undefined) {
    set = new Set();
    openResources.set(loop, set);
    if (!loop._closeHooks.includes(closeOpenResources)) loop._closeHooks.push(closeOpenResources);
  }
  set.add(r);
}

/** Forgets a resource that closed. */
export function untrackResource(loop: EventLoop, r: LoopResource): void {
  openResources.get(loop)?.delete(r);
}

// ------------------------------------------------------------------ errors between connect and transport

interface HeldErrors {
  error: Error | null;
  listener: (err: Error) => void;
}

const heldErrors = new WeakMap<object, HeldErrors>();

/**
 * Keeps an 'error' listener on a socket while no transport owns it (Node throws an 'error' nobody listens to),
 * remembering the first error for the transport that takes the socket over.
 */
export function holdErrors(sock: NodeJS.EventEmitter): void {
  if (heldErrors.has(sock)) return;
  const held: HeldErrors = {
    error: null,
    listener: (err: Error) => {
      held.error ??= err;
    },
  };
  sock.on("error", held.listener);
  heldErrors.set(sock, held);
}

/** Removes the listener `holdErrors` added and returns the error it caught, if any. */
export function releaseErrors(sock: NodeJS.EventEmitter): Error | null {
  const held = heldErrors.get(sock);
  if (held === undefined) return null;
  heldErrors.delete(sock);
  sock.removeListener("error", held.listener);
  return held.error;
}

/** Calls a protocol factory and checks that it made an object. */
export function makeProtocol<P>(factory: () => P, method: string): P {
  const protocol = factory();
  if (protocol === null || typeof protocol !== "object") {
    throw new TypeError(`${method}: expected \`protocolFactory\` to return a protocol object, got ${describe(protocol)}`);
  }
  return protocol;
}
