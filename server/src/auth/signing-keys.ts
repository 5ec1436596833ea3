import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { SigningKeysStore, StoredSigningKey } from '../store/accounts-store.js';

/** The one algorithm the relay signs and accepts (RFC 8725 §3.1: pin it, never read it from the token). */
export const JWT_ALGORITHM = 'EdDSA';

/** What TokenService signs with and verifies against. */
export interface SigningKeySource {
  /** The key that signs now, and its `kid` for the token's header. */
  signing(): { kid: string; privateKey: CryptoKey };
  /** The public key of `kid` if it still verifies, else undefined. */
  verificationKey(kid: string | undefined): Promise<CryptoKey | undefined>;
  /** Whether `kid` still verifies, as far as this relay knows now (a token verified before, checked again). */
  verifies(kid: string): boolean;
}

/** A key as the ring holds it: `kid` is its public JWK's thumbprint (RFC 7638), the same on every relay. */
interface RingKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  verifyUntil?: number;
}

/** How often a relay reloads the ring: the longest another relay's rotation takes to reach its signing. */
export const RING_RELOAD_MS = 60_000;
/** The fewest milliseconds between two reloads asked for by a token with an unknown `kid` (a forged kid must not cost a query each). */
const UNKNOWN_KID_RELOAD_MS = 1_000;

/**
 * The relays' JWT signing keys, from the store (SigningKeysStore), shared by every relay. The newest
 * key not retired signs; every key still usable verifies, chosen by the token's `kid` (RFC 7515
 * §4.1.4). A rotation on any relay reaches the others at their next reload (every RING_RELOAD_MS),
 * and at once for verification: a token whose `kid` this relay does not know makes it reload
 * (at most once a second). On the first start a key is generated; of relays starting together, the
 * first one's is everyone's.
 */
export class SigningKeyRing implements SigningKeySource {
  private keys: RingKey[] = [];
  private readonly imported = new Map<number, RingKey>();
  /** When a token with a kid this relay did not know last made it reload. */
  private lastUnknownKidReload = Number.NEGATIVE_INFINITY;
  private reloading: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  private constructor(private readonly store: SigningKeysStore, private readonly now: () => Date) {}

  static async open(store: SigningKeysStore, now: () => Date = () => new Date()): Promise<SigningKeyRing> {
    const ring = new SigningKeyRing(store, now);
    if ((await store.usable(now().toISOString())).length === 0) await store.addFirst(await newSigningJwk());
    await ring.reload();
    if (ring.keys.length === 0) throw new Error('the store holds no usable JWT signing key');
    return ring;
  }

  /** Reloads every RING_RELOAD_MS until stop(). */
  start(): void {
    this.timer ??= setInterval(() => void this.reload().catch(() => {
      // The store does not answer: the keys loaded last go on serving.
    }), RING_RELOAD_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  signing(): { kid: string; privateKey: CryptoKey } {
    const key = this.keys[0]!;
    return { kid: key.kid, privateKey: key.privateKey };
  }

  async verificationKey(kid: string | undefined): Promise<CryptoKey | undefined> {
    if (kid === undefined) return undefined;
    let key = this.usableKey(kid);
    if (!key && performance.now() - this.lastUnknownKidReload >= UNKNOWN_KID_RELOAD_MS) {
      this.lastUnknownKidReload = performance.now();
      await this.reload().catch(() => {});
      key = this.usableKey(kid);
    }
    return key?.publicKey;
  }

  verifies(kid: string): boolean {
    return this.usableKey(kid) !== undefined;
  }

  /** The kids of the keys held, the signing one first (for tests and the key list). */
  kids(): string[] {
    return this.keys.map((key) => key.kid);
  }

  async reload(): Promise<void> {
    this.reloading ??= (async () => {
      try {
        const stored = await this.store.usable(this.now().toISOString());
        // The signing key is the newest not retired; a retired key never signs, even when newer.
        const ordered = [...stored.filter((k) => k.retiredAt === undefined), ...stored.filter((k) => k.retiredAt !== undefined)];
        const keys: RingKey[] = [];
        for (const key of ordered) keys.push(await this.ringKey(key));
        if (keys.length > 0) this.keys = keys;
      } finally {
        this.reloading = undefined;
      }
    })();
    return this.reloading;
  }

  private usableKey(kid: string): RingKey | undefined {
    const key = this.keys.find((k) => k.kid === kid);
    if (!key || (key.verifyUntil !== undefined && key.verifyUntil <= this.now().getTime())) return undefined;
    return key;
  }

  /** Imports a stored key once: its retirement may change later, its key material never. */
  private async ringKey(stored: StoredSigningKey): Promise<RingKey> {
    let key = this.imported.get(stored.id);
    if (!key) {
      const { d: _private, ...publicJwk } = stored.jwk;
      key = {
        kid: await kidOf(stored.jwk),
        privateKey: (await importJWK(stored.jwk, JWT_ALGORITHM)) as CryptoKey,
        publicKey: (await importJWK(publicJwk, JWT_ALGORITHM)) as CryptoKey,
      };
      this.imported.set(stored.id, key);
    }
    return { ...key, ...(stored.verifyUntil === undefined ? {} : { verifyUntil: Date.parse(stored.verifyUntil) }) };
  }
}

/** A new Ed25519 private key, as the JWK the store keeps. */
export async function newSigningJwk(): Promise<JWK> {
  const pair = await generateKeyPair(JWT_ALGORITHM, { crv: 'Ed25519', extractable: true });
  return exportJWK(pair.privateKey);
}

/** The `kid` of a stored key (its public JWK's thumbprint). */
export async function kidOf(jwk: JWK): Promise<string> {
  const { d: _private, ...publicJwk } = jwk;
  return calculateJwkThumbprint(publicJwk);
}
