/**
 * A shell pipeline built by hand: `sort | uniq -c | sort -rn`, with each process started by asyncio-ts and the
 * bytes carried between them by our streams (StreamReader → StreamWriter, with drain() for backpressure).
 *
 * Run it with `npm run example examples/subprocess_pipeline.ts`. It prints the ten most common words of a text,
 * and the exit code of every stage.
 */
import * as asyncio from "asyncio-ts";

const { PIPE } = asyncio.subprocess;

const TEXT = `
It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness,
it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, it was the season of
Darkness, it was the spring of hope, it was the winter of despair, we had everything before us, we had nothing
before us, we were all going direct to Heaven, we were all going direct the other way.
`;

/** Copies everything `reader` gives to `writer`, waiting for the writer's buffer when it is full, then closes it. */
async function pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter): Promise<number> {
  let total = 0;
  for (;;) {
    const chunk = await reader.read(64 * 1024);
    if (chunk.length === 0) break;
    total += chunk.length;
    writer.write(chunk);
    await writer.drain();
  }
  writer.close();
  return total;
}

async function main(): Promise<void> {
  // Three stages; each reads its stdin from a pipe we write to, and writes its stdout to a pipe we read.
  const stages = [
    ["sort", []],
    ["uniq", ["-c"]],
    ["sort", ["-rn"]],
  ] as const;
  const procs = await asyncio.gather(
    ...stages.map(([program, args]) => () => asyncio.createSubprocessExec(program, [...args], { stdin: PIPE, stdout: PIPE })),
  );

  // Feed the first stage one word per line, and move each stage's output into the next stage's input.
  const words = TEXT.toLowerCase().match(/[a-z]+/g) ?? [];
  const lines: string[] = [];
  await new asyncio.TaskGroup().with(async (tg) => {
    tg.createTask(async () => {
      const first = procs[0]!.stdin!;
      for (const word of words) first.write(`${word}\n`);
      await first.drain();
      first.close();
    });
    for (let i = 0; i + 1 < procs.length; i++) {
      tg.createTask(() => pump(procs[i]!.stdout!, procs[i + 1]!.stdin!));
    }
    tg.createTask(async () => {
      for await (const line of procs.at(-1)!.stdout!) lines.push(line.toString().trim());
    });
  });

  console.log(`${words.length} words, ${lines.length} distinct; the ten most common:`);
  for (const line of lines.slice(0, 10)) {
    const [count, word] = line.split(/\s+/);
    console.log(`  ${word!.padEnd(12)} ${count}`);
  }
  const codes = await asyncio.gather(...procs.map((p) => () => p.wait()));
  console.log(`exit codes: ${stages.map(([program, args], i) => `${[program, ...args].join(" ")} → ${codes[i]}`).join(", ")}`);
}

await asyncio.run(main);
