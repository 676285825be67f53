/**
 * Producers and consumers around a bounded queue, as in Python's asyncio docs, with the other primitives next to
 * it: a Semaphore limiting how many downloads run at once, a Lock guarding shared totals, an Event to stop early.
 *
 *   npm run example examples/producer_consumer.ts
 *
 * The producer puts URLs into a `Queue(3)`, so it waits whenever three are pending. Four workers take them with
 * `for await`, "download" each (a sleep), and mark it done with `taskDone()`. The producer `join()`s the queue,
 * then shuts it down, which ends the workers' loops. A worker cancelled mid-download loses no URL: a cancelled
 * `get()` never takes an item, and a worker cancelled in the middle of a download puts its URL back.
 */
import * as asyncio from "asyncio-ts";

interface Totals {
  downloads: number;
  bytes: number;
}

/** Pretends to download `url`; takes a few milliseconds and returns a size. */
async function download(url: string): Promise<number> {
  await asyncio.sleep(0.005 + (url.length % 5) * 0.002);
  return url.length * 100;
}

async function worker(
  name: string,
  queue: asyncio.Queue<string>,
  slots: asyncio.Semaphore,
  lock: asyncio.Lock,
  totals: Totals,
): Promise<void> {
  for await (const url of queue) {
    try {
      // At most two downloads at a time, whatever the number of workers.
      const size = await slots.with(() => download(url));
      // Two updates that must stay together: the lock keeps the other workers out in between.
      await lock.with(() => {
        totals.downloads += 1;
        totals.bytes += size;
      });
      console.log(`  ${name} fetched ${url} (${size} bytes)`);
    } catch (error) {
      // Cancelled in the middle of a download: give the URL back to the others before leaving.
      if (error instanceof asyncio.CancelledError) {
        console.log(`  ${name} cancelled while fetching ${url}: putting it back`);
        await queue.put(url);
      }
      throw error;
    } finally {
      queue.taskDone(); // this get() is dealt with (a URL put back counts as a new item)
    }
  }
  console.log(`  ${name}: the queue is shut down and drained, stopping`);
}

async function main(): Promise<void> {
  const queue = new asyncio.Queue<string>(3);
  const slots = new asyncio.Semaphore(2);
  const lock = new asyncio.Lock();
  const totals: Totals = { downloads: 0, bytes: 0 };
  const urls = Array.from({ length: 12 }, (_, i) => `https://example.com/page/${i + 1}`);

  await new asyncio.TaskGroup().with(async (tg) => {
    const workers = ["w1", "w2", "w3", "w4"].map((name) =>
      tg.createTask(() => worker(name, queue, slots, lock, totals), { name }),
    );
    for (const url of urls) {
      await queue.put(url); // waits while three URLs are pending
      if (url.endsWith("/6")) {
        console.log("  (cancelling w1)");
        workers[0]!.cancel(); // a cancelled task is no failure of the group; its URL, if any, comes back
      }
    }
    await queue.join(); // every URL fetched and marked done
    queue.shutdown(); // ends every worker's `for await` loop
  });

  console.log(`fetched ${totals.downloads} of ${urls.length} URLs, ${totals.bytes} bytes in all`);
  if (totals.downloads !== urls.length) throw new Error("a URL was lost");
}

await asyncio.run(main);
