#!/usr/bin/env node
// The asyncio-ts command line, like `python -m asyncio`:
//   asyncio-ts [--debug]                      a REPL with a running event loop, `asyncio` imported, `await` at top level
//   asyncio-ts run <script> [--debug] [args]  runs the script's exported `main` (or default export) under asyncio.run()
//   asyncio-ts ps PID / pstree PID            the tasks of another running process, as a table / as an await tree
import { spawn } from "node:child_process";
import { existsSync, fstatSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import { dirname, join, resolve } from "node:path";
import readline from "node:readline";
import repl from "node:repl";
import { PassThrough } from "node:stream";
import { types } from "node:util";
import { fileURLToPath, pathToFileURL } from "node:url";

const USAGE = `Usage:
  asyncio-ts [--debug]                       open a REPL with a running event loop (\`asyncio\` is imported)
  asyncio-ts run <script> [--debug] [args]   run the script's exported \`main\` with asyncio.run()
  asyncio-ts --version                       print the version of asyncio-ts
  asyncio-ts ps PID [--timeout S]            list the tasks of the running Node.js process PID (which uses asyncio-ts)
  asyncio-ts pstree PID [--timeout S]        draw the await tree of the tasks of process PID

--debug turns on asyncio debug mode (as ASYNCIO_DEBUG=1); then SIGUSR2 prints every task's call graph.
ps and pstree open the process's inspector with SIGUSR1 (same user; not on Windows) and close it again afterwards;
--timeout bounds each wait (the inspector to open, the process to answer), 10 s by default.`;

function fail(message, code = 2) {
  process.stderr.write(`asyncio-ts: ${message}\n`);
  process.exit(code);
}

async function loadLibrary() {
  try {
    return await import(new URL("../dist/index.js", import.meta.url).href);
  } catch (error) {
    if (error?.code === "ERR_MODULE_NOT_FOUND") fail("the package is not built (dist/ is missing): run `npm run build`", 1);
    throw error;
  }
}

const version = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version;

// ------------------------------------------------------------------ run <script>

/** TypeScript scripts load through tsx when it is installed, else through Node's own type stripping (Node >= 22.18). */
async function enableTypeScript(script) {
  try {
    const tsx = await import("tsx/esm/api");
    tsx.register();
    return true;
  } catch {
    // Not installed where this package can see it.
  }
  if (!process.features.typescript) {
    fail(`cannot load ${script}: running a TypeScript script needs tsx (npm install --save-dev tsx) on this Node.js`);
  }
  return false;
}

/** Whether Node loads `path` as CommonJS: a `.cts`, or a `.ts` whose nearest package.json does not say "module". */
function isCommonJS(path) {
  if (/\.c[jt]s$/.test(path)) return true;
  if (/\.m[jt]s$/.test(path)) return false;
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      try {
        return JSON.parse(readFileSync(manifest, "utf8")).type !== "module";
      } catch {
        return true;
      }
    }
    if (dirname(dir) === dir) return true;
  }
}

/**
 * A TypeScript script of a CommonJS project (`npm init` writes `"type": "commonjs"`) is CommonJS: its
 * `import ... from "asyncio-ts"` is a `require()`. tsx's import hook alone hands it to Node's require, which finds
 * `import` syntax and fails with ERR_REQUIRE_CYCLE_MODULE; tsx's require hook compiles it properly, but would also
 * compile the library's own ES modules into a second, CommonJS copy (a second loop registry: "no running event
 * loop"). Requiring the library natively first puts the one ES module copy in require's cache, where both find it.
 */
async function enableCommonJSTypeScript() {
  const require = createRequire(import.meta.url);
  require("../dist/index.js");
  require("../dist/testing.js");
  const tsx = await import("tsx/cjs/api");
  tsx.register();
}

async function runScript(args, debug) {
  const [script, ...scriptArgs] = args;
  if (script === undefined) fail(`run: expected a script\n${USAGE}`);
  const path = resolve(script);
  if (!existsSync(path)) fail(`cannot find the script ${script} (${path})`, 1);
  if (!supervised && process.platform !== "win32") {
    supervise();
    return;
  }
  const withTsx = /\.[cm]?tsx?$/.test(path) && (await enableTypeScript(script));
  const asyncio = await loadLibrary();
  if (withTsx && isCommonJS(path)) await enableCommonJSTypeScript();
  process.argv = [process.argv[0], path, ...scriptArgs];
  const mod = await import(pathToFileURL(path).href);
  // A CommonJS script's exports are all in `default`.
  const main =
    typeof mod.main === "function"
      ? mod.main
      : typeof mod.default === "function"
        ? mod.default
        : typeof mod.default?.main === "function"
          ? mod.default.main
          : null;
  if (main === null) fail(`${script} does not export a \`main\` function (or a default export)`);
  try {
    // run() installs its Ctrl-C handler before it returns its promise: the supervisor's counter comes after it.
    const done = asyncio.run(main, debug ? { debug: true } : {});
    if (supervised) answerSupervisor();
    await done;
  } catch (error) {
    // Left uncaught, KeyboardInterrupt prints itself and ends the process by SIGINT, as Node and Python do on Ctrl-C.
    if (error instanceof asyncio.KeyboardInterrupt) throw error;
    process.stderr.write(`${error instanceof Error && error.stack ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  }
}

// ------------------------------------------------------------------ Ctrl-C for a script that blocks

// A script whose main blocks the thread in synchronous code (`for (;;) {}`) never lets run()'s SIGINT handler run,
// so Ctrl-C could not stop it, not even twice. So `run` runs the script in a child process and stays as its
// supervisor: both get the terminal's Ctrl-C; on each, the supervisor asks the child (over a pipe, fd 3) how many
// SIGINTs it has seen. An answer means the child's loop turns and handles Ctrl-C itself (a SIGINT sent to the
// supervisor alone is forwarded then). No answer within a moment, twice in a row, means the thread is blocked: the
// supervisor kills the child, prints `KeyboardInterrupt` and ends by SIGINT, as the second Ctrl-C would have.
// Otherwise it ends as the child ended: same exit code, or same signal.
const SUPERVISED = "ASYNCIO_TS_SUPERVISED";
const ANSWER_WAIT_MS = 1000;
const ANSWER_DELAY_MS = 50;
// Read once and removed, so that a command the script starts in turn is not taken for a supervised one.
const supervised = process.env[SUPERVISED] === "1";
delete process.env[SUPERVISED];

function supervise() {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: ["inherit", "inherit", "inherit", "pipe"],
    env: { ...process.env, [SUPERVISED]: "1" },
  });
  const control = child.stdio[3];
  const alive = () => child.exitCode === null && child.signalCode === null;
  let interrupts = 0; // SIGINTs the supervisor received
  let asked = 0; // number of the last question
  let answered = 0; // number of the last question answered
  let strikes = 0; // questions in a row left unanswered for ANSWER_WAIT_MS
  let killed = false;
  let received = "";
  control.setEncoding("utf8");
  control.on("error", () => {});
  control.on("data", (chunk) => {
    received += chunk;
    let nl;
    while ((nl = received.indexOf("\n")) >= 0) {
      const [question, seen] = received.slice(0, nl).split(" ").map(Number);
      received = received.slice(nl + 1);
      // Only the answer to the latest question counts, however late it comes.
      if (question !== asked) continue;
      answered = question;
      strikes = 0;
      if (seen >= interrupts || !alive()) rechecking = false;
      else if (!rechecking) {
        // Fewer SIGINTs than the supervisor got. A signal the terminal sent to both may reach a busy child a little
        // later than the question (through another of its threads): ask once more before concluding.
        rechecking = true;
        ask();
      } else {
        // Still fewer: it was sent to the supervisor alone (`kill -INT`), not to both. Pass it on.
        rechecking = false;
        child.kill("SIGINT");
      }
    }
  });
  let rechecking = false;
  const ask = () => {
    const question = ++asked;
    control.write(`${question}\n`);
    setTimeout(() => {
      if (answered >= question || !alive()) return;
      if (++strikes >= 2 && !killed) {
        killed = true;
        child.kill("SIGKILL");
      }
    }, ANSWER_WAIT_MS).unref();
  };
  process.on("SIGINT", () => {
    interrupts++;
    ask();
  });
  const forward = (signal) => () => child.kill(signal);
  for (const signal of ["SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR2"]) process.on(signal, forward(signal));
  child.on("exit", (code, signal) => {
    process.removeAllListeners("SIGINT");
    if (killed) {
      process.stderr.write("KeyboardInterrupt\n");
      process.kill(process.pid, "SIGINT");
    } else if (signal !== null) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
  child.on("error", (error) => fail(`cannot start the script: ${error.message}`, 1));
}

/** The child's side: counts the SIGINTs it sees and answers each question of the supervisor with that count. */
function answerSupervisor() {
  let seen = 0;
  const counter = () => {
    seen++;
    // Alone, the counter would keep the process from ending by SIGINT as it should: step aside and send it again.
    if (process.listenerCount("SIGINT") === 1) {
      process.removeListener("SIGINT", counter);
      process.kill(process.pid, "SIGINT");
    }
  };
  process.on("SIGINT", counter);
  let control;
  try {
    if (!fstatSync(3).isSocket()) return;
    control = new net.Socket({ fd: 3, readable: true, writable: true });
  } catch {
    return;
  }
  control.unref();
  control.on("error", () => {});
  control.setEncoding("utf8");
  let received = "";
  control.on("data", (chunk) => {
    received += chunk;
    let nl;
    while ((nl = received.indexOf("\n")) >= 0) {
      const question = received.slice(0, nl);
      received = received.slice(nl + 1);
      // Answer a moment later, so that a signal delivered with the question is counted.
      setTimeout(() => control.write(`${question} ${seen}\n`), ANSWER_DELAY_MS).unref();
    }
  });
}

// ------------------------------------------------------------------ the REPL

async function startRepl(debug) {
  const asyncio = await loadLibrary();
  const runner = new asyncio.Runner(debug ? { debug: true } : {});
  const loop = runner.getLoop();
  const closed = loop.createFuture();
  process.stdout.write(
    `asyncio-ts REPL ${version} on Node.js ${process.version}\n` +
      `Use "await" directly instead of "asyncio.run()".\n` +
      `Type ".help" for more information.\n`,
  );
  // From a pipe, lines are handed to the REPL one at a time, each once the previous input finished: a line that
  // continues an unfinished one (a multi-line function) must reach the REPL after it answered "incomplete".
  const interactive = Boolean(process.stdin.isTTY);
  const input = interactive ? process.stdin : new PassThrough();
  const server = repl.start({ prompt: "> ", useGlobal: true, breakEvalOnSigint: true, input, output: process.stdout, terminal: interactive && process.stdout.isTTY });
  server.context.asyncio = asyncio;

  // Each input runs as a task of the loop, as in Python's asyncio REPL: `await` works at top level, the code sees
  // `currentTask()`, and Ctrl-C cancels it. Node's own evaluator (which handles top-level await) runs inside it.
  // That evaluator hands an error thrown by the input to the REPL's domain, which prints it, instead of to its
  // callback: the input is then over too.
  const defaultEval = server.eval;
  const handledByRepl = Symbol("handled by the REPL");
  let finishInput = null;
  server._domain?.on("error", () => finishInput?.(handledByRepl));
  // Inputs run one after the other, even when a pipe delivers several lines at once.
  let queue = Promise.resolve();
  let current = null;
  const evaluate = (code, context, file, callback) =>
    new Promise((inputDone) => {
      loop.callSoonThreadsafe(() => {
        const task = loop.createTask(
          () =>
            new Promise((resolveInput, rejectInput) => {
              finishInput = resolveInput;
              // The value is boxed: a Future or promise typed at the prompt is shown, not awaited.
              defaultEval.call(server, code, context, file, (error, value) =>
                error ? rejectInput(error) : settledOrShown(value, rejectInput, (shown) => resolveInput({ value: shown })),
              );
            }),
          { name: "repl" },
        );
        current = task;
        task.addDoneCallback((t) => {
          current = null;
          finishInput = null;
          inputDone();
          if (t.cancelled()) callback(new asyncio.KeyboardInterrupt());
          else if (t.exception() !== null) callback(t.exception());
          else if (t.result() !== handledByRepl) callback(null, t.result().value);
        });
      });
    });
  // A promise that rejects at once (`asyncio.run(main)` typed at the prompt, where a loop already runs) is reported
  // once, as the input's error, instead of shown as `Promise { <rejected> ... }` and then reported again as unhandled.
  // One that is still pending a moment later is shown; if it rejects afterwards, Node reports it as usual.
  const settledOrShown = (value, fail, show) => {
    if (!types.isPromise(value)) {
      show(value);
      return;
    }
    let state = "pending";
    let reason;
    value.then(
      () => {
        if (state === "pending") state = "fulfilled";
      },
      (error) => {
        if (state === "shown") void Promise.reject(error);
        else {
          state = "rejected";
          reason = error;
        }
      },
    );
    setImmediate(() => {
      if (state === "rejected") fail(reason);
      else {
        state = "shown";
        show(value);
      }
    });
  };
  server.eval = (code, context, file, callback) => {
    queue = queue.then(() => evaluate(code, context, file, callback));
  };
  server.on("SIGINT", () => {
    const task = current;
    if (task !== null) loop.callSoonThreadsafe(() => task.cancel());
  });
  const settled = async () => {
    for (;;) {
      await new Promise((resolveTick) => setImmediate(resolveTick));
      const last = queue;
      await last;
      if (last === queue) return;
    }
  };
  let lines = null;
  if (!interactive) {
    lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
    void (async () => {
      for await (const line of lines) {
        input.write(`${line}\n`);
        await settled();
      }
      input.end();
    })();
  }
  server.on("exit", () => {
    lines?.close();
    // Input ended (Ctrl-D, `.exit`, end of a pipe): let the inputs still queued finish, then stop.
    void queue.then(() =>
      loop.callSoonThreadsafe(() => {
        if (!closed.done()) closed.setResult(undefined);
      }),
    );
  });
  try {
    await runner.run(async () => {
      await closed;
    });
  } finally {
    await runner.close();
  }
}

// ------------------------------------------------------------------ ps / pstree PID

async function inspectProcess(command, args) {
  let pidText;
  let timeoutMs;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--timeout") {
      const seconds = Number(args[++i]);
      if (!(seconds > 0) || !Number.isFinite(seconds)) fail(`${command}: --timeout expects a number of seconds above 0, got ${args[i]}`);
      timeoutMs = seconds * 1000;
    } else if (pidText === undefined) {
      pidText = args[i];
    } else {
      fail(`${command}: unexpected argument ${args[i]}\n${USAGE}`);
    }
  }
  if (pidText === undefined) fail(`${command}: expected a PID\n${USAGE}`);
  if (!/^[1-9][0-9]*$/.test(pidText)) fail(`${command}: expected a PID (a positive integer), got ${pidText}`, 1);
  let ps;
  try {
    ps = await import(new URL("../dist/_internal/tools/ps.js", import.meta.url).href);
  } catch (error) {
    if (error?.code === "ERR_MODULE_NOT_FOUND") fail("the package is not built (dist/ is missing): run `npm run build`", 1);
    throw error;
  }
  let snapshot;
  try {
    snapshot = await ps.snapshotProcess(Number(pidText), { timeoutMs });
  } catch (error) {
    if (error instanceof ps.PsError) fail(error.message, 1);
    throw error;
  }
  const note = ps.formatBusyNote(snapshot);
  if (note !== null) process.stderr.write(`asyncio-ts: ${note}\n`);
  if (command === "ps") {
    process.stdout.write(`${ps.formatTaskTable(snapshot)}\n`);
    return;
  }
  let trees;
  try {
    trees = ps.buildAsyncTree(snapshot);
  } catch (error) {
    if (!(error instanceof ps.AwaitCycleError)) throw error;
    process.stderr.write(`ERROR: ${error.message}\n\n`);
    for (const cycle of error.cycles) process.stderr.write(`cycle: ${cycle.join(" → ")}\n`);
    process.exit(1);
  }
  for (const tree of trees) process.stdout.write(`${tree}\n`);
}

// ------------------------------------------------------------------ main

const argv = process.argv.slice(2);
if (argv[0] === "-h" || argv[0] === "--help") {
  process.stdout.write(`${USAGE}\n`);
} else if (argv[0] === "-v" || argv[0] === "--version") {
  process.stdout.write(`${version}\n`);
} else if (argv[0] === "ps" || argv[0] === "pstree") {
  await inspectProcess(argv[0], argv.slice(1));
} else if (argv[0] === "run") {
  const rest = argv.slice(1);
  // --debug is ours when it comes before the script or right after it; later arguments belong to the script.
  let debug = false;
  const args = [];
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === "--debug" && args.length <= 1) debug = true;
    else args.push(rest[i]);
  }
  await runScript(args, debug);
} else {
  const unknown = argv.filter((a) => a !== "--debug");
  if (unknown.length > 0) fail(`unknown arguments: ${unknown.join(" ")}\n${USAGE}`);
  await startRepl(argv.includes("--debug"));
}
