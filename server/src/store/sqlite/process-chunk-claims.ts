import { randomUUID } from 'node:crypto';
import type { ChunkClaimsStore } from '../chunk-claims-store.js';

interface Claim {
  id: string;
  key: string;
  start: number;
  end: number;
  movedAt: number;
}

/**
 * ChunkClaimsStore in this process's memory: a SQLite database has one relay, so its claims need
 * not be shared, and need not cost a write each.
 */
export class ProcessChunkClaims implements ChunkClaimsStore {
  private readonly byInstance = new Map<string, Claim[]>();
  private readonly byId = new Map<string, Claim>();

  async claim(uploadId: string, index: number, [start, end]: readonly [number, number], _holder: string, staleMs: number): Promise<string | undefined> {
    const key = `${uploadId}/${index}`;
    const claims = this.byInstance.get(key) ?? [];
    const clashing = claims.filter((c) => start < c.end && c.start < end);
    if (clashing.length > 0) {
      const staleBefore = performance.now() - staleMs;
      for (const stale of clashing.filter((c) => c.movedAt < staleBefore)) this.remove(stale);
      return undefined;
    }
    const claim: Claim = { id: randomUUID(), key, start, end, movedAt: performance.now() };
    claims.push(claim);
    this.byInstance.set(key, claims);
    this.byId.set(claim.id, claim);
    return claim.id;
  }

  async touch(moved: readonly string[], held: readonly string[]): Promise<Set<string>> {
    const now = performance.now();
    for (const id of moved) {
      const claim = this.byId.get(id);
      if (claim) claim.movedAt = now;
    }
    return new Set(held.filter((id) => this.byId.has(id)));
  }

  async release(id: string): Promise<void> {
    const claim = this.byId.get(id);
    if (claim) this.remove(claim);
  }

  async prune(olderThanMs: number): Promise<number> {
    const before = performance.now() - olderThanMs;
    const old = [...this.byId.values()].filter((c) => c.movedAt < before);
    for (const claim of old) this.remove(claim);
    return old.length;
  }

  private remove(claim: Claim): void {
    this.byId.delete(claim.id);
    const rest = (this.byInstance.get(claim.key) ?? []).filter((c) => c !== claim);
    if (rest.length > 0) this.byInstance.set(claim.key, rest);
    else this.byInstance.delete(claim.key);
  }
}
