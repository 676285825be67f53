/**
 * The network methods of the event loop, as CPython's `base_events.py` (with `selector_events.py` and
 * `unix_events.py`): `createConnection`, `createServer`, `createUnixConnection`, `createUnixServer`,
 * `createDatagramEndpoint`, `startTls`, `getaddrinfo`, `getnameinfo`, and the `Server` they return.
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
import * as net from "node:net";
import * as tls from "node:tls";
import * as dgram from "node:dgram";
import * as dns from "node:dns";
import { statSync, unlinkSync } from "node:fs";
import { inspect } from "node:util";
import { EventLoop, type TimerHandle } from "./events.js";
import { CancelledError, ExceptionGroup, RuntimeError } from "./exceptions.js";
import type { Future } from "./futures.js";
import { sleep } from "./tasks.js";
import type { DatagramAddress, DatagramProtocolLike, StreamProtocolLike } from "./protocols.js";
import { BaseTransport, type DatagramTransport, type Transport, _DatagramSocketTransport, _SocketTransport } from "./transports.js";
import {
  checkPort,
  checkTimeout,
  describe,
  holdErrors,
  inLoop,
  releaseErrors,
  runInLoop,
  systemError,
  trackResource,
  untrackResource,
} from "./_internal/netutil.js";

// ------------------------------------------------------------------ option types

/**
 * The `ssl` option: `true` (client only: the default CA store, certificate and host name checked), a
 * `tls.SecureContext` from `tls.createSecureContext()`, or options for Node's TLS (`ca`, `cert`, `key`,
 * `rejectUnauthorized`, `requestCert`, `ALPNProtocols`, ...). Certificate checks are on unless the options turn
 * them off (`rejectUnauthorized: false`).
 */
export type SSLOption = boolean | tls.SecureContext | SSLOptions;

/** TLS options, as `tls.connect()` (client side) and `new tls.TLSSocket()` / `tls.createServer()` (server side) take them. */
export type SSLOptions = tls.ConnectionOptions & tls.TlsOptions;

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
      host?: string | readonly string[] | null,
      port?: number | string | null,
      options?: CreateServerOptions,
    ): Promise<Server>;
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
    createUnixServer(protocolFactory: () => object, path?: string | null, options?: CreateUnixServerOptions): Promise<Server>;
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

function makeProtocol<P>(factory: () => P, method: string): P {
  const protocol = factory();
  if (protocol === null || typeof protocol !== "object") {
    throw new TypeError(`${method}: expected \`protocolFactory\` to return a protocol object, got ${describe(protocol)}`);
  }
  return protocol;
}

function checkOptions<T extends object>(options: T | null | undefined, method: string): T {
  if (options === undefined || options === null) return {} as T;
  if (typeof options !== "object") throw new TypeError(`${method}: expected \`options\` to be an object, got ${describe(options)}`);
  return options;
}

/** @internal Whether `value` is a context made by `tls.createSecureContext()`. */
export function _isSecureContext(value: unknown): value is tls.SecureContext {
  return (
    value !== null &&
    typeof value === "object" &&
    "context" in value &&
    (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor?.name === "SecureContext"
  );
}

function checkSSL(ssl: unknown, method: string): SSLOption | null {
  if (ssl === undefined || ssl === null || ssl === false) return null;
  if (ssl === true || (typeof ssl === "object" && !Array.isArray(ssl))) return ssl as SSLOption;
  throw new TypeError(`${method}: expected \`ssl\` to be true, a tls.SecureContext or TLS options, got ${describe(ssl)}`);
}

/** What a client passes to `tls.connect({ socket, ... })`. */
function clientTlsOptions(ssl: SSLOption, serverHostname: string | null): tls.ConnectionOptions {
  const options: tls.ConnectionOptions = ssl === true ? {} : _isSecureContext(ssl) ? { secureContext: ssl } : { ...(ssl as SSLOptions) };
  if (serverHostname === "") {
    options.checkServerIdentity = () => undefined;
  } else if (serverHostname !== null) {
    options.host = serverHostname;
    // SNI carries names only (RFC 6066); an IP address is still checked against the certificate through `host`.
    if (net.isIP(serverHostname) === 0) options.servername = serverHostname;
    else delete options.servername;
  }
  return options;
}

/** What a server passes to `new tls.TLSSocket(socket, { isServer: true, ... })`; made once per server. */
function serverTlsOptions(ssl: SSLOption, method: string): tls.TLSSocketOptions {
  if (ssl === true) {
    throw new RangeError(`${method}: server-side TLS needs a tls.SecureContext or options with \`key\` and \`cert\`, got true`);
  }
  if (_isSecureContext(ssl)) return { isServer: true, secureContext: ssl };
  const o = ssl as SSLOptions;
  const secureContext = o.secureContext ?? tls.createSecureContext(o);
  const options: tls.TLSSocketOptions = { isServer: true, secureContext };
  if (o.requestCert !== undefined) options.requestCert = o.requestCert;
  if (o.rejectUnauthorized !== undefined) options.rejectUnauthorized = o.rejectUnauthorized;
  if (o.ALPNProtocols !== undefined) options.ALPNProtocols = o.ALPNProtocols;
  if (o.SNICallback !== undefined) options.SNICallback = o.SNICallback;
  return options;
}

/** The extra information of a TLS transport, once its handshake is done. */
function tlsExtra(sock: tls.TLSSocket, ssl: SSLOption): Record<string, unknown> {
  const cert = sock.getPeerCertificate();
  return {
    sslcontext: ssl === true ? {} : ssl,
    peercert: cert && Object.keys(cert).length > 0 ? cert : null,
    cipher: sock.getCipher(),
    compression: null,
    ssl_object: sock,
  };
}

/**
 * Whether the client certificate a server asked for verified. A `tls.Server` checks this for its sockets; a
 * server-side `TLSSocket` made by hand (as here, to serve sockets Node's `net` accepted) must ask its handle, the same
 * way `tls.Server` does (OpenSSL accepts any certificate during the handshake and records the verdict).
 */
function clientCertificateError(sock: tls.TLSSocket): Error | null {
  const handle = (sock as unknown as { _handle?: { verifyError?: () => Error | null } })._handle;
  if (typeof handle?.verifyError === "function") return handle.verifyError();
  // Without that verdict, refuse rather than accept an unchecked certificate.
  return sock.authorized ? null : systemError("ECONNRESET", "the client certificate could not be verified");
}

/**
 * Runs a TLS handshake over `raw`; the Future resolves with the TLS socket. Errors (certificate checks, a peer that
 * hangs up, the timeout) reject it; cancelling it destroys the sockets.
 */
function tlsHandshake(
  loop: EventLoop,
  raw: net.Socket,
  serverSide: boolean,
  options: tls.ConnectionOptions | tls.TLSSocketOptions,
  timeout: number,
): Future<tls.TLSSocket> {
  const done = loop.createFuture<tls.TLSSocket>();
  holdErrors(raw);
  raw.pause();
  const sock = runInLoop(loop, () =>
    serverSide ? new tls.TLSSocket(raw, options as tls.TLSSocketOptions) : tls.connect({ ...(options as tls.ConnectionOptions), socket: raw }),
  );
  let timer: TimerHandle | null = null;
  const cleanup = (): void => {
    timer?.cancel();
    timer = null;
    sock.removeListener(serverSide ? "secure" : "secureConnect", onSecure);
    sock.removeListener("error", onError);
    sock.removeListener("close", onClose);
    sock.removeListener("end", onClose);
  };
  const fail = (err: Error): void => {
    cleanup();
    holdErrors(sock);
    sock.destroy();
    raw.destroy();
    if (!done.done()) done.setException(err);
  };
  const onSecure = inLoop(loop, () => {
    const o = options as tls.TLSSocketOptions;
    if (serverSide && o.requestCert) {
      const verifyError = clientCertificateError(sock);
      if (verifyError === null) sock.authorized = true;
      else {
        sock.authorizationError = verifyError;
        if (o.rejectUnauthorized !== false) {
          fail(verifyError);
          return;
        }
      }
    }
    cleanup();
    holdErrors(sock);
    if (!done.done()) done.setResult(sock);
  });
  const onError = inLoop(loop, (err: Error) => fail(err));
  const onClose = inLoop(loop, () => fail(systemError("ECONNRESET", "Connection lost during the TLS handshake")));
  sock.once(serverSide ? "secure" : "secureConnect", onSecure);
  sock.on("error", onError);
  sock.once("close", onClose);
  // A peer that hangs up mid-handshake (e.g. a client refusing our certificate) may only show as EOF.
  sock.once("end", onClose);
  timer = loop.callLater(timeout, () =>
    fail(systemError("ECONNABORTED", `TLS handshake is taking longer than ${timeout} seconds: aborting the connection`)),
  );
  done.addDoneCallback(() => {
    if (done.cancelled()) {
      cleanup();
      holdErrors(sock);
      sock.destroy();
      raw.destroy();
    }
  });
  return done;
}

// ------------------------------------------------------------------ connecting

/**
 * Connects to each target in turn; with `delay`, the next attempt also starts after `delay` seconds (a staggered
 * race, as asyncio's Happy Eyeballs). Resolves with the first connected socket (the others are destroyed) or null,
 * and the errors in attempt order.
 */
function connectRace(loop: EventLoop, targets: net.NetConnectOpts[], delay: number | null): Future<[net.Socket | null, Error[]]> {
  const fut = loop.createFuture<[net.Socket | null, Error[]]>();
  const errors: Error[] = [];
  const running = new Map<net.Socket, () => void>();
  let next = 0;
  let timer: TimerHandle | null = null;

  const stopAll = (winner: net.Socket | null): void => {
    timer?.cancel();
    timer = null;
    for (const [sock, cleanup] of running) {
      cleanup();
      if (sock !== winner) {
        holdErrors(sock);
        sock.destroy();
      }
    }
    running.clear();
  };
  const finish = (winner: net.Socket | null): void => {
    stopAll(winner);
    if (winner !== null) holdErrors(winner);
    if (!fut.done()) fut.setResult([winner, errors.filter((e) => e !== undefined)]);
  };
  const startNext = (): void => {
    timer?.cancel();
    timer = null;
    if (fut.done()) return;
    if (next >= targets.length) {
      if (running.size === 0) finish(null);
      return;
    }
    const index = next++;
    let sock: net.Socket;
    try {
      sock = runInLoop(loop, () => net.connect({ allowHalfOpen: true, ...targets[index]! } as net.NetConnectOpts));
    } catch (err) {
      errors[index] = err as Error;
      startNext();
      return;
    }
    const onConnect = inLoop(loop, () => finish(sock));
    const onError = inLoop(loop, (err: Error) => {
      cleanup();
      running.delete(sock);
      holdErrors(sock);
      sock.destroy();
      errors[index] = err;
      if (index === next - 1) startNext();
      else if (running.size === 0 && next >= targets.length) finish(null);
    });
    const cleanup = (): void => {
      sock.removeListener("connect", onConnect);
      sock.removeListener("error", onError);
    };
    sock.once("connect", onConnect);
    sock.on("error", onError);
    running.set(sock, cleanup);
    if (delay !== null && next < targets.length) timer = loop.callLater(delay, startNext);
  };
  fut.addDoneCallback(() => {
    if (fut.cancelled()) stopAll(null);
  });
  startNext();
  return fut;
}

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
  const literal = net.isIP(host);
  if (literal !== 0) {
    if (family !== 0 && family !== literal) return [];
    return [{ address: host, family: literal as 4 | 6 }];
  }
  const found = await nodeCall<dns.LookupAddress[]>(loop, (cb) =>
    dns.lookup(host, { all: true, family, verbatim: true }, cb as (err: Error | null, addresses: dns.LookupAddress[]) => void),
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

/** asyncio's `_interleave_addrinfos`: alternate families, the first one `first` times in a row. */
function interleave<T extends { family: number }>(infos: T[], first: number): T[] {
  const byFamily = new Map<number, T[]>();
  for (const info of infos) {
    let list = byFamily.get(info.family);
    if (list === undefined) byFamily.set(info.family, (list = []));
    list.push(info);
  }
  const lists = Array.from(byFamily.values());
  const out: T[] = [];
  if (first > 1 && lists.length > 0) out.push(...lists[0]!.splice(0, first - 1));
  for (let i = 0; lists.some((l) => i < l.length); i++) for (const l of lists) if (i < l.length) out.push(l[i]!);
  return out;
}

async function connectedSocket(loop: EventLoop, sock: net.Socket, method: string): Promise<net.Socket> {
  if (!(sock instanceof net.Socket)) throw new TypeError(`${method}: expected \`sock\` to be a net.Socket, got ${describe(sock)}`);
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

/** Makes the transport over a connected socket (after the TLS handshake, with `ssl`) and waits for connectionMade. */
async function connectionTransport<P extends object>(
  loop: EventLoop,
  sock: net.Socket,
  protocolFactory: () => P,
  ssl: SSLOption | null,
  serverHostname: string | null,
  handshakeTimeout: number,
  shutdownTimeout: number,
  method: string,
): Promise<[Transport, P]> {
  let transport: _SocketTransport | null = null;
  try {
    let extra: Record<string, unknown> | undefined;
    if (ssl !== null) {
      const tlsSock = await tlsHandshake(loop, sock, false, clientTlsOptions(ssl, serverHostname), handshakeTimeout);
      extra = tlsExtra(tlsSock, ssl);
      sock = tlsSock;
    }
    const protocol = makeProtocol(protocolFactory, method);
    const waiter = loop.createFuture<unknown>();
    transport = new _SocketTransport(loop, sock, protocol as StreamProtocolLike, {
      extra,
      waiter,
      earlyError: releaseErrors(sock),
      sslShutdownTimeout: shutdownTimeout,
    });
    await waiter;
    return [transport, protocol];
  } catch (e) {
    if (transport !== null) transport.close();
    else sock.destroy();
    throw e;
  }
}

interface TlsTimeouts {
  handshake: number;
  shutdown: number;
}

function tlsTimeouts(o: { sslHandshakeTimeout?: number | null; sslShutdownTimeout?: number | null }, ssl: SSLOption | null, method: string): TlsTimeouts {
  const handshake = checkTimeout(o.sslHandshakeTimeout, "sslHandshakeTimeout", method);
  const shutdown = checkTimeout(o.sslShutdownTimeout, "sslShutdownTimeout", method);
  if (handshake !== undefined && ssl === null) throw new RangeError(`${method}: \`sslHandshakeTimeout\` is only meaningful with \`ssl\``);
  if (shutdown !== undefined && ssl === null) throw new RangeError(`${method}: \`sslShutdownTimeout\` is only meaningful with \`ssl\``);
  return { handshake: handshake ?? 60, shutdown: shutdown ?? 30 };
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
  const o = checkOptions(options, method);
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
  return connectionTransport(this, sock, protocolFactory, ssl, serverHostname, timeouts.handshake, timeouts.shutdown, method);
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
  const o = checkOptions(options, method);
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
  return connectionTransport(this, sock, protocolFactory, ssl, serverHostname, timeouts.handshake, timeouts.shutdown, method);
};

// ------------------------------------------------------------------ Server

/** A listening socket of a `Server`: Node's `address()`, and asyncio's `getsockname()`. */
export class ServerSocket {
  /** @internal */ readonly _server: net.Server;

  /** @internal */
  constructor(server: net.Server) {
    this._server = server;
  }

  /** Node's address object (`{ address, family, port }`), or the path of a Unix socket. */
  address(): net.AddressInfo | string | null {
    return this._server.address();
  }

  /** `[host, port]`, or the path of a Unix socket. */
  getsockname(): HostPort | string | null {
    const a = this._server.address();
    if (a === null || typeof a === "string") return a;
    return [a.address, a.port];
  }

  toString(): string {
    const name = this.getsockname();
    return `<ServerSocket ${Array.isArray(name) ? name.join(":") : String(name)}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/**
 * A listening server, as asyncio's: made by `loop.createServer`, `startServer`, and their Unix variants.
 * `close()` stops listening; connections go on until closed; `waitClosed()` waits for them.
 */
export class Server {
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
    if (!this._serving) this._pending.push(sock);
    else this._accept(sock);
  }

  private _accept(sock: net.Socket): void {
    const tlsOptions = this._tlsOptions;
    if (tlsOptions === null) {
      this._makeTransport(sock, undefined);
      return;
    }
    this._attach(sock);
    const handshake = tlsHandshake(this._loop, sock, true, tlsOptions, this._timeouts.handshake);
    handshake.addDoneCallback(() => {
      if (!handshake.cancelled()) {
        const err = handshake.exception() as Error | null;
        if (err === null) {
          const tlsSock = handshake.result();
          this._makeTransport(tlsSock, tlsExtra(tlsSock, this._ssl!));
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
  get sockets(): readonly ServerSocket[] {
    return this._nodeServers === null ? [] : this._nodeServers.map((s) => new ServerSocket(s));
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
      else if (client instanceof net.Socket) client.destroy();
    }
  }

  /** Closes every connection of this server at once (each transport's `abort()`). */
  abortClients(): void {
    for (const client of Array.from(this._clients)) {
      if (client instanceof _SocketTransport) client.abort();
      else if (client instanceof net.Socket) client.destroy();
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
    if (typeof body !== "function") throw new TypeError(`Server.with: expected \`body\` to be a function, got ${describe(body)}`);
    try {
      return await body(this);
    } finally {
      this.close();
      await this.waitClosed();
    }
  }

  /** @internal */
  _releaseOnLoopClose(): string {
    const description = this.toString();
    this.close();
    for (const client of this._clients) if (client instanceof net.Socket) client.destroy();
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

// ------------------------------------------------------------------ listening

function checkBacklog(backlog: unknown, method: string): number {
  if (backlog === undefined || backlog === null) return 100;
  if (typeof backlog !== "number" || !Number.isInteger(backlog) || backlog < 0) {
    throw new RangeError(`${method}: expected \`backlog\` to be an integer >= 0, got ${String(backlog)}`);
  }
  return backlog;
}

function newNodeServer(loop: EventLoop, keepAlive: boolean): net.Server {
  return runInLoop(loop, () => net.createServer({ allowHalfOpen: true, pauseOnConnect: true, keepAlive }));
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
  if (!(sock instanceof net.Server)) throw new TypeError(`${method}: expected \`sock\` to be a net.Server, got ${describe(sock)}`);
  if (!sock.listening) throw new RangeError(`${method}: \`sock\` must be a listening net.Server`);
  const s = sock as net.Server & { pauseOnConnect: boolean; allowHalfOpen: boolean };
  s.pauseOnConnect = true;
  s.allowHalfOpen = true;
  return sock;
}

async function finishServer(loop: EventLoop, server: Server, startServing: unknown, method: string): Promise<Server> {
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
  const o = checkOptions(options, method);
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
): Promise<Server> {
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
  const server = new Server(this, nodeServers, protocolFactory, ssl, tlsOptions, timeouts);
  return finishServer(this, server, o.startServing, method);
};

EventLoop.prototype.createUnixServer = async function createUnixServer(
  this: EventLoop,
  protocolFactory: () => object,
  path?: string | null,
  options?: CreateUnixServerOptions,
): Promise<Server> {
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
  const server = new Server(this, [nodeServer], protocolFactory, ssl, tlsOptions, timeouts);
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
  const o = checkOptions(options, method);
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
  upgraded._highWater = transport._highWater;
  upgraded._lowWater = transport._lowWater;
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
  const o = checkOptions(options, method);
  const localAddr = checkHostPort(o.localAddr, "localAddr", method);
  const remoteAddr = checkHostPort(o.remoteAddr, "remoteAddr", method);
  let family = checkFamily(o.family, method);
  let sock: dgram.Socket;
  let remote: DatagramAddress | null = null;
  if (o.sock) {
    if (localAddr || remoteAddr || family || o.reusePort || o.allowBroadcast) {
      throw new RangeError(`${method}: socket options cannot be used when \`sock\` is given`);
    }
    if (!(o.sock instanceof dgram.Socket)) throw new TypeError(`${method}: expected \`sock\` to be a dgram.Socket, got ${describe(o.sock)}`);
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
    sock = runInLoop(this, () => dgram.createSocket({ type, reuseAddr: o.reusePort === true, reusePort: o.reusePort === true } as dgram.SocketOptions));
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
  const o = checkOptions(options, method);
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
    dns.lookupService(host, port, (err, hostname, service) => cb(err, { hostname, service })),
  );
  return [flags & NI_NUMERICHOST ? host : found.hostname, flags & NI_NUMERICSERV ? String(port) : found.service];
};
