import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as asyncio from "../src/index.js";
import { looseRejection as rejection } from "./helpers/expect.js";

const { PIPE, STDOUT, DEVNULL } = asyncio.subprocess;
const NODE = process.execPath;

/** A fresh temporary directory, removed when `body` ends. */
async function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "asyncio-ts-subprocess-"));
  try {
    return await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// ------------------------------------------------------------------ exit codes and signals

test("a child's exit code becomes its returncode, which is null while it runs", async () => {
  await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec("sh", ["-c", "read x; exit 3"], { stdin: PIPE });
    assert.equal(typeof proc.pid, "number");
    assert.equal(proc.returncode, null);
    proc.stdin!.close();
    assert.equal(await proc.wait(), 3);
    assert.equal(proc.returncode, 3);
  });
});

test("a successful child returns 0, and wait() after the end returns it again at once", async () => {
  await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec(NODE, ["-e", "0"]);
    assert.equal(await proc.wait(), 0);
    assert.equal(await proc.wait(), 0);
  });
});

test("kill() ends the child with SIGKILL and returncode is -9, as in Python", async () => {
  await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec("sleep", ["30"]);
    proc.kill();
    assert.equal(await proc.wait(), -9);
  });
});

test("terminate() sends SIGTERM: returncode -15", async () => {
  await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec("sleep", ["30"]);
    proc.terminate();
    assert.equal(await proc.wait(), -15);
  });
});

test("sendSignal takes a name or a number", async () => {
  await asyncio.run(async () => {
    const a = await asyncio.createSubprocessExec("sleep", ["30"]);
    const b = await asyncio.createSubprocessExec("sleep", ["30"]);
    a.sendSignal("SIGUSR2");
    b.sendSignal(1);
    assert.deepEqual(await asyncio.gather(a.wait(), b.wait()), [-12, -1]);
  });
});

test("a child that kills itself with a signal has returncode -signal", async () => {
  await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec("sh", ["-c", "kill -TERM $$"]);
    assert.equal(await proc.wait(), -15);
  });
});

test("a child that handles SIGTERM and exits with a code reports that code", async () => {
  await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec(
      NODE,
      ["-e", "process.on('SIGTERM', () => process.exit(42)); console.log('ready'); setInterval(() => {}, 1000)"],
      { stdout: PIPE },
    );
    assert.equal((await proc.stdout!.readline()).toString(), "ready\n");
    proc.terminate();
    assert.equal(await proc.wait(), 42);
  });
});

test("sendSignal after the child was waited for fails with ESRCH (Python's ProcessLookupError)", async () => {
  await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec("true");
    await proc.wait();
    assert.throws(() => proc.kill(), (e: any) => e.code === "ESRCH");
  });
});

test("sendSignal refuses an unknown signal with RangeError and a non-signal with TypeError", async () => {
  await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec("sleep", ["30"]);
    try {
      assert.throws(() => proc.sendSignal("SIGNOPE" as any), RangeError);
      assert.throws(() => proc.sendSignal({} as any), TypeError);
    } finally {
      proc.kill();
      await proc.wait();
    }
  });
});

test("several tasks can wait for the same child", async () => {
  await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec("sh", ["-c", "sleep 0.05; exit 5"]);
    assert.deepEqual(await asyncio.gather(proc.wait(), proc.wait(), proc.wait()), [5, 5, 5]);
  });
});

// ------------------------------------------------------------------ pipes in every combination

const CHILD = 'if read line; then :; else line=none; fi; echo "out:$line"; echo "err:$line" >&2';
const stdinChoices = [
  ["PIPE", PIPE],
  ["DEVNULL", DEVNULL],
] as const;
const outChoices = [
  ["PIPE", PIPE],
  ["DEVNULL", DEVNULL],
  ["a file", "file"],
] as const;
const errChoices = [...outChoices, ["STDOUT", STDOUT]] as const;

for (const [inName, stdinTarget] of stdinChoices) {
  for (const [outName, stdoutTarget] of outChoices) {
    for (const [errName, stderrTarget] of errChoices) {
      test(`pipes: stdin ${inName}, stdout ${outName}, stderr ${errName}`, async () => {
        await withTempDir(async (dir) => {
          const outPath = join(dir, "out");
          const errPath = join(dir, "err");
          const outFd = openSync(outPath, "w");
          const errFd = openSync(errPath, "w");
          try {
            await asyncio.run(async () => {
              const proc = await asyncio.createSubprocessExec("sh", ["-c", CHILD], {
                stdin: stdinTarget,
                stdout: stdoutTarget === "file" ? outFd : stdoutTarget,
                stderr: stderrTarget === "file" ? errFd : stderrTarget,
              });
              assert.equal(proc.stdin !== null, stdinTarget === PIPE);
              assert.equal(proc.stdout !== null, stdoutTarget === PIPE);
              assert.equal(proc.stderr !== null, stderrTarget === PIPE);
              const line = stdinTarget === PIPE ? "hello" : "none";
              const [out, err] = await proc.communicate(stdinTarget === PIPE ? "hello\n" : null);
              assert.equal(proc.returncode, 0);
              const outText = `out:${line}\n`;
              const errText = `err:${line}\n`;
              // Where each line must have gone: stderr follows stdout with STDOUT.
              const expectedOut = stderrTarget === STDOUT ? outText + errText : outText;
              if (stdoutTarget === PIPE) assert.equal(out!.toString(), expectedOut);
              else assert.equal(out, null);
              if (stderrTarget === PIPE) assert.equal(err!.toString(), errText);
              else assert.equal(err, null);
              if (stdoutTarget === "file") assert.equal(readFileSync(outPath, "utf8"), expectedOut);
              if (stderrTarget === "file") assert.equal(readFileSync(errPath, "utf8"), errText);
            });
          } finally {
            closeSync(outFd);
            closeSync(errFd);
          }
        });
      });
    }
  }
}

test("with no stream options the child inherits all three and the Process has no streams", async () => {
  await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec("true");
    assert.equal(proc.stdin, null);
    assert.equal(proc.stdout, null);
    assert.equal(proc.stderr, null);
    assert.deepEqual(await proc.communicate(), [null, null]);
    assert.equal(proc.returncode, 0);
  });
});

test("stderr: STDOUT keeps the order in which the child wrote to its two streams", async () => {
  await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec("sh", ["-c", "for i in 1 2 3 4 5; do echo o$i; echo e$i >&2; done"], {
      stdout: PIPE,
      stderr: STDOUT,
    });
    const [out, err] = await proc.communicate();
    assert.equal(err, null);
    assert.equal(out!.toString(), "o1\ne1\no2\ne2\no3\ne3\no4\ne4\no5\ne5\n");
  });
});

test("a file descriptor object such as a FileHandle can be a target", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "log");
    const { open } = await import("node:fs/promises");
    const handle = await open(path, "w");
    try {
      await asyncio.run(async () => {
        const proc = await asyncio.createSubprocessExec("sh", ["-c", "echo into-the-file"], { stdout: handle });
        await proc.wait();
      });
    } finally {
      await handle.close();
    }
    assert.equal(readFileSync(path, "utf8"), "into-the-file\n");
  });
});

// ------------------------------------------------------------------ large data and deadlocks

test("32 MiB go through cat and back with communicate()", async () => {
  const input = Buffer.alloc(32 * 1024 * 1024);
  for (let i = 0; i < input.length; i += 4096) input.writeUInt32LE(i, i);
  const out = await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec("cat", [], { stdin: PIPE, stdout: PIPE });
    const [stdout] = await proc.communicate(input);
    assert.equal(proc.returncode, 0);
    return stdout!;
  });
  assert.equal(out.length, input.length);
  assert.ok(out.equals(input));
});

test("communicate() never deadlocks with tens of MiB on stdout and stderr at once", async () => {
  const size = 20 * 1024 * 1024;
  const [out, err] = await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec(
      NODE,
      ["-e", `const a = Buffer.alloc(${size}, 120), b = Buffer.alloc(${size}, 121); process.stdout.write(a); process.stderr.write(b);`],
      { stdout: PIPE, stderr: PIPE },
    );
    return await proc.communicate();
  });
  assert.equal(out!.length, size);
  assert.equal(err!.length, size);
  assert.equal(out![size - 1], 120);
  assert.equal(err![0], 121);
});

test("communicate() with a large input and large interleaved output both ways does not deadlock", async () => {
  const input = Buffer.alloc(8 * 1024 * 1024, 7);
  const [out, err] = await asyncio.run(async () => {
    // The child echoes stdin to stdout and writes a byte to stderr for each chunk it reads.
    const proc = await asyncio.createSubprocessExec(
      NODE,
      ["-e", "process.stdin.on('data', (c) => { process.stdout.write(c); process.stderr.write('.'); });"],
      { stdin: PIPE, stdout: PIPE, stderr: PIPE },
    );
    return await proc.communicate(input);
  });
  assert.ok(out!.equals(input));
  assert.ok(err!.length > 0);
});

test("a child that never reads its stdin: communicate() with a large input still ends", async () => {
  const [out, code] = await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec("sh", ["-c", "sleep 0.1; echo done"], { stdin: PIPE, stdout: PIPE });
    const [stdout] = await proc.communicate(Buffer.alloc(4 * 1024 * 1024, 1));
    return [stdout!.toString(), proc.returncode];
  });
  assert.equal(out, "done\n");
  assert.equal(code, 0);
});

test("a child that closes its stdin early: writes then fail with EPIPE on drain, and communicate ignores it", async () => {
  await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec("sh", ["-c", "exec 0<&-; sleep 0.1; echo ok"], { stdin: PIPE, stdout: PIPE });
    const [out] = await proc.communicate(Buffer.alloc(1024 * 1024, 2));
    assert.equal(out!.toString(), "ok\n");
    assert.equal(proc.returncode, 0);
  });
});

test("a child killed while we write to its stdin: communicate() returns with returncode -9", async () => {
  await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec("sh", ["-c", "exec sleep 30"], { stdin: PIPE, stdout: PIPE });
    const comm = asyncio.createTask(() => proc.communicate(Buffer.alloc(16 * 1024 * 1024, 3)));
    await asyncio.sleep(0.05);
    assert.equal(comm.done(), false);
    proc.kill();
    const [out] = await comm;
    assert.equal(out!.length, 0);
    assert.equal(proc.returncode, -9);
  });
});

test("a child killed while it writes: the reader gets what was written, then EOF", async () => {
  await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec("yes", ["data"], { stdout: PIPE });
    const first = await proc.stdout!.readexactly(5);
    assert.equal(first.toString(), "data\n");
    proc.kill();
    // Drain the rest; it ends because the pipe reaches EOF when the child is gone.
    const rest = await proc.stdout!.read();
    assert.equal(rest.length % 5, 0);
    assert.equal(await proc.wait(), -9);
    assert.equal(proc.stdout!.atEof(), true);
  });
});

test("100 cats at once each echo back their own input", async () => {
  const outputs = await asyncio.run(async () => {
    const procs = await asyncio.gather(
      ...Array.from({ length: 100 }, () => () => asyncio.createSubprocessExec("cat", [], { stdin: PIPE, stdout: PIPE })),
    );
    const results = await asyncio.gather(...procs.map((p, i) => () => p.communicate(`cat number ${i}\n`)));
    for (const p of procs) assert.equal(p.returncode, 0);
    return results.map(([out]) => out!.toString());
  });
  assert.deepEqual(outputs, Array.from({ length: 100 }, (_, i) => `cat number ${i}\n`));
});

// ------------------------------------------------------------------ streams while the child runs

test("stdin and stdout work as streams while the child runs: write, drain, readline", async () => {
  await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec("cat", [], { stdin: PIPE, stdout: PIPE });
    for (const word of ["alpha", "beta", "gamma"]) {
      proc.stdin!.write(`${word}\n`);
      await proc.stdin!.drain();
      assert.equal((await proc.stdout!.readline()).toString(), `${word}\n`);
    }
    proc.stdin!.close();
    await proc.stdin!.waitClosed();
    assert.equal((await proc.stdout!.read()).length, 0);
    assert.equal(await proc.wait(), 0);
  });
});

test("stdout can be read line by line with for await while the child is still writing", async () => {
  await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec(
      NODE,
      ["-e", "let i = 0; const t = setInterval(() => { console.log('line ' + i); if (++i === 4) clearInterval(t); }, 10);"],
      { stdout: PIPE },
    );
    const lines: string[] = [];
    for await (const line of proc.stdout!) lines.push(line.toString().trim());
    assert.deepEqual(lines, ["line 0", "line 1", "line 2", "line 3"]);
    assert.equal(await proc.wait(), 0);
  });
});

test("writing to a child that exited makes drain() fail with a connection error", async () => {
  await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec("true", [], { stdin: PIPE });
    await proc.wait();
    const error = await rejection(
      (async () => {
        for (let i = 0; i < 50; i++) {
          proc.stdin!.write(Buffer.alloc(64 * 1024));
          await proc.stdin!.drain();
        }
      })(),
    );
    assert.ok(["EPIPE", "ECONNRESET"].includes(error.code), String(error));
  });
});

// ------------------------------------------------------------------ starting

test("a program that does not exist rejects the call with Node's ENOENT error", async () => {
  await asyncio.run(async () => {
    const error = await rejection(asyncio.createSubprocessExec("surely-no-such-program-here", ["x"], { stdout: PIPE }));
    assert.ok((error as unknown) instanceof Error);
    assert.equal(error.code, "ENOENT");
    assert.match(error.message, /surely-no-such-program-here/);
  });
});

test("a file that is not executable rejects the call with EACCES", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "script.sh");
    writeFileSync(path, "#!/bin/sh\necho hi\n");
    chmodSync(path, 0o644);
    await asyncio.run(async () => {
      const error = await rejection(asyncio.createSubprocessExec(path));
      assert.equal(error.code, "EACCES");
    });
  });
});

test("createSubprocessShell runs the command with the shell", async () => {
  await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessShell("echo $((6 * 7)) | tr 4 X", { stdout: PIPE });
    const [out] = await proc.communicate();
    assert.equal(out!.toString(), "X2\n");
  });
});

test("a shell command that does not exist is the shell's exit code 127, not a rejection", async () => {
  await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessShell("surely-no-such-command-either", { stderr: DEVNULL });
    assert.equal(await proc.wait(), 127);
  });
});

test("cwd and env are passed to the child", async () => {
  await withTempDir(async (dir) => {
    await asyncio.run(async () => {
      const proc = await asyncio.createSubprocessExec("sh", ["-c", 'pwd; echo "$GREETING"'], {
        stdout: PIPE,
        cwd: dir,
        env: { PATH: process.env.PATH, GREETING: "hi there" },
      });
      const [out] = await proc.communicate();
      const [cwd, greeting] = out!.toString().trim().split("\n");
      // The temporary directory may sit behind a symbolic link; the child's pwd prints the physical path.
      assert.equal(cwd, realpathSync(dir));
      assert.equal(greeting, "hi there");
    });
  });
});

test("the limit option sets the readers' limit", async () => {
  await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec("sh", ["-c", "printf 'abcdefghij\\n'"], { stdout: PIPE, limit: 4 });
    assert.equal(proc.stdout!.limit, 4);
    await assert.rejects(proc.stdout!.readline(), RangeError);
    await proc.wait();
  });
});

test("bad arguments are refused with TypeError or RangeError naming them", async () => {
  await asyncio.run(async () => {
    const exec = asyncio.createSubprocessExec;
    await assert.rejects(exec(42 as any), (e: any) => e instanceof TypeError && /`program`/.test(e.message));
    await assert.rejects(exec("ls", { stdout: PIPE } as any), (e: any) => e instanceof TypeError && /`args`/.test(e.message));
    await assert.rejects(exec("ls", ["-l", 3 as any]), (e: any) => e instanceof TypeError && /`args\[1\]`/.test(e.message));
    await assert.rejects(exec("ls", [], { stdin: STDOUT }), (e: any) => e instanceof RangeError && /`stdin`/.test(e.message));
    await assert.rejects(exec("ls", [], { stdout: "pipe" as any }), (e: any) => e instanceof TypeError && /`stdout`/.test(e.message));
    await assert.rejects(exec("ls", [], { stderr: -7 }), (e: any) => e instanceof RangeError && /`stderr`/.test(e.message));
    await assert.rejects(exec("ls", [], { colour: true } as any), (e: any) => e instanceof TypeError && /`colour`/.test(e.message));
    await assert.rejects(exec("ls", [], { encoding: "utf8" } as any), (e: any) => e instanceof RangeError && /`encoding`/.test(e.message));
    await assert.rejects(exec("ls", [], { shell: true } as any), (e: any) => e instanceof RangeError && /`shell`/.test(e.message));
    await assert.rejects(exec("ls", [], { limit: 0 }), (e: any) => e instanceof RangeError && /`limit`/.test(e.message));
    await assert.rejects(exec("ls", [], { limit: "big" as any }), (e: any) => e instanceof TypeError && /`limit`/.test(e.message));
    await assert.rejects(exec("ls", [], { cwd: 5 as any }), (e: any) => e instanceof TypeError && /`cwd`/.test(e.message));
    await assert.rejects(asyncio.createSubprocessShell(["ls"] as any), (e: any) => e instanceof TypeError && /`cmd`/.test(e.message));
  });
});

test("createSubprocessExec outside a running loop rejects with RuntimeError", async () => {
  await assert.rejects(asyncio.createSubprocessExec("true"), asyncio.RuntimeError);
});

test("a Process shows its pid", async () => {
  await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec("true");
    assert.equal(String(proc), `<Process ${proc.pid}>`);
    await proc.wait();
  });
});

// ------------------------------------------------------------------ cancellation

test("cancelling wait() stops the wait and leaves the child running, as asyncio", async () => {
  await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec("sleep", ["30"]);
    const waiter = asyncio.createTask(() => proc.wait());
    await asyncio.sleep(0.02);
    waiter.cancel();
    await assert.rejects(async () => await waiter, asyncio.CancelledError);
    assert.equal(proc.returncode, null);
    assert.equal(isAlive(proc.pid), true);
    proc.kill();
    assert.equal(await proc.wait(), -9);
  });
});

test("a timeout around communicate() stops it and leaves the child running", async () => {
  await asyncio.run(async () => {
    const proc = await asyncio.createSubprocessExec("sh", ["-c", "echo started; exec sleep 30"], { stdout: PIPE, stdin: PIPE });
    await assert.rejects(asyncio.waitFor(proc.communicate("ignored"), 0.1), asyncio.TimeoutError);
    assert.equal(proc.returncode, null);
    assert.equal(isAlive(proc.pid), true);
    proc.kill();
    assert.equal(await proc.wait(), -9);
  });
});

test("run() ending with a child still running leaves it running, and says so in debug mode", async () => {
  await withTempDir(async (dir) => {
    const marker = join(dir, "finished");
    const logs: string[] = [];
    const pid = await asyncio.run(
      async () => {
        asyncio.getRunningLoop()._log = (text: string) => logs.push(text);
        const proc = await asyncio.createSubprocessExec("sh", ["-c", `sleep 0.3; touch '${marker}'`]);
        return proc.pid;
      },
      { debug: true },
    );
    assert.equal(isAlive(pid), true);
    assert.ok(
      logs.some((l) => l.includes(`child process ${pid} still running`)),
      logs.join("\n"),
    );
    for (let i = 0; i < 100 && !existsSync(marker); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(existsSync(marker), true, "the child ran to its end");
  });
});

// ------------------------------------------------------------------ the lower level

test("loop.subprocessExec calls the protocol in asyncio's order, ending with connectionLost", async () => {
  const events: string[] = [];
  const code = await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    class Recorder extends asyncio.SubprocessProtocol {
      done = loop.createFuture<void>();
      override connectionMade(): void {
        events.push("connectionMade");
      }
      override pipeDataReceived(fd: number, data: Buffer): void {
        events.push(`data ${fd} ${data.toString().trim()}`);
      }
      override pipeConnectionLost(fd: number): void {
        events.push(`pipeConnectionLost ${fd}`);
      }
      override processExited(): void {
        events.push("processExited");
      }
      override connectionLost(exc: Error | null): void {
        events.push(`connectionLost ${exc}`);
        this.done.setResult();
      }
    }
    const [transport, protocol] = await loop.subprocessExec(() => new Recorder(), "sh", ["-c", "echo hi; exit 4"], { stdin: DEVNULL, stderr: DEVNULL });
    assert.ok(transport instanceof asyncio.SubprocessTransport);
    await protocol.done;
    return transport.getReturncode();
  });
  assert.equal(code, 4);
  assert.equal(events[0], "connectionMade");
  assert.ok(events.includes("data 1 hi"));
  assert.ok(events.indexOf("data 1 hi") < events.indexOf("pipeConnectionLost 1"));
  assert.ok(events.includes("processExited"));
  assert.equal(events.at(-1), "connectionLost null");
});

test("loop.subprocessShell pipes all three streams by default; closing the transport kills a running child", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const exited = loop.createFuture<void>();
    const [transport] = await loop.subprocessShell(() => ({ processExited: () => exited.setResult() }), "sleep 30");
    assert.ok(transport.getPipeTransport(0) !== null);
    assert.ok(transport.getPipeTransport(1) !== null);
    assert.ok(transport.getPipeTransport(2) !== null);
    assert.equal(transport.getPipeTransport(3), null);
    assert.equal(typeof transport.getPid(), "number");
    transport.close();
    await exited;
    assert.equal(transport.getReturncode(), -9);
    assert.equal(transport.isClosing(), true);
  });
});
