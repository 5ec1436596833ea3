import { randomUUID } from 'node:crypto';
import type { ChunkClaimsStore, HeldClaim } from '../chunk-claims-store.js';

interface Claim {
  id: string;
  key: string;
  start: number;
  end: number;
  movedAt: number;
  superseded: boolean;
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
    const clashing = (this.byInstance.get(key) ?? []).filter((c) => !c.superseded && start < c.end && c.start < end);
    if (clashing.length > 0) {
      const staleBefore = performance.now() - staleMs;
      for (const stale of clashing.filter((c) => c.movedAt < staleBefore)) stale.superseded = true;
      return undefined;
    }
    const id = randomUUID();
    this.add({ id, key, start, end, movedAt: performance.now(), superseded: false });
    return id;
  }

  async touch(moved: readonly string[], held: readonly string[]): Promise<{ superseded: Set<string>; missing: Set<string> }> {
    const now = performance.now();
    for (const id of moved) {
      const claim = this.byId.get(id);
      if (claim) claim.movedAt = now;
    }
    return {
      superseded: new Set(held.filter((id) => this.byId.get(id)?.superseded === true)),
      missing: new Set(held.filter((id) => !this.byId.has(id))),
    };
  }

  async restore(claims: readonly HeldClaim[]): Promise<void> {
    for (const { id, uploadId, index, range: [start, end] } of claims) {
      if (!this.byId.has(id)) this.add({ id, key: `${uploadId}/${index}`, start, end, movedAt: performance.now(), superseded: false });
    }
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

  private add(claim: Claim): void {
    this.byInstance.set(claim.key, [...(this.byInstance.get(claim.key) ?? []), claim]);
    this.byId.set(claim.id, claim);
  }

  private remove(claim: Claim): void {
    this.byId.delete(claim.id);
    const rest = (this.byInstance.get(claim.key) ?? []).filter((c) => c !== claim);
    if (rest.length > 0) this.byInstance.set(claim.key, rest);
    else this.byInstance.delete(claim.key);
  }
}
