// A concise node:test reporter for runs that are not on a terminal (CI logs, `npm test > log`): a dot per passing
// test, the whole story of each failure (its name, file, error and stack, and what its file printed), and the summary
// lines of the TAP reporter (`# tests N`, `# pass N`, `# fail N`, ...). What test files print goes to the output only
// when the file has a failure, so output a test provokes and checks on purpose does not look like a problem.
import { resolve } from "node:path";
import { inspect } from "node:util";

const DOTS_PER_LINE = 80;

/** @param {AsyncIterable<{ type: string, data: any }>} source */
export default async function* conciseReporter(source) {
  let dots = 0;
  const failures = [];
  /** What each test file printed, kept until we know whether the file failed. */
  const printed = new Map();
  const summary = [];
  for await (const { type, data } of source) {
    switch (type) {
      case "test:pass":
      case "test:fail": {
        if (data.details?.type === "suite") break;
        // A file's own entry (process isolation) fails when the file could not run; its tests are counted apart.
        const failed = type === "test:fail";
        if (failed) failures.push(data);
        yield failed ? "F" : data.skip !== undefined || data.todo !== undefined ? "s" : ".";
        if (++dots % DOTS_PER_LINE === 0) yield "\n";
        break;
      }
      case "test:stdout":
      case "test:stderr": {
        // Node 24 names the file relative to the working directory here, absolute elsewhere.
        const file = data.file === undefined ? "(unknown file)" : resolve(data.file);
        printed.set(file, (printed.get(file) ?? "") + data.message);
        break;
      }
      case "test:diagnostic":
        // The runner's closing counts ("tests 1234", "pass 1234", ...); other diagnostics go with them.
        if (data.nesting === 0) summary.push(data.message);
        break;
      default:
        break;
    }
  }
  if (dots % DOTS_PER_LINE !== 0) yield "\n";
  const failedFiles = new Set();
  for (const failure of failures) {
    if (failure.file !== undefined) failedFiles.add(resolve(failure.file));
    const where = failure.file ? ` (${failure.file}${failure.line ? `:${failure.line}` : ""})` : "";
    const error = failure.details?.error;
    const cause = error?.cause ?? error;
    yield `\nnot ok - ${failure.name}${where}\n${indent(inspect(cause, { depth: 6 }))}\n`;
  }
  for (const file of failedFiles) {
    const text = printed.get(file);
    if (text) yield `\n--- output of ${file}:\n${text}${text.endsWith("\n") ? "" : "\n"}`;
  }
  yield "\n";
  for (const line of summary) yield `# ${line}\n`;
}

function indent(text) {
  return text
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n");
}
