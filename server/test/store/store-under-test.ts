// What a shared contract suite needs of a backend: a fresh, empty store whose clock the test moves.
import type { RelayStore } from '../../src/store/relay-store.js';

export interface StoreUnderTest {
  store: RelayStore;
  /** Closes the store and removes whatever it created. */
  dispose(): Promise<void>;
}

/** Opens a fresh store stamping rows with `now`. */
export type StoreFactory = (now: () => Date) => Promise<StoreUnderTest>;

/** A clock that stands still until moved. */
export function testClock(start = Date.parse('2030-01-01T00:00:00Z')) {
  let ms = start;
  return {
    now: () => new Date(ms),
    advance(milliseconds: number): void {
      ms += milliseconds;
    },
  };
}

/** A promise the test settles by hand: lets a unit of work stay open while the test acts. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
