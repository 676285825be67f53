// The differential test against CPython 3.13.0: each program of test/difftest/corpus.json, ported to asyncio-ts,
// must print exactly the trace CPython printed. Every program runs on the virtual-time loop; every 25th also on the
// real loop. Regenerate the corpus with `npm run difftest -- --seeds 1150 --repeat --write-corpus` (needs CPython
// 3.13.0; --repeat drops programs whose trace differs between two CPython runs, e.g. on a busy machine).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type CorpusEntry, describeMismatch, firstDifference, readCorpus } from "./difftest/corpus.js";
import { emitJs } from "./difftest/emit_js.js";
import { HAND_CHECKED, HAND_CHECKED_TRACE } from "./difftest/hand_checked.js";
import { type JsRun, type LoopKind, runJs, runNote } from "./difftest/run_js.js";
import { SCENARIO_VERSION } from "./difftest/scenario.js";

const corpus = readCorpus();
/** Programs per subtest on the virtual loop. */
const GROUP_SIZE = 100;
/** Every REAL_LOOP_STRIDE-th program also runs on the real loop. */
const REAL_LOOP_STRIDE = 25;
/** Mismatches shown in full (both traces) per subtest; the others by their first differing line. */
const SHOWN_IN_FULL = 2;
/** A group stops after this many hung programs, so a kernel that hangs cannot stall the suite. */
const MAX_HUNG = 3;
/** Real-time limits per run: a virtual-time program takes milliseconds; the real-loop ones up to about 2 s. */
const LIMIT_MS: Record<LoopKind, number> = { virtual: 3_000, real: 15_000 };

/** Runs one program; on the real loop, a mismatch is retried twice (a late timer on a busy machine is not a bug). */
async function run(entry: CorpusEntry, loop: LoopKind): Promise<JsRun> {
  const source = emitJs(entry.program);
  const options = { limitMs: LIMIT_MS[loop] };
  let result = await runJs(source, loop, options);
  for (let retry = 0; loop === "real" && retry < 2 && !matches(entry, result); retry++) result = await runJs(source, loop, options);
  return result;
}

function matches(entry: CorpusEntry, result: JsRun): boolean {
  return result.failure === undefined && firstDifference(entry.trace, result.trace) === null;
}

/** Runs the programs and fails naming every seed whose trace differs, with its first differing line. */
async function checkAll(entries: readonly CorpusEntry[], loop: LoopKind): Promise<void> {
  const summaries: string[] = [];
  const details: string[] = [];
  let hung = 0;
  let differing = 0;
  for (const entry of entries) {
    const result = await run(entry, loop);
    if (matches(entry, result)) continue;
    differing++;
    const report = describeMismatch(entry.seed, entry.trace, result.trace, runNote(result));
    summaries.push(report.split("\n").slice(0, 3).join("\n"));
    if (details.length < SHOWN_IN_FULL) details.push(report);
    if (result.failure?.startsWith("still running") && ++hung === MAX_HUNG) {
      summaries.push(`stopped after ${MAX_HUNG} hung programs; the rest of this group did not run`);
      break;
    }
  }
  const message =
    `${differing} of ${entries.length} programs differ from CPython 3.13. Replay one with its program:\n` +
    `  npm run difftest -- --corpus --loop ${loop} --from SEED --seeds 1\n` +
    `${summaries.join("\n")}\n\n${details.join("\n\n")}`;
  assert.equal(differing, 0, message);
}

void describe("asyncio-ts prints what CPython 3.13 prints (differential test)", () => {
  for (const loop of ["virtual", "real"] as const) {
    void test(`a hand-checked program (tasks run their first steps in creation order) on the ${loop} loop`, async () => {
      const result = await runJs(emitJs(HAND_CHECKED), loop);
      assert.deepEqual(result.trace, HAND_CHECKED_TRACE, runNote(result));
    });
  }

  void test("the corpus was made by CPython 3.13.0, for this scenario version, and holds at least 1,000 programs", () => {
    assert.equal(corpus.python, "3.13.0");
    assert.equal(corpus.scenarioVersion, SCENARIO_VERSION, "the emitters changed meaning: regenerate the corpus");
    assert.ok(corpus.entries.length >= 1000, `only ${corpus.entries.length} programs`);
  });

  for (let i = 0; i < corpus.entries.length; i += GROUP_SIZE) {
    const group = corpus.entries.slice(i, i + GROUP_SIZE);
    void test(`seeds ${group[0]!.seed}..${group.at(-1)!.seed} match CPython 3.13 on the virtual-time loop`, async () => {
      await checkAll(group, "virtual");
    });
  }

  const sample = corpus.entries.filter((_, i) => i % REAL_LOOP_STRIDE === 0);
  void test(`every ${REAL_LOOP_STRIDE}th program (${sample.length}) matches CPython 3.13 on the real loop`, async () => {
    await checkAll(sample, "real");
  });
});
