import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

// The checked-in list of public names: one per line, sorted as Array.prototype.sort() sorts them.
// Adding a module? Add its names there in the same change.
const listPath = new URL("./public-api.txt", import.meta.url);

function readList(): string[] {
  return readFileSync(listPath, "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");
}

test("the public names of the package are exactly those listed in test/public-api.txt", async () => {
  const actual = Object.keys(await import("../src/index.js")).sort();
  const expected = readList();
  const actualSet = new Set(actual);
  const expectedSet = new Set(expected);
  const missing = expected.filter((name) => !actualSet.has(name));
  const extra = actual.filter((name) => !expectedSet.has(name));
  const problems: string[] = [];
  if (missing.length > 0) problems.push(`listed in test/public-api.txt but not exported by src/index.ts: ${missing.join(", ")}`);
  if (extra.length > 0) problems.push(`exported by src/index.ts but not listed in test/public-api.txt: ${extra.join(", ")}`);
  assert.equal(problems.length, 0, problems.join("\n"));
  assert.deepEqual(actual, expected);
});

test("test/public-api.txt is sorted, without duplicates or blank lines", () => {
  const raw = readFileSync(listPath, "utf8");
  const lines = raw.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const blank = lines.findIndex((line) => line.trim() === "");
  assert.equal(blank, -1, `line ${blank + 1} is blank`);
  const sorted = [...lines].sort();
  const firstOutOfOrder = lines.findIndex((line, i) => line !== sorted[i]);
  assert.equal(firstOutOfOrder, -1, `line ${firstOutOfOrder + 1} ("${lines[firstOutOfOrder]}") is out of order; expected "${sorted[firstOutOfOrder]}"`);
  const dup = lines.find((line, i) => lines.indexOf(line) !== i);
  assert.equal(dup, undefined, `"${dup}" is listed twice`);
});

test("every public name is defined", async () => {
  const mod = (await import("../src/index.js")) as Record<string, unknown>;
  const undefinedNames = Object.keys(mod).filter((name) => mod[name] === undefined);
  assert.deepEqual(undefinedNames, []);
});

test("the package has no default export, only named ones", async () => {
  const mod = (await import("../src/index.js")) as Record<string, unknown>;
  assert.equal("default" in mod, false);
});

test("inside the test suite the package's own name resolves to its sources, never to a build", async () => {
  // Examples import "asyncio-ts"; the runner's `--conditions=asyncio-ts-source` makes that the same module as src/.
  assert.equal(import.meta.resolve("asyncio-ts"), new URL("../src/index.ts", import.meta.url).href);
  assert.equal(import.meta.resolve("asyncio-ts/testing"), new URL("../src/testing.ts", import.meta.url).href);
  assert.equal(await import("asyncio-ts"), await import("../src/index.js"));
});
