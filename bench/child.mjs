#!/usr/bin/env node
// Runs one side of one workload once and prints its measurement as one JSON line on stdout.
// Usage: node --expose-gc bench/child.mjs <workload file> ours|baseline
// The runner (bench/run.mjs) starts one child per measurement, so each one begins with a fresh heap.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [file, side] = process.argv.slice(2);
if (file === undefined || (side !== "ours" && side !== "baseline")) {
  console.error("usage: node bench/child.mjs <workload.mjs> ours|baseline");
  process.exit(2);
}

const workload = (await import(pathToFileURL(resolve(file)).href)).default;
let outcome;
if (side === "ours") {
  const asyncio = await import(new URL("../dist/index.js", import.meta.url).href);
  outcome = await workload.ours(asyncio);
} else {
  outcome = await workload.baseline();
}

// A workload returns a number, or { value, ...details } with extra figures (all reported by the runner).
const result = typeof outcome === "number" ? { value: outcome } : { ...outcome };
if (typeof result.value !== "number" || !Number.isFinite(result.value)) {
  console.error(`${file} (${side}) returned no finite value: ${JSON.stringify(outcome)}`);
  process.exit(1);
}
result.peakRssMB ??= process.resourceUsage().maxRSS / 1024;
// Exit once the line is written, so a handle a workload left open (a server, a timer) cannot keep the child alive.
process.stdout.write(JSON.stringify(result) + "\n", () => process.exit(0));
