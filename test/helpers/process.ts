// Running a child Node process in a test and collecting what it printed.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The repository's root directory, where the child processes run. */
export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** How a child process ended, and everything it printed. */
export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunNodeOptions {
  env?: NodeJS.ProcessEnv;
  /** Sees the output so far after each chunk, and the child's stdin; without it, stdin is closed at once. */
  onStdout?: (all: string, stdin: NodeJS.WritableStream) => void;
  /** Sees each complete line of stdout as it comes, and a way to signal the child. */
  onLine?: (line: string, kill: (signal: NodeJS.Signals) => void) => void;
  /** The child is killed after this long (default 30 s), so a hang fails the test instead of stalling the run. */
  killAfterMs?: number;
}

/** Runs `node ...args` in the repository's root and resolves once it has exited and closed its output. */
export function runNode(args: readonly string[], options: RunNodeOptions = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: repoRoot, env: options.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let pending = "";
    const guard = setTimeout(() => child.kill("SIGKILL"), options.killAfterMs ?? 30_000);
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      stdout += chunk;
      options.onStdout?.(stdout, child.stdin);
      if (options.onLine === undefined) return;
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        options.onLine(line, (signal) => child.kill(signal));
      }
    });
    child.stderr.on("data", (chunk: string) => {
      stderr += chunk;
    });
    if (options.onStdout === undefined) child.stdin.end();
    child.on("error", (e) => {
      clearTimeout(guard);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
