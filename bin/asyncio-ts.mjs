#!/usr/bin/env node
// The asyncio-ts command line, like `python -m asyncio`:
//   asyncio-ts [--debug]                      a REPL with a running event loop, `asyncio` imported, `await` at top level
//   asyncio-ts run <script> [--debug] [args]  runs the script's exported `main` (or default export) under asyncio.run()
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import readline from "node:readline";
import repl from "node:repl";
import { PassThrough } from "node:stream";
import { pathToFileURL } from "node:url";

const USAGE = `Usage:
  asyncio-ts [--debug]                       open a REPL with a running event loop (\`asyncio\` is imported)
  asyncio-ts run <script> [--debug] [args]   run the script's exported \`main\` with asyncio.run()

--debug turns on asyncio debug mode (as ASYNCIO_DEBUG=1); then SIGUSR2 prints every task's call graph.`;

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
    await asyncio.run(main, debug ? { debug: true } : {});
  } catch (error) {
    if (error instanceof asyncio.KeyboardInterrupt) {
      process.stderr.write("KeyboardInterrupt\n");
      process.exitCode = 130;
      return;
    }
    process.stderr.write(`${error instanceof Error && error.stack ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  }
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
              defaultEval.call(server, code, context, file, (error, value) => (error ? rejectInput(error) : resolveInput({ value })));
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

// ------------------------------------------------------------------ main

const argv = process.argv.slice(2);
if (argv[0] === "-h" || argv[0] === "--help") {
  process.stdout.write(`${USAGE}\n`);
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
