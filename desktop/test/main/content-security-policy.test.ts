// The app's Content-Security-Policy (security/content-security-policy.ts) and how it is added to
// response headers.
import { describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY, withContentSecurityPolicy } from '../../src/main/security/content-security-policy.js';

function directives(policy: string): Map<string, string> {
  return new Map(policy.split(';').map((d) => d.trim()).filter(Boolean).map((d) => {
    const [name = '', ...values] = d.split(/\s+/);
    return [name, values.join(' ')];
  }));
}

describe('CONTENT_SECURITY_POLICY', () => {
  const policy = directives(CONTENT_SECURITY_POLICY);

  it('denies by default and allows scripts and styles only from the app itself', () => {
    expect(policy.get('default-src')).toBe("'none'");
    expect(policy.get('script-src')).toBe("'self'");
    expect(policy.get('style-src')).toBe("'self'");
  });

  it('allows no inline or evaluated script, no remote origin, no wildcard', () => {
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-inline|unsafe-eval|wasm-unsafe-eval|unsafe-hashes/);
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/https?:|\*/);
  });

  it.each(['connect-src', 'object-src', 'frame-src', 'child-src', 'worker-src', 'base-uri', 'form-action', 'frame-ancestors'])('sets %s to none', (name) => {
    expect(policy.get(name)).toBe("'none'");
  });
});

describe('withContentSecurityPolicy', () => {
  it('adds the policy and keeps the other headers', () => {
    expect(withContentSecurityPolicy({ 'Content-Type': ['text/html'] })).toEqual({
      'Content-Type': ['text/html'],
      'Content-Security-Policy': [CONTENT_SECURITY_POLICY],
    });
    expect(withContentSecurityPolicy(undefined)).toEqual({ 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] });
  });

  it('keeps a policy the response brought (both are enforced, so adding only narrows)', () => {
    const headers = withContentSecurityPolicy({ 'content-security-policy': ["default-src 'self'"] });
    expect(headers).toEqual({ 'Content-Security-Policy': ["default-src 'self'", CONTENT_SECURITY_POLICY] });
  });

  it('does not add the policy twice', () => {
    expect(withContentSecurityPolicy({ 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] })['Content-Security-Policy']).toEqual([CONTENT_SECURITY_POLICY]);
  });
});
