import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ProcessResult, ensureBuilt, runNode } from "./helpers/process.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const bin = join(repoRoot, "bin", "asyncio-ts.mjs");

type Result = ProcessResult;

/**
 * Runs the command line in a child process. `onStdout(all, stdin)` sees the output so far after each chunk; stdin
 * stays open until it calls `stdin.end()` (or, without `onStdout`, is closed at once). Killed after 30 s.
 */
function runCli(args: string[], onStdout?: (all: string, stdin: NodeJS.WritableStream) => void): Promise<Result> {
  return runNode([bin, ...args], onStdout === undefined ? {} : { onStdout });
}

/**
 * Runs `asyncio-ts run test/fixtures/cli-blocked.ts mode` in a process group of its own and, once the script is
 * ready, sends SIGINT `times` times (a second apart): to the whole group as a terminal's Ctrl-C does, or to the
 * command alone, as `kill -INT` does.
 */
function interrupted(mode: "block" | "sleep", to: "group" | "command", times: number): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, "run", "test/fixtures/cli-blocked.ts", mode], {
      cwd: repoRoot,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let sent = 0;
    const timers: NodeJS.Timeout[] = [];
    const guard = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 60_000);
    const send = (): void => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      sent++;
      if (to === "group") process.kill(-child.pid!, "SIGINT");
      else child.kill("SIGINT");
      if (sent < times) timers.push(setTimeout(send, 1000));
    };
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      stdout += chunk;
      if (sent === 0 && /ready \d+\n/.test(stdout)) send();
    });
    child.stderr.on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(guard);
      for (const t of timers) clearTimeout(t);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Feeds `input` to the REPL through a pipe and closes it; resolves with everything it printed. */
function replSession(input: string, args: string[] = []): Promise<Result> {
  return runCli(args, (_all, stdin) => {
    if (!(stdin as NodeJS.WritableStream & { writableEnded: boolean }).writableEnded) stdin.end(input);
  });
}

// The command line runs the built package (dist/), which `npm ci` builds; rebuild it when the sources are newer.
before(() => {
  ensureBuilt(["index.js", "testing.js"]);
  assert.equal(existsSync(join(repoRoot, "dist", "index.js")), true, "dist/index.js could not be built");
});

describe("the REPL", () => {
  test("driven through a pipe: `await asyncio.sleep(0.1); 1 + 1` prints 2", async () => {
    let sent = false;
    const result = await runCli([], (all, stdin) => {
      if (!sent && all.includes("> ")) {
        sent = true;
        stdin.write("await asyncio.sleep(0.1); 1 + 1\n");
      } else if (sent && /^> 2$/m.test(all)) {
        stdin.end();
      }
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^asyncio-ts REPL \d+\.\d+\.\d+ on Node\.js v\d+/);
    assert.match(result.stdout, /Use "await" directly instead of "asyncio\.run\(\)"\./);
    assert.match(result.stdout, /^> 2$/m);
  });

  test("each input runs as a task of a running loop", async () => {
    const result = await replSession(
      [
        "asyncio.currentTask().getName()",
        "asyncio.getRunningLoop().isRunning()",
        "const t = asyncio.createTask(() => asyncio.sleep(0.01, 'background'))",
        "await t",
        "asyncio.getRunningLoop().createFuture()",
      ].join("\n") + "\n",
    );
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(
      result.stdout.split("\n").filter((l) => l.startsWith("> ") && l !== "> "),
      ["> 'repl'", "> true", "> undefined", "> 'background'", "> <Future pending>"],
    );
  });

  test("an error is printed and the session goes on", async () => {
    const result = await replSession('throw new RangeError("boom")\nawait Promise.reject(new TypeError("later"))\n6 * 7\n');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Uncaught RangeError: boom/);
    assert.match(result.stdout, /Uncaught TypeError: later/);
    assert.match(result.stdout, /^> 42$/m);
  });

  test("a rejected asyncio.run() typed at the prompt is reported once, not also shown as a rejected Promise", async () => {
    const result = await replSession('asyncio.run(async () => { throw new Error("x") })\n6 * 7\n');
    assert.equal(result.code, 0, result.stderr);
    const output = result.stdout + result.stderr;
    assert.equal(output.match(/RuntimeError: asyncio\.run\(\) cannot be called from a running event loop/g)?.length, 1, output);
    assert.match(result.stdout, /Uncaught RuntimeError/);
    assert.doesNotMatch(output, /<rejected>/);
    assert.match(result.stdout, /^> 42$/m);
  });

  test("a promise still pending a moment later is shown, and its later rejection is reported once", async () => {
    const result = await replSession(
      // The rejection comes a full second later, so that even a loaded machine shows the promise pending first.
      'const p = new Promise((_, rej) => setTimeout(() => rej(new Error("late")), 1000)); p\nawait asyncio.sleep(1.5)\n6 * 7\n',
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /<pending>/);
    assert.equal(result.stdout.match(/Uncaught Error: late/g)?.length, 1, result.stdout);
    assert.match(result.stdout, /^> 42$/m);
  });

  test("input spread over several lines is put together", async () => {
    const result = await replSession("async function twice(x) {\n  await asyncio.sleep(0);\n  return 2 * x;\n}\nawait twice(21)\n");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^> (\.\.\. )*42$/m);
  });

  test(".exit ends the session", async () => {
    const result = await runCli([], (all, stdin) => {
      if (all.includes("> ")) stdin.write(".exit\n");
    });
    assert.equal(result.code, 0, result.stderr);
  });

  test("--debug runs the loop in debug mode", async () => {
    const result = await replSession("asyncio.getRunningLoop().getDebug()\n", ["--debug"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^> true$/m);
  });
});

describe("asyncio-ts run", () => {
  test("runs a TypeScript script's exported main under asyncio.run()", async () => {
    const result = await runCli(["run", "test/fixtures/cli-script.ts", "one", "two"]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { debug: false, args: ["one", "two"], sum: 3, task: true });
  });

  test("--debug turns debug mode on", async () => {
    const result = await runCli(["run", "test/fixtures/cli-script.ts", "--debug"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).debug, true);
  });

  test("an error from main is printed and the exit code is 1", async () => {
    const result = await runCli(["run", "test/fixtures/cli-script.ts", "fail"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /RangeError: main failed on purpose/);
  });

  test("a script without main is refused", async () => {
    const result = await runCli(["run", "test/fixtures/cli-no-main.ts"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /does not export a `main` function/);
  });

  test("Ctrl-C twice stops a script whose main blocks the thread in synchronous code", async () => {
    const result = await interrupted("block", "group", 2);
    assert.equal(result.signal, "SIGINT", result.stdout + result.stderr);
    assert.equal(result.stderr, "KeyboardInterrupt\n");
    const pid = Number(/ready (\d+)/.exec(result.stdout)?.[1]);
    assert.ok(pid > 0, result.stdout);
    assert.equal(isAlive(pid), false, "the script's process is gone too");
  });

  test("a script that awaits is cancelled by one Ctrl-C and the command ends by SIGINT", async () => {
    const result = await interrupted("sleep", "group", 1);
    assert.equal(result.signal, "SIGINT", result.stdout + result.stderr);
    assert.match(result.stdout, /^ready \d+\nmain cancelled\n$/);
    assert.equal(result.stderr, "KeyboardInterrupt\n");
  });

  test("a SIGINT sent to the command alone (not by a terminal) reaches the script once", async () => {
    const result = await interrupted("sleep", "command", 1);
    assert.equal(result.signal, "SIGINT", result.stdout + result.stderr);
    assert.match(result.stdout, /^ready \d+\nmain cancelled\n$/);
    assert.equal(result.stderr, "KeyboardInterrupt\n");
  });

  test("a missing script is one line naming it, and exit code 1", async () => {
    const result = await runCli(["run", "test/fixtures/no-such-script.ts"]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.equal(result.stderr.trimEnd().split("\n").length, 1, result.stderr);
    assert.match(result.stderr, /^asyncio-ts: cannot find the script test\/fixtures\/no-such-script\.ts/);
  });

  test("--version prints the package's version and exits with 0", async () => {
    const { version } = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string };
    for (const flag of ["--version", "-v"]) {
      const result = await runCli([flag]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `${version}\n`);
    }
  });

  test("usage", async () => {
    const help = await runCli(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /asyncio-ts run <script>/);
    const bad = await runCli(["--bogus"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown arguments: --bogus/);
    const missing = await runCli(["run"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /run: expected a script/);
  });
});
