/**
 * The committed corpus of the differential test: scenario programs with the trace CPython 3.13.0 printed for each,
 * and the comparison of a trace with it.
 * @module
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Program } from "./scenario.js";

/** One program (its AST: the corpus does not depend on the generator) and CPython's trace. */
export interface CorpusEntry {
  seed: number;
  program: Program;
  trace: string[];
}

/** The corpus file. */
export interface Corpus {
  python: string;
  scenarioVersion: number;
  entries: CorpusEntry[];
}

/** Where the corpus lives. */
export const CORPUS_PATH = fileURLToPath(new URL("./corpus.json", import.meta.url));

/** Reads the corpus. */
export function readCorpus(path = CORPUS_PATH): Corpus {
  return JSON.parse(readFileSync(path, "utf8")) as Corpus;
}

/** Writes the corpus, one entry per line so that a regeneration diffs program by program. */
export function writeCorpus(corpus: Corpus, path = CORPUS_PATH): void {
  const entries = corpus.entries.map((e) => JSON.stringify(e));
  const head = `{"python":${JSON.stringify(corpus.python)},"scenarioVersion":${corpus.scenarioVersion},"entries":[\n`;
  writeFileSync(path, head + entries.join(",\n") + "\n]}\n");
}

/** Where two traces first differ: the 0-based line, and each side's line there (undefined past its end). */
export interface TraceDifference {
  line: number;
  expected: string | undefined;
  actual: string | undefined;
}

/** The first difference between CPython's trace and ours, or null when they are equal. */
export function firstDifference(expected: readonly string[], actual: readonly string[]): TraceDifference | null {
  const n = Math.max(expected.length, actual.length);
  for (let i = 0; i < n; i++) {
    if (expected[i] !== actual[i]) return { line: i, expected: expected[i], actual: actual[i] };
  }
  return null;
}

/** A readable report of a mismatch: the first differing line, then both traces side by side. */
export function describeMismatch(seed: number, expected: readonly string[], actual: readonly string[], failure?: string): string {
  const diff = firstDifference(expected, actual);
  const lines = [`seed ${seed}: ${failure !== undefined ? `${failure}; ` : ""}` +
    (diff === null ? "traces equal" : `first difference at line ${diff.line + 1}`)];
  if (diff !== null) {
    lines.push(`  CPython 3.13: ${diff.expected ?? "(end of trace)"}`, `  asyncio-ts:   ${diff.actual ?? "(end of trace)"}`);
  }
  const width = Math.max(12, ...expected.map((l) => l.length));
  lines.push(`  ${"CPython 3.13".padEnd(width)} | asyncio-ts`);
  const n = Math.max(expected.length, actual.length);
  for (let i = 0; i < n; i++) {
    const mark = expected[i] === actual[i] ? " " : "*";
    lines.push(`${mark} ${(expected[i] ?? "").padEnd(width)} | ${actual[i] ?? ""}`);
  }
  return lines.join("\n");
}
