/**
 * Streams: `StreamReader`/`StreamWriter` over the transport/protocol layer, and the functions that open them,
 * as CPython's `asyncio/streams.py`.
 *
 * Flow control both ways:
 * - Reading: the reader pauses its transport when its buffer grows past twice its `limit`, and resumes it when a
 *   read brings the buffer back to `limit` or below (or when a read must wait for more data).
 * - Writing: `write()` never blocks; `drain()` waits while the transport's buffer is over its high-water mark
 *   (`transport.setWriteBufferLimits`), and throws the connection's error once it is lost.
 * @module
 */
import { Buffer, inspect } from "./_internal/node.js";
import type * as net from "node:net";
import "./_internal/dispose.js";
import { type EventLoop, getEventLoop, getRunningLoop } from "./events.js";
import { type CancelledError, IncompleteReadError, LimitOverrunError, RuntimeError } from "./exceptions.js";
import { type Future, type FutureState, type _TaskWait, _CurrentWaiter, _linkCancel, _resumeTaskWait, _suspendOn } from "./futures.js";
import { type RunResult, type Runnable, currentTaskOrNull } from "./_internal/kernel/context.js";
import { sleep, type Task } from "./tasks.js";
import { Protocol } from "./protocols.js";
import type { Transport, TransportExtraInfo } from "./transports.js";
import type {
  CreateConnectionOptions,
  CreateServerOptions,
  CreateUnixConnectionOptions,
  CreateUnixServerOptions,
  HostPort,
} from "./base_net.js";
import type { Server } from "./servers.js";
import type { SSLOption } from "./sslproto.js";
import { isGoneError, systemError, toBytes } from "./_internal/io/netutil.js";
import { ByteQueue } from "./_internal/io/byte_queue.js";
import { abortError, checkSignal, onAbort } from "./_internal/abort.js";
import "./base_net.js";
import { checkOptions, describe } from "./_internal/validate.js";

export { Server, ServerSocket } from "./servers.js";

/** The default `limit` of a `StreamReader`: 64 KiB. */
const DEFAULT_LIMIT = 2 ** 16;

const NEWLINE = Buffer.from("\n");

/** Shared by the fast paths that have nothing to wait for. */
const RESOLVED: Promise<void> = Promise.resolve();

/** What `startServer` calls for each connection, in a task of its own. */
export type ClientConnectedCallback = (reader: StreamReader, writer: StreamWriter) => PromiseLike<void> | void;

/** The `limit` option shared by the stream functions: the reader's buffer limit in bytes (default 64 KiB). */
export interface StreamLimitOption {
  limit?: number;
}

/** Options of `openConnection`. */
export type OpenConnectionOptions = CreateConnectionOptions &
  StreamLimitOption & {
    /** Aborting it cancels the connection attempt (not the calling task) with `CancelledError(reason's message)`. */
    signal?: AbortSignal | null;
  };
/** Options of `startServer`. */
export type StartServerOptions = CreateServerOptions & StreamLimitOption;
/** Options of `openUnixConnection`. */
export type OpenUnixConnectionOptions = CreateUnixConnectionOptions & StreamLimitOption;
/** Options of `startUnixServer`. */
export type StartUnixServerOptions = CreateUnixServerOptions & StreamLimitOption;

function splitLimit<T extends StreamLimitOption>(options: T | undefined, method: string): [number | undefined, Omit<T, "limit">] {
  const checked = checkOptions(options, method);
  if (checked === undefined) return [undefined, {} as Omit<T, "limit">];
  const { limit, ...rest } = checked;
  return [limit, rest];
}

function checkCallback(cb: unknown, method: string): void {
  if (typeof cb !== "function") {
    throw new TypeError(`${method}: expected \`clientConnected\` to be a function (reader, writer) => ..., got ${describe(cb)}`);
  }
}

/**
 * Opens a TCP connection (TLS with `ssl`) and returns its reader and writer; the options are those of
 * `loop.createConnection` plus `limit`. Connection errors are Node's (`code` `ECONNREFUSED`, ...).
 *
 * Cancellation: the connection attempt is abandoned and its socket destroyed; nothing stays open. Aborting
 * `options.signal` does the same without cancelling the calling task.
 */
export function openConnection(
  host?: string | null,
  port?: number | string | null,
  options?: OpenConnectionOptions | null,
): Promise<[StreamReader, StreamWriter]> {
  let signal: AbortSignal | null = null;
  if (options !== undefined && options !== null && typeof options === "object" && "signal" in options) {
    const { signal: given, ...rest } = options;
    signal = checkSignal(given, "openConnection");
    options = rest;
  }
  return connect(host, port, options ?? undefined, signal);
}

async function connect(
  host: string | null | undefined,
  port: number | string | null | undefined,
  options: OpenConnectionOptions | undefined,
  signal: AbortSignal | null,
): Promise<[StreamReader, StreamWriter]> {
  const loop = getRunningLoop();
  const [limit, rest] = splitLimit(options, "openConnection");
  if (signal?.aborted === true) throw abortError(signal);
  const reader = new StreamReader({ limit, loop });
  const protocol = new StreamReaderProtocol(reader, null, loop);
  let transport: Transport;
  if (signal === null) {
    [transport] = await loop.createConnection(() => protocol, host, port, rest);
  } else {
    // The attempt runs in a task of its own, which the abort cancels: the calling task is not cancelled.
    const attempt = loop.createTask(() => loop.createConnection(() => protocol, host, port, rest));
    const registration = onAbort(signal, (message) => {
      attempt.cancel(message);
    });
    try {
      [transport] = await attempt;
    } finally {
      registration.dispose();
    }
  }
  return [reader, new StreamWriter(transport, protocol, reader, loop)];
}

/**
 * Starts a TCP server calling `clientConnected(reader, writer)` for each connection, each call in a task of its
 * own; a handler that throws is reported to the loop's exception handler and its connection is closed. The options
 * are those of `loop.createServer` plus `limit`.
 *
 * Cancellation: the sockets listening so far are closed.
 */
export function startServer(
  clientConnected: ClientConnectedCallback,
  host: null | undefined,
  port: null | undefined,
  options: StartServerOptions & { sock: net.Server },
): Promise<Server>;
export function startServer(
  clientConnected: ClientConnectedCallback,
  host?: string | readonly string[] | null,
  port?: number | string | null,
  options?: StartServerOptions,
): Promise<Server<HostPort>>;
export async function startServer(
  clientConnected: ClientConnectedCallback,
  host?: string | readonly string[] | null,
  port?: number | string | null,
  options?: StartServerOptions,
): Promise<Server> {
  checkCallback(clientConnected, "startServer");
  const loop = getRunningLoop();
  const [limit, rest] = splitLimit(options, "startServer");
  new StreamReader({ limit, loop }); // checks `limit` before listening
  const factory = (): StreamReaderProtocol => new StreamReaderProtocol(new StreamReader({ limit, loop }), clientConnected, loop);
  return loop.createServer(factory, host, port, rest);
}

/**
 * As `openConnection`, to the Unix socket at `path`.
 *
 * Cancellation: the connection attempt is abandoned and its socket destroyed.
 */
export async function openUnixConnection(path?: string | null, options?: OpenUnixConnectionOptions): Promise<[StreamReader, StreamWriter]> {
  const loop = getRunningLoop();
  const [limit, rest] = splitLimit(options, "openUnixConnection");
  const reader = new StreamReader({ limit, loop });
  const protocol = new StreamReaderProtocol(reader, null, loop);
  const [transport] = await loop.createUnixConnection(() => protocol, path, rest);
  return [reader, new StreamWriter(transport, protocol, reader, loop)];
}

/**
 * As `startServer`, on the Unix socket at `path`.
 *
 * Cancellation: the listening socket is closed.
 */
export async function startUnixServer(
  clientConnected: ClientConnectedCallback,
  path?: string | null,
  options?: StartUnixServerOptions,
): Promise<Server<string>> {
  checkCallback(clientConnected, "startUnixServer");
  const loop = getRunningLoop();
  const [limit, rest] = splitLimit(options, "startUnixServer");
  new StreamReader({ limit, loop });
  const factory = (): StreamReaderProtocol => new StreamReaderProtocol(new StreamReader({ limit, loop }), clientConnected, loop);
  return loop.createUnixServer(factory, path, rest);
}

// ------------------------------------------------------------------ protocols

/**
 * The write flow control of a stream protocol: records `pauseWriting`/`resumeWriting` and lets
 * `StreamWriter.drain()` wait on it. A subclass overriding `pauseWriting`, `resumeWriting` or `connectionLost`
 * must call the base method.
 */
export class FlowControlMixin extends Protocol {
  // `_paused` is true between pauseWriting() and resumeWriting(); `_drainWaiters` are the drain() calls waiting
  // for resumeWriting() (or connectionLost()).
  /** @internal */ readonly _loop: EventLoop;
  /** @internal */ _paused = false;
  /** @internal */ readonly _drainWaiters: Future<void>[] = [];
  /** @internal */ _connectionLost = false;

  constructor(loop?: EventLoop) {
    super();
    this._loop = loop ?? getEventLoop();
  }

  override pauseWriting(): void {
    this._paused = true;
    if (this._loop._debug) this._loop._log(`${this} pauses writing`);
  }

  override resumeWriting(): void {
    this._paused = false;
    if (this._loop._debug) this._loop._log(`${this} resumes writing`);
    for (const waiter of this._drainWaiters) if (!waiter.done()) waiter.setResult();
  }

  override connectionLost(exc: Error | null): void {
    this._connectionLost = true;
    if (!this._paused) return;
    for (const waiter of this._drainWaiters) {
      if (waiter.done()) continue;
      if (exc === null) waiter.setResult();
      else waiter.setException(exc);
    }
  }

  /** @internal What `StreamWriter.drain()` waits on. */
  _drainHelper(): Promise<void> {
    if (this._connectionLost) return Promise.reject(systemError("ECONNRESET", "Connection lost"));
    if (!this._paused) return RESOLVED;
    return this._drainWait();
  }

  private async _drainWait(): Promise<void> {
    const waiter = this._loop.createFuture<void>();
    this._drainWaiters.push(waiter);
    try {
      await waiter;
    } finally {
      const i = this._drainWaiters.indexOf(waiter);
      if (i >= 0) this._drainWaiters.splice(i, 1);
    }
  }

  /** @internal The Future `StreamWriter.waitClosed()` waits on. */
  _getCloseWaiter(_stream: StreamWriter): Future<void> {
    throw new RuntimeError(`${this.constructor.name}._getCloseWaiter() is not implemented`);
  }
}

/**
 * The protocol between a transport and a `StreamReader` (and, for servers, the `clientConnected` callback).
 * `openConnection`/`startServer` make it for you.
 */
export class StreamReaderProtocol extends FlowControlMixin {
  /** @internal */ _streamReader: StreamReader | null;
  /** @internal */ _transport: Transport | null = null;
  /** @internal */ readonly _clientConnectedCb: ClientConnectedCallback | null;
  /** @internal */ _task: Task<void> | null = null;
  /** @internal */ _overSsl = false;
  /** @internal Resolved (or failed) when the connection is lost: what `StreamWriter.waitClosed()` awaits. */
  readonly _closed: Future<void>;

  constructor(streamReader: StreamReader | null, clientConnectedCb: ClientConnectedCallback | null = null, loop?: EventLoop) {
    super(loop);
    if (streamReader !== null && !(streamReader instanceof StreamReader)) {
      throw new TypeError(`StreamReaderProtocol: expected \`streamReader\` to be a StreamReader or null, got ${describe(streamReader)}`);
    }
    if (clientConnectedCb !== null) checkCallback(clientConnectedCb, "StreamReaderProtocol");
    this._streamReader = streamReader;
    this._clientConnectedCb = clientConnectedCb;
    this._closed = this._loop.createFuture<void>();
  }

  /** @internal After startTls: the new transport carries the stream. */
  _replaceTransport(transport: Transport): void {
    this._transport = transport;
    this._overSsl = transport.getExtraInfo("sslcontext") !== undefined;
    const reader = this._streamReader;
    if (reader !== null) {
      reader._transport = transport;
      if (reader._paused) transport.pauseReading();
    }
  }

  override connectionMade(transport: Transport): void {
    this._transport = transport;
    const reader = this._streamReader;
    reader?.setTransport(transport);
    this._overSsl = transport.getExtraInfo("sslcontext") !== undefined;
    const cb = this._clientConnectedCb;
    if (cb === null) return;
    const writer = new StreamWriter(transport, this, reader, this._loop);
    const server = (transport as { _server?: Server | null })._server ?? null;
    const task = this._loop.createTask(() => cb(reader!, writer));
    server?._attach(task);
    task.addDoneCallback(() => {
      try {
        if (task.cancelled()) {
          transport.close();
          return;
        }
        const exception = task.exception();
        if (exception !== null) {
          this._loop.callExceptionHandler({ message: "Unhandled exception in client_connected_cb", exception, transport });
          transport.close();
        }
      } finally {
        server?._detach(task);
      }
    });
    this._task = task;
  }

  override connectionLost(exc: Error | null): void {
    const reader = this._streamReader;
    if (reader !== null) {
      if (exc === null) reader.feedEof();
      else reader.setException(exc);
    }
    if (!this._closed.done()) {
      if (exc === null) this._closed.setResult();
      else {
        this._closed.setException(exc);
        // The error is also the reader's; waiting for the close is optional, so it is not "never retrieved".
        this._closed.exception();
      }
    }
    super.connectionLost(exc);
    this._streamReader = null;
    this._task = null;
    this._transport = null;
  }

  override dataReceived(data: Buffer): void {
    this._streamReader?.feedData(data);
  }

  /**
   * @internal `dataReceived(data)` called by a transport from whatever async context Node delivered the data in, when
   * that runs no code but ours: buffering the bytes and waking the reader's waiter Future, whose callbacks run from the
   * loop. False, with nothing done, when a subclass overrides `dataReceived` or the reader's `feedData`: the transport
   * then calls `dataReceived` in the loop's context, as for any protocol.
   */
  _feedAnywhere(data: Buffer): boolean {
    const reader = this._streamReader;
    if (this.dataReceived !== ownDataReceived) return false;
    if (reader === null) return true;
    if (reader.feedData !== ownFeedData) return false;
    if (reader._eof) throw new RuntimeError("feedData after feedEof");
    reader._feedBuffer(data);
    return true;
  }

  override eofReceived(): boolean {
    this._streamReader?.feedEof();
    // Over TLS the transport closes on EOF anyway.
    return !this._overSsl;
  }

  override _getCloseWaiter(_stream: StreamWriter): Future<void> {
    return this._closed;
  }
}

// ------------------------------------------------------------------ StreamWriter

/** Options of `StreamWriter.startTls`. */
export interface StreamStartTlsOptions {
  serverHostname?: string | null;
  sslHandshakeTimeout?: number | null;
  sslShutdownTimeout?: number | null;
}

/** What `StreamWriter.getExtraInfo(name)` gives for each name: a transport's, with `socket` a `net.Socket`. */
export interface StreamExtraInfo extends Omit<TransportExtraInfo, "socket" | "pipe" | "subprocess"> {
  /** Node's socket (a `tls.TLSSocket` over TLS). */
  socket: net.Socket;
}

/**
 * The writing half of a stream: wraps a transport and adds `drain()` (wait for the write buffer) and
 * `waitClosed()`. Made by `openConnection` and for each `startServer` connection.
 */
export class StreamWriter {
  /** @internal */ _transport: Transport;
  /** @internal */ readonly _protocol: FlowControlMixin;
  /** @internal */ readonly _reader: StreamReader | null;
  /** @internal */ readonly _loop: EventLoop;

  constructor(transport: Transport, protocol: FlowControlMixin, reader: StreamReader | null, loop: EventLoop) {
    if (reader !== null && !(reader instanceof StreamReader)) {
      throw new TypeError(`StreamWriter: expected \`reader\` to be a StreamReader or null, got ${describe(reader)}`);
    }
    this._transport = transport;
    this._protocol = protocol;
    this._reader = reader;
    this._loop = loop;
  }

  /** The underlying transport. */
  get transport(): Transport {
    return this._transport;
  }

  /** Writes `data` (bytes, or a string encoded as UTF-8); never blocks. Follow with `await drain()`. */
  write(data: Uint8Array | string): void {
    this._transport.write(data);
  }

  /** Writes each item of `list`. */
  writelines(list: Iterable<Uint8Array | string>): void {
    this._transport.writelines(list);
  }

  /** Half-closes: sends EOF once the buffer is flushed; reading goes on. */
  writeEof(): void {
    this._transport.writeEof();
  }

  /** Whether `writeEof()` is supported (false over TLS). */
  canWriteEof(): boolean {
    return this._transport.canWriteEof();
  }

  /** Closes the stream (buffered data is sent first). Follow with `await waitClosed()`. */
  close(): void {
    this._transport.close();
  }

  /** Whether the stream is closing or closed. */
  isClosing(): boolean {
    return this._transport.isClosing();
  }

  /**
   * Waits until the connection is closed; throws the connection's error if it was lost to one.
   *
   * Cancellation: stops waiting; the connection is unaffected.
   */
  async waitClosed(): Promise<void> {
    await this._protocol._getCloseWaiter(this);
  }

  /**
   * `await using writer = ...`: `close()`, then `waitClosed()`. A connection the peer already reset
   * (`ECONNRESET`, `EPIPE`) is not an error; any other error of the connection is thrown.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.close();
      await this.waitClosed();
    } catch (error) {
      if (!isGoneError(error)) throw error;
    }
  }

  /**
   * The transport's extra information, typed per name (`peername`, `sockname`, `socket`, and for TLS `sslcontext`,
   * `peercert`, `cipher`, `compression`, `ssl_object`): see {@link TransportExtraInfo}. `socket` is a `net.Socket`.
   */
  getExtraInfo<K extends keyof StreamExtraInfo>(name: K): StreamExtraInfo[K] | undefined;
  getExtraInfo<K extends keyof StreamExtraInfo, D>(name: K, defaultValue: D): StreamExtraInfo[K] | D;
  getExtraInfo(name: string, defaultValue?: unknown): unknown;
  getExtraInfo(name: string, defaultValue?: unknown): unknown {
    return this._transport.getExtraInfo(name, defaultValue);
  }

  /**
   * Waits until the write buffer is at or under its high-water mark (`transport.setWriteBufferLimits`);
   * resolves at once when it is. Throws the connection's error (reader side) if there was one, and an error with
   * `code` `ECONNRESET` once the connection is lost. The usual pattern: `writer.write(data); await writer.drain();`.
   *
   * Cancellation: stops waiting; the data already written stays buffered and is still sent.
   */
  drain(): Promise<void> {
    const reader = this._reader;
    if (reader !== null) {
      const exc = reader.exception();
      if (exc !== null) return Promise.reject(exc);
    }
    // The common case (not closing, not paused) costs no allocation: one resolved promise is shared.
    if (this._transport.isClosing()) return this._drainClosing();
    return this._protocol._drainHelper();
  }

  private async _drainClosing(): Promise<void> {
    // Let connectionLost() run first, so a write-and-drain loop on a closed socket sees the error.
    await sleep(0);
    await this._protocol._drainHelper();
  }

  /**
   * Upgrades the connection to TLS (the client side sends the handshake; in a `startServer` handler the server
   * side answers it): `sslcontext` as the `ssl` option. Afterwards `transport` is the TLS transport.
   *
   * Cancellation: the connection is aborted (a half-done handshake cannot be resumed).
   */
  async startTls(sslcontext: SSLOption, options: StreamStartTlsOptions = {}): Promise<void> {
    const protocol = this._protocol;
    const serverSide = protocol instanceof StreamReaderProtocol && protocol._clientConnectedCb !== null;
    await this.drain();
    const transport = await this._loop.startTls(this._transport, protocol, sslcontext, {
      serverSide,
      serverHostname: options.serverHostname ?? null,
      sslHandshakeTimeout: options.sslHandshakeTimeout ?? null,
      sslShutdownTimeout: options.sslShutdownTimeout ?? null,
    });
    this._transport = transport;
    if (protocol instanceof StreamReaderProtocol) protocol._replaceTransport(transport);
  }

  toString(): string {
    const info = ["StreamWriter", `transport=${inspect(this._transport)}`];
    if (this._reader !== null) info.push(`reader=${this._reader}`);
    return `<${info.join(" ")}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

// ------------------------------------------------------------------ StreamReader

/** Options of `new StreamReader()`. */
export interface StreamReaderOptions {
  /** The buffer limit in bytes (default 64 KiB): the longest line `readline` accepts, and half the read-ahead. */
  limit?: number;
  /** The loop (default: the running loop, else `getEventLoop()`). */
  loop?: EventLoop;
}

function checkCount(n: unknown, method: string): number {
  if (typeof n !== "number") throw new TypeError(`${method}: expected \`n\` to be an integer, got ${describe(n)}`);
  if (!Number.isInteger(n)) throw new RangeError(`${method}: expected \`n\` to be an integer, got ${n}`);
  return n;
}

/**
 * The wait of a `read(n)` that found no data, made for a task outside cancel scopes and debug mode. It stands for the
 * Future that CPython's read waits on, without being one (a `_TaskWait`, as a task's sleep): `feedData`, `feedEof`
 * or `setException` complete it (`_wake`), `task.cancel()` cancels it, and either way it goes on the ready queue
 * where the Future's callbacks would have gone; its run resumes the task with the bytes (`_finish`).
 */
class ReadWait implements _TaskWait, Runnable {
  /** @internal */ _state: FutureState = "PENDING";
  /** @internal */ _resolve: ((value: unknown) => void) | null = null;
  /** @internal */ _reject: ((reason: unknown) => void) | null = null;
  /** @internal Absent until a cancel with a message. */ declare _cancelMessage: string | undefined;
  /** The reader's error, when `setException` completed the wait. */
  private error: Error | null = null;

  constructor(
    readonly task: Task<unknown>,
    readonly reader: StreamReader,
    readonly n: number,
  ) {}

  /** @internal */
  _run(): RunResult {
    return _resumeTaskWait(this);
  }

  /** @internal More data, the end of the stream, or `error`: the task resumes in the loop's next turn. */
  _wake(error: Error | null): void {
    const loop = this.reader._loop;
    if (loop._closed) loop._raiseClosed();
    this._state = "FINISHED";
    this.error = error;
    loop._enqueue(this);
  }

  cancel(msg?: string): boolean {
    if (this._state !== "PENDING") return false;
    this._state = "CANCELLED";
    if (msg !== undefined) this._cancelMessage = msg;
    this.reader._loop._enqueue(this);
    return true;
  }

  /** @internal */
  _finish(cancelled: CancelledError | null): void {
    const reader = this.reader;
    if (reader._readWait === this) reader._readWait = null;
    const resolve = this._resolve!;
    const reject = this._reject!;
    this._resolve = this._reject = null;
    if (cancelled !== null) reject(cancelled);
    else if (this.error !== null) reject(this.error);
    else resolve(reader._takeRead(this.n));
  }

  /** Shown as the Future CPython's read would wait on. */
  toString(): string {
    return `<Future ${this._state.toLowerCase()}>`;
  }
}

/**
 * The reading half of a stream: a buffer fed by the protocol (`feedData`, `feedEof`, `setException`) and read by
 * one task at a time with `read`, `readline`, `readuntil`, `readexactly`. Async-iterable by lines.
 *
 * The buffer keeps the chunks it was fed without copying them; returned chunks are fresh or unshared views.
 */
export class StreamReader implements AsyncIterable<Buffer> {
  // Invariants:
  // - `_buffer` holds the bytes fed and not yet read. `_eof` is final; `_exception`, once set, is thrown by reads.
  // - `_waiter` is the Future one read waits on for more data, or `_readWait` the wait of a `read(n)` that needs no
  //   Future (at most one read waits at a time: the other is null, or done).
  // - `_paused` is true when this reader paused `_transport` because the buffer passed 2 × `_limit`.
  /** @internal */ readonly _limit: number;
  /** @internal */ readonly _loop: EventLoop;
  private readonly _buffer = new ByteQueue();
  /** @internal */ _eof = false;
  /** @internal */ _waiter: Future<void> | null = null;
  /** @internal */ _readWait: ReadWait | null = null;
  /** @internal */ _exception: Error | null = null;
  /** @internal */ _transport: Transport | null = null;
  /** @internal */ _paused = false;
  /** What cancels the read waiting now (see `_linkCancel`): the promises of reads that may wait carry it. */
  readonly #cancelRead = new _CurrentWaiter();

  constructor(options: StreamReaderOptions = {}) {
    if (options === null || typeof options !== "object") {
      throw new TypeError(`StreamReader: expected \`options\` to be an object, got ${describe(options)}`);
    }
    const limit = options.limit ?? DEFAULT_LIMIT;
    if (typeof limit !== "number" || Number.isNaN(limit)) {
      throw new TypeError(`StreamReader: expected \`limit\` to be a number of bytes, got ${describe(limit)}`);
    }
    if (limit <= 0) throw new RangeError(`StreamReader: expected \`limit\` to be > 0, got ${limit}`);
    this._limit = limit;
    this._loop = options.loop ?? getEventLoop();
  }

  /** The buffer limit in bytes. */
  get limit(): number {
    return this._limit;
  }

  /** The error set with `setException` (e.g. the connection's), or null. */
  exception(): Error | null {
    return this._exception;
  }

  /** Makes every read throw `exc` (a read waiting now gets it at once). */
  setException(exc: Error): void {
    this._exception = exc;
    const waiter = this._waiter;
    if (waiter !== null) {
      this._waiter = null;
      if (!waiter.done()) waiter.setException(exc);
    }
    this._wakeReadWait(exc);
  }

  private _wakeupWaiter(): void {
    const waiter = this._waiter;
    if (waiter !== null) {
      this._waiter = null;
      if (!waiter.done()) waiter.setResult();
    }
    this._wakeReadWait(null);
  }

  private _wakeReadWait(error: Error | null): void {
    const wait = this._readWait;
    if (wait !== null) {
      this._readWait = null;
      if (wait._state === "PENDING") wait._wake(error);
    }
  }

  /** Tells the reader which transport feeds it, so it can pause and resume it. `RuntimeError` when set twice. */
  setTransport(transport: Transport): void {
    if (this._transport !== null) throw new RuntimeError("Transport already set");
    this._transport = transport;
  }

  private _maybeResumeTransport(): void {
    if (this._paused && this._buffer.size <= this._limit) {
      this._paused = false;
      this._transport!.resumeReading();
    }
  }

  /** Marks the end of the stream; reads return what is left, then empty buffers. */
  feedEof(): void {
    this._eof = true;
    this._wakeupWaiter();
  }

  /** Whether the buffer is empty and `feedEof()` was called. */
  atEof(): boolean {
    return this._eof && this._buffer.size === 0;
  }

  /**
   * Appends bytes to the buffer (kept by reference: do not modify `data` afterwards) and wakes a waiting read.
   * Pauses the transport when the buffer passes twice the limit. `RuntimeError` after `feedEof()`.
   */
  feedData(data: Uint8Array | string): void {
    if (this._eof) throw new RuntimeError("feedData after feedEof");
    this._feedBuffer(toBytes(data, "data", "feedData"));
  }

  /** @internal `feedData` of bytes known to be a `Buffer` (a socket's chunk), once `_eof` was checked. */
  _feedBuffer(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this._buffer.push(bytes);
    this._wakeupWaiter();
    if (this._transport !== null && !this._paused && this._buffer.size > 2 * this._limit) {
      try {
        this._transport.pauseReading();
      } catch (e) {
        // A transport that cannot pause: buffer everything, and stop trying.
        if (!(e instanceof RuntimeError)) throw e;
        this._transport = null;
        return;
      }
      this._paused = true;
    }
  }

  /** What every wait for data checks and does first: no other read waits, and a paused transport is resumed. */
  private _beforeWait(funcName: string): void {
    // A cancelled wait whose read has not resumed yet (cancelled through `waitFor`, say) no longer counts.
    if ((this._waiter !== null && !this._waiter.done()) || (this._readWait !== null && this._readWait._state === "PENDING")) {
      throw new RuntimeError(`${funcName}() called while another coroutine is already waiting for incoming data`);
    }
    if (this._eof) throw new RuntimeError("_waitForData after EOF");
    if (this._paused) {
      this._paused = false;
      this._transport!.resumeReading();
    }
  }

  /** @internal Takes what a `read(n)` returns once data is buffered: at most `n` bytes. */
  _takeRead(n: number): Buffer {
    const data = this._buffer.take(Math.min(n, this._buffer.size));
    this._maybeResumeTransport();
    return data;
  }

  /** Waits until feedData() or feedEof() is called; resumes a paused transport first (or it would never come). */
  private async _waitForData(funcName: string): Promise<void> {
    const waiter = this._newWaiter(funcName);
    try {
      await waiter;
    } finally {
      if (this._waiter === waiter) this._waiter = null;
    }
  }

  /** The Future a read waits on: one read may wait at a time, never after EOF. */
  private _newWaiter(funcName: string): Future<void> {
    this._beforeWait(funcName);
    const waiter = this._loop.createFuture<void>();
    this._waiter = waiter;
    this.#cancelRead.fut = waiter;
    return waiter;
  }

  // ---------------------------------------------------------------- reads

  /**
   * Reads up to `n` bytes: with `n > 0`, returns as soon as at least one byte is buffered (at most `n`); with
   * `n = -1` (the default), reads until EOF; with `n = 0`, returns an empty buffer at once. At EOF, returns an
   * empty buffer. Throws the connection's error, if any.
   *
   * Cancellation: nothing is lost; the buffered bytes stay for the next read.
   */
  read(n = -1): Promise<Buffer> {
    // Fast paths, without an async frame: data is buffered, or one wait for it. The wait registers the waiter
    // Future with the reading task here (`_wait`, as `await` would, and a native promise for V8), so cancelling the
    // task cancels the waiter and the returned promise rejects with CancelledError, as an `await` inside would.
    if (typeof n === "number" && n > 0 && Number.isInteger(n) && this._exception === null) {
      if (this._buffer.size > 0) return Promise.resolve(this._takeRead(n));
      if (!this._eof) {
        const task = currentTaskOrNull();
        if (task !== null && task._cancelScope === null && task._loop === this._loop && !this._loop._debug) {
          // The common case needs no Future: see `ReadWait`.
          try {
            this._beforeWait("read");
          } catch (e) {
            return Promise.reject(e);
          }
          const wait = new ReadWait(task, this, n);
          this._readWait = wait;
          return _suspendOn(task, wait);
        }
        let waiter: Future<void>;
        try {
          waiter = this._newWaiter("read");
        } catch (e) {
          return Promise.reject(e);
        }
        return waiter._wait(
          () => {
            if (this._waiter === waiter) this._waiter = null;
            return this._takeRead(n);
          },
          (e: unknown) => {
            if (this._waiter === waiter) this._waiter = null;
            throw e;
          },
        );
      }
    }
    return _linkCancel(this._read(n), this.#cancelRead);
  }

  private async _read(n: number): Promise<Buffer> {
    checkCount(n, "read");
    if (this._exception !== null) throw this._exception;
    if (n === 0) return Buffer.alloc(0);
    if (n < 0) {
      // Read limit-sized blocks until EOF, so a paused transport is resumed between them.
      const blocks: Buffer[] = [];
      for (;;) {
        const block = await this.read(Math.ceil(this._limit));
        if (block.length === 0) break;
        blocks.push(block);
      }
      return blocks.length === 1 ? blocks[0]! : Buffer.concat(blocks);
    }
    if (this._buffer.size === 0 && !this._eof) await this._waitForData("read");
    const data = this._buffer.take(Math.min(n, this._buffer.size));
    this._maybeResumeTransport();
    return data;
  }

  /**
   * Reads one line, ending with `\n`. At EOF, returns the partial last line (or an empty buffer). A line longer
   * than the limit throws `RangeError` (Python's `ValueError`) and is dropped from the buffer: the whole line when its
   * `\n` was buffered, otherwise the whole buffer.
   *
   * Cancellation: nothing is lost; a partial line stays buffered.
   */
  readline(): Promise<Buffer> {
    return _linkCancel(this.#readline(), this.#cancelRead);
  }

  async #readline(): Promise<Buffer> {
    try {
      return await this.#readuntil(NEWLINE);
    } catch (e) {
      if (e instanceof IncompleteReadError) return e.partial as Buffer;
      if (e instanceof LimitOverrunError) {
        const buf = this._buffer.contiguous();
        if (buf.length > e.consumed && buf[e.consumed] === 0x0a) this._buffer.take(e.consumed + 1);
        else this._buffer.takeAll();
        this._maybeResumeTransport();
        throw new RangeError(e.message, { cause: e });
      }
      throw e;
    }
  }

  /**
   * Reads until `separator` (bytes or a string; or a list of them: the shortest data ending with any of them
   * wins) and returns the data including the separator.
   * - At EOF without a separator: `IncompleteReadError` with the whole buffer as `partial` (`expected` null), and
   *   the buffer is emptied.
   * - When no separator is found within the limit, or one is found after it: `LimitOverrunError` with
   *   `consumed`, and the data stays in the buffer.
   *
   * Cancellation: nothing is lost; the buffered bytes stay.
   */
  readuntil(separator: Uint8Array | string | readonly (Uint8Array | string)[] = NEWLINE): Promise<Buffer> {
    return _linkCancel(this.#readuntil(separator), this.#cancelRead);
  }

  async #readuntil(separator: Uint8Array | string | readonly (Uint8Array | string)[]): Promise<Buffer> {
    let seps: Buffer[];
    if (Array.isArray(separator)) {
      seps = (separator as readonly (Uint8Array | string)[]).map((s) => toBytes(s, "separator", "readuntil"));
      seps.sort((a, b) => a.length - b.length);
    } else {
      seps = [toBytes(separator, "separator", "readuntil")];
    }
    if (seps.length === 0) throw new RangeError("readuntil: expected `separator` to contain at least one element, got an empty list");
    const minSeplen = seps[0]!.length;
    const maxSeplen = seps[seps.length - 1]!.length;
    if (minSeplen === 0) throw new RangeError("readuntil: expected `separator` to be at least one byte long");
    if (this._exception !== null) throw this._exception;

    // `offset`: how far from the start of the buffer no separator can begin.
    let offset = 0;
    let matchStart = -1;
    let matchEnd = -1;
    for (;;) {
      const buflen = this._buffer.size;
      if (buflen - offset >= minSeplen) {
        const buf = this._buffer.contiguous();
        for (const sep of seps) {
          const i = buf.indexOf(sep, offset);
          if (i !== -1) {
            const end = i + sep.length;
            if (matchEnd === -1 || end < matchEnd) {
              matchEnd = end;
              matchStart = i;
            }
          }
        }
        if (matchEnd !== -1) break;
        offset = Math.max(0, buflen + 1 - maxSeplen);
        if (offset > this._limit) throw new LimitOverrunError("Separator is not found, and chunk exceed the limit", offset);
      }
      // A complete separator may have arrived with the EOF, so EOF is checked after the search.
      if (this._eof) throw new IncompleteReadError(this._buffer.takeAll(), null);
      await this._waitForData("readuntil");
    }
    if (matchStart > this._limit) throw new LimitOverrunError("Separator is found, but chunk is longer than limit", matchStart);
    const chunk = this._buffer.take(matchEnd);
    this._maybeResumeTransport();
    return chunk;
  }

  /**
   * Reads exactly `n` bytes. At EOF before that: `IncompleteReadError` with the bytes read as `partial` and `n` as
   * `expected` (the buffer is emptied). `RangeError` for a negative `n`.
   *
   * Cancellation: nothing is lost; the bytes received so far stay buffered.
   */
  readexactly(n: number): Promise<Buffer> {
    return _linkCancel(this.#readexactly(n), this.#cancelRead);
  }

  async #readexactly(n: number): Promise<Buffer> {
    checkCount(n, "readexactly");
    if (n < 0) throw new RangeError(`readexactly: expected \`n\` to be >= 0, got ${n}`);
    if (this._exception !== null) throw this._exception;
    if (n === 0) return Buffer.alloc(0);
    while (this._buffer.size < n) {
      if (this._eof) throw new IncompleteReadError(this._buffer.takeAll(), n);
      await this._waitForData("readexactly");
    }
    const data = this._buffer.take(n);
    this._maybeResumeTransport();
    return data;
  }

  /**
   * Lines until EOF (`for await (const line of reader)`), as `readline()`.
   *
   * Cancellation: as `readline()`.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    for (;;) {
      const line = await this.readline();
      if (line.length === 0) return;
      yield line;
    }
  }

  toString(): string {
    const info = ["StreamReader"];
    if (this._buffer.size > 0) info.push(`${this._buffer.size} bytes`);
    if (this._eof) info.push("eof");
    if (this._limit !== DEFAULT_LIMIT) info.push(`limit=${this._limit}`);
    if (this._waiter !== null) info.push(`waiter=${this._waiter}`);
    else if (this._readWait !== null) info.push(`waiter=${this._readWait}`);
    if (this._exception !== null) info.push(`exception=${this._exception.name}: ${this._exception.message}`);
    if (this._transport !== null) info.push(`transport=${inspect(this._transport)}`);
    if (this._paused) info.push("paused");
    return `<${info.join(" ")}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

// What `_feedAnywhere` compares with, read once: a subclass that overrides either runs in the loop's context.
const ownDataReceived = StreamReaderProtocol.prototype.dataReceived;
const ownFeedData = StreamReader.prototype.feedData;
