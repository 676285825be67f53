/**
 * The transports over Node's sockets (`node:net`, `node:tls`, `node:dgram`), as CPython's `selector_events.py` wraps
 * non-blocking sockets; the abstract API they implement is in transports.ts.
 *
 * Node does the reading and writing (libuv underneath); a transport translates its events into protocol calls with
 * asyncio's order and flow-control rules:
 * - `connectionMade` is scheduled with `callSoon` when the transport is made; reading starts right after it.
 * - Each chunk read calls `dataReceived` at once (from Node's I/O phase, in the loop's async context).
 * - The write buffer is Node's (`socket.writableLength`): `pauseWriting` when it grows over the high-water mark,
 *   `resumeWriting` when it drains to the low-water mark (64 KiB and 16 KiB by default, as asyncio).
 * - `close()` stops reading, lets the buffer drain, then closes the socket; `abort()` closes it at once. Either way
 *   `connectionLost` is scheduled exactly once with `callSoon`, after `connectionMade`.
 * @module
 */
import { Buffer, inspect, isTlsSocket } from "./_internal/node.js";
import type * as net from "node:net";
import type * as dgram from "node:dgram";
import type { EventLoop } from "./events.js";
import type { Future } from "./futures.js";
import { RuntimeError } from "./exceptions.js";
import type { DatagramAddress, DatagramProtocolLike, StreamProtocolLike } from "./protocols.js";
import {
  type LoopResource,
  inLoop,
  isSystemError,
  runInLoop,
  systemError,
  toWritable,
  trackResource,
  untrackResource,
} from "./_internal/io/netutil.js";
import { WriteFlowControl, callWritingHook } from "./_internal/io/flow_control.js";
import { LOG_THRESHOLD_FOR_CONNLOST_WRITES } from "./_internal/io/constants.js";


import { DatagramTransport, Transport } from "./transports.js";
import { describe, isIterable } from "./_internal/validate.js";

// ------------------------------------------------------------------ socket transports

/** @internal What a transport made by a server tells that server. */
export interface _ServerLike {
  _attach(client: object): void;
  _detach(client: object): void;
}

/** @internal Options of a socket transport, beyond the socket and the protocol. */
export interface _SocketTransportOptions {
  extra?: Record<string, unknown>;
  server?: _ServerLike | null;
  /** Set with `null` once `connectionMade` was called (resolves the caller's wait). */
  waiter?: Future<unknown> | null;
  /** False for a transport made by `startTls`: the protocol already had its `connectionMade`. */
  callConnectionMade?: boolean;
  /** An error the socket reported before the transport existed. */
  earlyError?: Error | null;
  /** How long a TLS close waits for the peer before closing the socket anyway (seconds). */
  sslShutdownTimeout?: number;
}

function socketAddress(address: unknown, port: unknown): unknown {
  if (typeof address !== "string") return undefined;
  return typeof port === "number" ? [address, port] : address;
}

/** What the loop's exception handler is told when a protocol's `dataReceived` throws (asyncio's words). */
const DATA_RECEIVED_FAILED = "Fatal error: protocol.dataReceived() call failed.";

/** Written with a callback to learn when everything buffered before it has been written. */
const EMPTY = Buffer.alloc(0);

/** @internal The stream transport over a `net.Socket` or `tls.TLSSocket` (Python's `_SelectorSocketTransport`). */
export class _SocketTransport extends Transport implements LoopResource {
  // Invariants:
  // - `_closing` is set by close(), abort(), a fatal error, or an EOF the protocol does not keep open; from then on
  //   no data reaches the protocol. `_connLost` becomes > 0 when connectionLost is scheduled (exactly once).
  // - `_reading` is set once connectionMade has run and the 'data' listener is attached; `_paused` is the user's
  //   (or the StreamReader's) pauseReading(), applied to the socket only while `_reading`.
  // - `_flow.paused` is true between the protocol's pauseWriting() and resumeWriting().
  // - `_detached` is set when startTls moved the socket to a new transport: this one is inert from then on.
  /** @internal */ _loop: EventLoop;
  /** @internal */ _sock: net.Socket;
  /** @internal */ _protocol: StreamProtocolLike;
  /** @internal */ _server: _ServerLike | null;
  /** @internal */ readonly _tls: boolean;
  /** @internal */ _closing = false;
  /** @internal */ _connLost = 0;
  /** @internal */ _paused = false;
  /** @internal */ _reading = false;
  /** @internal */ _eof = false;
  /** @internal */ _peerEof = false;
  /** @internal Node closed the socket by itself after both sides ended; connectionLost waits for close(). */
  _sockGone = false;
  /** @internal */ _detached = false;
  /** @internal */ readonly _flow: WriteFlowControl = new WriteFlowControl(this);
  private _buffered = false;
  private _protocolConnected = true;
  /** Writes dropped because the transport was closing or lost (one warning is logged at the threshold). */
  private _lostWrites = 0;
  private _sslShutdownTimeout: number;
  private readonly _onData: (chunk: Buffer) => void;
  private readonly _onEnd: () => void;
  private readonly _onError: (err: Error) => void;
  private readonly _onClose: () => void;
  private readonly _onWritten: (err?: Error | null) => void;

  constructor(loop: EventLoop, sock: net.Socket, protocol: StreamProtocolLike, options: _SocketTransportOptions = {}) {
    super(options.extra);
    this._loop = loop;
    this._sock = sock;
    this._protocol = protocol;
    this._buffered = typeof protocol.getBuffer === "function";
    this._server = options.server ?? null;
    this._tls = isTlsSocket(sock);
    this._sslShutdownTimeout = options.sslShutdownTimeout ?? 30;
    const extra = this._extra;
    extra.socket = sock;
    if (!("sockname" in extra)) {
      const a = sock.address() as Partial<net.AddressInfo> | string;
      extra.sockname = typeof a === "string" ? a : socketAddress(a.address, a.port);
    }
    if (!("peername" in extra)) extra.peername = socketAddress(sock.remoteAddress, sock.remotePort);
    if (typeof sock.setNoDelay === "function") sock.setNoDelay(true);

    const dataInLoop = inLoop(loop, (chunk: Buffer) => this._dataReceived(chunk));
    // A StreamReaderProtocol's own dataReceived runs no user code: it is fed without entering the loop's context (a
    // switch per event). Any other protocol's runs in that context; debug mode keeps the switch, for its checks.
    this._onData = (chunk: Buffer) => {
      if (this._buffered || loop._debug || loop._closed || !this._feedAnywhere(chunk)) dataInLoop(chunk);
    };
    this._onEnd = inLoop(loop, () => this._eofReceived());
    this._onError = inLoop(loop, (err: Error) => this._fatalError(err, "Fatal error on socket transport"));
    this._onClose = inLoop(loop, () => this._socketClosed());
    const written = inLoop(loop, () => this._written());
    // Most writes finish with the protocol not paused and no close pending: nothing to do, no context to enter.
    this._onWritten = () => {
      if (this._flow.paused || this._closing) written();
    };
    sock.on("error", this._onError);
    sock.on("end", this._onEnd);
    sock.on("close", this._onClose);

    this._server?._attach(this);
    trackResource(loop, this);
    if (options.callConnectionMade !== false) loop.callSoon(() => this._callConnectionMade());
    // Reading starts only once connectionMade has run (it may pause reading first).
    loop.callSoon(() => this._startReading());
    const waiter = options.waiter;
    if (waiter) loop.callSoon(() => waiter.done() || waiter.setResult(null));
    if (options.earlyError) this._forceClose(options.earlyError);
    else if (sock.destroyed) this._forceClose(null);
  }

  private _callConnectionMade(): void {
    if (this._detached) return;
    this._protocol.connectionMade?.(this);
  }

  private _startReading(): void {
    if (this._closing || this._detached) return;
    this._reading = true;
    if (this._paused) this._sock.pause();
    this._sock.on("data", this._onData);
    if (!this._paused) this._sock.resume();
    // The peer may have ended the stream before this transport listened (a TLS socket can emit 'end' between its
    // handshake and the transport's creation): that EOF is delivered now, once.
    if (this._sock.readableEnded && !this._peerEof) this._eofReceived();
  }

  // ---------------------------------------------------------------- reading

  /**
   * `_dataReceived` outside the loop's context, for a protocol that can take data there (`_feedAnywhere`, see the
   * constructor); false when it cannot, nothing done. A failure is handled in the loop's context.
   */
  private _feedAnywhere(chunk: Buffer): boolean {
    const protocol = this._protocol as StreamProtocolLike & { _feedAnywhere?(data: Buffer): boolean };
    if (typeof protocol._feedAnywhere !== "function") return false;
    if (this._closing || this._detached) return true;
    try {
      return protocol._feedAnywhere(chunk);
    } catch (exc) {
      runInLoop(this._loop, () => this._fatalError(exc, DATA_RECEIVED_FAILED));
      return true;
    }
  }

  private _dataReceived(chunk: Buffer): void {
    if (this._closing || this._detached) return;
    if (!this._buffered) {
      try {
        this._protocol.dataReceived?.(chunk);
      } catch (exc) {
        this._fatalError(exc, DATA_RECEIVED_FAILED);
      }
      return;
    }
    // A buffered protocol: copy into the buffers it lends until the chunk is used up.
    const protocol = this._protocol;
    let offset = 0;
    while (offset < chunk.length && !this._closing) {
      let nbytes: number;
      try {
        const buf = protocol.getBuffer!(chunk.length - offset);
        if (!buf || buf.length === 0) throw new RuntimeError("getBuffer() returned an empty buffer");
        nbytes = Math.min(buf.length, chunk.length - offset);
        buf.set(chunk.subarray(offset, offset + nbytes), 0);
      } catch (exc) {
        this._fatalError(exc, "Fatal error: protocol.getBuffer() call failed.");
        return;
      }
      offset += nbytes;
      try {
        protocol.bufferUpdated?.(nbytes);
      } catch (exc) {
        this._fatalError(exc, "Fatal error: protocol.bufferUpdated() call failed.");
        return;
      }
    }
  }

  private _eofReceived(): void {
    this._peerEof = true;
    if (this._closing || this._detached) return;
    if (this._loop._debug) this._loop._log(`${this} received EOF`);
    let keepOpen: unknown;
    try {
      keepOpen = this._protocol.eofReceived?.();
    } catch (exc) {
      this._fatalError(exc, "Fatal error: protocol.eofReceived() call failed.");
      return;
    }
    if (this._tls) {
      if (keepOpen && this._loop._debug) this._loop._log("returning true from eofReceived() has no effect when using TLS");
      this.close();
    } else if (!keepOpen) {
      this.close();
    }
  }

  override isReading(): boolean {
    return !this._closing && !this._paused;
  }

  override pauseReading(): void {
    if (!this.isReading()) return;
    this._paused = true;
    if (this._reading) this._sock.pause();
    if (this._loop._debug) this._loop._log(`${this} pauses reading`);
  }

  override resumeReading(): void {
    if (this._closing || !this._paused) return;
    this._paused = false;
    if (this._reading) this._sock.resume();
    if (this._loop._debug) this._loop._log(`${this} resumes reading`);
  }

  // ---------------------------------------------------------------- writing

  override write(data: Uint8Array | string): void {
    const bytes = toWritable(data, "write");
    if (this._eof) throw new RuntimeError("Cannot call write() after writeEof()");
    if (bytes.length === 0) return;
    if (this._connLost || this._closing) {
      this._lostWrite();
      return;
    }
    const sock = this._sock;
    if (this._needsWriteNotice(bytes.length)) {
      sock.write(bytes, this._onWritten);
      this._flow.grew(sock.writableLength);
    } else {
      // What was buffered plus this write stays within the high-water mark: nothing to pause.
      sock.write(bytes);
    }
  }

  /**
   * Whether a write of `length` bytes must report its end. Only a paused protocol and a pending close care when the
   * buffer drains: while paused every write reports, and so does the write that may pause it (its end comes after
   * every earlier one); a close or new limits ask for a report of their own (`_askWriteNotice`). Node costs less for a
   * write without a callback. A TLS socket keeps one per write.
   */
  private _needsWriteNotice(length: number): boolean {
    return this._tls || this._flow.paused || this._sock.writableLength + length > this._flow.high;
  }

  /**
   * Calls `_onWritten` once what is buffered now has been written (or, after `writeEof()`, once it finished). On a
   * TLS socket every write reports already: nothing to ask.
   */
  private _askWriteNotice(): void {
    if (this._tls) return;
    const sock = this._sock;
    if (sock.writableEnded) sock.once("finish", this._onWritten);
    else sock.write(EMPTY, this._onWritten);
  }

  override writelines(list: Iterable<Uint8Array | string>): void {
    if (!isIterable(list)) {
      throw new TypeError(`writelines: expected \`list\` to be an iterable of Uint8Array or string, got ${describe(list)}`);
    }
    const items = Array.from(list, (d) => toWritable(d, "writelines"));
    if (this._eof) throw new RuntimeError("Cannot call writelines() after writeEof()");
    if (items.length === 0) return;
    if (this._connLost || this._closing) {
      this._lostWrite();
      return;
    }
    const sock = this._sock;
    sock.cork();
    if (this._tls) {
      for (const item of items) if (item.length > 0) sock.write(item, this._onWritten);
    } else {
      let total = 0;
      for (const item of items) total += item.length;
      const notice = this._needsWriteNotice(total);
      for (const item of items) if (item.length > 0) sock.write(item);
      // Its end comes after every item's: one report for all.
      if (notice) this._askWriteNotice();
    }
    sock.uncork();
    this._flow.grew(sock.writableLength);
  }

  private _lostWrite(): void {
    if (++this._lostWrites === LOG_THRESHOLD_FOR_CONNLOST_WRITES) this._loop._log("socket.send() raised exception.");
  }

  /** A write finished (or failed: the 'error' event handles that): resume the protocol, finish a pending close. */
  private _written(): void {
    if (this._detached || this._connLost) return;
    const size = this._sock.writableLength;
    this._flow.shrank(size);
    if (this._closing && !this._connLost && size === 0) this._closeWhenFlushed();
  }

  /** @internal */
  _pauseWriting(): void {
    callWritingHook(this._loop, this, this._protocol, "pauseWriting");
  }

  /** @internal */
  _resumeWriting(): void {
    callWritingHook(this._loop, this, this._protocol, "resumeWriting");
  }

  override setWriteBufferLimits(high?: number | null, low?: number | null): void {
    const wasPaused = this._flow.paused;
    this._flow.setLimits(high, low, this.getWriteBufferSize());
    // Paused by the new limits: the writes buffered may not report their end.
    if (!wasPaused && this._flow.paused && !this._connLost && !this._sockGone) this._askWriteNotice();
  }

  override getWriteBufferLimits(): [number, number] {
    return this._flow.limits();
  }

  override getWriteBufferSize(): number {
    return this._connLost ? 0 : this._sock.writableLength;
  }

  override writeEof(): void {
    if (this._tls) throw new RuntimeError("writeEof() is not supported on TLS transports (canWriteEof() is false)");
    if (this._closing || this._eof) return;
    this._eof = true;
    this._sock.end();
  }

  override canWriteEof(): boolean {
    return !this._tls;
  }

  // ---------------------------------------------------------------- closing

  override isClosing(): boolean {
    return this._closing;
  }

  override setProtocol(protocol: StreamProtocolLike): void {
    if (protocol === null || typeof protocol !== "object") {
      throw new TypeError(`setProtocol: expected \`protocol\` to be an object, got ${describe(protocol)}`);
    }
    this._protocol = protocol;
    this._buffered = typeof protocol.getBuffer === "function";
    this._protocolConnected = true;
  }

  override getProtocol(): StreamProtocolLike {
    return this._protocol;
  }

  override close(): void {
    if (this._closing || this._detached) return;
    this._closing = true;
    if (this._reading) this._sock.pause();
    if (this._sockGone || this._sock.writableLength === 0) this._closeWhenFlushed();
    else this._askWriteNotice();
  }

  /** The buffer is empty (or the socket gone): close the socket and schedule connectionLost(null). */
  private _closeWhenFlushed(): void {
    if (this._connLost) return;
    const sock = this._sock;
    if (this._tls && !sock.destroyed && !sock.writableFinished) {
      // Send close_notify first; close the socket when that is done, or after the shutdown timeout.
      this._connLost++;
      const timer = setTimeout(() => sock.destroy(), this._sslShutdownTimeout * 1000);
      timer.unref();
      sock.once("finish", () => {
        clearTimeout(timer);
        sock.destroy();
      });
      sock.once("close", () => clearTimeout(timer));
      if (!sock.writableEnded) sock.end();
      this._scheduleConnectionLost(null);
      return;
    }
    this._connLost++;
    sock.destroy();
    this._scheduleConnectionLost(null);
  }

  override abort(): void {
    if (this._detached) return;
    this._forceClose(null);
  }

  /** @internal */
  _fatalError(exc: unknown, message: string): void {
    if (this._detached) return;
    if (isSystemError(exc)) {
      if (this._loop._debug) this._loop._log(`${this}: ${message}: ${(exc as Error).message}`);
    } else if (!this._connLost) {
      this._loop.callExceptionHandler({ message, exception: exc, transport: this, protocol: this._protocol });
    }
    this._forceClose(exc instanceof Error ? exc : new Error(String(exc)));
  }

  /** @internal Closes at once and schedules connectionLost(exc). */
  _forceClose(exc: Error | null): void {
    if (this._connLost) return;
    this._closing = true;
    this._connLost++;
    this._sock.destroy();
    this._scheduleConnectionLost(exc);
  }

  private _scheduleConnectionLost(exc: Error | null): void {
    if (this._loop._closed) {
      this._release();
      return;
    }
    this._loop.callSoon(() => this._callConnectionLost(exc));
  }

  private _callConnectionLost(exc: Error | null): void {
    try {
      if (this._protocolConnected) this._protocol.connectionLost?.(exc);
    } finally {
      this._release();
    }
  }

  private _release(): void {
    this._protocolConnected = false;
    const sock = this._sock;
    if (!sock.destroyed && !(this._tls && sock.writableEnded && !sock.writableFinished)) sock.destroy();
    untrackResource(this._loop, this);
    const server = this._server;
    this._server = null;
    server?._detach(this);
  }

  /** Node closed the socket: on an error (handled already), after both sides ended, or from outside. */
  private _socketClosed(): void {
    if (this._connLost || this._detached) return;
    if (!this._closing && this._eof && this._peerEof) {
      // Both directions are shut down; as in asyncio, connectionLost waits for close().
      this._sockGone = true;
      return;
    }
    this._forceClose(null);
  }

  /** @internal Releases the socket when the loop closes with this transport still open. */
  _releaseOnLoopClose(): string {
    const description = this.toString();
    this._connLost++;
    this._closing = true;
    this._sock.destroy();
    this._release();
    return description;
  }

  /**
   * @internal For startTls: hands the socket over to a TLS wrapper. This transport stops listening and becomes
   * inert (closing); data already read from the system but not delivered stays in the socket for the wrapper.
   */
  _detachSocket(): net.Socket {
    const sock = this._sock;
    this._detached = true;
    this._closing = true;
    sock.pause();
    sock.removeListener("data", this._onData);
    sock.removeListener("end", this._onEnd);
    sock.removeListener("close", this._onClose);
    sock.removeListener("error", this._onError);
    untrackResource(this._loop, this);
    return sock;
  }

  /** @internal startTls failed after `_detachSocket()`: close the socket and tell the protocol. */
  _failDetached(exc: Error | null): void {
    this._detached = false;
    this._closing = false;
    this._sock.on("error", () => {});
    trackResource(this._loop, this);
    this._forceClose(exc);
  }

  override toString(): string {
    const info = [this.constructor.name.replace(/^_/, "")];
    if (this._connLost) info.push("closed");
    else if (this._closing) info.push("closing");
    const peer = this._extra.peername;
    if (peer !== undefined) info.push(`peer=${Array.isArray(peer) ? peer.join(":") : String(peer)}`);
    if (this._tls) info.push("tls");
    if (!this._connLost) {
      info.push(`read=${this._paused ? "paused" : "polling"}`);
      info.push(`write=<bufsize=${this.getWriteBufferSize()}>`);
    }
    return `<${info.join(" ")}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

// ------------------------------------------------------------------ datagram transport

/** @internal The datagram transport over a `dgram.Socket` (Python's `_SelectorDatagramTransport`). */
export class _DatagramSocketTransport extends DatagramTransport implements LoopResource {
  /** @internal */ _loop: EventLoop;
  /** @internal */ _sock: dgram.Socket;
  /** @internal */ _protocol: DatagramProtocolLike;
  /** @internal The remote address given at creation; sendto() may only use it. */
  readonly _address: DatagramAddress | null;
  /** @internal */ _closing = false;
  /** @internal */ _connLost = 0;
  /** @internal Bytes of datagrams handed to Node and not yet sent (with 8 bytes of header each, as asyncio). */
  _bufferSize = 0;
  /** @internal */ readonly _flow: WriteFlowControl = new WriteFlowControl(this);
  private _started = false;
  private _lostWrites = 0;
  private readonly _onMessage: (msg: Buffer, rinfo: dgram.RemoteInfo) => void;
  private readonly _onError: (err: Error) => void;
  private readonly _onClose: () => void;

  constructor(
    loop: EventLoop,
    sock: dgram.Socket,
    protocol: DatagramProtocolLike,
    address: DatagramAddress | null,
    waiter: Future<unknown> | null,
  ) {
    super();
    this._loop = loop;
    this._sock = sock;
    this._protocol = protocol;
    this._address = address;
    this._extra.socket = sock;
    try {
      const a = sock.address();
      this._extra.sockname = [a.address, a.port];
    } catch {
      this._extra.sockname = undefined;
    }
    this._extra.peername = address ?? undefined;
    this._onMessage = inLoop(loop, (msg: Buffer, rinfo: dgram.RemoteInfo) => this._datagramReceived(msg, rinfo));
    this._onError = inLoop(loop, (err: Error) => this._errorReceived(err));
    this._onClose = inLoop(loop, () => this._forceClose(null));
    sock.on("error", this._onError);
    sock.on("close", this._onClose);
    trackResource(loop, this);
    loop.callSoon(() => this._protocol.connectionMade?.(this));
    loop.callSoon(() => {
      if (this._closing) return;
      this._started = true;
      sock.on("message", this._onMessage);
    });
    if (waiter) loop.callSoon(() => waiter.done() || waiter.setResult(null));
  }

  private _datagramReceived(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this._closing || !this._started) return;
    try {
      this._protocol.datagramReceived?.(msg, [rinfo.address, rinfo.port]);
    } catch (exc) {
      this._fatalError(exc, "Fatal error: protocol.datagramReceived() call failed.");
    }
  }

  private _errorReceived(err: Error): void {
    if (this._connLost) return;
    if (!isSystemError(err)) {
      this._fatalError(err, "Fatal error on datagram transport");
      return;
    }
    try {
      this._protocol.errorReceived?.(err);
    } catch (exc) {
      this._fatalError(exc, "Fatal error: protocol.errorReceived() call failed.");
    }
  }

  override sendto(data: Uint8Array | string, addr?: DatagramAddress | null): void {
    const bytes = toWritable(data, "sendto");
    let target = addr ?? null;
    if (target !== null && (!Array.isArray(target) || target.length < 2 || typeof target[0] !== "string")) {
      throw new TypeError(`sendto: expected \`addr\` to be a [host, port] pair, got ${describe(addr)}`);
    }
    const remote = this._address;
    if (remote !== null) {
      if (target !== null && !(target[0] === remote[0] && Number(target[1]) === remote[1])) {
        throw new RangeError(`sendto: invalid address: must be null or [${remote[0]}, ${remote[1]}], got [${target[0]}, ${target[1]}]`);
      }
      target = null;
    }
    if (this._connLost || this._closing) {
      if (++this._lostWrites === LOG_THRESHOLD_FOR_CONNLOST_WRITES) this._loop._log("socket.send() raised exception.");
      return;
    }
    if (remote === null && target === null) {
      this._errorReceived(systemError("EDESTADDRREQ", "sendto: no destination address given and the endpoint has no remote address"));
      return;
    }
    const size = bytes.length + 8;
    this._bufferSize += size;
    const done = inLoop(this._loop, (err: Error | null) => {
      this._bufferSize -= size;
      if (this._connLost) return;
      if (err) this._errorReceived(err);
      this._flow.shrank(this._bufferSize);
      if (this._closing && this._bufferSize === 0) this._forceClose(null);
    });
    try {
      if (target === null) this._sock.send(bytes, done);
      else this._sock.send(bytes, Number(target[1]), target[0], done);
    } catch (err) {
      this._bufferSize -= size;
      this._errorReceived(err as Error);
      return;
    }
    this._flow.grew(this._bufferSize);
  }

  /** @internal */
  _pauseWriting(): void {
    callWritingHook(this._loop, this, this._protocol, "pauseWriting");
  }

  /** @internal */
  _resumeWriting(): void {
    callWritingHook(this._loop, this, this._protocol, "resumeWriting");
  }

  override setWriteBufferLimits(high?: number | null, low?: number | null): void {
    this._flow.setLimits(high, low, this._bufferSize);
  }

  override getWriteBufferLimits(): [number, number] {
    return this._flow.limits();
  }

  override getWriteBufferSize(): number {
    return this._bufferSize;
  }

  override isClosing(): boolean {
    return this._closing;
  }

  override setProtocol(protocol: DatagramProtocolLike): void {
    if (protocol === null || typeof protocol !== "object") {
      throw new TypeError(`setProtocol: expected \`protocol\` to be an object, got ${describe(protocol)}`);
    }
    this._protocol = protocol;
  }

  override getProtocol(): DatagramProtocolLike {
    return this._protocol;
  }

  override close(): void {
    if (this._closing) return;
    this._closing = true;
    if (this._bufferSize === 0) this._forceClose(null);
  }

  override abort(): void {
    this._forceClose(null);
  }

  private _fatalError(exc: unknown, message: string): void {
    if (!isSystemError(exc)) {
      this._loop.callExceptionHandler({ message, exception: exc, transport: this, protocol: this._protocol });
    }
    this._forceClose(exc instanceof Error ? exc : new Error(String(exc)));
  }

  private _forceClose(exc: Error | null): void {
    if (this._connLost) return;
    this._closing = true;
    this._connLost++;
    this._closeSocket();
    if (this._loop._closed) {
      untrackResource(this._loop, this);
      return;
    }
    this._loop.callSoon(() => {
      try {
        this._protocol.connectionLost?.(exc);
      } finally {
        untrackResource(this._loop, this);
      }
    });
  }

  private _closeSocket(): void {
    this._sock.removeListener("message", this._onMessage);
    this._sock.removeListener("close", this._onClose);
    try {
      this._sock.close();
    } catch {
      // Already closed.
    }
  }

  /** @internal */
  _releaseOnLoopClose(): string {
    const description = this.toString();
    this._connLost++;
    this._closing = true;
    this._closeSocket();
    untrackResource(this._loop, this);
    return description;
  }

  override toString(): string {
    const info = ["DatagramTransport"];
    if (this._connLost) info.push("closed");
    else if (this._closing) info.push("closing");
    const name = this._extra.sockname;
    if (Array.isArray(name)) info.push(`local=${name.join(":")}`);
    if (this._address) info.push(`remote=${this._address.join(":")}`);
    return `<${info.join(" ")}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
