/** Constants shared by several modules, as CPython's `asyncio/constants.py`. */

/** After this many writes to a transport whose connection was lost, one warning is logged (as asyncio). */
export const LOG_THRESHOLD_FOR_CONNLOST_WRITES = 5;
