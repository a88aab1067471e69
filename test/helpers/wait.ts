// Polling for a condition in tests that drive separate processes (a server started with npm, a SIGKILLed server).

/** Calls `fn` every `everyMs` until it returns something other than undefined; throws after `ms` naming `what`. */
export async function waitFor<T>(fn: () => T | undefined | Promise<T | undefined>, what: string, ms = 60_000, everyMs = 150): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const value = await fn();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}
