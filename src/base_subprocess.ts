/**
 * The subprocess transport and its pipe transports, and `loop.subprocessExec` / `loop.subprocessShell`, on
 * `node:child_process`: CPython's `base_subprocess.py` and the pipe transports of `unix_events.py`.
 *
 * The two loop methods are added to `EventLoop` from here without touching the kernel: their declarations are merged
 * into the `EventLoop` interface (`declare module "./events.js"`) and the implementations assigned to
 * `EventLoop.prototype` (as `unix_events.ts` does for signals and `executors.ts` for executors).
 *
 * Order of protocol calls, as asyncio: `connectionMade(transport)` first; then `pipeDataReceived(fd, data)`,
 * `pipeConnectionLost(fd, exc)` and `processExited()` as they happen (events that come before `connectionMade` are
 * queued and replayed after it); `connectionLost(null)` last, once the process has exited and every pipe is
 * closed. Every call is scheduled with `callSoon`.
 *
 * Liveness: while the loop runs it keeps Node alive. When the loop closes with a child still running, the child is
 * left running (nothing kills it), the pipes to it are closed, and Node no longer waits for it; in debug mode the
 * loop logs it.
 * @module
 */
import { Buffer, fileURLToPath, inspect, join, loadChildProcess, mkdtempSync, nodeNet, process, rmSync, tmpdir } from "./_internal/node.js";
import type { ChildProcess, SpawnOptions, StdioOptions } from "node:child_process";
import type * as net from "node:net";
import { type Callback, EventLoop } from "./events.js";
import { RuntimeError } from "./exceptions.js";
import type { Future } from "./futures.js";
import type { SubprocessProtocol } from "./protocols.js";
import { type BaseTransport, ReadTransport, SubprocessTransport, WriteTransport } from "./transports.js";
import { resolveSignal, signalNumber, type SignalLike } from "./_internal/processes/signals.js";
import { inLoop, isSystemError, systemError, toWritable } from "./_internal/io/netutil.js";
import { WriteFlowControl } from "./_internal/io/flow_control.js";
import { LOG_THRESHOLD_FOR_CONNLOST_WRITES } from "./_internal/io/constants.js";
import { checkOptions, describe } from "./_internal/validate.js";

/** Python's `subprocess.PIPE`: connect a pipe to the child's stream. */
export const PIPE = -1;
/** Python's `subprocess.STDOUT`: for `stderr`, send the child's stderr wherever its stdout goes. */
export const STDOUT = -2;
/** Python's `subprocess.DEVNULL`: connect the child's stream to the null device. */
export const DEVNULL = -3;

/**
 * Where one of the child's standard streams goes: `PIPE`, `DEVNULL`, `STDOUT` (stderr only), `null` or
 * `undefined` (inherit the parent's), a file descriptor, or an object with one (`fs.promises.FileHandle`, `process.stderr`).
 */
export type StdioTarget = number | { readonly fd: number } | null | undefined;

/** Options of `createSubprocessExec`, `createSubprocessShell`, `loop.subprocessExec` and `loop.subprocessShell`. */
export interface SubprocessOptions {
  stdin?: StdioTarget;
  stdout?: StdioTarget;
  stderr?: StdioTarget;
  /** Working directory of the child. */
  cwd?: string | URL;
  /** The child's whole environment (default: the parent's). */
  env?: NodeJS.ProcessEnv;
  /** Start the child in a new session and process group (Python's `start_new_session`). */
  detached?: boolean;
  /** User id of the child. */
  uid?: number;
  /** Group id of the child. */
  gid?: number;
  /** `argv[0]` given to the child (default: the program). */
  argv0?: string;
  /** Hide the console window on Windows. */
  windowsHide?: boolean;
}

/** Options whose Python counterparts must keep their default (asyncio works on bytes, unbuffered). */
const PYTHON_ONLY_DEFAULTS: Record<string, unknown> = {
  universalNewlines: false,
  text: false,
  encoding: null,
  errors: null,
  bufsize: 0,
};

const KNOWN_OPTIONS = new Set(["stdin", "stdout", "stderr", "cwd", "env", "detached", "uid", "gid", "argv0", "windowsHide", "limit", "shell"]);

/** How many writes to a closed pipe are dropped silently before one warning is logged (as asyncio). */
// ------------------------------------------------------------------ checking the options

type StreamName = "stdin" | "stdout" | "stderr";

/** One of the child's streams, resolved: what to ask Node for. */
type StdioPlan = "pipe" | "ignore" | "inherit" | "merge" | number;

function checkTarget(value: unknown, name: StreamName, method: string): StdioPlan {
  if (value === null || value === undefined) return "inherit";
  if (value === PIPE) return "pipe";
  if (value === DEVNULL) return "ignore";
  if (value === STDOUT) {
    if (name !== "stderr") throw new RangeError(`${method}: STDOUT is only valid for \`stderr\`, got it for \`${name}\``);
    return "merge";
  }
  let fd: unknown = value;
  if (typeof value === "object" && "fd" in (value as object)) fd = (value as { fd: unknown }).fd;
  if (typeof fd === "number") {
    if (!Number.isInteger(fd) || fd < 0) {
      throw new RangeError(`${method}: expected \`${name}\` to be PIPE, DEVNULL${name === "stderr" ? ", STDOUT" : ""}, null or a file descriptor, got ${fd}`);
    }
    return fd;
  }
  throw new TypeError(
    `${method}: expected \`${name}\` to be PIPE, DEVNULL${name === "stderr" ? ", STDOUT" : ""}, null or a file descriptor, got ${describe(value)}`,
  );
}

/** @internal The checked form of the options. */
export interface SubprocessPlan {
  readonly stdin: StdioPlan;
  readonly stdout: StdioPlan;
  readonly stderr: StdioPlan;
  readonly spawnOptions: SpawnOptions;
}

/** @internal Checks `options` for `method`; `defaultTarget` is what an absent stream gets (PIPE or inherit). */
export function _checkOptions(options: unknown, method: string, defaultTarget: StdioTarget, shell: boolean): SubprocessPlan {
  const o: Record<string, unknown> = checkOptions(options as Record<string, unknown> | null | undefined, method) ?? {};
  for (const key of Object.keys(o)) {
    if (o[key] === undefined) continue;
    if (Object.hasOwn(PYTHON_ONLY_DEFAULTS, key)) {
      const allowed = PYTHON_ONLY_DEFAULTS[key];
      if (o[key] !== allowed && !(allowed === null && o[key] === null)) {
        throw new RangeError(`${method}: \`${key}\` must be ${String(allowed)}: the streams carry bytes (decode them yourself), got ${inspect(o[key])}`);
      }
      continue;
    }
    if (!KNOWN_OPTIONS.has(key)) throw new TypeError(`${method}: unknown option \`${key}\``);
  }
  if (o.shell !== undefined && Boolean(o.shell) !== shell) {
    throw new RangeError(`${method}: \`shell\` must be ${shell}, got ${inspect(o.shell)}`);
  }
  const pick = (name: StreamName): StdioPlan => checkTarget(Object.hasOwn(o, name) ? o[name] : defaultTarget, name, method);
  const stdin = pick("stdin");
  const stdout = pick("stdout");
  const stderr = pick("stderr");
  const spawnOptions: SpawnOptions = { windowsHide: true };
  if (o.cwd !== undefined && o.cwd !== null) {
    if (o.cwd instanceof URL) spawnOptions.cwd = fileURLToPath(o.cwd);
    else if (typeof o.cwd === "string") spawnOptions.cwd = o.cwd;
    else throw new TypeError(`${method}: expected \`cwd\` to be a string or a URL, got ${describe(o.cwd)}`);
  }
  if (o.env !== undefined && o.env !== null) {
    if (typeof o.env !== "object") throw new TypeError(`${method}: expected \`env\` to be an object, got ${describe(o.env)}`);
    spawnOptions.env = o.env as NodeJS.ProcessEnv;
  }
  for (const key of ["detached", "windowsHide"] as const) {
    if (o[key] === undefined) continue;
    if (typeof o[key] !== "boolean") throw new TypeError(`${method}: expected \`${key}\` to be a boolean, got ${describe(o[key])}`);
    spawnOptions[key] = o[key] as boolean;
  }
  for (const key of ["uid", "gid"] as const) {
    if (o[key] === undefined) continue;
    if (typeof o[key] !== "number" || !Number.isInteger(o[key])) {
      throw new TypeError(`${method}: expected \`${key}\` to be an integer, got ${describe(o[key])}`);
    }
    spawnOptions[key] = o[key] as number;
  }
  if (o.argv0 !== undefined) {
    if (typeof o.argv0 !== "string") throw new TypeError(`${method}: expected \`argv0\` to be a string, got ${describe(o.argv0)}`);
    spawnOptions.argv0 = o.argv0;
  }
  return { stdin, stdout, stderr, spawnOptions };
}

// ------------------------------------------------------------------ a connected pair of sockets

/**
 * Two connected local sockets: the child gets one as both stdout and stderr (`stderr: STDOUT` with a pipe), we read
 * the other. Node has no anonymous `pipe()`, and two separate pipes would lose the order of the child's writes.
 */
async function socketPair(): Promise<[net.Socket, net.Socket]> {
  let dir: string | null = null;
  let path: string;
  if (process.platform === "linux") {
    path = `\0asyncio-ts-${process.pid}-${Math.random().toString(36).slice(2)}`;
  } else if (process.platform === "win32") {
    path = `\\\\?\\pipe\\asyncio-ts-${process.pid}-${Math.random().toString(36).slice(2)}`;
  } else {
    dir = mkdtempSync(join(tmpdir(), "asyncio-ts-"));
    path = join(dir, "s");
  }
  const server = nodeNet.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, resolve);
    });
    const accepted = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
    const client = nodeNet.connect(path);
    await new Promise<void>((resolve, reject) => {
      client.once("error", reject);
      client.once("connect", resolve);
    });
    return [await accepted, client];
  } finally {
    server.close();
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ pipe transports

/** What a pipe transport tells its subprocess transport. */
interface PipeOwner {
  _pipeDataReceived(fd: number, data: Buffer): void;
  _pipeConnectionLost(fd: number, exc: Error | null): void;
  _pausePipeWriting(): void;
  _resumePipeWriting(): void;
}

/** The public transport classes a pipe transport extends: `ReadTransport` or `WriteTransport`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- TypeScript requires a mixin's base constructor to take any[]
type TransportClass = new (...args: any[]) => BaseTransport;

/**
 * The base both pipe transports share (the parts of CPython's `_UnixReadPipeTransport` and `_UnixWritePipeTransport`
 * that are the same): the socket of one of the child's pipes, the subprocess transport it reports to, and closing
 * exactly once. A function of the public class it extends, so that each still is a `ReadTransport` or a
 * `WriteTransport` (a mixin, as CPython's `_FlowControlMixin`).
 */
function pipeTransportBase<B extends TransportClass>(Base: B, fatalMessage: string) {
  abstract class PipeTransportBase extends Base {
    // Invariants: `_closing` is set by close(), EOF or an error, after which nothing is delivered; `_lost` is set
    // once connection loss is scheduled (it happens once); `_owner` is null once it was told.
    /** @internal */ _loop!: EventLoop;
    /** @internal */ _sock!: net.Socket;
    /** @internal */ _fd = 0;
    /** @internal */ _owner: PipeOwner | null = null;
    /** @internal */ _closing = false;
    /** @internal */ _lost = false;

    /** @internal Called by the subclass constructor once `super()` returned. */
    _attach(loop: EventLoop, sock: net.Socket, fd: number, owner: PipeOwner): void {
      this._loop = loop;
      this._sock = sock;
      this._fd = fd;
      this._owner = owner;
      sock.on("error", inLoop(loop, (err: Error) => this._fatalError(err)));
    }

    override isClosing(): boolean {
      return this._closing;
    }

    override setProtocol(_protocol: object): void {
      throw new RuntimeError("the pipe transports of a subprocess report to the subprocess transport; set its protocol instead");
    }

    override getProtocol(): null {
      return null;
    }

    /** @internal */
    _fatalError(err: Error): void {
      if (!isSystemError(err)) {
        this._loop.callExceptionHandler({ message: fatalMessage, exception: err, transport: this });
      } else if (this._loop._debug) {
        this._loop._log(`${String(this)}: ${fatalMessage}: ${err.message}`);
      }
      this._close(err);
    }

    /** @internal Closes the socket and tells the owner, once, in a later loop iteration. */
    _close(exc: Error | null): void {
      this._closing = true;
      if (this._lost) return;
      this._lost = true;
      this._sock.destroy();
      if (this._loop.isClosed()) return;
      this._loop.callSoon(() => {
        const owner = this._owner;
        this._owner = null;
        owner?._pipeConnectionLost(this._fd, exc);
      });
    }

    [inspect.custom](): string {
      return String(this);
    }
  }
  return PipeTransportBase;
}

/** @internal The transport of the child's stdout or stderr (Python's `_UnixReadPipeTransport`). */
export class _ReadPipeTransport extends pipeTransportBase(ReadTransport, "Fatal error on pipe transport") {
  private _paused = false;

  /** @internal */
  constructor(loop: EventLoop, sock: net.Socket, fd: number, owner: PipeOwner) {
    super({ pipe: sock });
    this._attach(loop, sock, fd, owner);
    sock.on(
      "data",
      inLoop(loop, (chunk: Buffer) => {
        if (!this._closing && !loop.isClosed()) this._owner?._pipeDataReceived(fd, chunk);
      }),
    );
    sock.on("end", inLoop(loop, () => this._close(null)));
    sock.on("close", inLoop(loop, () => this._close(null)));
  }

  override isReading(): boolean {
    return !this._paused && !this._closing;
  }

  override pauseReading(): void {
    if (!this.isReading()) return;
    this._paused = true;
    this._sock.pause();
  }

  override resumeReading(): void {
    if (this._closing || !this._paused) return;
    this._paused = false;
    this._sock.resume();
  }

  /** Stops reading and closes our end of the pipe; the child gets EPIPE (or SIGPIPE) if it writes more. */
  override close(): void {
    if (!this._closing) this._close(null);
  }

  override toString(): string {
    const state = this._lost ? "closed" : this._closing ? "closing" : this._paused ? "paused" : "polling";
    return `<ReadPipeTransport fd=${this._fd} ${state}>`;
  }
}

/** @internal The transport of the child's stdin (Python's `_UnixWritePipeTransport`), with write flow control. */
export class _WritePipeTransport extends pipeTransportBase(WriteTransport, "Fatal write error on pipe transport") {
  // Invariants: `_buffered` counts bytes handed to Node and not yet written to the pipe; `_connLost` counts writes
  // after the pipe was lost (for the warning).
  private _buffered = 0;
  private _writeError: Error | null = null;
  private _connLost = 0;
  private readonly _flow: WriteFlowControl = new WriteFlowControl(this);

  /** @internal */
  constructor(loop: EventLoop, sock: net.Socket, owner: PipeOwner) {
    super({ pipe: sock });
    this._attach(loop, sock, 0, owner);
    sock.on(
      "close",
      inLoop(loop, () => {
        // Closed when the child exited: data that was still buffered is lost (Python's BrokenPipeError).
        this._close(this._writeError ?? (this._buffered > 0 ? brokenPipe() : null));
      }),
    );
    sock.on("finish", inLoop(loop, () => this._close(null)));
  }

  override write(data: Uint8Array | string): void {
    const bytes = toWritable(data, "write");
    if (bytes.length === 0) return;
    if (this._lost || this._closing) {
      if (this._connLost >= LOG_THRESHOLD_FOR_CONNLOST_WRITES) this._loop._log("pipe closed by peer or write(pipe, data) raised exception.");
      this._connLost++;
      return;
    }
    const size = typeof bytes === "string" ? Buffer.byteLength(bytes) : bytes.length;
    this._buffered += size;
    this._sock.write(bytes, inLoop(this._loop, (err?: Error | null) => this._written(size, err ?? null)));
    this._flow.grew(this._buffered);
  }

  private _written(size: number, err: Error | null): void {
    this._buffered -= size;
    if (err !== null) {
      this._writeError ??= isSystemError(err) ? err : brokenPipe();
      return;
    }
    if (this._lost) return;
    this._flow.shrank(this._buffered);
  }

  override canWriteEof(): boolean {
    return true;
  }

  /** Closes the pipe once the buffered data is written: the child reads EOF. */
  override writeEof(): void {
    if (this._closing) return;
    this._closing = true;
    this._sock.end();
  }

  /** As `writeEof()`: for a pipe, the write side is all there is. */
  override close(): void {
    this.writeEof();
  }

  /** Closes at once, dropping buffered data. */
  override abort(): void {
    this._close(null);
  }

  override getWriteBufferSize(): number {
    return this._buffered;
  }

  /** @internal */
  _pauseWriting(): void {
    this._owner?._pausePipeWriting();
  }

  /** @internal */
  _resumeWriting(): void {
    this._owner?._resumePipeWriting();
  }

  override setWriteBufferLimits(high?: number | null, low?: number | null): void {
    this._flow.setLimits(high, low, this._buffered);
  }

  override getWriteBufferLimits(): [number, number] {
    return this._flow.limits();
  }

  override toString(): string {
    const state = this._lost ? "closed" : this._closing ? "closing" : "open";
    return `<WritePipeTransport fd=0 ${state} bufsize=${this._buffered}>`;
  }
}

type PipeTransport = _ReadPipeTransport | _WritePipeTransport;

function brokenPipe(): Error {
  return systemError("EPIPE", "write EPIPE: the child closed its stdin before reading everything written to it");
}

// ------------------------------------------------------------------ the subprocess transport

/** What a subprocess protocol may implement; every method is optional. */
export interface SubprocessProtocolLike {
  connectionMade?(transport: SubprocessTransport): void;
  connectionLost?(exc: Error | null): void;
  pauseWriting?(): void;
  resumeWriting?(): void;
  pipeDataReceived?(fd: number, data: Buffer): void;
  pipeConnectionLost?(fd: number, exc: Error | null): void;
  processExited?(): void;
}

const liveTransports = new WeakMap<EventLoop, Set<_SubprocessTransport>>();

/** @internal A child process and its pipes (Python's `BaseSubprocessTransport`). */
export class _SubprocessTransport extends SubprocessTransport {
  // Invariants:
  // - `_pendingCalls` is non-null until `connectionMade` has been scheduled; protocol calls made before are kept
  //   there and scheduled right after it, in order.
  // - `_pipes` has an entry for each stream that is a pipe; `_disconnected` holds those whose connection was lost.
  // - `_finished` is set once, when the process has exited and every pipe is disconnected: `connectionLost` is then
  //   scheduled and the `wait()` waiters are woken. `_child` is null from then on (sendSignal → ESRCH, as Python).
  /** @internal */ readonly _loop: EventLoop;
  /** @internal */ _protocol: SubprocessProtocolLike;
  /** @internal */ _child: ChildProcess | null;
  /** @internal */ readonly _pid: number | undefined;
  /** @internal */ _returncode: number | null = null;
  /** @internal */ readonly _pipes = new Map<number, PipeTransport>();
  private readonly _disconnected = new Set<number>();
  private _exitWaiters: Future<number>[] = [];
  private _pendingCalls: [Callback, unknown[]][] | null = [];
  private _finished = false;
  private _closed = false;

  /** @internal Made by `loop.subprocessExec/Shell` once the child is spawned. */
  constructor(loop: EventLoop, protocol: SubprocessProtocolLike, child: ChildProcess, merged: net.Socket | null) {
    super({ subprocess: child });
    this._loop = loop;
    this._protocol = protocol;
    this._child = child;
    this._pid = child.pid;
    if (child.stdin) this._pipes.set(0, new _WritePipeTransport(loop, child.stdin as net.Socket, this));
    const stdout = merged ?? (child.stdout as net.Socket | null);
    if (stdout) this._pipes.set(1, new _ReadPipeTransport(loop, stdout, 1, this));
    if (child.stderr) this._pipes.set(2, new _ReadPipeTransport(loop, child.stderr as net.Socket, 2, this));
    child.on("error", inLoop(loop, (err: Error) => this._childError(err)));
    child.on(
      "exit",
      inLoop(loop, (code: number | null, signal: NodeJS.Signals | null) => {
        if (loop.isClosed()) return;
        const returncode = code ?? -(signal !== null ? (signalNumber(signal) ?? 0) : 0);
        this._processExited(returncode);
      }),
    );
    let live = liveTransports.get(loop);
    if (live === undefined) {
      live = new Set();
      liveTransports.set(loop, live);
      loop._closeHooks.push(leaveChildrenRunning);
    }
    live.add(this);
  }

  /** @internal Schedules `connectionMade`, replays what came before it, then resolves `waiter`. */
  _connect(waiter: Future<void>): void {
    const pending = this._pendingCalls ?? [];
    this._pendingCalls = null;
    this._loop.callSoon(() => this._protocol.connectionMade?.(this));
    for (const [cb, args] of pending) this._loop.callSoon(cb, ...args);
    if (!waiter.done()) waiter.setResult(undefined);
  }

  override getPid(): number | undefined {
    return this._pid;
  }

  override getReturncode(): number | null {
    return this._returncode;
  }

  override getPipeTransport(fd: number): _ReadPipeTransport | _WritePipeTransport | null {
    return this._pipes.get(fd) ?? null;
  }

  override setProtocol(protocol: SubprocessProtocolLike): void {
    if (protocol === null || typeof protocol !== "object") {
      throw new TypeError(`setProtocol: expected \`protocol\` to be an object, got ${describe(protocol)}`);
    }
    this._protocol = protocol;
  }

  override getProtocol(): SubprocessProtocolLike {
    return this._protocol;
  }

  override isClosing(): boolean {
    return this._closed;
  }

  /**
   * Closes the pipes and, if the child is still running, kills it (SIGKILL), as asyncio does. `Process` closes
   * its transport only after the child exited, so using `createSubprocessExec` never kills anything by itself.
   */
  override close(): void {
    if (this._closed) return;
    this._closed = true;
    for (const pipe of this._pipes.values()) pipe.close();
    const child = this._child;
    if (child !== null && this._returncode === null && child.exitCode === null && child.signalCode === null) {
      if (this._loop._debug) this._loop._log(`Close running child process: kill ${this}`);
      child.kill("SIGKILL");
    }
  }

  /**
   * Sends `sig` (a name or a number) to the child; does nothing if it has exited but was not waited for yet.
   * An `Error` with `code: "ESRCH"` (Python's `ProcessLookupError`) once it has been waited for.
   */
  override sendSignal(sig: SignalLike): void {
    const signal = resolveSignal(sig, "sendSignal");
    const child = this._checkProc();
    child.kill(signal.name);
  }

  /** Sends SIGTERM. */
  override terminate(): void {
    this.sendSignal("SIGTERM");
  }

  /** Sends SIGKILL. */
  override kill(): void {
    this.sendSignal("SIGKILL");
  }

  private _checkProc(): ChildProcess {
    if (this._child === null) throw systemError("ESRCH", "the process has exited and was waited for: no such process");
    return this._child;
  }

  /** @internal Resolves with the return code once the process exited (and, if it had not yet, its pipes closed). */
  async _wait(): Promise<number> {
    if (this._returncode !== null) return this._returncode;
    const waiter = this._loop.createFuture<number>();
    this._exitWaiters.push(waiter);
    return await waiter;
  }

  /** @internal A Future resolved with the return code when `_wait()` would return, for callbacks (no task awaits it). */
  _exitFuture(): Future<number> {
    const waiter = this._loop.createFuture<number>();
    if (this._finished || (this._returncode !== null && this._child === null)) waiter.setResult(this._returncode ?? 0);
    else this._exitWaiters.push(waiter);
    return waiter;
  }

  private _call(cb: Callback, ...args: unknown[]): void {
    if (this._pendingCalls !== null) this._pendingCalls.push([cb, args]);
    else this._loop.callSoon(cb, ...args);
  }

  /** @internal */
  _pipeDataReceived(fd: number, data: Buffer): void {
    this._call(this._deliverData, fd, data);
  }

  private readonly _deliverData = (fd: number, data: Buffer): void => {
    this._protocol.pipeDataReceived?.(fd, data);
  };

  /** @internal */
  _pipeConnectionLost(fd: number, exc: Error | null): void {
    this._disconnected.add(fd);
    this._call(this._deliverPipeLost, fd, exc);
    this._tryFinish();
  }

  private readonly _deliverPipeLost = (fd: number, exc: Error | null): void => {
    this._protocol.pipeConnectionLost?.(fd, exc);
  };

  /** @internal */
  _pausePipeWriting(): void {
    this._protocol.pauseWriting?.();
  }

  /** @internal */
  _resumePipeWriting(): void {
    this._protocol.resumeWriting?.();
  }

  private _childError(err: Error): void {
    // After a successful spawn Node reports only failed kill() calls here (e.g. EPERM).
    if (this._loop.isClosed()) return;
    this._loop.callExceptionHandler({ message: `Error from child process ${this._pid}`, exception: err, transport: this });
  }

  /** @internal */
  _processExited(returncode: number): void {
    if (this._returncode !== null) return;
    this._returncode = returncode;
    this._call(this._deliverExited);
    this._tryFinish();
  }

  private readonly _deliverExited = (): void => {
    this._protocol.processExited?.();
  };

  private _tryFinish(): void {
    if (this._finished || this._returncode === null) return;
    for (const fd of this._pipes.keys()) if (!this._disconnected.has(fd)) return;
    this._finished = true;
    this._call(this._callConnectionLost, null);
  }

  private readonly _callConnectionLost = (exc: Error | null): void => {
    try {
      this._protocol.connectionLost?.(exc);
    } finally {
      for (const waiter of this._exitWaiters) if (!waiter.done()) waiter.setResult(this._returncode!);
      this._exitWaiters = [];
      this._child = null;
      liveTransports.get(this._loop)?.delete(this);
    }
  };

  /** @internal The loop closed with this child still running: leave it running, stop listening, let Node exit. */
  _leaveRunning(): void {
    for (const pipe of this._pipes.values()) pipe._sock.destroy();
    const child = this._child;
    child?.unref();
  }

  override toString(): string {
    const info = ["SubprocessTransport"];
    if (this._closed) info.push("closed");
    if (this._pid !== undefined) info.push(`pid=${this._pid}`);
    if (this._returncode !== null) info.push(`returncode=${this._returncode}`);
    else if (this._pid !== undefined) info.push("running");
    for (const [fd, name] of [[0, "stdin"], [1, "stdout"], [2, "stderr"]] as const) {
      const pipe = this._pipes.get(fd);
      if (pipe !== undefined) info.push(`${name}=${pipe}`);
    }
    return `<${info.join(" ")}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

function leaveChildrenRunning(loop: EventLoop): void {
  const live = liveTransports.get(loop);
  if (live === undefined) return;
  liveTransports.delete(loop);
  for (const transport of live) {
    if (transport._returncode === null && loop._debug) {
      loop._log(`loop closed with child process ${transport._pid} still running (left running): ${transport}`);
    }
    transport._leaveRunning();
  }
}

// ------------------------------------------------------------------ spawning

type NodeStdio = "pipe" | "ignore" | "inherit" | number | net.Socket;

function toNodeStdio(plan: SubprocessPlan, merged: net.Socket | null): StdioOptions {
  const one = (p: StdioPlan): NodeStdio => (p === "merge" ? "inherit" : p);
  const stdout: NodeStdio = merged ?? one(plan.stdout);
  let stderr: NodeStdio;
  if (plan.stderr !== "merge") stderr = one(plan.stderr);
  else if (merged !== null) stderr = merged;
  else if (plan.stdout === "inherit") stderr = 1;
  else stderr = one(plan.stdout);
  return [one(plan.stdin), stdout, stderr];
}

/** @internal Spawns the child, waits until it started (or failed to), and returns the connected transport. */
export async function _makeSubprocessTransport(
  loop: EventLoop,
  protocol: SubprocessProtocolLike,
  file: string,
  args: readonly string[],
  shell: boolean,
  plan: SubprocessPlan,
): Promise<_SubprocessTransport> {
  let pair: [net.Socket, net.Socket] | null = null;
  if (plan.stderr === "merge" && plan.stdout === "pipe") pair = await socketPair();
  const [ours, theirs] = pair ?? [null, null];
  let child: ChildProcess;
  try {
    child = loadChildProcess().spawn(file, args as string[], { ...plan.spawnOptions, shell, stdio: toNodeStdio(plan, theirs) });
  } catch (error) {
    ours?.destroy();
    throw error;
  } finally {
    // The child has its own copy now; ours must go, or we would never read EOF.
    theirs?.destroy();
  }
  if (child.pid === undefined) {
    // The spawn failed (ENOENT, EACCES, a bad cwd): Node reports it with an "error" event on the next tick.
    ours?.destroy();
    const failed = loop.createFuture<never>();
    child.once("error", (err) => {
      if (!failed.done() && !loop.isClosed()) failed.setException(err);
    });
    await failed;
  }
  const transport = new _SubprocessTransport(loop, protocol, child, ours);
  const waiter = loop.createFuture<void>();
  loop.callSoon(() => transport._connect(waiter));
  try {
    await waiter;
  } catch (error) {
    // Cancelled while connecting: as asyncio, kill the child and wait for it before giving up.
    transport.close();
    await transport._wait();
    throw error;
  }
  return transport;
}

function checkProtocolFactory(factory: unknown, method: string): () => SubprocessProtocolLike {
  if (typeof factory !== "function") {
    throw new TypeError(`${method}: expected \`protocolFactory\` to be a function, got ${describe(factory)}`);
  }
  return factory as () => SubprocessProtocolLike;
}

/** @internal Checks `program` and `args` of an exec call. */
export function _checkExecArgs(program: unknown, args: unknown, method: string): string[] {
  if (typeof program !== "string" && !(program instanceof URL)) {
    throw new TypeError(`${method}: expected \`program\` to be a string, got ${describe(program)}`);
  }
  if (args === undefined || args === null) return [];
  if (!Array.isArray(args)) {
    throw new TypeError(
      `${method}: expected \`args\` to be an array of strings, got ${describe(args)}; pass the arguments as an array: ` +
        `${method}("ls", ["-l"], { stdout: PIPE })`,
    );
  }
  args.forEach((a, i) => {
    if (typeof a !== "string") throw new TypeError(`${method}: expected \`args[${i}]\` to be a string, got ${describe(a)}`);
  });
  return args as string[];
}

/** @internal Checks the command of a shell call. */
export function _checkShellCommand(cmd: unknown, method: string): string {
  if (typeof cmd !== "string") throw new TypeError(`${method}: expected \`cmd\` to be a string, got ${describe(cmd)}`);
  return cmd;
}

declare module "./events.js" {
  interface EventLoop {
    /**
     * Starts `program` with `args` (no shell) and connects it to a protocol made by `protocolFactory`; resolves to
     * `[transport, protocol]` once the child runs. Each of `stdin`, `stdout`, `stderr` defaults to `PIPE` here.
     * A program that cannot be started rejects with Node's error (`code: "ENOENT"`, `"EACCES"`).
     *
     * Cancellation: if the caller is cancelled while the child starts, the child is killed and waited for, then
     * `CancelledError` propagates.
     *
     * @throws {TypeError} bad `program`, `args`, option types or unknown options.
     * @throws {RangeError} `STDOUT` for stdin or stdout, a negative file descriptor, `encoding`/`text`/... set.
     */
    subprocessExec<P extends SubprocessProtocolLike>(
      protocolFactory: () => P,
      program: string,
      args?: readonly string[],
      options?: SubprocessOptions,
    ): Promise<[SubprocessTransport, P]>;
    /**
     * Runs `cmd` with the system shell (`/bin/sh -c cmd`; `cmd.exe` on Windows), otherwise as `subprocessExec`.
     *
     * Cancellation: as `subprocessExec`.
     */
    subprocessShell<P extends SubprocessProtocolLike>(
      protocolFactory: () => P,
      cmd: string,
      options?: SubprocessOptions,
    ): Promise<[SubprocessTransport, P]>;
  }
}

EventLoop.prototype.subprocessExec = async function subprocessExec<P extends SubprocessProtocolLike>(
  this: EventLoop,
  protocolFactory: () => P,
  program: string,
  args?: readonly string[],
  options?: SubprocessOptions,
): Promise<[_SubprocessTransport, P]> {
  const factory = checkProtocolFactory(protocolFactory, "subprocessExec");
  const argv = _checkExecArgs(program, args, "subprocessExec");
  const plan = _checkOptions(options, "subprocessExec", PIPE, false);
  this._checkClosed();
  const file = (program as unknown) instanceof URL ? fileURLToPath(program) : program;
  const protocol = factory() as P;
  const transport = await _makeSubprocessTransport(this, protocol, file, argv, false, plan);
  return [transport, protocol];
};

EventLoop.prototype.subprocessShell = async function subprocessShell<P extends SubprocessProtocolLike>(
  this: EventLoop,
  protocolFactory: () => P,
  cmd: string,
  options?: SubprocessOptions,
): Promise<[_SubprocessTransport, P]> {
  const factory = checkProtocolFactory(protocolFactory, "subprocessShell");
  const command = _checkShellCommand(cmd, "subprocessShell");
  const plan = _checkOptions(options, "subprocessShell", PIPE, true);
  this._checkClosed();
  const protocol = factory() as P;
  const transport = await _makeSubprocessTransport(this, protocol, command, [], true, plan);
  return [transport, protocol];
};

/** The protocol class for `loop.subprocessExec`, re-exported for convenience. */
export type { SubprocessProtocol };
