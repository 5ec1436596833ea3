import { AsyncLocalStorage } from 'node:async_hooks';

/** One open transaction: its stores work while `open`, and refuse to afterwards. */
export interface TransactionScope {
  open: boolean;
}

/**
 * Serializes the units of work on the relay's one SQLite connection. A transaction spans awaits, so
 * without this a second one would BEGIN inside the first, and a store call made meanwhile from
 * elsewhere would commit or roll back with someone else's work. Calls outside a transaction queue
 * behind an open (or waiting) one; when none is, they run at once, synchronously, as they did
 * before the stores were async.
 */
export class TransactionGate {
  private tail: Promise<void> = Promise.resolve();
  /** Transactions and calls running or waiting; 0 means the connection is free. */
  private occupants = 0;
  /** The scope of the transaction whose work is running in the current async context, if any. */
  private readonly current = new AsyncLocalStorage<TransactionScope>();

  /** Runs `op` (synchronous SQL) outside any transaction: now if the connection is free, else in turn. */
  call<T>(op: () => T): Promise<T> {
    if (this.occupants === 0) {
      try {
        return Promise.resolve(op());
      } catch (error) {
        return Promise.reject(error as Error);
      }
    }
    const refusal = this.refuseFromInsideWork();
    if (refusal) return Promise.reject(refusal);
    return this.inTurn(async () => op());
  }

  /** Runs `run` alone on the connection; the work it starts sees `scope` as its transaction. */
  transaction<T>(scope: TransactionScope, run: () => Promise<T>): Promise<T> {
    const refusal = this.refuseFromInsideWork();
    if (refusal) return Promise.reject(refusal);
    return this.inTurn(() => this.current.run(scope, run));
  }

  /** Resolves once every transaction and call queued so far has finished. */
  async idle(): Promise<void> {
    await this.tail;
  }

  private inTurn<T>(run: () => Promise<T>): Promise<T> {
    const before = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    this.occupants++;
    return before.then(run).finally(() => {
      this.occupants--;
      release();
    });
  }

  /** Waiting for the gate from inside a transaction's work would wait for that transaction: a deadlock. */
  private refuseFromInsideWork(): Error | undefined {
    if (!this.current.getStore()?.open) return undefined;
    return new Error('a unit of work called the store outside its transaction: use the stores it was given (tx), not the RelayStore');
  }
}
