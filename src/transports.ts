/**
 * Transports: the I/O side of asyncio's transport/protocol pair, as CPython's `asyncio/transports.py`: the abstract
 * classes only. The transports over Node's sockets are in socket_transports.ts, the subprocess and pipe transports
 * in base_subprocess.ts.
 * @module
 */
import "./_internal/dispose.js";
import type * as net from "node:net";
import type * as tls from "node:tls";
import type * as dgram from "node:dgram";
import type { ChildProcess } from "node:child_process";
import type { HostPort } from "./base_net.js";
import type { SSLOptions } from "./sslproto.js";
import { RuntimeError } from "./exceptions.js";
import type { DatagramAddress } from "./protocols.js";
import { isGoneError } from "./_internal/io/netutil.js";

function notImplemented(obj: object, method: string): never {
  throw new RuntimeError(`${obj.constructor.name}.${method}() is not implemented`);
}

// ------------------------------------------------------------------ the public base classes

/**
 * What `getExtraInfo(name)` gives for each name asyncio-ts sets. A transport has only the names that apply to it:
 * the others give `undefined` (or the default passed).
 */
export interface TransportExtraInfo {
  /** The remote address: `[host, port]`, or a path for a Unix socket (a connected datagram endpoint's peer too). */
  peername: HostPort | string;
  /** The local address: `[host, port]`, or a path for a Unix socket. */
  sockname: HostPort | string;
  /** Node's socket: a `net.Socket` (a `tls.TLSSocket` over TLS) for a stream, a `dgram.Socket` for datagrams. */
  socket: net.Socket | dgram.Socket;
  /** The `ssl` value the connection was made with (TLS only; `{}` for `ssl: true`). */
  sslcontext: tls.SecureContext | SSLOptions;
  /** The peer's certificate, `null` when it sent none (TLS only). */
  peercert: tls.PeerCertificate | null;
  /** The cipher in use (TLS only). */
  cipher: tls.CipherNameAndProtocol;
  /** Always `null`: TLS compression is not used (TLS only). */
  compression: null;
  /** The `tls.TLSSocket` (TLS only). */
  ssl_object: tls.TLSSocket;
  /** The pipe of a pipe transport (a child's stdin, stdout or stderr, or a pipe given to `connectReadPipe`). */
  pipe: net.Socket;
  /** The child process of a subprocess transport. */
  subprocess: ChildProcess;
}

/** The base of every transport: extra information and closing. */
export class BaseTransport {
  /** @internal What `getExtraInfo` answers. */
  /** @internal */ _extra: Record<string, unknown>;

  constructor(extra?: Record<string, unknown>) {
    this._extra = extra ?? {};
  }

  /**
   * Optional information about the transport and its socket, typed per name (see {@link TransportExtraInfo}):
   * `peername` and `sockname` (`[host, port]`, or a path for Unix sockets), `socket` (Node's socket), for TLS
   * `sslcontext`, `peercert`, `cipher`, `compression`, `ssl_object`, and `pipe` or `subprocess` for subprocess
   * transports. Returns `defaultValue` (default `undefined`) when the transport has no such information.
   */
  getExtraInfo<K extends keyof TransportExtraInfo>(name: K): TransportExtraInfo[K] | undefined;
  getExtraInfo<K extends keyof TransportExtraInfo, D>(name: K, defaultValue: D): TransportExtraInfo[K] | D;
  getExtraInfo(name: string, defaultValue?: unknown): unknown;
  getExtraInfo(name: string, defaultValue?: unknown): unknown {
    return Object.prototype.hasOwnProperty.call(this._extra, name) ? this._extra[name] : defaultValue;
  }

  /** Whether the transport is closing or closed. */
  isClosing(): boolean {
    return notImplemented(this, "isClosing");
  }

  /** Closes the transport: buffered data is flushed first, then the protocol's `connectionLost(null)` is called. */
  close(): void {
    notImplemented(this, "close");
  }

  /** `using transport = ...`: `close()`; a peer already gone (`ECONNRESET`, `EPIPE`, `ESRCH`) is not an error. */
  [Symbol.dispose](): void {
    try {
      this.close();
    } catch (error) {
      if (!isGoneError(error)) throw error;
    }
  }

  /** `await using transport = ...`: `close()`, as `[Symbol.dispose]`. */
  [Symbol.asyncDispose](): Promise<void> {
    try {
      this[Symbol.dispose]();
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.resolve();
  }

  /** Sets a new protocol; the transport calls it from now on. */
  setProtocol(_protocol: object): void {
    notImplemented(this, "setProtocol");
  }

  /** The current protocol. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the protocol's class is the caller's own: typed any so its methods can be called, as in Python
  getProtocol(): any {
    return notImplemented(this, "getProtocol");
  }
}

/** A transport that reads: pausing and resuming the protocol's receiving. */
export class ReadTransport extends BaseTransport {
  /** Whether the transport is receiving (not paused, not closing). */
  isReading(): boolean {
    return notImplemented(this, "isReading");
  }

  /** Stops calling the protocol's `dataReceived` until `resumeReading()`; no-op when paused or closing. */
  pauseReading(): void {
    notImplemented(this, "pauseReading");
  }

  /** Resumes calling `dataReceived`; no-op when reading or closing. */
  resumeReading(): void {
    notImplemented(this, "resumeReading");
  }
}

/** A transport that writes, with write flow control. */
export class WriteTransport extends BaseTransport {
  /** A `Transport` is a write transport too, although TypeScript classes have a single base. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(this, value) || (this === WriteTransport && value instanceof Transport);
  }

  /**
   * Sets the high- and low-water marks of the write buffer: the protocol's `pauseWriting()` is called when the
   * buffer grows over `high`, `resumeWriting()` when it drains to `low`. Defaults: 64 KiB, and `high / 4`.
   * `RangeError` unless `high >= low >= 0`.
   */
  setWriteBufferLimits(_high?: number | null, _low?: number | null): void {
    notImplemented(this, "setWriteBufferLimits");
  }

  /** `[low, high]` water marks of the write buffer. */
  getWriteBufferLimits(): [number, number] {
    return notImplemented(this, "getWriteBufferLimits");
  }

  /** Bytes waiting in the write buffer. */
  getWriteBufferSize(): number {
    return notImplemented(this, "getWriteBufferSize");
  }

  /** Writes `data` (bytes, or a string encoded as UTF-8) without blocking; what cannot be sent now is buffered. */
  write(_data: Uint8Array | string): void {
    notImplemented(this, "write");
  }

  /** Writes each item of `list` (one system call when possible). */
  writelines(list: Iterable<Uint8Array | string>): void {
    for (const data of list) this.write(data);
  }

  /** Closes the write side once the buffer is flushed (half-close); reading goes on. */
  writeEof(): void {
    notImplemented(this, "writeEof");
  }

  /** Whether `writeEof()` is supported (false for TLS). */
  canWriteEof(): boolean {
    return notImplemented(this, "canWriteEof");
  }

  /** Closes at once, dropping buffered data; the protocol's `connectionLost(null)` follows. */
  abort(): void {
    notImplemented(this, "abort");
  }
}

/** Gives `to` the methods `names` of `from` (a class has one base in JavaScript; these are its other ones). */
function takeMethods(to: { prototype: object }, from: { prototype: object }, names: readonly string[]): void {
  for (const name of names) {
    if (name !== "constructor") Object.defineProperty(to.prototype, name, Object.getOwnPropertyDescriptor(from.prototype, name)!);
  }
}

/**
 * A bidirectional stream transport (TCP, Unix socket, TLS): the methods of `ReadTransport` and `WriteTransport`, as
 * CPython's `Transport(ReadTransport, WriteTransport)`. A class has one base in JavaScript: this one extends
 * `ReadTransport` and takes `WriteTransport`'s methods (`instanceof WriteTransport` holds too).
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- WriteTransport's methods are copied onto it below
export class Transport extends ReadTransport {}

/** The write side of a `Transport`: `WriteTransport`'s methods. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type -- as above
export interface Transport extends WriteTransport {}
takeMethods(Transport, WriteTransport, Object.getOwnPropertyNames(WriteTransport.prototype));

/** A datagram (UDP) transport. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- three methods of WriteTransport are copied onto it below
export class DatagramTransport extends BaseTransport {
  /**
   * Sends one datagram to `addr` (`[host, port]`), or to the remote address the endpoint was made with
   * (then `addr` must be omitted or equal to it). Errors are reported to the protocol's `errorReceived`.
   */
  sendto(_data: Uint8Array | string, _addr?: DatagramAddress | null): void {
    notImplemented(this, "sendto");
  }

  /** Closes at once, dropping queued datagrams; the protocol's `connectionLost(null)` follows. */
  abort(): void {
    notImplemented(this, "abort");
  }

}

/** The send queue of a `DatagramTransport` has `WriteTransport`'s flow control: its three methods, copied below. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- the methods are copied below
export interface DatagramTransport {
  /** As `WriteTransport.setWriteBufferLimits`, for datagrams queued in the system. */
  setWriteBufferLimits(high?: number | null, low?: number | null): void;
  /** `[low, high]` water marks of the send queue. */
  getWriteBufferLimits(): [number, number];
  /** Bytes of datagrams queued and not yet sent. */
  getWriteBufferSize(): number;
}
takeMethods(DatagramTransport, WriteTransport, ["setWriteBufferLimits", "getWriteBufferLimits", "getWriteBufferSize"]);

/** The transport of a child process (implemented by the subprocess module). */
export class SubprocessTransport extends BaseTransport {
  /** The child's process id. */
  getPid(): number | undefined {
    return notImplemented(this, "getPid");
  }
  /** The exit code (`-N` when killed by signal N), or `null` while running. */
  getReturncode(): number | null {
    return notImplemented(this, "getReturncode");
  }
  /** The transport of pipe `fd` (0, 1, 2), or `null`. */
  getPipeTransport(_fd: number): BaseTransport | null {
    return notImplemented(this, "getPipeTransport");
  }
  /** Sends a signal to the child. */
  sendSignal(_signal: NodeJS.Signals | number): void {
    notImplemented(this, "sendSignal");
  }
  /** Asks the child to stop (SIGTERM). */
  terminate(): void {
    notImplemented(this, "terminate");
  }
  /** Kills the child (SIGKILL). */
  kill(): void {
    notImplemented(this, "kill");
  }
}

