/**
 * The network methods of the event loop, as CPython's `base_events.py` (with `selector_events.py` and
 * `unix_events.py`): `createConnection`, `createServer`, `createUnixConnection`, `createUnixServer`,
 * `createDatagramEndpoint`, `startTls`, `getaddrinfo`, `getnameinfo`.
 * `Server` lives in servers.ts, TLS in sslproto.ts, the Happy Eyeballs race in staggered.ts.
 *
 * How the methods reach `EventLoop` without touching events.ts: this module augments the `EventLoop` interface with
 * TypeScript declaration merging (`declare module "./events.js" { interface EventLoop { ... } }`) and assigns the
 * implementations to `EventLoop.prototype` when it is first imported. `index.ts` imports it for that side effect,
 * so every loop (and every subclass, e.g. the virtual-time loop) has the methods once the package is loaded.
 *
 * Node does the I/O (`node:net`, `node:tls`, `node:dgram`, `node:dns`); there is no poller. Each Node operation the
 * caller waits on is wrapped in a loop Future, so cancelling the waiting task stops the operation at once and
 * releases its socket.
 * @module
 */
import { loadDgram, loadDns, nodeNet, statSync, unlinkSync } from "./_internal/node.js";
import type * as net from "node:net";
import type * as tls from "node:tls";
import type * as dgram from "node:dgram";
import type * as dns from "node:dns";
import { EventLoop } from "./events.js";
import { CancelledError, ExceptionGroup, RuntimeError } from "./exceptions.js";
import type { Future } from "./futures.js";
import { sleep } from "./tasks.js";
import type { DatagramAddress, DatagramProtocolLike, StreamProtocolLike } from "./protocols.js";
import type { DatagramTransport, Transport } from "./transports.js";
import { _DatagramSocketTransport, _SocketTransport } from "./socket_transports.js";
import { Server } from "./servers.js";
import { type SSLOption, type TlsTimeouts, checkSSL, clientTlsOptions, serverTlsOptions, tlsExtra, tlsHandshake, tlsTimeouts } from "./sslproto.js";
import { connectRace, interleave } from "./staggered.js";
import {
  checkPort,
  holdErrors,
  inLoop,
  makeProtocol,
  releaseErrors,
  runInLoop,
  systemError,
} from "./_internal/io/netutil.js";
import { checkOptions, describe } from "./_internal/validate.js";

// ------------------------------------------------------------------ option types

/** An address family as Node numbers them: 0 (any), 4 (IPv4), 6 (IPv6). */
export type AddressFamily = 0 | 4 | 6;

/** A host and port, as asyncio's address tuples. */
export type HostPort = [host: string, port: number];

/** Options of `loop.createConnection`. */
export interface CreateConnectionOptions {
  /** Use TLS over the connection (see {@link SSLOption}). */
  ssl?: SSLOption | null;
  /** Restrict the resolved addresses to IPv4 (4) or IPv6 (6). */
  family?: AddressFamily;
  /** An already connected `net.Socket` to use instead of `host`/`port`. */
  sock?: net.Socket | null;
  /** Bind the socket locally to this `[host, port]` first. */
  localAddr?: HostPort | null;
  /** The name to check the server's certificate against (and send with SNI); default `host`; `""` turns the check off. */
  serverHostname?: string | null;
  /** Seconds to wait for the TLS handshake (default 60). */
  sslHandshakeTimeout?: number | null;
  /** Seconds to wait for the TLS shutdown when closing (default 30). */
  sslShutdownTimeout?: number | null;
  /** Happy Eyeballs (RFC 8305): start the next address after this many seconds (0.25 is recommended). */
  happyEyeballsDelay?: number | null;
  /** Reorder addresses by family; the first family gets this many addresses in a row (default 1 with Happy Eyeballs). */
  interleave?: number | null;
  /** When every address fails, throw an `ExceptionGroup` of all the errors. */
  allErrors?: boolean;
}

/** Options of `loop.createServer`. */
export interface CreateServerOptions {
  /** Listen on IPv4 (4) or IPv6 (6) addresses only. */
  family?: AddressFamily;
  /** A listening `net.Server` to serve instead of `host`/`port`. */
  sock?: net.Server | null;
  /** The listen backlog (default 100). */
  backlog?: number;
  /** Serve TLS: a `tls.SecureContext` or options with `key` and `cert` (see {@link SSLOption}). */
  ssl?: SSLOption | null;
  /** Accepted for compatibility; Node always sets `SO_REUSEADDR` on listening TCP sockets. */
  reuseAddress?: boolean | null;
  /** Set `SO_REUSEPORT` (Node 22.12 and later; ignored by older versions). */
  reusePort?: boolean | null;
  /** Enable TCP keep-alive on accepted connections. */
  keepAlive?: boolean | null;
  /** Seconds to wait for each client's TLS handshake (default 60). */
  sslHandshakeTimeout?: number | null;
  /** Seconds to wait for the TLS shutdown when closing (default 30). */
  sslShutdownTimeout?: number | null;
  /** Start accepting at once (default true); otherwise call `startServing()` or `serveForever()`. */
  startServing?: boolean;
}

/** Options of `loop.createUnixConnection`. */
export interface CreateUnixConnectionOptions {
  ssl?: SSLOption | null;
  sock?: net.Socket | null;
  serverHostname?: string | null;
  sslHandshakeTimeout?: number | null;
  sslShutdownTimeout?: number | null;
}

/** Options of `loop.createUnixServer`. */
export interface CreateUnixServerOptions {
  sock?: net.Server | null;
  backlog?: number;
  ssl?: SSLOption | null;
  sslHandshakeTimeout?: number | null;
  sslShutdownTimeout?: number | null;
  startServing?: boolean;
  /** Remove the socket file when the server closes (default true; Node always removes it). */
  cleanupSocket?: boolean;
}

/** Options of `loop.createDatagramEndpoint`. */
export interface CreateDatagramEndpointOptions {
  /** Bind to this `[host, port]`. */
  localAddr?: HostPort | null;
  /** Connect to this `[host, port]`: `sendto` then goes there only, and only datagrams from there arrive. */
  remoteAddr?: HostPort | null;
  /** 4 or 6; required when neither address is given. */
  family?: AddressFamily;
  /** Set `SO_REUSEPORT`. */
  reusePort?: boolean | null;
  /** Allow sending to broadcast addresses. */
  allowBroadcast?: boolean | null;
  /** A bound `dgram.Socket` to use instead of the addresses. */
  sock?: dgram.Socket | null;
}

/** Options of `loop.startTls`. */
export interface StartTlsOptions {
  /** True on the accepting side (the certificate's owner). */
  serverSide?: boolean;
  /** As `createConnection`'s `serverHostname` (client side). */
  serverHostname?: string | null;
  sslHandshakeTimeout?: number | null;
  sslShutdownTimeout?: number | null;
}

/** Options of `loop.getaddrinfo`. */
export interface GetaddrinfoOptions {
  family?: AddressFamily;
  /** Only this socket type (default: both). */
  type?: "stream" | "dgram" | null;
}

/** One result of `getaddrinfo`, shaped like Python's 5-tuple: `[family, type, proto, canonname, [address, port]]`. */
export type AddrInfo = [family: 4 | 6, type: "stream" | "dgram", proto: "tcp" | "udp", canonname: string, sockaddr: HostPort];

/** `getnameinfo` flag: return the numeric host instead of resolving it. */
export const NI_NUMERICHOST = 1;
/** `getnameinfo` flag: return the numeric port instead of a service name. */
export const NI_NUMERICSERV = 2;

declare module "./events.js" {
  interface EventLoop {
    /**
     * Opens a TCP connection to `host`:`port` (every resolved address is tried in turn, or raced with
     * `happyEyeballsDelay`), optionally with TLS, and connects a protocol made by `protocolFactory` to it.
     * Resolves with `[transport, protocol]` once `connectionMade` was called. Connection errors are Node's
     * (`code` `ECONNREFUSED`, ...); when several addresses fail differently, an `AggregateError`
     * (`code` set when they share one), or an `ExceptionGroup` with `allErrors`.
     *
     * Cancellation: every socket being connected is destroyed; nothing stays open.
     */
    createConnection<P extends object>(
      protocolFactory: () => P,
      host?: string | null,
      port?: number | string | null,
      options?: CreateConnectionOptions,
    ): Promise<[Transport, P]>;
    /**
     * Listens on `host`:`port` (`host` may be a list; `null` means every interface; port 0 picks a free one) and
     * connects a new protocol from `protocolFactory` to each accepted connection. Resolves with the `Server`.
     * `EADDRINUSE` and other listen errors are Node's.
     *
     * Cancellation: the sockets listening so far are closed.
     */
    createServer(
      protocolFactory: () => object,
      host: null | undefined,
      port: null | undefined,
      options: CreateServerOptions & { sock: net.Server },
    ): Promise<Server>;
    createServer(
      protocolFactory: () => object,
      host?: string | readonly string[] | null,
      port?: number | string | null,
      options?: CreateServerOptions,
    ): Promise<Server<HostPort>>;
    /**
     * As `createConnection`, to the Unix socket at `path`.
     *
     * Cancellation: the socket being connected is destroyed.
     */
    createUnixConnection<P extends object>(
      protocolFactory: () => P,
      path?: string | null,
      options?: CreateUnixConnectionOptions,
    ): Promise<[Transport, P]>;
    /**
     * As `createServer`, on the Unix socket at `path` (a stale socket file left there is removed first).
     *
     * Cancellation: the listening socket is closed.
     */
    createUnixServer(protocolFactory: () => object, path?: string | null, options?: CreateUnixServerOptions): Promise<Server<string>>;
    /**
     * Creates a UDP endpoint bound to `localAddr` and/or connected to `remoteAddr`; resolves with
     * `[transport, protocol]` once `connectionMade` was called.
     *
     * Cancellation: the socket is closed.
     */
    createDatagramEndpoint<P extends object>(
      protocolFactory: () => P,
      options?: CreateDatagramEndpointOptions,
    ): Promise<[DatagramTransport, P]>;
    /**
     * Upgrades a live stream transport to TLS and returns the new transport; `protocol` is kept (no second
     * `connectionMade`). The old transport must not be used afterwards. A failed handshake closes the connection
     * (the protocol gets `connectionLost(error)`) and rejects with the error.
     *
     * Cancellation: the connection is aborted; the protocol gets `connectionLost(null)`.
     */
    startTls(transport: Transport, protocol: object, sslcontext: SSLOption, options?: StartTlsOptions): Promise<Transport>;
    /**
     * Resolves `host` (Node's `dns.lookup`, the system resolver) to `[family, type, proto, canonname, [address, port]]`
     * entries. Errors are Node's (`ENOTFOUND`, ...).
     *
     * Cancellation: the result is dropped (the lookup itself runs to its end in Node's thread pool).
     */
    getaddrinfo(host: string | null, port: number | string | null, options?: GetaddrinfoOptions): Promise<AddrInfo[]>;
    /**
     * Resolves `[address, port]` to `[host, service]` (Node's `dns.lookupService`); `flags` may hold
     * `NI_NUMERICHOST` and `NI_NUMERICSERV`.
     *
     * Cancellation: the result is dropped.
     */
    getnameinfo(sockaddr: HostPort, flags?: number): Promise<[string, string]>;
  }
}

// ------------------------------------------------------------------ checks and TLS options

function checkFactory(factory: unknown, method: string): void {
  if (typeof factory !== "function") {
    throw new TypeError(`${method}: expected \`protocolFactory\` to be a function returning a protocol, got ${describe(factory)}`);
  }
}

// ------------------------------------------------------------------ connecting

/** The error for "every address failed", as asyncio builds it. */
function connectionFailure(errors: Error[], allErrors: boolean): Error {
  if (allErrors) return new ExceptionGroup("createConnection failed", errors);
  if (errors.length === 1) return errors[0]!;
  const model = errors[0]!.message;
  if (errors.every((e) => e.message === model)) return errors[0]!;
  const agg = new AggregateError(errors, `Multiple exceptions: ${errors.map((e) => e.message).join(", ")}`);
  const code = (errors[0] as { code?: unknown }).code;
  if (typeof code === "string" && errors.every((e) => (e as { code?: unknown }).code === code)) {
    (agg as AggregateError & { code: string }).code = code;
  }
  return agg;
}

/** A Future for a Node callback-style call. */
function nodeCall<T>(loop: EventLoop, start: (cb: (err: Error | null, value?: T) => void) => void): Future<T> {
  const fut = loop.createFuture<T>();
  start(
    inLoop(loop, (err: Error | null, value?: T) => {
      if (fut.done() || loop._closed) return;
      if (err) fut.setException(err);
      else fut.setResult(value as T);
    }),
  );
  return fut;
}

/** Resolves `host` to addresses (IP literals without a lookup). */
async function resolveHost(loop: EventLoop, host: string, family: AddressFamily): Promise<{ address: string; family: 4 | 6 }[]> {
  const literal = nodeNet.isIP(host);
  if (literal !== 0) {
    if (family !== 0 && family !== literal) return [];
    return [{ address: host, family: literal as 4 | 6 }];
  }
  const found = await nodeCall<dns.LookupAddress[]>(loop, (cb) =>
    loadDns().lookup(host, { all: true, family, verbatim: true }, cb as (err: Error | null, addresses: dns.LookupAddress[]) => void),
  );
  return found.map((a) => ({ address: a.address, family: a.family as 4 | 6 }));
}

function checkFamily(family: unknown, method: string): AddressFamily {
  if (family === undefined || family === null || family === 0) return 0;
  if (family === 4 || family === 6) return family;
  throw new RangeError(`${method}: expected \`family\` to be 0, 4 or 6, got ${String(family)}`);
}

function checkHost(host: unknown, method: string): string | null {
  if (host === undefined || host === null) return null;
  if (typeof host !== "string") throw new TypeError(`${method}: expected \`host\` to be a string, got ${describe(host)}`);
  return host;
}

function checkHostPort(addr: unknown, name: string, method: string): HostPort | null {
  if (addr === undefined || addr === null) return null;
  if (!Array.isArray(addr) || addr.length !== 2 || typeof addr[0] !== "string") {
    throw new TypeError(`${method}: expected \`${name}\` to be a [host, port] pair, got ${describe(addr)}`);
  }
  return [addr[0], checkPort(addr[1], method, `${name}[1]`)];
}

async function connectedSocket(loop: EventLoop, sock: net.Socket, method: string): Promise<net.Socket> {
  if (!(sock instanceof nodeNet.Socket)) throw new TypeError(`${method}: expected \`sock\` to be a net.Socket, got ${describe(sock)}`);
  if (sock.destroyed) throw new RangeError(`${method}: \`sock\` is already destroyed`);
  holdErrors(sock);
  if (sock.connecting) {
    const fut = loop.createFuture<void>();
    const onConnect = inLoop(loop, () => fut.done() || fut.setResult());
    const onError = inLoop(loop, (err: Error) => fut.done() || fut.setException(err));
    sock.once("connect", onConnect);
    sock.once("error", onError);
    try {
      await fut;
    } catch (e) {
      sock.destroy();
      throw e;
    } finally {
      sock.removeListener("connect", onConnect);
      sock.removeListener("error", onError);
    }
  }
  return sock;
}

/** What `connectionTransport` needs besides the loop and the connected socket. */
interface ConnectionTransportOptions<P> {
  protocolFactory: () => P;
  /** TLS to run over the socket first, or null. */
  ssl: SSLOption | null;
  serverHostname: string | null;
  timeouts: TlsTimeouts;
  /** The public method, for error messages. */
  method: string;
}

/** Makes the transport over a connected socket (after the TLS handshake, with `ssl`) and waits for connectionMade. */
async function connectionTransport<P extends object>(
  loop: EventLoop,
  sock: net.Socket,
  { protocolFactory, ssl, serverHostname, timeouts, method }: ConnectionTransportOptions<P>,
): Promise<[Transport, P]> {
  let transport: _SocketTransport | null = null;
  try {
    let extra: Record<string, unknown> | undefined;
    if (ssl !== null) {
      const tlsSock = await tlsHandshake(loop, sock, false, clientTlsOptions(ssl, serverHostname), timeouts.handshake);
      extra = tlsExtra(tlsSock, ssl);
      sock = tlsSock;
    }
    const protocol = makeProtocol(protocolFactory, method);
    const waiter = loop.createFuture<unknown>();
    transport = new _SocketTransport(loop, sock, protocol as StreamProtocolLike, {
      extra,
      waiter,
      earlyError: releaseErrors(sock),
      sslShutdownTimeout: timeouts.shutdown,
    });
    await waiter;
    return [transport, protocol];
  } catch (e) {
    if (transport !== null) transport.close();
    else sock.destroy();
    throw e;
  }
}

EventLoop.prototype.createConnection = async function createConnection<P extends object>(
  this: EventLoop,
  protocolFactory: () => P,
  host?: string | null,
  port?: number | string | null,
  options?: CreateConnectionOptions,
): Promise<[Transport, P]> {
  const method = "createConnection";
  this._checkClosed();
  checkFactory(protocolFactory, method);
  const o = checkOptions(options, method) ?? {};
  const h = checkHost(host, method);
  const ssl = checkSSL(o.ssl, method);
  let serverHostname = o.serverHostname ?? null;
  if (serverHostname !== null && typeof serverHostname !== "string") {
    throw new TypeError(`${method}: expected \`serverHostname\` to be a string, got ${describe(serverHostname)}`);
  }
  if (serverHostname !== null && ssl === null) throw new RangeError(`${method}: \`serverHostname\` is only meaningful with \`ssl\``);
  if (serverHostname === null && ssl !== null) {
    if (!h) throw new RangeError(`${method}: set \`serverHostname\` when using \`ssl\` without a \`host\``);
    serverHostname = h;
  }
  const timeouts = tlsTimeouts(o, ssl, method);
  const family = checkFamily(o.family, method);
  const delay = o.happyEyeballsDelay ?? null;
  if (delay !== null && (typeof delay !== "number" || !(delay >= 0))) {
    throw new RangeError(`${method}: expected \`happyEyeballsDelay\` to be a number of seconds >= 0, got ${String(delay)}`);
  }
  let interleaveCount = o.interleave ?? null;
  if (interleaveCount !== null && (!Number.isInteger(interleaveCount) || interleaveCount < 0)) {
    throw new RangeError(`${method}: expected \`interleave\` to be an integer >= 0, got ${String(interleaveCount)}`);
  }
  if (delay !== null && interleaveCount === null) interleaveCount = 1;

  let sock: net.Socket;
  if (h !== null || (port !== undefined && port !== null)) {
    if (o.sock) throw new RangeError(`${method}: \`host\`/\`port\` and \`sock\` cannot be given together`);
    const p = checkPort(port, method);
    const localAddr = checkHostPort(o.localAddr, "localAddr", method);
    let infos = await resolveHost(this, h ?? "localhost", family);
    if (infos.length === 0) throw systemError("ENOTFOUND", `getaddrinfo() returned no address for ${h} with family ${family}`);
    const locals = localAddr === null ? null : await resolveHost(this, localAddr[0], family);
    if (locals !== null && locals.length === 0) throw systemError("ENOTFOUND", `getaddrinfo() returned no address for ${localAddr![0]}`);
    if (interleaveCount) infos = interleave(infos, interleaveCount);
    const targets: net.NetConnectOpts[] = [];
    const noLocal: Error[] = [];
    for (const info of infos) {
      const target: net.TcpNetConnectOpts = { host: info.address, port: p, family: info.family, autoSelectFamily: false };
      if (locals !== null) {
        const local = locals.find((l) => l.family === info.family);
        if (local === undefined) {
          noLocal.push(systemError("EADDRNOTAVAIL", `no matching local address with family=${info.family} found`));
          continue;
        }
        target.localAddress = local.address;
        if (localAddr![1] !== 0) target.localPort = localAddr![1];
      }
      targets.push(target);
    }
    const [winner, errors] = targets.length > 0 ? await connectRace(this, targets, delay) : [null, []];
    if (winner === null) throw connectionFailure([...noLocal, ...errors], o.allErrors === true);
    sock = winner;
  } else {
    if (!o.sock) throw new RangeError(`${method}: give \`host\` and \`port\`, or \`sock\``);
    sock = await connectedSocket(this, o.sock, method);
  }
  return connectionTransport(this, sock, { protocolFactory, ssl, serverHostname, timeouts, method });
};

EventLoop.prototype.createUnixConnection = async function createUnixConnection<P extends object>(
  this: EventLoop,
  protocolFactory: () => P,
  path?: string | null,
  options?: CreateUnixConnectionOptions,
): Promise<[Transport, P]> {
  const method = "createUnixConnection";
  this._checkClosed();
  checkFactory(protocolFactory, method);
  const o = checkOptions(options, method) ?? {};
  const ssl = checkSSL(o.ssl, method);
  const serverHostname = o.serverHostname ?? null;
  if (ssl !== null && serverHostname === null) throw new RangeError(`${method}: pass \`serverHostname\` when using \`ssl\``);
  if (ssl === null && serverHostname !== null) throw new RangeError(`${method}: \`serverHostname\` is only meaningful with \`ssl\``);
  const timeouts = tlsTimeouts(o, ssl, method);
  let sock: net.Socket;
  if (path !== undefined && path !== null) {
    if (o.sock) throw new RangeError(`${method}: \`path\` and \`sock\` cannot be given together`);
    if (typeof path !== "string") throw new TypeError(`${method}: expected \`path\` to be a string, got ${describe(path)}`);
    const [winner, errors] = await connectRace(this, [{ path }], null);
    if (winner === null) throw errors[0]!;
    sock = winner;
  } else {
    if (!o.sock) throw new RangeError(`${method}: no \`path\` and no \`sock\` were given`);
    sock = await connectedSocket(this, o.sock, method);
  }
  return connectionTransport(this, sock, { protocolFactory, ssl, serverHostname, timeouts, method });
};

// ------------------------------------------------------------------ listening

function checkBacklog(backlog: unknown, method: string): number {
  if (backlog === undefined || backlog === null) return 100;
  if (typeof backlog !== "number" || !Number.isInteger(backlog) || backlog < 0) {
    throw new RangeError(`${method}: expected \`backlog\` to be an integer >= 0, got ${String(backlog)}`);
  }
  return backlog;
}

function newNodeServer(loop: EventLoop, keepAlive: boolean): net.Server {
  return runInLoop(loop, () => nodeNet.createServer({ allowHalfOpen: true, pauseOnConnect: true, keepAlive }));
}

/** `server.listen(options)` as a Future; on error (e.g. `EADDRINUSE`) it rejects and the server is closed. */
function listen(loop: EventLoop, server: net.Server, options: net.ListenOptions): Future<void> {
  const fut = loop.createFuture<void>();
  const onListening = inLoop(loop, () => {
    server.removeListener("error", onError);
    if (!fut.done()) fut.setResult();
  });
  const onError = inLoop(loop, (err: Error) => {
    server.removeListener("listening", onListening);
    server.close();
    if (!fut.done()) fut.setException(err);
  });
  server.once("listening", onListening);
  server.once("error", onError);
  fut.addDoneCallback(() => {
    if (fut.cancelled()) {
      server.removeListener("listening", onListening);
      server.removeListener("error", onError);
      server.on("error", () => {});
      server.close();
    }
  });
  runInLoop(loop, () => server.listen(options));
  return fut;
}

function adoptNodeServer(sock: unknown, method: string): net.Server {
  if (!(sock instanceof nodeNet.Server)) throw new TypeError(`${method}: expected \`sock\` to be a net.Server, got ${describe(sock)}`);
  if (!sock.listening) throw new RangeError(`${method}: \`sock\` must be a listening net.Server`);
  const s = sock as net.Server & { pauseOnConnect: boolean; allowHalfOpen: boolean };
  s.pauseOnConnect = true;
  s.allowHalfOpen = true;
  return sock;
}

async function finishServer<A extends HostPort | string>(
  loop: EventLoop,
  server: Server<A>,
  startServing: unknown,
  method: string,
): Promise<Server<A>> {
  if (startServing !== undefined && typeof startServing !== "boolean") {
    server.close();
    throw new TypeError(`${method}: expected \`startServing\` to be a boolean, got ${describe(startServing)}`);
  }
  if (startServing !== false) {
    server._startServing();
    // As asyncio: one loop iteration, so the server is accepting when this returns.
    await sleep(0);
  }
  return server;
}

/** The checks and TLS set-up `createServer` and `createUnixServer` share, in the order CPython makes them. */
function checkServerArgs<O extends CreateServerOptions | CreateUnixServerOptions>(
  loop: EventLoop,
  protocolFactory: unknown,
  options: O | null | undefined,
  method: string,
): { o: O; ssl: SSLOption | null; tlsOptions: tls.TLSSocketOptions | null; timeouts: TlsTimeouts; backlog: number } {
  loop._checkClosed();
  checkFactory(protocolFactory, method);
  const o = checkOptions(options, method) ?? ({} as O);
  const ssl = checkSSL(o.ssl, method);
  const tlsOptions = ssl === null ? null : serverTlsOptions(ssl, method);
  return { o, ssl, tlsOptions, timeouts: tlsTimeouts(o, ssl, method), backlog: checkBacklog(o.backlog, method) };
}

EventLoop.prototype.createServer = async function createServer(
  this: EventLoop,
  protocolFactory: () => object,
  host?: string | readonly string[] | null,
  port?: number | string | null,
  options?: CreateServerOptions,
): Promise<Server<HostPort>> {
  const method = "createServer";
  const { o, ssl, tlsOptions, timeouts, backlog } = checkServerArgs(this, protocolFactory, options, method);
  const family = checkFamily(o.family, method);
  const nodeServers: net.Server[] = [];
  if ((host !== undefined && host !== null) || (port !== undefined && port !== null)) {
    if (o.sock) throw new RangeError(`${method}: \`host\`/\`port\` and \`sock\` cannot be given together`);
    const p = checkPort(port, method);
    let hosts: (string | undefined)[];
    if (host === undefined || host === null || host === "") hosts = [undefined];
    else if (typeof host === "string") hosts = [host];
    else if (Array.isArray(host) && host.every((x) => typeof x === "string")) hosts = host.length > 0 ? [...(host as string[])] : [undefined];
    else throw new TypeError(`${method}: expected \`host\` to be a string or a list of strings, got ${describe(host)}`);
    try {
      const addresses: { address: string | undefined; family: AddressFamily }[] = [];
      for (const h of hosts) {
        if (h === undefined) {
          addresses.push({ address: family === 4 ? "0.0.0.0" : family === 6 ? "::" : undefined, family });
          continue;
        }
        for (const a of await resolveHost(this, h, family)) {
          if (!addresses.some((x) => x.address === a.address)) addresses.push(a);
        }
      }
      if (addresses.length === 0) throw systemError("ENOTFOUND", `getaddrinfo() returned no address for ${String(host)}`);
      for (const a of addresses) {
        const s = newNodeServer(this, o.keepAlive === true);
        nodeServers.push(s);
        const listenOptions: net.ListenOptions & { reusePort?: boolean } = { port: p, backlog, exclusive: true };
        if (a.address !== undefined) listenOptions.host = a.address;
        if (a.family === 6) listenOptions.ipv6Only = true;
        if (o.reusePort) listenOptions.reusePort = true;
        await listen(this, s, listenOptions);
      }
    } catch (e) {
      for (const s of nodeServers) if (s.listening) s.close();
      throw e;
    }
  } else {
    if (!o.sock) throw new RangeError(`${method}: give \`host\`/\`port\`, or \`sock\``);
    nodeServers.push(adoptNodeServer(o.sock, method));
  }
  const server = new Server<HostPort>(this, nodeServers, protocolFactory, ssl, tlsOptions, timeouts);
  return finishServer(this, server, o.startServing, method);
};

EventLoop.prototype.createUnixServer = async function createUnixServer(
  this: EventLoop,
  protocolFactory: () => object,
  path?: string | null,
  options?: CreateUnixServerOptions,
): Promise<Server<string>> {
  const method = "createUnixServer";
  const { o, ssl, tlsOptions, timeouts, backlog } = checkServerArgs(this, protocolFactory, options, method);
  let nodeServer: net.Server;
  if (path !== undefined && path !== null) {
    if (o.sock) throw new RangeError(`${method}: \`path\` and \`sock\` cannot be given together`);
    if (typeof path !== "string") throw new TypeError(`${method}: expected \`path\` to be a string, got ${describe(path)}`);
    if (path.length > 0 && path[0] !== "\0") {
      // As asyncio: a socket file left by a dead server is removed; any other file makes listen fail.
      try {
        if (statSync(path).isSocket()) unlinkSync(path);
      } catch (err) {
        if ((err as { code?: string }).code !== "ENOENT" && this._debug) {
          this._log(`Unable to check or remove stale UNIX socket ${path}: ${(err as Error).message}`);
        }
      }
    }
    nodeServer = newNodeServer(this, false);
    await listen(this, nodeServer, { path, backlog, exclusive: true });
  } else {
    if (!o.sock) throw new RangeError(`${method}: no \`path\` and no \`sock\` were given`);
    nodeServer = adoptNodeServer(o.sock, method);
  }
  const server = new Server<string>(this, [nodeServer], protocolFactory, ssl, tlsOptions, timeouts);
  return finishServer(this, server, o.startServing, method);
};

// ------------------------------------------------------------------ startTls

EventLoop.prototype.startTls = async function startTls(
  this: EventLoop,
  transport: Transport,
  protocol: object,
  sslcontext: SSLOption,
  options?: StartTlsOptions,
): Promise<Transport> {
  const method = "startTls";
  this._checkClosed();
  if (!(transport instanceof _SocketTransport)) {
    throw new TypeError(`${method}: expected \`transport\` to be a TCP or Unix stream transport, got ${describe(transport)}`);
  }
  if (transport._tls) throw new TypeError(`${method}: the transport already uses TLS`);
  if (transport.isClosing()) throw new RuntimeError(`${method}: the transport is closing`);
  if (protocol === null || typeof protocol !== "object") {
    throw new TypeError(`${method}: expected \`protocol\` to be a protocol object, got ${describe(protocol)}`);
  }
  const ssl = checkSSL(sslcontext, method);
  if (ssl === null) throw new TypeError(`${method}: expected \`sslcontext\` to be true, a tls.SecureContext or TLS options, got ${describe(sslcontext)}`);
  const o = checkOptions(options, method) ?? {};
  const serverSide = o.serverSide === true;
  const serverHostname = o.serverHostname ?? null;
  if (serverSide && serverHostname !== null) throw new RangeError(`${method}: \`serverHostname\` is only meaningful on the client side`);
  const timeouts = tlsTimeouts(o, ssl, method);
  const tlsOptions = serverSide ? serverTlsOptions(ssl, method) : clientTlsOptions(ssl, serverHostname);

  const raw = transport._detachSocket();
  let tlsSock: tls.TLSSocket;
  try {
    tlsSock = await tlsHandshake(this, raw, serverSide, tlsOptions, timeouts.handshake);
  } catch (e) {
    transport._failDetached(e instanceof CancelledError ? null : (e as Error));
    throw e;
  }
  const server = transport._server;
  const upgraded = new _SocketTransport(this, tlsSock, protocol as StreamProtocolLike, {
    extra: tlsExtra(tlsSock, ssl),
    server,
    callConnectionMade: false,
    earlyError: releaseErrors(tlsSock),
    sslShutdownTimeout: timeouts.shutdown,
  });
  [upgraded._flow.low, upgraded._flow.high] = transport._flow.limits();
  transport._server = null;
  server?._detach(transport);
  return upgraded;
};

// ------------------------------------------------------------------ datagrams

EventLoop.prototype.createDatagramEndpoint = async function createDatagramEndpoint<P extends object>(
  this: EventLoop,
  protocolFactory: () => P,
  options?: CreateDatagramEndpointOptions,
): Promise<[DatagramTransport, P]> {
  const method = "createDatagramEndpoint";
  this._checkClosed();
  checkFactory(protocolFactory, method);
  const o = checkOptions(options, method) ?? {};
  const localAddr = checkHostPort(o.localAddr, "localAddr", method);
  const remoteAddr = checkHostPort(o.remoteAddr, "remoteAddr", method);
  let family = checkFamily(o.family, method);
  let sock: dgram.Socket;
  let remote: DatagramAddress | null = null;
  if (o.sock) {
    if (localAddr || remoteAddr || family || o.reusePort || o.allowBroadcast) {
      throw new RangeError(`${method}: socket options cannot be used when \`sock\` is given`);
    }
    if (!(o.sock instanceof loadDgram().Socket)) throw new TypeError(`${method}: expected \`sock\` to be a dgram.Socket, got ${describe(o.sock)}`);
    sock = o.sock;
    holdErrors(sock);
  } else {
    if (localAddr === null && remoteAddr === null && family === 0) {
      throw new RangeError(`${method}: give \`localAddr\`, \`remoteAddr\` or \`family\` (unexpected address family)`);
    }
    const local = localAddr === null ? null : await resolveHost(this, localAddr[0], family);
    if (local !== null) {
      if (local.length === 0) throw systemError("ENOTFOUND", `getaddrinfo() returned no address for ${localAddr![0]}`);
      family = local[0]!.family;
    }
    const remotes = remoteAddr === null ? null : await resolveHost(this, remoteAddr[0], family);
    if (remotes !== null) {
      if (remotes.length === 0) throw systemError("ENOTFOUND", `can not get address information for ${remoteAddr![0]}`);
      family = remotes[0]!.family;
    }
    const type = family === 6 ? "udp6" : "udp4";
    sock = runInLoop(this, () => loadDgram().createSocket({ type, reuseAddr: o.reusePort === true, reusePort: o.reusePort === true } as dgram.SocketOptions));
    holdErrors(sock);
    try {
      const bindTo = local === null ? { port: 0 } : { address: local[0]!.address, port: localAddr![1] };
      await nodeCall<void>(this, (cb) => {
        const onError = (err: Error): void => cb(err);
        sock.once("error", onError);
        sock.bind(bindTo, () => {
          sock.removeListener("error", onError);
          cb(null);
        });
      });
      if (o.allowBroadcast) sock.setBroadcast(true);
      if (remotes !== null) {
        const target: DatagramAddress = [remotes[0]!.address, remoteAddr![1]];
        if (!o.allowBroadcast) await nodeCall<void>(this, (cb) => sock.connect(target[1], target[0], (err?: Error) => cb(err ?? null)));
        remote = target;
      }
    } catch (e) {
      try {
        sock.close();
      } catch {
        // Already closed.
      }
      throw e;
    }
  }
  let transport: _DatagramSocketTransport | null = null;
  try {
    const protocol = makeProtocol(protocolFactory, method);
    const waiter = this.createFuture<unknown>();
    releaseErrors(sock);
    transport = new _DatagramSocketTransport(this, sock, protocol as DatagramProtocolLike, remote, waiter);
    await waiter;
    return [transport, protocol];
  } catch (e) {
    if (transport !== null) transport.close();
    else sock.close();
    throw e;
  }
};

// ------------------------------------------------------------------ name resolution

EventLoop.prototype.getaddrinfo = async function getaddrinfo(
  this: EventLoop,
  host: string | null,
  port: number | string | null,
  options?: GetaddrinfoOptions,
): Promise<AddrInfo[]> {
  const method = "getaddrinfo";
  const o = checkOptions(options, method) ?? {};
  const h = checkHost(host, method);
  const p = checkPort(port, method);
  const family = checkFamily(o.family, method);
  const type = o.type ?? null;
  if (type !== null && type !== "stream" && type !== "dgram") {
    throw new RangeError(`${method}: expected \`type\` to be "stream", "dgram" or null, got ${String(type)}`);
  }
  let addresses: { address: string; family: 4 | 6 }[];
  if (h === null) {
    addresses = [
      { address: "127.0.0.1", family: 4 as const },
      { address: "::1", family: 6 as const },
    ].filter((a) => family === 0 || a.family === family);
  } else {
    addresses = await resolveHost(this, h, family);
  }
  const types: ("stream" | "dgram")[] = type === null ? ["stream", "dgram"] : [type];
  const out: AddrInfo[] = [];
  for (const a of addresses) for (const t of types) out.push([a.family, t, t === "stream" ? "tcp" : "udp", "", [a.address, p]]);
  return out;
};

EventLoop.prototype.getnameinfo = async function getnameinfo(this: EventLoop, sockaddr: HostPort, flags = 0): Promise<[string, string]> {
  const method = "getnameinfo";
  const addr = checkHostPort(sockaddr, "sockaddr", method);
  if (addr === null) throw new TypeError(`${method}: expected \`sockaddr\` to be a [host, port] pair, got ${describe(sockaddr)}`);
  if (typeof flags !== "number" || !Number.isInteger(flags)) throw new TypeError(`${method}: expected \`flags\` to be an integer, got ${describe(flags)}`);
  const [host, port] = addr;
  if (flags & NI_NUMERICHOST && flags & NI_NUMERICSERV) return [host, String(port)];
  const found = await nodeCall<{ hostname: string; service: string }>(this, (cb) =>
    loadDns().lookupService(host, port, (err, hostname, service) => cb(err, { hostname, service })),
  );
  return [flags & NI_NUMERICHOST ? host : found.hostname, flags & NI_NUMERICSERV ? String(port) : found.service];
};
