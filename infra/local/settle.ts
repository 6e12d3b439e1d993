/**
 * Waits for work in flight, but not forever: a stop must not hang on a handler that never returns (Lambda
 * would have ended it at its timeout). Returns false when the wait was cut short.
 */
export async function settleWithin(work: Iterable<Promise<unknown>>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([Promise.allSettled([...work]).then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** How long a stop waits for invocations in flight. */
export const STOP_GRACE_MS = 5_000;
