// Relay error codes are the relay's typed union (server/src/protocol/error-codes.ts) on the desktop, and a
// refusal without a code of its own is spelt one way (HTTP_nnn) wherever it is written or matched.
import { describe, expect, it } from 'vitest';
import { explainJobError } from '../../src/app/coded-failure.js';
import { toCodedError } from '../../src/core/coded-error.js';
import { httpStatusOf, relayFailureCode, RelayRequestError } from '../../src/core/upload/relay-client.js';

const refusal = (status: number, code?: ConstructorParameters<typeof RelayRequestError>[2]) =>
  new RelayRequestError('refused', status, code, undefined, status === 408 || status === 429 || status >= 500);

describe('relay refusals without a code of their own', () => {
  it('are recorded and logged as HTTP_nnn, never "HTTP nnn"', () => {
    expect(relayFailureCode(undefined, 400)).toBe('HTTP_400');
    expect(relayFailureCode('STORAGE_FULL', 507)).toBe('STORAGE_FULL');
    expect(toCodedError(refusal(400))).toMatchObject({ code: 'UPLOAD_REJECTED', detail: 'HTTP_400' });
    expect(toCodedError(refusal(413, 'UPLOAD_TOO_LARGE'))).toMatchObject({ code: 'UPLOAD_REJECTED', detail: 'UPLOAD_TOO_LARGE' });
    expect(toCodedError(new RelayRequestError('no answer', undefined, undefined, undefined, true))).toMatchObject({ code: 'RELAY_UNREACHABLE', detail: 'network' });
    expect(httpStatusOf('HTTP_429')).toBe(429);
    expect(httpStatusOf('HTTP 429')).toBeUndefined();
    expect(httpStatusOf('STORAGE_FULL')).toBeUndefined();
  });

  it('explain a job waiting after a busy relay (408, 429, 5xx) as the relay not answering, as the desktop\'s own requests are', () => {
    // The engine retries these; before, only HTTP_5xx was matched, so a job backing off after a 429 said
    // the relay had refused it.
    for (const status of [408, 429, 500, 503]) {
      const code = relayFailureCode(undefined, status);
      expect(explainJobError(code, 'busy', []), code).toMatchObject({ code: 'RELAY_UNREACHABLE' });
      expect(toCodedError(refusal(status)).code, code).toBe('RELAY_UNREACHABLE');
    }
    for (const status of [400, 404, 415]) {
      expect(explainJobError(relayFailureCode(undefined, status), 'refused', [])).toMatchObject({ code: 'UPLOAD_REJECTED' });
    }
    expect(explainJobError('AUTH_FORBIDDEN', 'not allowed', [])).toMatchObject({ code: 'NOT_ALLOWED' });
    expect(explainJobError('STORAGE_FULL', 'full', [])).toMatchObject({ code: 'RELAY_UNREACHABLE' });
  });
});
