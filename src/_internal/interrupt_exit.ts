/**
 * An uncaught `KeyboardInterrupt` ends the process as Node and CPython end on Ctrl-C: `KeyboardInterrupt` on stderr,
 * then death by SIGINT (a parent sees the signal, a shell the status 130), instead of Node's stack trace and exit
 * code 1.
 *
 * Built on `uncaughtExceptionMonitor`, which observes a crash without changing it: Node's handling of every other
 * uncaught error stays as it is. A program with its own `uncaughtException` listener (or capture callback) keeps it:
 * then this does nothing. Installed once, when the first `KeyboardInterrupt` is made.
 */
let installed = false;

export function installInterruptExit(isInterrupt: (error: unknown) => boolean): void {
  if (installed || typeof process === "undefined" || typeof process.on !== "function") return;
  installed = true;
  process.on("uncaughtExceptionMonitor", (error) => {
    if (!isInterrupt(error)) return;
    if (process.listenerCount("uncaughtException") > 0 || process.hasUncaughtExceptionCaptureCallback()) return;
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
