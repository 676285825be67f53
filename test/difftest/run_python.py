"""Runs scenario programs of the asyncio-ts differential test on CPython 3.13.0.

Usage: python3 run_python.py BATCH.json [--allow-other-python]

BATCH.json is a list of {"seed": int, "source": str} (sources from emit_python.ts). Each program runs in a fresh
asyncio.run(), with `print` collecting its trace, on the default loop class with one addition: a timer callback
that runs more than 20 ms after its deadline, or while other callbacks are ready, is flagged (on an idle machine
every timer fires alone, after everything it could race with has run; generated deadlines are 50 ms apart). Prints one JSON line per program:
{"seed", "trace", "flags", "seconds"}. A non-empty "flags" means the run depended on the machine: discard it.
A program still running after LIMIT seconds gets the flag "hung", and the process exits at once (the caller
restarts it for the remaining programs).
"""

import asyncio
import json
import os
import signal
import sys
import time

EXPECTED_VERSION = (3, 13, 0)
LIMIT = 20.0
LATE = 0.02


class CheckedLoop(asyncio.SelectorEventLoop):
    """The default event loop, flagging timer callbacks that run late."""

    def __init__(self, flags):
        super().__init__()
        self._flags = flags

    def call_at(self, when, callback, *args, context=None):
        return super().call_at(when, self._run_timer, when, callback, args, context=context)

    def _run_timer(self, when, callback, args):
        late = self.time() - when
        if late > LATE:
            self._flags.append(f"timer ran {late:.3f}s late")
        if self._ready:
            self._flags.append("timer ran while other callbacks were ready")
        callback(*args)


def emit(record):
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def run_program(seed, source):
    trace = []

    def collect(*args):
        trace.append(" ".join(str(a) for a in args))

    namespace = {"__name__": f"scenario_{seed}", "print": collect}
    exec(compile(source, f"<seed {seed}>", "exec"), namespace)
    flags = namespace["flags"]
    started = time.monotonic()

    def on_alarm(signum, frame):
        emit({"seed": seed, "trace": trace, "flags": flags + ["hung"], "seconds": time.monotonic() - started})
        os._exit(0)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, LIMIT)
    try:
        asyncio.run(namespace["main"](), loop_factory=lambda: CheckedLoop(flags))
    except BaseException as error:  # main catches everything: this is a harness problem
        flags.append(f"asyncio.run raised {type(error).__name__}: {error}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    emit({"seed": seed, "trace": trace, "flags": flags, "seconds": time.monotonic() - started})


def main():
    if sys.version_info[:3] != EXPECTED_VERSION and "--allow-other-python" not in sys.argv:
        sys.exit(f"run_python.py: expected CPython {EXPECTED_VERSION}, got {sys.version_info[:3]}")
    with open(sys.argv[1], encoding="utf-8") as f:
        batch = json.load(f)
    for item in batch:
        run_program(item["seed"], item["source"])


if __name__ == "__main__":
    main()
