#!/usr/bin/env node
// Runs every workload of bench/workloads/ with asyncio-ts and with its raw-Node baseline, each measurement in a
// child process of its own, and prints the medians and their ratio (see bench/README.md for the workload shape).
//
// Usage: node bench/run.mjs [filter ...]     e.g. `node bench/run.mjs W1 W2` (an id or part of a file name)
// Environment: BENCH_RUNS (default 5) measurements per side; BENCH_JSON=<file> also writes every raw figure there.
// `npm run bench` builds dist/ first; run `npm run build` yourself before calling this script directly.
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { cpus, totalmem } from "node:os";

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const runs = Number.parseInt(process.env.BENCH_RUNS ?? "5", 10);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`BENCH_RUNS must be a whole number from 1 up, got ${JSON.stringify(process.env.BENCH_RUNS)}`);
  process.exit(2);
}
const nodeMajor = Number(process.versions.node.split(".")[0]);

// The targets (issue 12, which replaces shared/BENCH.md's), as a limit on the printed ratio (lower is better for
// every ratio we print); `maxValue` also bounds our own figure. AsyncLocalStorage costs much more per await before
// Node 24, hence the looser limits there.
const TARGETS = {
  W1: { limit: nodeMajor >= 24 ? 1.5 : 2, text: "≤ 1.5x raw on Node 24, ≤ 2x on Node 20" },
  W2: { limit: nodeMajor >= 24 ? 1.5 : 3, text: "≤ 1.5x raw (24), ≤ 3x (20)" },
  W3: { limit: nodeMajor >= 24 ? 1.5 : 3, text: "≤ 1.5x raw (24), ≤ 3x (20)" },
  W4: { limit: nodeMajor >= 24 ? 1.5 : 2, text: "≤ 1.5x raw (24), ≤ 2x (20)" },
  W5: { limit: 1.5, text: "≤ 1.5x raw overhead, never early", neverEarly: true },
  W6: { limit: 1 / 0.95, text: "≥ 0.95x raw throughput" },
  W7: nodeMajor >= 24
    ? { limit: 1.5, maxValue: 1000, text: "≤ 1,000 B/task and ≤ 1.5x raw" }
    : { limit: Infinity, maxValue: 1000, text: "≤ 1,000 B/task" },
  W8: { limit: 1.2, text: "≤ 1.2x piscina's time" },
};

const filters = process.argv.slice(2).map((f) => f.toLowerCase());
const dir = join(here, "workloads");
const files = (existsSync(dir) ? readdirSync(dir) : [])
  .filter((name) => name.endsWith(".mjs"))
  .sort()
  .map((name) => join(dir, name));

const workloads = [];
for (const file of files) {
  const w = (await import(pathToFileURL(file).href)).default;
  const name = relative(dir, file).toLowerCase();
  if (filters.length > 0 && !filters.some((f) => name.includes(f) || String(w.id).toLowerCase() === f)) continue;
  workloads.push({ file, ...w });
}
if (workloads.length === 0) {
  console.error(filters.length > 0 ? `no workload matched ${filters.join(", ")}` : "no workloads in bench/workloads/");
  process.exit(1);
}
if (!existsSync(join(root, "dist", "index.js"))) {
  console.error("dist/index.js is missing: run `npm run build` first (or use `npm run bench`)");
  process.exit(1);
}

function measureOnce(file, side) {
  const r = spawnSync(process.execPath, ["--expose-gc", join(here, "child.mjs"), file, side], {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
  });
  if (r.status !== 0) {
    throw new Error(`${relative(root, file)} (${side}) failed with status ${r.status ?? r.signal}:\n${r.stderr}${r.stdout}`);
  }
  const last = r.stdout.trim().split("\n").pop();
  return JSON.parse(last);
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The median of every numeric field across runs; other fields as the first run gave them. */
function summarize(results) {
  const out = {};
  for (const key of Object.keys(results[0])) {
    const values = results.map((r) => r[key]);
    out[key] = values.every((v) => typeof v === "number") ? median(values) : values[0];
  }
  return out;
}

function fmt(x) {
  if (typeof x !== "number") return String(x);
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString("en-US");
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(2);
}

console.log(`asyncio-ts benchmarks: Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}), ` +
  `${Math.round(totalmem() / 2 ** 30)} GiB; median of ${runs} run(s) per side, each in its own process`);

const progress = process.stderr.isTTY ? (text) => process.stderr.write(`\r\x1b[K${text}`) : () => {};
const rows = [];
let failures = 0;
for (const w of workloads) {
  const ours = [];
  const baseline = [];
  try {
    // Alternate the sides so that a slow spell of the machine hits both alike.
    for (let i = 0; i < runs; i++) {
      progress(`${w.id} ${w.title}: run ${i + 1}/${runs}`);
      ours.push(measureOnce(w.file, "ours"));
      baseline.push(measureOnce(w.file, "baseline"));
    }
  } catch (error) {
    progress("");
    console.error(`${w.id} failed: ${error.message}`);
    failures++;
    continue;
  }
  progress("");
  const o = summarize(ours);
  const b = summarize(baseline);
  const ratio = w.higherIsBetter ? b.value / o.value : o.value / b.value;
  const target = TARGETS[w.id];
  let verdict = "–";
  if (target !== undefined) {
    const misses = [];
    if (ratio > target.limit) misses.push(`ratio over ${fmt(target.limit)}`);
    if (target.maxValue !== undefined && o.value > target.maxValue) misses.push(`over ${fmt(target.maxValue)}`);
    if (target.neverEarly && ours.some((r) => (r.earlyShare ?? 0) > 0)) misses.push("woke early");
    verdict = misses.length === 0 ? "met" : `missed (${misses.join(", ")})`;
  }
  rows.push({ w, o, b, ratio, target, verdict, ours, baseline });
}

const cell = (s) => String(s).replaceAll("|", "\\|");
console.log("");
console.log("| id | workload | unit | ours | raw Node | ratio | target (issue 12) | |");
console.log("|---|---|---|---:|---:|---:|---|---|");
for (const { w, o, b, ratio, target, verdict } of rows) {
  const unit = w.unit + (w.higherIsBetter ? " (higher is better; ratio = raw / ours)" : "");
  console.log(`| ${w.id} | ${cell(w.title)} | ${cell(unit)} | ${fmt(o.value)} | ${fmt(b.value)} | ${ratio.toFixed(2)}x | ${target?.text ?? "–"} | ${verdict} |`);
}
console.log("");
for (const { w, o, b } of rows) {
  const keys = [...new Set([...Object.keys(o), ...Object.keys(b)])].filter((k) => k !== "value");
  if (keys.length === 0) continue;
  const show = (s) => keys.filter((k) => k in s).map((k) => `${k} ${fmt(s[k])}`).join(", ");
  console.log(`${w.id} details (medians) — ours: ${show(o)}; raw: ${show(b)}`);
}

if (process.env.BENCH_JSON) {
  const raw = {
    node: process.version,
    date: new Date().toISOString(),
    runs,
    results: rows.map(({ w, ratio, verdict, ours, baseline }) => ({ id: w.id, title: w.title, unit: w.unit, ratio, verdict, ours, baseline })),
  };
  writeFileSync(process.env.BENCH_JSON, JSON.stringify(raw, null, 2) + "\n");
}

if (failures > 0) process.exitCode = 1;
