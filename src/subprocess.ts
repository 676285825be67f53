/**
 * Subprocesses with streams: `createSubprocessExec`, `createSubprocessShell`, `Process`, and the `subprocess`
 * namespace (`PIPE`, `STDOUT`, `DEVNULL`), as CPython's `asyncio/subprocess.py`.
 *
 * A process's `stdin` is a `StreamWriter` and its `stdout`/`stderr` are `StreamReader`s, over the pipe transports of
 * `base_subprocess.ts`. The readers pause a pipe when their buffer passes twice their `limit`, so a child writing
 * more than that into a pipe nobody reads waits (as with Python): read the pipes, or use `communicate()`.
 * @module
 */
import { fileURLToPath, inspect } from "./_internal/node.js";
import "./_internal/dispose.js";
import { getRunningLoop, type EventLoop } from "./events.js";
import type { Future } from "./futures.js";
import { gather } from "./waiting.js";
import { FlowControlMixin, StreamReader, StreamWriter } from "./streams.js";
import type { BaseTransport, Transport } from "./transports.js";
import {
  DEVNULL,
  PIPE,
  STDOUT,
  type SubprocessOptions,
  type _SubprocessTransport,
  _checkExecArgs,
  _checkOptions,
  _checkShellCommand,
  _makeSubprocessTransport,
} from "./base_subprocess.js";
import { isSystemError } from "./_internal/io/netutil.js";
import type { SignalLike } from "./_internal/processes/signals.js";
import { describe } from "./_internal/validate.js";
import { abortError, checkSignal, onAbort } from "./_internal/abort.js";

export type { StdioTarget, SubprocessOptions, SubprocessProtocolLike } from "./base_subprocess.js";

/** Options of `createSubprocessExec` and `createSubprocessShell`: where each stream goes, and the readers' limit. */
export interface CreateSubprocessOptions extends SubprocessOptions {
  /** The buffer limit of the `stdout`/`stderr` readers (default 64 KiB). */
  limit?: number;
  /**
   * Aborted before the child started: `CancelledError` (the abort reason's message); while it starts: the start is
   * cancelled (the child killed and reaped); once it runs: the child gets SIGKILL (`wait()` gives -9).
   */
  signal?: AbortSignal | null;
}

/** The default buffer limit of the readers: 64 KiB, as asyncio. */
const DEFAULT_LIMIT = 2 ** 16;

function checkLimit(options: unknown, method: string): number {
  if (options === null || typeof options !== "object") return DEFAULT_LIMIT;
  const limit = (options as CreateSubprocessOptions).limit;
  if (limit === undefined || limit === null) return DEFAULT_LIMIT;
  if (typeof limit !== "number") throw new TypeError(`${method}: expected \`limit\` to be a number of bytes, got ${describe(limit)}`);
  if (!Number.isInteger(limit) || limit <= 0) throw new RangeError(`${method}: expected \`limit\` to be a positive integer, got ${limit}`);
  return limit;
}

/** Errors `communicate()` ignores while feeding stdin, as Python ignores BrokenPipeError and ConnectionResetError. */
function isBrokenPipe(error: unknown): boolean {
  return isSystemError(error) && (error.code === "EPIPE" || error.code === "ECONNRESET");
}

/**
 * The protocol behind `Process`: makes the streams when the transport connects, feeds the readers, and closes the
 * transport once the process has exited and its output pipes are closed (Python's `SubprocessStreamProtocol`).
 */
export class SubprocessStreamProtocol extends FlowControlMixin {
  // Invariants: the streams exist from `connectionMade` on, each only for a stream that is a pipe. `_pipeFds`
  // lists the output pipes still open; the transport is closed (and dropped) once it is empty and the process exited.
  stdin: StreamWriter | null = null;
  stdout: StreamReader | null = null;
  stderr: StreamReader | null = null;
  /** @internal */ readonly _limit: number;
  private _transport: _SubprocessTransport | null = null;
  private _processExited = false;
  private readonly _pipeFds: number[] = [];
  private readonly _stdinClosed: Future<void>;

  constructor(limit: number, loop: EventLoop) {
    super(loop);
    this._limit = limit;
    this._stdinClosed = loop.createFuture<void>();
  }

  /** Makes the streams; `transport` is the subprocess transport (typed as its base, as the protocol classes are). */
  override connectionMade(base: BaseTransport): void {
    const transport = base as _SubprocessTransport;
    this._transport = transport;
    for (const fd of [1, 2] as const) {
      const pipe = transport.getPipeTransport(fd);
      if (pipe === null) continue;
      const reader = new StreamReader({ limit: this._limit, loop: this._loop });
      // A read pipe transport has the reading half of `Transport`, all the reader uses.
      reader.setTransport(pipe as unknown as Transport);
      if (fd === 1) this.stdout = reader;
      else this.stderr = reader;
      this._pipeFds.push(fd);
    }
    const stdin = transport.getPipeTransport(0);
    // A write pipe transport has the writing half of `Transport`, all the writer uses.
    if (stdin !== null) this.stdin = new StreamWriter(stdin as unknown as Transport, this, null, this._loop);
  }

  pipeDataReceived(fd: number, data: Buffer): void {
    const reader = fd === 1 ? this.stdout : fd === 2 ? this.stderr : null;
    reader?.feedData(data);
  }

  pipeConnectionLost(fd: number, exc: Error | null): void {
    if (fd === 0) {
      this.stdin?.close();
      this.connectionLost(exc);
      if (!this._stdinClosed.done()) {
        if (exc === null) this._stdinClosed.setResult();
        else {
          this._stdinClosed.setException(exc);
          // Awaiting waitClosed() is optional: do not report this error as never retrieved.
          this._stdinClosed.exception();
        }
      }
      return;
    }
    const reader = fd === 1 ? this.stdout : fd === 2 ? this.stderr : null;
    if (reader !== null) {
      if (exc === null) reader.feedEof();
      else reader.setException(exc);
    }
    const at = this._pipeFds.indexOf(fd);
    if (at >= 0) this._pipeFds.splice(at, 1);
    this._maybeCloseTransport();
  }

  processExited(): void {
    this._processExited = true;
    this._maybeCloseTransport();
  }

  private _maybeCloseTransport(): void {
    if (this._pipeFds.length === 0 && this._processExited && this._transport !== null) {
      this._transport.close();
      this._transport = null;
    }
  }

  override _getCloseWaiter(stream: StreamWriter): Future<void> {
    if (stream === this.stdin) return this._stdinClosed;
    return super._getCloseWaiter(stream);
  }

  override toString(): string {
    const info = ["SubprocessStreamProtocol"];
    if (this.stdin !== null) info.push(`stdin=${this.stdin}`);
    if (this.stdout !== null) info.push(`stdout=${this.stdout}`);
    if (this.stderr !== null) info.push(`stderr=${this.stderr}`);
    return `<${info.join(" ")}>`;
  }
}

/**
 * A child process started by `createSubprocessExec` or `createSubprocessShell`. `stdin`, `stdout` and `stderr` are
 * streams for the streams given as `PIPE`, `null` otherwise.
 */
export class Process {
  /** The process id. */
  readonly pid: number;
  /** The writer of the child's stdin, when it is a pipe. */
  readonly stdin: StreamWriter | null;
  /** The reader of the child's stdout, when it is a pipe. */
  readonly stdout: StreamReader | null;
  /** The reader of the child's stderr, when it is a pipe (not with `stderr: STDOUT`). */
  readonly stderr: StreamReader | null;
  /** @internal */ readonly _transport: _SubprocessTransport;
  /** @internal */ readonly _protocol: SubprocessStreamProtocol;
  /** @internal */ readonly _loop: EventLoop;

  /** @internal Use `createSubprocessExec` or `createSubprocessShell`. */
  constructor(transport: _SubprocessTransport, protocol: SubprocessStreamProtocol, loop: EventLoop) {
    this._transport = transport;
    this._protocol = protocol;
    this._loop = loop;
    this.stdin = protocol.stdin;
    this.stdout = protocol.stdout;
    this.stderr = protocol.stderr;
    this.pid = transport.getPid()!;
  }

  /** The exit code; `-N` when the child was killed by signal N (as Python); `null` while it runs. */
  get returncode(): number | null {
    return this._transport.getReturncode();
  }

  /**
   * Waits for the child to exit and returns its `returncode`. If it had not exited yet, this also waits until its
   * output pipes are closed. A child writing a lot into a pipe nobody reads never exits: read the pipe, or use
   * `communicate()`.
   *
   * Cancellation: only the wait stops; the child keeps running, as in asyncio (kill it yourself if needed).
   */
  async wait(): Promise<number> {
    return await this._transport._wait();
  }

  /**
   * Sends `input` (if given, and if stdin is a pipe) and closes stdin, reads stdout and stderr to their end (those
   * that are pipes) all at once, so nothing deadlocks whatever the sizes, then waits for the child to exit.
   * Returns `[stdout, stderr]`, `null` for a stream that is not a pipe. A child that exits or closes its stdin
   * without reading all the input is not an error (EPIPE and ECONNRESET are ignored, as Python).
   *
   * Cancellation: the reading, writing and waiting stop; the child keeps running and its pipes stay open, as in
   * asyncio. Data read so far is lost with the cancelled call.
   *
   * @throws {TypeError} `input` is neither bytes nor a string.
   */
  async communicate(input?: Uint8Array | string | null): Promise<[Buffer | null, Buffer | null]> {
    if (input !== undefined && input !== null && typeof input !== "string" && !(input instanceof Uint8Array)) {
      throw new TypeError(`communicate: expected \`input\` to be a Uint8Array, a string or null, got ${describe(input)}`);
    }
    const stdin = this.stdin;
    const noop = async (): Promise<null> => null;
    const [, out, err] = await gather(
      stdin !== null ? () => this._feedStdin(stdin, input ?? null) : noop,
      this.stdout !== null ? () => this._readStream(1) : noop,
      this.stderr !== null ? () => this._readStream(2) : noop,
    );
    await this.wait();
    return [out, err];
  }

  private async _feedStdin(stdin: StreamWriter, input: Uint8Array | string | null): Promise<null> {
    try {
      if (input !== null) stdin.write(input);
      await stdin.drain();
    } catch (error) {
      if (!isBrokenPipe(error)) throw error;
    }
    stdin.close();
    return null;
  }

  private async _readStream(fd: 1 | 2): Promise<Buffer> {
    const stream = fd === 1 ? this.stdout! : this.stderr!;
    const output = await stream.read();
    this._transport.getPipeTransport(fd)?.close();
    return output;
  }

  /** Sends `sig` (a name such as `"SIGUSR1"` or a number); an `Error` with `code: "ESRCH"` once the child was waited for. */
  sendSignal(sig: SignalLike): void {
    this._transport.sendSignal(sig);
  }

  /** Sends SIGTERM (asks the child to stop). */
  terminate(): void {
    this._transport.terminate();
  }

  /** Sends SIGKILL. */
  kill(): void {
    this._transport.kill();
  }

  /**
   * `await using proc = await createSubprocessExec(...)`: kills the child (SIGKILL) if it still runs, then waits
   * for it. A child that already exited is not an error.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    killIfRunning(this);
    await this.wait();
  }

  toString(): string {
    return `<Process ${this.pid}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/**
 * Starts `program` with `args` (no shell; `program` is looked up in `PATH`) and returns its `Process` once it runs.
 * Each of `stdin`, `stdout`, `stderr` is inherited unless given (`PIPE` for a stream, `DEVNULL`, a file descriptor;
 * `stderr: STDOUT` merges stderr into stdout). A program that cannot be started rejects with Node's error
 * (`code: "ENOENT"`, `"EACCES"`).
 *
 * Cancellation: if cancelled while the child starts, the child is killed and waited for (as asyncio), then
 * `CancelledError` propagates. Once it returns, the child is yours: cancelling later calls never kills it.
 *
 * @throws {TypeError} `program` is not a string, `args` not an array of strings, an option of the wrong type or unknown.
 * @throws {RangeError} `STDOUT` for stdin or stdout, a bad file descriptor or `limit`, `encoding`/`text` set.
 * @throws {RuntimeError} outside a running loop.
 */
export function createSubprocessExec(program: string, args: readonly string[] = [], options?: CreateSubprocessOptions | null): Promise<Process> {
  const [rest, signal] = splitSignal(options, "createSubprocessExec");
  return spawnExec(program, args, rest, signal);
}

async function spawnExec(program: string, args: readonly string[], options: CreateSubprocessOptions, signal: AbortSignal | null): Promise<Process> {
  const loop = getRunningLoop();
  const argv = _checkExecArgs(program, args, "createSubprocessExec");
  const limit = checkLimit(options, "createSubprocessExec");
  const plan = _checkOptions(options, "createSubprocessExec", null, false);
  if (signal?.aborted === true) throw abortError(signal);
  const protocol = new SubprocessStreamProtocol(limit, loop);
  const file = (program as unknown) instanceof URL ? fileURLToPath(program) : program;
  const transport = await spawnAbortable(loop, signal, () => _makeSubprocessTransport(loop, protocol, file, argv, false, plan));
  return startProcess(transport, protocol, loop, signal);
}

/**
 * Runs `cmd` with the system shell (`/bin/sh -c cmd`; `cmd.exe` on Windows) and returns its `Process`; otherwise as
 * `createSubprocessExec`. A command that does not exist is the shell's error (exit code 127), not a rejection. Quote
 * untrusted input yourself, or use `createSubprocessExec`.
 *
 * Cancellation: as `createSubprocessExec`.
 *
 * @throws {TypeError} `cmd` is not a string, or an option of the wrong type or unknown.
 * @throws {RangeError} as `createSubprocessExec`.
 */
export function createSubprocessShell(cmd: string, options?: CreateSubprocessOptions | null): Promise<Process> {
  const [rest, signal] = splitSignal(options, "createSubprocessShell");
  return spawnShell(cmd, rest, signal);
}

async function spawnShell(cmd: string, options: CreateSubprocessOptions, signal: AbortSignal | null): Promise<Process> {
  const loop = getRunningLoop();
  const command = _checkShellCommand(cmd, "createSubprocessShell");
  const limit = checkLimit(options, "createSubprocessShell");
  const plan = _checkOptions(options, "createSubprocessShell", null, true);
  if (signal?.aborted === true) throw abortError(signal);
  const protocol = new SubprocessStreamProtocol(limit, loop);
  const transport = await spawnAbortable(loop, signal, () => _makeSubprocessTransport(loop, protocol, command, [], true, plan));
  return startProcess(transport, protocol, loop, signal);
}

/** The options without `signal`, and the checked `signal` (a `TypeError` at once for a wrong one). */
function splitSignal(options: CreateSubprocessOptions | null | undefined, method: string): [CreateSubprocessOptions, AbortSignal | null] {
  if (options === undefined || options === null) return [{}, null];
  if (typeof options !== "object") return [options, null]; // `_checkOptions` names the mistake.
  if (!("signal" in options)) return [options, null];
  const { signal, ...rest } = options;
  return [rest, checkSignal(signal, method)];
}

/**
 * Spawns through `spawn`; with a signal, in a task of its own that the abort cancels (which kills and reaps a child
 * that had started), so the abort cancels the spawn and not the calling task.
 */
async function spawnAbortable(
  loop: EventLoop,
  signal: AbortSignal | null,
  spawn: () => Promise<_SubprocessTransport>,
): Promise<_SubprocessTransport> {
  if (signal === null) return await spawn();
  const task = loop.createTask(spawn);
  const registration = onAbort(signal, (message) => {
    task.cancel(message);
  });
  try {
    return await task;
  } finally {
    registration.dispose();
  }
}

/** The `Process`; with a signal, an abort while the child runs kills it (SIGKILL), until it has exited. */
function startProcess(transport: _SubprocessTransport, protocol: SubprocessStreamProtocol, loop: EventLoop, signal: AbortSignal | null): Process {
  const proc = new Process(transport, protocol, loop);
  if (signal === null) return proc;
  if (signal.aborted) {
    killIfRunning(proc);
    return proc;
  }
  const registration = onAbort(signal, () => killIfRunning(proc));
  transport._exitFuture().addDoneCallback(() => registration.dispose());
  return proc;
}

function killIfRunning(proc: Process): void {
  if (proc.returncode !== null) return;
  try {
    proc.kill();
  } catch (error) {
    // Exited meanwhile: nothing to kill.
    if (!(isSystemError(error) && error.code === "ESRCH")) throw error;
  }
}

/** Python's `asyncio.subprocess` module: the stream constants, `Process`, and the two functions. */
export const subprocess = Object.freeze({
  PIPE,
  STDOUT,
  DEVNULL,
  Process,
  createSubprocessExec,
  createSubprocessShell,
} as const);
