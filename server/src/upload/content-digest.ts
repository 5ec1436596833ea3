/**
 * Reads the SHA-256 member of a Content-Digest field (RFC 9530 §2): a structured-field dictionary
 * such as `sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:`, possibly next to other
 * algorithms. Returns the digest as lowercase hex, or undefined when there is no valid sha-256.
 */
export function sha256FromContentDigest(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const value = Array.isArray(header) ? header.join(',') : header;
  for (const member of value.split(',')) {
    const match = /^\s*sha-256\s*=\s*:([A-Za-z0-9+/]+={0,2}):\s*$/i.exec(member);
    if (!match?.[1]) continue;
    const bytes = Buffer.from(match[1], 'base64');
    if (bytes.length === 32) return bytes.toString('hex');
  }
  return undefined;
}

export function contentDigestHeader(sha256Hex: string): string {
  return `sha-256=:${Buffer.from(sha256Hex, 'hex').toString('base64')}:`;
}
