/**
 * How the process ends on two uncaught errors of ours. Both are built on `uncaughtExceptionMonitor`, which observes a
 * crash without changing it, so Node's handling of every other uncaught error stays as it is; a program with its own
 * `uncaughtException` listener (or capture callback) keeps it, and then these do nothing.
 */
import { process } from "../node.js";

/** Whether Node is about to print the error and exit (no listener of the program will handle it). */
function nodeWillCrash(): boolean {
  return process.listenerCount("uncaughtException") === 0 && !process.hasUncaughtExceptionCaptureCallback();
}

/**
 * An uncaught `KeyboardInterrupt` ends the process as Node and CPython end on Ctrl-C: `KeyboardInterrupt` on stderr,
 * then death by SIGINT (a parent sees the signal, a shell the status 130), instead of Node's stack trace and exit
 * code 1. Installed once, when the first `KeyboardInterrupt` is made.
 */
let interruptInstalled = false;

export function installInterruptExit(isInterrupt: (error: unknown) => boolean): void {
  if (interruptInstalled || typeof process === "undefined" || typeof process.on !== "function") return;
  interruptInstalled = true;
  process.on("uncaughtExceptionMonitor", (error) => {
    if (!isInterrupt(error) || !nodeWillCrash()) return;
    const message = (error as Error).message;
    process.stderr.write(message ? `KeyboardInterrupt: ${message}\n` : "KeyboardInterrupt\n");
    if (process.platform !== "win32") {
      // With nobody listening, SIGINT takes its default action, which ends the process within kill().
      process.removeAllListeners("SIGINT");
      process.kill(process.pid, "SIGINT");
    }
    process.exit(130);
  });
}

/**
 * An uncaught `ExceptionGroup` is printed as `console.log` shows it (each sub-error once, numbered and nested as
 * Python prints a group) rather than with both of its arrays: Node prints a crashing error with `customInspect`
 * off, so the group, about to be printed for the last time, gets that rendering as its `stack` and its `errors`
 * hidden. Installed once, when the first group is made.
 */
let groupInstalled = false;

export function installGroupPrinting(isGroup: (error: unknown) => boolean, render: (group: Error) => string): void {
  if (groupInstalled || typeof process === "undefined" || typeof process.on !== "function") return;
  groupInstalled = true;
  process.on("uncaughtExceptionMonitor", (error) => {
    if (!isGroup(error) || !nodeWillCrash()) return;
    const group = error as Error;
    try {
      const text = render(group);
      Object.defineProperty(group, "stack", { value: text, writable: true, configurable: true });
      Object.defineProperty(group, "errors", { value: undefined, writable: true, configurable: true, enumerable: false });
    } catch {
      // A frozen group, or one whose rendering failed: Node prints it its own way.
    }
  });
}
