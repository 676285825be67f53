// Helpers for tests that drive an event loop by hand.
import * as asyncio from "../../src/index.js";

type Loop = asyncio.EventLoop;

/** Runs `body` with a fresh loop that is always closed afterwards. */
export async function withLoop<T>(body: (loop: Loop) => Promise<T> | T): Promise<T> {
  const loop = asyncio.newEventLoop();
  try {
    return await body(loop);
  } finally {
    if (!loop.isRunning()) loop.close();
  }
}

/** Runs exactly one iteration of a loop that is not running. */
export async function runOnce(loop: Loop): Promise<void> {
  loop.stop();
  await loop.runForever();
}

/** Records every context given to the loop's exception handler. */
export function captureHandler(loop: Loop): asyncio.ExceptionContext[] {
  const seen: asyncio.ExceptionContext[] = [];
  loop.setExceptionHandler((_loop, context) => {
    seen.push(context);
  });
  return seen;
}
