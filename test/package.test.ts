// The package as a user installs it: a copy of the repository with its build, packed with `npm pack`, installed from
// the tarball into a new CommonJS project (what `npm init -y` makes), then required, imported, type-checked by a
// strict TypeScript consumer (`skipLibCheck: false`), and run through the command line.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildIsFresh } from "./helpers/process.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const tsc = join(repoRoot, "node_modules", "typescript", "bin", "tsc");
let work = "";
let consumer = "";
let unpacked = "";

function run(command: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", timeout: 180_000 });
  if (result.error) throw result.error;
  return result;
}

function ok(result: SpawnSyncReturns<string>, what: string): string {
  assert.equal(result.status, 0, `${what} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** Runs a file of the consumer project with this Node, in the consumer project. */
function node(args: string[]): SpawnSyncReturns<string> {
  return run(process.execPath, args, consumer);
}

before(() => {
  work = mkdtempSync(join(tmpdir(), "asyncio-ts-package-"));
  // A copy of what `npm pack` may take, built there: the repository's own dist/ is left to the other tests.
  const copy = join(work, "repo");
  mkdirSync(copy);
  for (const name of ["package.json", "README.md", "CHANGELOG.md", "LICENSE", "bin", "docs"]) {
    cpSync(join(repoRoot, name), join(copy, name), { recursive: true });
  }
  // The repository's build when it is newer than the sources and the compiler settings (as after `npm ci`), else a
  // new one.
  if (buildIsFresh()) cpSync(join(repoRoot, "dist"), join(copy, "dist"), { recursive: true });
  else ok(run(process.execPath, [tsc, "-p", join(repoRoot, "tsconfig.build.json"), "--outDir", join(copy, "dist")], repoRoot), "the build");
  ok(run("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", work], copy), "npm pack");
  const tarball = readdirSync(work).find((name) => name.endsWith(".tgz"));
  assert.ok(tarball !== undefined, "npm pack made no tarball");
  unpacked = join(work, "unpacked");
  mkdirSync(unpacked);
  ok(run("tar", ["-xzf", join(work, tarball), "-C", unpacked], work), "tar");

  consumer = join(work, "consumer");
  mkdirSync(consumer);
  writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", type: "commonjs" }));
  ok(
    run("npm", ["install", "--offline", "--ignore-scripts", "--no-audit", "--no-fund", "--silent", join(work, tarball)], consumer),
    "npm install of the tarball",
  );
  // The consumer's TypeScript loader for `asyncio-ts run script.ts`: this repository's tsx (no registry needed).
  symlinkSync(join(repoRoot, "node_modules", "tsx"), join(consumer, "node_modules", "tsx"), "dir");
});

after(() => {
  if (work !== "") rmSync(work, { recursive: true, force: true });
});

describe("the packed package", () => {
  test("holds the build, the command line, README, CHANGELOG, LICENSE and the docs, and no sources or tests", () => {
    const pkg = join(unpacked, "package");
    for (const name of ["dist/index.js", "dist/index.d.ts", "dist/testing.js", "dist/testing.d.ts", "bin/asyncio-ts.mjs", "README.md", "CHANGELOG.md", "LICENSE", "docs/python-differences.md"]) {
      assert.ok(existsSync(join(pkg, name)), `${name} is missing`);
    }
    assert.equal(existsSync(join(pkg, "src")), false);
    assert.equal(existsSync(join(pkg, "test")), false);
    assert.match(readFileSync(join(pkg, "LICENSE"), "utf8"), /^MIT License\n\nCopyright \(c\) \d{4} the asyncio-ts authors\n/);
  });

  test("its source maps carry the sources they point to", () => {
    const dist = join(unpacked, "package", "dist");
    const maps = readdirSync(dist, { recursive: true }).map(String).filter((name) => name.endsWith(".js.map"));
    assert.ok(maps.length > 10);
    for (const name of maps) {
      const map = JSON.parse(readFileSync(join(dist, name), "utf8")) as { sources: string[]; sourcesContent?: (string | null)[] };
      assert.equal(map.sourcesContent?.length, map.sources.length, `${name} has no sourcesContent`);
      assert.ok(map.sourcesContent.every((text) => typeof text === "string" && text.length > 0), `${name} misses a source`);
    }
  });

  test("its type declarations show no internal member", () => {
    const dist = join(unpacked, "package", "dist");
    const declarations = readdirSync(dist, { recursive: true }).map(String).filter((name) => name.endsWith(".d.ts"));
    const leaked: string[] = [];
    for (const name of declarations) {
      const text = readFileSync(join(dist, name), "utf8");
      if (text.includes("@internal")) leaked.push(`${name}: an @internal comment`);
      // Public members whose name starts with "_" (private ones carry no type; protected ones are subclass hooks).
      for (const match of text.matchAll(/^ {4}(?:readonly |static |get |set )*(_\w+)\??[(<:]/gm)) {
        if (match[1] !== "_getCloseWaiter") leaked.push(`${name}: ${match[1]}`);
      }
    }
    assert.deepEqual(leaked, []);
  });

  test("a CommonJS program requires asyncio-ts and asyncio-ts/testing, and gets the one copy import() gets", () => {
    const program = `
      const asyncio = require("asyncio-ts");
      const testing = require("asyncio-ts/testing");
      const loop = new testing.VirtualEventLoop();
      const methods = ["createConnection", "runInExecutor", "subprocessExec"].filter((m) => typeof loop[m] === "function");
      loop.close();
      asyncio.run(async () => {
        await asyncio.timeout(1).with(() => asyncio.sleep(0.01));
        const imported = await import("asyncio-ts");
        return [asyncio.currentTask().getName(), imported.Future === asyncio.Future, testing === asyncio.testing, methods];
      }).then((result) => console.log(JSON.stringify(result)));`;
    writeFileSync(join(consumer, "program.js"), program);
    const out = ok(node(["program.js"]), "the CommonJS program");
    assert.deepEqual(JSON.parse(out), ["Task-1", true, true, ["createConnection", "runInExecutor", "subprocessExec"]]);
  });

  test("a strict TypeScript consumer (NodeNext, CommonJS and ES module files) type-checks against the packed types and runs", () => {
    writeFileSync(
      join(consumer, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          skipLibCheck: false,
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: true,
          types: ["node"],
          typeRoots: [join(repoRoot, "node_modules", "@types")],
          outDir: "out",
        },
        files: ["main.ts", "virtual.mts"],
      }),
    );
    // main.ts is CommonJS (the package says "commonjs"): its imports compile to require().
    writeFileSync(
      join(consumer, "main.ts"),
      `import * as asyncio from "asyncio-ts";
import { VirtualEventLoop } from "asyncio-ts/testing";

async function main(): Promise<string> {
  const queue = new asyncio.Queue<number>();
  const results = await new asyncio.TaskGroup().with(async (tg) => {
    const doubled = tg.createTask(async () => 2 * (await queue.get()));
    await queue.put(21);
    return doubled;
  });
  const loop: VirtualEventLoop = new VirtualEventLoop();
  loop.close();
  const server = await asyncio.startServer(() => undefined, "127.0.0.1", 0);
  const socket = server.sockets[0];
  server.close();
  await server.waitClosed();
  return \`\${results} \${typeof socket} \${typeof require}\`;
}

asyncio.run(main).then((value) => console.log(value));
`,
    );
    writeFileSync(
      join(consumer, "virtual.mts"),
      `import { run } from "asyncio-ts/testing";
import { sleep, getRunningLoop, type Task } from "asyncio-ts";

const task: Task<number> | null = null;
console.log(await run(async () => { await sleep(3600); return getRunningLoop().time(); }), task);
`,
    );
    ok(run(process.execPath, [tsc, "-p", "."], consumer), "tsc on the consumer");
    assert.equal(ok(node(["out/main.js"]), "the compiled CommonJS consumer").trim(), "42 object function");
    assert.equal(ok(node(["out/virtual.mjs"]), "the compiled ES module consumer").trim(), "3600 null");
  });

  test("the README's quick start runs as it says, in a project that installed the package", () => {
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    const start = readme.indexOf("The whole file, ready to save as `hello.mts`");
    const code = /```ts\n([^]*?)```/.exec(readme.slice(start))?.[1];
    assert.ok(start >= 0 && code !== undefined, "the README's quick start is not where this test looks for it");
    // The same program with the delays divided by ten.
    writeFileSync(join(consumer, "hello.mts"), code.replace("sayAfter(1,", "sayAfter(0.1,").replace("sayAfter(2,", "sayAfter(0.2,"));
    const runs = [["--import", "tsx", "hello.mts"]];
    // Node's own type stripping, where this Node has it unflagged (22.18+, 23.6+).
    if ((process.features as { typescript?: string | false }).typescript) runs.push(["hello.mts"]);
    for (const args of runs) {
      const lines = ok(node(args), `node ${args.join(" ")}`).trim().split("\n");
      assert.equal(lines.length, 4, lines.join("\n"));
      assert.match(lines[0]!, /^started at /);
      assert.deepEqual(lines.slice(1, 3), ["hello", "world"]);
      assert.match(lines[3]!, /^finished at /);
    }
  });

  test("asyncio-ts run runs a TypeScript script of a CommonJS project", () => {
    writeFileSync(
      join(consumer, "script.ts"),
      `import * as asyncio from "asyncio-ts";
import { VirtualEventLoop } from "asyncio-ts/testing";

export async function main(): Promise<void> {
  await asyncio.sleep(0.01);
  const imported = await import("asyncio-ts");
  console.log(asyncio.currentTask()?.getName(), typeof VirtualEventLoop, imported.Future === asyncio.Future);
}
`,
    );
    const out = ok(node([join("node_modules", ".bin", "asyncio-ts"), "run", "script.ts"]), "asyncio-ts run script.ts");
    assert.equal(out.trim(), "Task-1 function true");
  });
});
