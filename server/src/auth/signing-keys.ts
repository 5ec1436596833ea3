import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { SigningKeysStore, StoredSigningKey } from '../store/accounts-store.js';
import type { SignalsStore } from '../store/signals-store.js';

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

/** How often a relay reloads the ring: the longest another relay's rotation takes to reach its signing (a lost 'keys' signal). */
export const RING_RELOAD_MS = 60_000;
/**
 * A retired key with no verifyUntil of its own verifies this long past the longest a token lives:
 * the verifier's clock tolerance, relays whose clocks differ a little, a ring reloaded a minute late.
 */
export const RETIRED_KEY_MARGIN_SECONDS = 300;
/** The fewest milliseconds between two reloads asked for by a token with an unknown `kid` (a forged kid must not cost a query each). */
const UNKNOWN_KID_RELOAD_MS = 1_000;

export interface SigningKeyRingOptions {
  now?: () => Date;
  /** The longest a token this relay issues lives (access and upload tokens): how long a retired key verifies, unless the rotation said. */
  longestTokenSeconds: number;
  /** Where a rotation is announced ('keys'): heard, the ring reloads at once. */
  signals?: SignalsStore;
}

/**
 * The relays' JWT signing keys, from the store (SigningKeysStore), shared by every relay. The newest
 * key not retired signs; every key still usable verifies, chosen by the token's `kid` (RFC 7515
 * §4.1.4). A rotation (`relaypacs-relay keys rotate`) reaches every relay when it hears the 'keys'
 * signal, or at its next reload (every RING_RELOAD_MS); and for verification at once: a token whose
 * `kid` this relay does not know makes it reload (at most one reload a second starts for unknown
 * kids; a request arriving while one runs waits for it). A retired key verifies until its own
 * verifyUntil, or for the longest token life + RETIRED_KEY_MARGIN_SECONDS; then each reload prunes
 * it. On the first start a key is generated; of relays starting together, the first one's is everyone's.
 */
export class SigningKeyRing implements SigningKeySource {
  private keys: RingKey[] = [];
  private readonly imported = new Map<number, RingKey>();
  /** When a token with a kid this relay did not know last made it reload. */
  private lastUnknownKidReload = Number.NEGATIVE_INFINITY;
  private reloading: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  private unlisten: (() => void) | undefined;
  private readonly now: () => Date;

  private constructor(private readonly store: SigningKeysStore, private readonly options: SigningKeyRingOptions) {
    this.now = options.now ?? (() => new Date());
  }

  static async open(store: SigningKeysStore, options: SigningKeyRingOptions): Promise<SigningKeyRing> {
    const ring = new SigningKeyRing(store, options);
    if ((await store.all()).length === 0) await store.addFirst(await newSigningJwk());
    await ring.reload();
    if (ring.keys.length === 0) throw new Error('the store holds no usable JWT signing key');
    return ring;
  }

  /** Reloads every RING_RELOAD_MS, and when a rotation is announced, until stop(). */
  start(): void {
    const reload = () => void this.reload().catch(() => {
      // The store does not answer: the keys loaded last go on serving.
    });
    this.timer ??= setInterval(reload, RING_RELOAD_MS);
    this.timer.unref();
    this.unlisten ??= this.options.signals?.listen('keys', reload);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.unlisten?.();
    this.unlisten = undefined;
  }

  signing(): { kid: string; privateKey: CryptoKey } {
    const key = this.keys[0]!;
    return { kid: key.kid, privateKey: key.privateKey };
  }

  async verificationKey(kid: string | undefined): Promise<CryptoKey | undefined> {
    if (kid === undefined) return undefined;
    let key = this.usableKey(kid);
    if (!key && (this.reloading || performance.now() - this.lastUnknownKidReload >= UNKNOWN_KID_RELOAD_MS)) {
      // A reload under way (a rotation's signal, another unknown kid) is waited for, not skipped.
      if (!this.reloading) this.lastUnknownKidReload = performance.now();
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
        const now = this.now();
        const retiredSince = new Date(now.getTime() - this.retiredKeyMs).toISOString();
        const stored = await this.store.usable(now.toISOString(), retiredSince);
        // The signing key is the newest not retired; a retired key never signs, even when newer.
        const ordered = [...stored.filter((k) => k.retiredAt === undefined), ...stored.filter((k) => k.retiredAt !== undefined)];
        const keys: RingKey[] = [];
        for (const key of ordered) keys.push(await this.ringKey(key));
        if (keys.length > 0) this.keys = keys;
        // Keys no longer usable are not kept imported either (one entry per rotation, forever, otherwise).
        const usable = new Set(stored.map((k) => k.id));
        for (const id of this.imported.keys()) if (!usable.has(id)) this.imported.delete(id);
        // Retired keys that verify nothing any more: their private key material goes.
        await this.store.prune(now.toISOString(), retiredSince);
      } finally {
        this.reloading = undefined;
      }
    })();
    return this.reloading;
  }

  /** How long a retired key without a verifyUntil of its own verifies. */
  private get retiredKeyMs(): number {
    return (this.options.longestTokenSeconds + RETIRED_KEY_MARGIN_SECONDS) * 1000;
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
    const verifyUntil = stored.verifyUntil !== undefined ? Date.parse(stored.verifyUntil)
      : stored.retiredAt !== undefined ? Date.parse(stored.retiredAt) + this.retiredKeyMs : undefined;
    return { ...key, ...(verifyUntil === undefined ? {} : { verifyUntil }) };
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
