/**
 * The differential test against CPython 3.13.0: `npm run difftest -- [options]`.
 *
 * Generates programs for a range of seeds, runs each on CPython 3.13.0 (discarding runs that depended on the
 * machine) and on asyncio-ts, compares the traces, and prints a summary and the first differences. With
 * `--write-corpus` it rewrites test/difftest/corpus.json from the kept programs. With `--corpus` it needs no Python:
 * it replays the stored programs (those of the seed range if given) against their stored traces.
 *
 * Options: --seeds N (default 200) --from S (default 0) --python PATH --parallel P (Python processes, default 2)
 * --loop virtual|real|both (default virtual) --show K (differences printed, default 3) --repeat (run CPython twice,
 * discard programs whose traces differ) --write-corpus --allow-other-python --asyncio PATH (run the JS programs on
 * another copy of asyncio-ts, e.g. an older commit's src/index.ts extracted with `git archive`).
 * @module
 */
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { CORPUS_PATH, type CorpusEntry, describeMismatch, firstDifference, readCorpus, writeCorpus } from "./corpus.js";
import { emitJs } from "./emit_js.js";
import { emitPython } from "./emit_python.js";
import { generateProgram } from "./generate.js";
import { type AsyncioModule, type LoopKind, runJs, runNote } from "./run_js.js";
import { DEFAULT_PYTHON, PythonNotFound, type PythonResult, runPython } from "./run_python.js";
import { type Program, SCENARIO_VERSION } from "./scenario.js";

const { values: opts } = parseArgs({
  options: {
    seeds: { type: "string" },
    from: { type: "string" },
    corpus: { type: "boolean", default: false },
    python: { type: "string" },
    parallel: { type: "string", default: "2" },
    loop: { type: "string", default: "virtual" },
    show: { type: "string", default: "3" },
    repeat: { type: "boolean", default: false },
    "write-corpus": { type: "boolean", default: false },
    "allow-other-python": { type: "boolean", default: false },
    asyncio: { type: "string" },
  },
});

/** A program with its two sources. */
interface Case {
  seed: number;
  program: Program;
  python: string;
  js: string;
}

/** A flag without its numbers, to count discards by reason. */
function reason(flag: string): string {
  return flag.replace(/\d+(\.\d+)?/g, "N");
}

function countBy(items: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${k}: ${n}`).join("; ");
}

async function pythonTraces(cases: readonly Case[], workDir: string): Promise<Map<number, PythonResult>> {
  const python = opts.python ?? (existsSync(DEFAULT_PYTHON) ? DEFAULT_PYTHON : "python3.13");
  if (python.includes("/") && !existsSync(python)) {
    throw new UsageError(
      `CPython 3.13.0 not found at ${python}: install it (pyenv install 3.13.0) or pass --python PATH. ` +
        "`npm test` checks the committed corpus without Python; `--corpus` replays it here too.",
    );
  }
  let done = 0;
  const started = Date.now();
  const results = await runPython(
    cases.map((c) => ({ seed: c.seed, source: c.python })),
    {
      python,
      parallel: Number(opts.parallel),
      allowOtherVersion: opts["allow-other-python"],
      workDir,
      onResult: () => {
        if (++done % 100 === 0) process.stderr.write(`  CPython: ${done}/${cases.length} programs\n`);
      },
    },
  );
  console.log(`CPython ran ${cases.length} programs in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return results;
}

/** Runs CPython (twice with --repeat) and returns the trace of each program kept. */
async function expectedTraces(cases: readonly Case[], workDir: string): Promise<Map<number, string[]>> {
  const first = await pythonTraces(cases, workDir);
  const second = opts.repeat ? await pythonTraces(cases, workDir) : null;
  const kept = new Map<number, string[]>();
  const discarded: string[] = [];
  for (const c of cases) {
    const r = first.get(c.seed)!;
    const again = second?.get(c.seed);
    if (r.flags.length > 0) {
      discarded.push(...new Set(r.flags.map(reason)));
    } else if (again !== undefined && again.flags.length === 0 && firstDifference(r.trace, again.trace) !== null) {
      discarded.push(`unstable between two CPython runs (seed ${c.seed})`);
      console.log(describeMismatch(c.seed, r.trace, again.trace).replace("asyncio-ts", "CPython again"));
    } else {
      kept.set(c.seed, r.trace);
    }
  }
  const dropped = cases.length - kept.size;
  console.log(`kept ${kept.size} programs, discarded ${dropped}${dropped > 0 ? ` (${countBy(discarded)})` : ""}`);
  return kept;
}

async function compare(
  cases: readonly Case[],
  expected: Map<number, string[]>,
  loop: LoopKind,
  workDir: string,
  asyncio: AsyncioModule | undefined,
): Promise<void> {
  const started = Date.now();
  const mismatches: string[] = [];
  let matched = 0;
  for (const c of cases) {
    const trace = expected.get(c.seed);
    if (trace === undefined) continue;
    const run = await runJs(c.js, loop, { asyncio });
    if (run.failure === undefined && firstDifference(trace, run.trace) === null) {
      matched++;
      continue;
    }
    writeFileSync(join(workDir, `seed-${c.seed}.js`), c.js);
    mismatches.push(`${describeMismatch(c.seed, trace, run.trace, runNote(run))}\n  program: ${join(workDir, `seed-${c.seed}.py`)}\n${c.python.slice(c.python.indexOf("async def main"))}`);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`asyncio-ts on the ${loop} loop: ${matched} match CPython, ${mismatches.length} differ (${seconds} s)`);
  for (const m of mismatches.slice(0, Number(opts.show))) console.log(`\n${m}`);
  if (mismatches.length > 0) process.exitCode = 1;
}

function toCase(seed: number, program: Program): Case {
  return { seed, program, python: emitPython(program), js: emitJs(program) };
}

/** The stored programs in the seed range (all by default) and their stored traces. */
function corpusCases(workDir: string): { cases: Case[]; expected: Map<number, string[]> } {
  const from = Number(opts.from ?? 0);
  const count = opts.seeds === undefined ? Infinity : Number(opts.seeds);
  const entries = readCorpus().entries.filter((e) => e.seed >= from && e.seed < from + count);
  const cases = entries.map((e) => toCase(e.seed, e.program));
  for (const c of cases) writeFileSync(join(workDir, `seed-${c.seed}.py`), c.python);
  console.log(`replaying ${cases.length} stored programs of ${CORPUS_PATH}; sources in ${workDir}`);
  return { cases, expected: new Map(entries.map((e) => [e.seed, e.trace])) };
}

/** Programs generated for the seed range, and CPython's traces of those it keeps. */
async function generatedCases(workDir: string): Promise<{ cases: Case[]; expected: Map<number, string[]> }> {
  const from = Number(opts.from ?? 0);
  const count = Number(opts.seeds ?? 200);
  const cases: Case[] = [];
  for (let seed = from; seed < from + count; seed++) cases.push(toCase(seed, generateProgram(seed)));
  console.log(`generated ${count} programs (seeds ${from}..${from + count - 1}); sources in ${workDir}`);
  return { cases, expected: await expectedTraces(cases, workDir) };
}

async function main(): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), "asyncio-ts-difftest-"));
  if (opts.corpus && opts["write-corpus"]) throw new UsageError("--corpus replays the corpus; it cannot also rewrite it");
  const { cases, expected } = opts.corpus ? corpusCases(workDir) : await generatedCases(workDir);
  if (opts["write-corpus"]) {
    const entries: CorpusEntry[] = cases.filter((c) => expected.has(c.seed)).map((c) => ({ seed: c.seed, program: c.program, trace: expected.get(c.seed)! }));
    writeCorpus({ python: "3.13.0", scenarioVersion: SCENARIO_VERSION, entries });
    console.log(`wrote ${entries.length} programs to ${CORPUS_PATH}`);
  }
  const loops: LoopKind[] = opts.loop === "both" ? ["virtual", "real"] : [opts.loop as LoopKind];
  const asyncio = opts.asyncio === undefined ? undefined : ((await import(resolve(opts.asyncio))) as AsyncioModule);
  for (const loop of loops) await compare(cases, expected, loop, workDir, asyncio);
}

/** A mistake in how the command was called or set up: printed as one line, no stack. */
class UsageError extends Error {}

try {
  await main();
} catch (error) {
  if (!(error instanceof UsageError || error instanceof PythonNotFound)) throw error;
  console.error(`difftest: ${error.message}`);
  process.exitCode = 2;
}
