import { test } from "node:test";
import assert from "node:assert/strict";
import * as asyncio from "../src/index.js";

test("run returns the main coroutine's result", async () => {
  assert.equal(await asyncio.run(async () => 42), 42);
});
