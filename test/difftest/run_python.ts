/**
 * Runs scenario programs on CPython 3.13.0 through `run_python.py`, a few Python processes at a time, each running
 * many programs (one fresh `asyncio.run` each) to save start-up time.
 * @module
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** The trace CPython printed for one program, and why the run may depend on the machine (discard it if any). */
export interface PythonResult {
  seed: number;
  trace: string[];
  flags: string[];
  seconds: number;
}

/** How to run Python. */
export interface PythonOptions {
  /** The interpreter (it must be CPython 3.13.0 unless `allowOtherVersion`). */
  python: string;
  /** How many Python processes run at once. */
  parallel: number;
  allowOtherVersion: boolean;
  /** Where the batch files (and the programs, one `.py` each, for reading) are written. */
  workDir: string;
  /** Called for each result as it arrives. */
  onResult?: (result: PythonResult) => void;
}

const RUNNER = fileURLToPath(new URL("./run_python.py", import.meta.url));

/** The interpreter could not be started: it is not installed where it was looked for. */
export class PythonNotFound extends Error {}

/** The default interpreter: pyenv's 3.13.0 when installed, else `python3.13` from PATH. */
export const DEFAULT_PYTHON = join(process.env.PYENV_ROOT ?? join(homedir(), ".pyenv"), "versions", "3.13.0", "bin", "python3");

/** Runs every program and returns the results by seed. */
export async function runPython(
  programs: readonly { seed: number; source: string }[],
  options: PythonOptions,
): Promise<Map<number, PythonResult>> {
  for (const p of programs) writeFileSync(join(options.workDir, `seed-${p.seed}.py`), p.source);
  const results = new Map<number, PythonResult>();
  const lanes: { seed: number; source: string }[][] = Array.from({ length: options.parallel }, () => []);
  programs.forEach((p, i) => lanes[i % options.parallel]!.push(p));
  await Promise.all(lanes.map((lane, i) => runLane(lane, i, options, results)));
  return results;
}

/** Runs one lane of programs, restarting Python after a program that hung (the runner exits at once then). */
async function runLane(
  lane: readonly { seed: number; source: string }[],
  index: number,
  options: PythonOptions,
  results: Map<number, PythonResult>,
): Promise<void> {
  let remaining = lane;
  while (remaining.length > 0) {
    const batchFile = join(options.workDir, `batch-${index}.json`);
    writeFileSync(batchFile, JSON.stringify(remaining));
    const before = results.size;
    await runBatch(batchFile, options, (result) => {
      results.set(result.seed, result);
      options.onResult?.(result);
    });
    remaining = remaining.filter((p) => !results.has(p.seed));
    if (results.size === before && remaining.length > 0) {
      throw new Error(`run_python.py made no progress on seed ${remaining[0]!.seed}`);
    }
  }
}

function runBatch(batchFile: string, options: PythonOptions, onResult: (r: PythonResult) => void): Promise<void> {
  const args = [RUNNER, batchFile, ...(options.allowOtherVersion ? ["--allow-other-python"] : [])];
  const child = spawn(options.python, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    // Keep the tail only: CPython logs never-retrieved exceptions of leftover helper tasks there.
    stderr = (stderr + chunk).slice(-4000);
  });
  const lines = createInterface({ input: child.stdout });
  lines.on("line", (line) => onResult(JSON.parse(line) as PythonResult));
  return new Promise((resolve, reject) => {
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") reject(error);
      else reject(new PythonNotFound(`CPython not found: ${options.python} (install CPython 3.13.0, or pass --python PATH)`));
    });
    child.on("close", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${options.python} ${args.join(" ")} exited with ${code}:\n${stderr}`));
    });
  });
}
