/**
 * The `Server` that `loop.createServer`, `startServer` and their Unix variants return, as CPython's
 * `base_events.Server`, and the `ServerSocket`s it listens on.
 * @module
 */
import { inspect, nodeNet } from "./_internal/node.js";
import "./_internal/dispose.js";
import type * as net from "node:net";
import type * as tls from "node:tls";
import type { EventLoop } from "./events.js";
import { CancelledError, RuntimeError } from "./exceptions.js";
import type { Future } from "./futures.js";
import type { StreamProtocolLike } from "./protocols.js";
import { sleep } from "./tasks.js";
import type { HostPort } from "./base_net.js";
import { type SSLOption, type TlsTimeouts, tlsExtra, tlsHandshake } from "./sslproto.js";
import { BaseTransport } from "./transports.js";
import { _SocketTransport } from "./socket_transports.js";
import { holdErrors, inLoop, makeProtocol, releaseErrors, trackResource, untrackResource } from "./_internal/io/netutil.js";
import { checkBody } from "./_internal/validate.js";

/**
 * `peername` and `sockname` of a socket just accepted, for its transport's extra information. Read at once, as
 * Python has them from accept(): once the peer resets, Node can no longer tell them. Only what could be read is set.
 */
function acceptedAddresses(sock: net.Socket): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  const peer = sock.remoteAddress;
  if (typeof peer === "string") extra.peername = typeof sock.remotePort === "number" ? [peer, sock.remotePort] : peer;
  const local = sock.address() as Partial<net.AddressInfo> | string;
  if (typeof local === "string") extra.sockname = local;
  else if (typeof local.address === "string") extra.sockname = typeof local.port === "number" ? [local.address, local.port] : local.address;
  return extra;
}

/**
 * A listening socket of a `Server`: Node's `address()`, and asyncio's `getsockname()`.
 * @typeParam A - What `getsockname()` gives: `[host, port]` for a TCP server, a path for a Unix one.
 */
export class ServerSocket<A extends HostPort | string = HostPort | string> {
  /** @internal */ readonly _server: net.Server;
  /** @internal The address when the socket was listed, kept for after the server closed. */
  readonly _name: A | null;

  /** @internal */
  constructor(server: net.Server) {
    this._server = server;
    const a = server.address();
    this._name = (a === null || typeof a === "string" ? a : [a.address, a.port]) as A | null;
  }

  /** Node's address object (`{ address, family, port }`), or the path of a Unix socket; null once closed. */
  address(): net.AddressInfo | string | null {
    return this._server.address();
  }

  /**
   * `[host, port]` for a TCP server (the port it was given, or the one the system picked for port 0), or the path
   * of a Unix socket. Still answers after the server closed. `RuntimeError` for a socket that never listened.
   */
  getsockname(): A {
    const name = this._name;
    if (name === null) throw new RuntimeError("getsockname: the socket is not listening");
    return (typeof name === "string" ? name : [name[0], name[1]]) as A;
  }

  toString(): string {
    const name = this._name;
    return `<ServerSocket ${Array.isArray(name) ? name.join(":") : String(name)}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/**
 * A listening server, as asyncio's: made by `loop.createServer`, `startServer`, and their Unix variants.
 * `close()` stops listening; connections go on until closed; `waitClosed()` waits for them.
 * @typeParam A - What its sockets' `getsockname()` gives: `[host, port]` (TCP) or a path (Unix).
 */
export class Server<A extends HostPort | string = HostPort | string> {
  // Invariants:
  // - `_nodeServers` is null once close() was called.
  // - `_clients` holds what keeps the server "in use": each connection's transport (and a TLS socket during its
  //   handshake), and each stream connection's handler task. `waitClosed()` resolves once the server is closed and
  //   `_clients` is empty; `_waiters` becomes null at that moment, for good.
  // - Until serving starts, accepted sockets wait (not reading) in `_pending`.
  /** @internal */ readonly _loop: EventLoop;
  /** @internal */ _nodeServers: net.Server[] | null;
  /** @internal */ readonly _clients = new Set<object>();
  /** @internal */ _waiters: Future<void>[] | null = [];
  /** @internal */ readonly _protocolFactory: () => object;
  /** @internal */ readonly _ssl: SSLOption | null;
  /** @internal */ readonly _tlsOptions: tls.TLSSocketOptions | null;
  /** @internal */ readonly _timeouts: TlsTimeouts;
  /** @internal */ _serving = false;
  /** @internal */ _servingForeverFut: Future<void> | null = null;
  /** @internal */ _pending: net.Socket[] = [];
  /** The addresses of each accepted socket, read as Node handed it over: a reset later makes them unreadable. */
  private readonly _acceptedAddresses = new WeakMap<net.Socket, Record<string, unknown>>();
  private readonly _onConnection: (sock: net.Socket) => void;

  /** @internal Use `loop.createServer()` or `startServer()`. */
  constructor(
    loop: EventLoop,
    nodeServers: net.Server[],
    protocolFactory: () => object,
    ssl: SSLOption | null,
    tlsOptions: tls.TLSSocketOptions | null,
    timeouts: TlsTimeouts,
  ) {
    this._loop = loop;
    this._nodeServers = nodeServers;
    this._protocolFactory = protocolFactory;
    this._ssl = ssl;
    this._tlsOptions = tlsOptions;
    this._timeouts = timeouts;
    this._onConnection = inLoop(loop, (sock: net.Socket) => this._connection(sock));
    for (const s of nodeServers) {
      s.on("connection", this._onConnection);
      s.on("error", inLoop(loop, (exception: Error) => this._loop.callExceptionHandler({ message: "Error on listening socket", exception, server: this })));
    }
    trackResource(loop, this);
  }

  /** @internal */
  _attach(client: object): void {
    this._clients.add(client);
  }

  /** @internal */
  _detach(client: object): void {
    if (this._clients.delete(client) && this._clients.size === 0 && this._nodeServers === null) this._wakeup();
  }

  private _wakeup(): void {
    const waiters = this._waiters;
    this._waiters = null;
    // A closed loop runs nothing more: its waiters are left as they are (their tasks were cancelled before).
    if (waiters !== null && !this._loop._closed) for (const w of waiters) if (!w.done()) w.setResult();
  }

  private _connection(sock: net.Socket): void {
    holdErrors(sock);
    if (this._nodeServers === null || this._loop._closed) {
      sock.destroy();
      return;
    }
    this._acceptedAddresses.set(sock, acceptedAddresses(sock));
    if (!this._serving) this._pending.push(sock);
    else this._accept(sock);
  }

  private _accept(sock: net.Socket): void {
    const tlsOptions = this._tlsOptions;
    if (tlsOptions === null) {
      this._makeTransport(sock, this._acceptedAddresses.get(sock));
      return;
    }
    this._attach(sock);
    const handshake = tlsHandshake(this._loop, sock, true, tlsOptions, this._timeouts.handshake);
    handshake.addDoneCallback(() => {
      if (!handshake.cancelled()) {
        const err = handshake.exception() as Error | null;
        if (err === null) {
          const tlsSock = handshake.result();
          this._makeTransport(tlsSock, { ...this._acceptedAddresses.get(sock), ...tlsExtra(tlsSock, this._ssl!) });
        } else if (this._loop._debug) {
          this._loop._log(`${this}: TLS handshake failed: ${err.message}`);
        }
      }
      this._detach(sock);
    });
  }

  private _makeTransport(sock: net.Socket, extra: Record<string, unknown> | undefined): void {
    let protocol: object;
    try {
      protocol = makeProtocol(this._protocolFactory, "createServer");
    } catch (exception) {
      this._loop.callExceptionHandler({ message: "Error on transport creation for incoming connection", exception, server: this });
      sock.destroy();
      return;
    }
    new _SocketTransport(this._loop, sock, protocol as StreamProtocolLike, {
      extra,
      server: this,
      earlyError: releaseErrors(sock),
      sslShutdownTimeout: this._timeouts.shutdown,
    });
  }

  /** @internal Starts dispatching connections (those that waited first). */
  _startServing(): void {
    if (this._serving || this._nodeServers === null) return;
    this._serving = true;
    const pending = this._pending;
    this._pending = [];
    for (const sock of pending) this._accept(sock);
  }

  /** The loop the server runs on. */
  getLoop(): EventLoop {
    return this._loop;
  }

  /** Whether the server accepts connections (until `close()`). */
  isServing(): boolean {
    return this._serving;
  }

  /** The listening sockets (empty once closed). */
  get sockets(): readonly ServerSocket<A>[] {
    return this._nodeServers === null ? [] : this._nodeServers.map((s) => new ServerSocket<A>(s));
  }

  /**
   * Stops listening (idempotent). Connections already accepted stay open: close them with `closeClients()` or
   * `abortClients()`, or let them end; `waitClosed()` waits for them.
   */
  close(): void {
    const servers = this._nodeServers;
    if (servers === null) return;
    this._nodeServers = null;
    this._serving = false;
    for (const s of servers) {
      s.removeListener("connection", this._onConnection);
      s.close();
    }
    for (const sock of this._pending) sock.destroy();
    this._pending = [];
    const fut = this._servingForeverFut;
    if (fut !== null && !fut.done() && !this._loop._closed) fut.cancel();
    this._servingForeverFut = null;
    untrackResource(this._loop, this);
    if (this._clients.size === 0) this._wakeup();
  }

  /** Closes every connection of this server gracefully (each transport's `close()`). */
  closeClients(): void {
    for (const client of Array.from(this._clients)) {
      if (client instanceof BaseTransport) client.close();
      else if (client instanceof nodeNet.Socket) client.destroy();
    }
  }

  /** Closes every connection of this server at once (each transport's `abort()`). */
  abortClients(): void {
    for (const client of Array.from(this._clients)) {
      if (client instanceof _SocketTransport) client.abort();
      else if (client instanceof nodeNet.Socket) client.destroy();
    }
  }

  /**
   * Starts accepting connections (when created with `startServing: false`); no-op when serving.
   *
   * Cancellation: serving has started anyway; only the one loop iteration this waits for is skipped.
   */
  async startServing(): Promise<void> {
    this._startServing();
    await sleep(0);
  }

  /**
   * Accepts connections until cancelled; cancelling it closes the server and waits for `waitClosed()`, then
   * re-throws the `CancelledError`. `RuntimeError` when the server is closed or already serving forever.
   *
   * Cancellation: that is how it ends — the server is closed and its connections awaited.
   */
  async serveForever(): Promise<void> {
    if (this._servingForeverFut !== null) throw new RuntimeError(`server ${this} is already being awaited on serveForever()`);
    if (this._nodeServers === null) throw new RuntimeError(`server ${this} is closed`);
    this._startServing();
    const fut = this._loop.createFuture<void>();
    this._servingForeverFut = fut;
    try {
      await fut;
    } catch (e) {
      if (e instanceof CancelledError) {
        try {
          this.close();
          await this.waitClosed();
        } catch {
          // As asyncio: the original cancellation is what propagates.
        }
      }
      throw e;
    } finally {
      if (this._servingForeverFut === fut) this._servingForeverFut = null;
    }
  }

  /**
   * Waits until the server is closed and every connection is gone (each transport lost, each handler task of a
   * stream server done), in either order. Returns at once when that already happened.
   *
   * Cancellation: stops waiting; the server is unaffected.
   */
  async waitClosed(): Promise<void> {
    const waiters = this._waiters;
    if (waiters === null) return;
    const waiter = this._loop.createFuture<void>();
    waiters.push(waiter);
    try {
      await waiter;
    } finally {
      const i = this._waiters?.indexOf(waiter) ?? -1;
      if (i >= 0) this._waiters!.splice(i, 1);
    }
  }

  /**
   * `async with server:` — runs `body(server)`, then closes the server and waits for `waitClosed()`, whatever
   * the body did. Returns the body's result.
   *
   * Cancellation: a cancelled body still closes the server and waits for its connections.
   */
  async with<R>(body: (server: this) => PromiseLike<R> | R): Promise<R> {
    checkBody(body, "Server");
    try {
      return await body(this);
    } finally {
      this.close();
      await this.waitClosed();
    }
  }

  /** `await using server = await startServer(...)`: `close()`, then `waitClosed()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.waitClosed();
  }

  /** @internal */
  _releaseOnLoopClose(): string {
    const description = this.toString();
    this.close();
    for (const client of this._clients) if (client instanceof nodeNet.Socket) client.destroy();
    return description;
  }

  toString(): string {
    const names = this.sockets.map((s) => {
      const n = s.getsockname();
      return Array.isArray(n) ? n.join(":") : String(n);
    });
    return `<Server sockets=[${names.join(", ")}]${this._serving ? " serving" : ""}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
