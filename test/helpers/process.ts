// Running a child Node process in a test and collecting what it printed.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
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

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * Whether the repository's dist/ holds `entries` (paths under dist/) and is newer than the sources and the compiler
 * settings, as right after `npm ci`.
 */
export function buildIsFresh(entries: readonly string[] = ["index.js"]): boolean {
  const dist = join(repoRoot, "dist");
  const index = join(dist, "index.js");
  if (!existsSync(index) || !entries.every((e) => existsSync(join(dist, e)))) return false;
  const inputs = Math.max(newestMtime(join(repoRoot, "src")), ...["tsconfig.json", "tsconfig.build.json"].map((f) => statSync(join(repoRoot, f)).mtimeMs));
  return statSync(index).mtimeMs >= inputs;
}

/** Builds dist/ when it is not fresh (see `buildIsFresh`), for tests that run the built package. */
export function ensureBuilt(entries: readonly string[] = ["index.js"]): void {
  if (buildIsFresh(entries)) return;
  spawnSync(process.execPath, [join(repoRoot, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"], {
    cwd: repoRoot,
    stdio: "ignore",
  });
}
