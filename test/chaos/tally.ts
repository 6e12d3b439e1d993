/**
 * The reliability suites' scoreboard: each probe records whether the platform held, and the suite prints
 * one row per category (as the outside probe reported it) when it ends.
 */
export interface Tally {
  /** Counts one attempt in `category`; returns `held` so a test can assert on it too. */
  record(category: string, held: boolean): boolean;
  print(title: string): void;
}

export function tally(): Tally {
  const rows = new Map<string, { attempts: number; held: number }>();
  return {
    record(category, held) {
      const row = rows.get(category) ?? { attempts: 0, held: 0 };
      row.attempts++;
      if (held) row.held++;
      rows.set(category, row);
      return held;
    },
    print(title) {
      const lines = [...rows].map(([category, r]) => ({ category, attempts: r.attempts, held: r.held }));
      console.log(`\n${title}`);
      console.table(lines);
    },
  };
}
