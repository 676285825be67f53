/**
 * Node's built-in modules, as the library takes them: every value from a built-in comes through here.
 *
 * Why not `import { x } from "node:util"`: a built-in imported as an ES module gets a module facade, and building it
 * reads each of the module's exports once. Several are lazy getters that load more modules: `node:util` loads
 * `parseArgs` and the diff code, `node:fs` loads `fs/promises` and with it readline, `node:process` the report.
 * Whatever is loaded stays in the heap for good, and every full collection marks it again. A server that moves large
 * buffers runs a full collection for every 64 MB or so of them, whatever the size of its heap; the heap the package
 * brings is then paid for on each round trip (docs: bench/RESULTS.md, "Issue 12, sixth pass").
 *
 * So:
 * - the built-ins every program needs are taken with `process.getBuiltinModule`, which returns the module's own
 *   exports and reads no getter;
 * - the heavy ones that only some programs use (TLS with crypto, UDP, DNS, child processes, worker threads) load on
 *   first use, through the `load...` functions.
 *
 * Types come from `import type`, which costs nothing at run time.
 * @module
 */
import type * as ChildProcessModule from "node:child_process";
import type * as DgramModule from "node:dgram";
import type * as DnsModule from "node:dns";
import type * as TlsModule from "node:tls";
import type * as WorkerThreadsModule from "node:worker_threads";
import type { AsyncLocalStorage as NodeAsyncLocalStorage, AsyncResource as NodeAsyncResource } from "node:async_hooks";

// The one read of the global (a getter on Node); the library uses this binding instead.
const nodeProcess: NodeJS.Process = globalThis.process;
export { nodeProcess as process };

const builtin = nodeProcess.getBuiltinModule.bind(nodeProcess) as NodeJS.Process["getBuiltinModule"];

export const { inspect } = builtin("node:util");
export const Buffer = builtin("node:buffer").Buffer;
export const { AsyncLocalStorage, AsyncResource, createHook } = builtin("node:async_hooks");
export type AsyncLocalStorage<T> = NodeAsyncLocalStorage<T>;
export type AsyncResource = NodeAsyncResource;
export const { performance } = builtin("node:perf_hooks");
export const { availableParallelism, constants: osConstants, tmpdir } = builtin("node:os");
export const { fileURLToPath, pathToFileURL } = builtin("node:url");
export const { isAbsolute, join } = builtin("node:path");
export const { mkdtempSync, rmSync, statSync, unlinkSync } = builtin("node:fs");
/** `node:net` (its types: `import type * as net from "node:net"`). */
export const nodeNet = builtin("node:net");

let tls: typeof TlsModule | undefined;
let dgram: typeof DgramModule | undefined;
let dns: typeof DnsModule | undefined;
let childProcess: typeof ChildProcessModule | undefined;
let workerThreads: typeof WorkerThreadsModule | undefined;

/** `node:tls` (and with it `node:crypto`), loaded on first use. */
export function loadTls(): typeof TlsModule {
  return (tls ??= builtin("node:tls"));
}

/** `node:dgram`, loaded on first use. */
export function loadDgram(): typeof DgramModule {
  return (dgram ??= builtin("node:dgram"));
}

/** `node:dns`, loaded on first use. */
export function loadDns(): typeof DnsModule {
  return (dns ??= builtin("node:dns"));
}

/** `node:child_process`, loaded on first use. */
export function loadChildProcess(): typeof ChildProcessModule {
  return (childProcess ??= builtin("node:child_process"));
}

/** `node:worker_threads`, loaded on first use. */
export function loadWorkerThreads(): typeof WorkerThreadsModule {
  return (workerThreads ??= builtin("node:worker_threads"));
}

/**
 * Whether `sock` is a TLS socket, without loading `node:tls` for a plain one: only a `TLSSocket` has `encrypted`
 * set (and a program that made one has loaded the module already).
 */
export function isTlsSocket(sock: object): sock is TlsModule.TLSSocket {
  return (sock as { encrypted?: unknown }).encrypted === true && sock instanceof loadTls().TLSSocket;
}
