/**
 * TLS for the loop's connections and servers, as CPython's `sslproto.py`: what the `ssl` option may be, the options
 * Node's TLS gets for a client and for a server, the handshake (with its timeout) over a connected socket, and the
 * extra information (`peercert`, `cipher`, ...) a TLS transport answers.
 *
 * Node's `tls.TLSSocket` does the protocol itself; there is no memory BIO to drive as in CPython.
 * @module
 */
import { loadTls, nodeNet } from "./_internal/node.js";
import type * as net from "node:net";
import type * as tls from "node:tls";
import type { EventLoop, TimerHandle } from "./events.js";
import type { Future } from "./futures.js";
import { checkTimeout, holdErrors, inLoop, runInLoop, systemError } from "./_internal/io/netutil.js";
import { describe } from "./_internal/validate.js";

/**
 * The `ssl` option: `true` (client only: the default CA store, certificate and host name checked), a
 * `tls.SecureContext` from `tls.createSecureContext()`, or options for Node's TLS (`ca`, `cert`, `key`,
 * `rejectUnauthorized`, `requestCert`, `ALPNProtocols`, ...). Certificate checks are on unless the options turn
 * them off (`rejectUnauthorized: false`).
 */
export type SSLOption = boolean | tls.SecureContext | SSLOptions;

/** TLS options, as `tls.connect()` (client side) and `new tls.TLSSocket()` / `tls.createServer()` (server side) take them. */
export type SSLOptions = tls.ConnectionOptions & tls.TlsOptions;

/** @internal Whether `value` is a context made by `tls.createSecureContext()`. */
export function _isSecureContext(value: unknown): value is tls.SecureContext {
  return (
    value !== null &&
    typeof value === "object" &&
    "context" in value &&
    (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor?.name === "SecureContext"
  );
}

export function checkSSL(ssl: unknown, method: string): SSLOption | null {
  if (ssl === undefined || ssl === null || ssl === false) return null;
  if (ssl === true || (typeof ssl === "object" && !Array.isArray(ssl))) return ssl as SSLOption;
  throw new TypeError(`${method}: expected \`ssl\` to be true, a tls.SecureContext or TLS options, got ${describe(ssl)}`);
}

/** What a client passes to `tls.connect({ socket, ... })`. */
export function clientTlsOptions(ssl: SSLOption, serverHostname: string | null): tls.ConnectionOptions {
  const options: tls.ConnectionOptions = ssl === true ? {} : _isSecureContext(ssl) ? { secureContext: ssl } : { ...(ssl as SSLOptions) };
  if (serverHostname === "") {
    options.checkServerIdentity = () => undefined;
  } else if (serverHostname !== null) {
    options.host = serverHostname;
    // SNI carries names only (RFC 6066); an IP address is still checked against the certificate through `host`.
    if (nodeNet.isIP(serverHostname) === 0) options.servername = serverHostname;
    else delete options.servername;
  }
  return options;
}

/** What a server passes to `new tls.TLSSocket(socket, { isServer: true, ... })`; made once per server. */
export function serverTlsOptions(ssl: SSLOption, method: string): tls.TLSSocketOptions {
  if (ssl === true) {
    throw new RangeError(`${method}: server-side TLS needs a tls.SecureContext or options with \`key\` and \`cert\`, got true`);
  }
  if (_isSecureContext(ssl)) return { isServer: true, secureContext: ssl };
  const o = ssl as SSLOptions;
  const secureContext = o.secureContext ?? loadTls().createSecureContext(o);
  const options: tls.TLSSocketOptions = { isServer: true, secureContext };
  if (o.requestCert !== undefined) options.requestCert = o.requestCert;
  if (o.rejectUnauthorized !== undefined) options.rejectUnauthorized = o.rejectUnauthorized;
  if (o.ALPNProtocols !== undefined) options.ALPNProtocols = o.ALPNProtocols;
  if (o.SNICallback !== undefined) options.SNICallback = o.SNICallback;
  return options;
}

/** The extra information of a TLS transport, once its handshake is done. */
export function tlsExtra(sock: tls.TLSSocket, ssl: SSLOption): Record<string, unknown> {
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
export function tlsHandshake(
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
    serverSide ? new (loadTls().TLSSocket)(raw, options as tls.TLSSocketOptions) : loadTls().connect({ ...(options as tls.ConnectionOptions), socket: raw }),
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

export interface TlsTimeouts {
  handshake: number;
  shutdown: number;
}

export function tlsTimeouts(o: { sslHandshakeTimeout?: number | null; sslShutdownTimeout?: number | null }, ssl: SSLOption | null, method: string): TlsTimeouts {
  const handshake = checkTimeout(o.sslHandshakeTimeout, "sslHandshakeTimeout", method);
  const shutdown = checkTimeout(o.sslShutdownTimeout, "sslShutdownTimeout", method);
  if (handshake !== undefined && ssl === null) throw new RangeError(`${method}: \`sslHandshakeTimeout\` is only meaningful with \`ssl\``);
  if (shutdown !== undefined && ssl === null) throw new RangeError(`${method}: \`sslShutdownTimeout\` is only meaningful with \`ssl\``);
  return { handshake: handshake ?? 60, shutdown: shutdown ?? 30 };
}
