import type { SecureContextOptions, TlsOptions } from 'node:tls';

/**
 * TLS as Mozilla's "intermediate" server profile (v5.7) recommends, narrowed to forward-secret AEAD
 * suites: TLS 1.3, and TLS 1.2 with ECDHE and AES-GCM or ChaCha20-Poly1305 only (RFC 9325 §4.2).
 * No CBC suites (Lucky13-style padding oracles), no static RSA key exchange (no forward secrecy),
 * no finite-field DHE (slow, and only needed by clients no workstation runs). The client picks among
 * them (honorCipherOrder off), as the profile advises when every offered suite is strong.
 */
export const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'] as const;
export const TLS12_SUITES = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
] as const;

export function relayTlsOptions(keyAndCert: { key: Buffer; cert: Buffer }): TlsOptions & SecureContextOptions {
  return {
    ...keyAndCert,
    minVersion: 'TLSv1.2',
    ciphers: [...TLS13_SUITES, ...TLS12_SUITES].join(':'),
    ecdhCurve: 'X25519:prime256v1:secp384r1',
    honorCipherOrder: false,
  };
}
