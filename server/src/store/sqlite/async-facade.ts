/** The methods of T, each answering a Promise of what it returned. */
export type AsyncMethods<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<R> : never;
};

/**
 * The store interfaces are async (a PostgreSQL backend answers over the network); better-sqlite3
 * answers synchronously. The SQLite stores are written as plain synchronous classes and exposed
 * through this facade: each method runs through `call`, which decides when (now, or after an open
 * transaction) and under which transaction. Only the class's own prototype methods are exposed,
 * so its helpers stay module functions.
 */
export function asyncFacade<T extends object>(target: T, call: <R>(op: () => R) => Promise<R>): AsyncMethods<T> {
  const facade: Record<string, unknown> = {};
  const prototype = Object.getPrototypeOf(target) as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(prototype)) {
    const method = prototype[name];
    if (name === 'constructor' || typeof method !== 'function') continue;
    facade[name] = (...args: unknown[]) => call(() => (method as (...a: unknown[]) => unknown).apply(target, args));
  }
  return facade as AsyncMethods<T>;
}

/** The synchronous form of an async store interface: what a SQLite store implements, asyncFacade exposes. */
export type Synchronous<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R : T[K];
};
