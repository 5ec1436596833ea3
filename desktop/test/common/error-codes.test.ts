import { describe, expect, it } from 'vitest';
import { codedError, ERROR_CODES, isErrorCode } from '../../src/common/error-codes.js';

describe('error code table', () => {
  it('gives every code an actionable sentence', () => {
    for (const [code, sentence] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^[A-Z][A-Z_]+$/);
      expect(sentence, code).toMatch(/^[A-Z].{20,}\.$/);
    }
  });

  it('recognises only its own codes', () => {
    expect(isErrorCode('FILE_NOT_DICOM')).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
    expect(isErrorCode(42)).toBe(false);
  });

  it('builds coded errors with and without detail', () => {
    expect(codedError('RELAY_UNREACHABLE')).toEqual({ code: 'RELAY_UNREACHABLE', message: ERROR_CODES.RELAY_UNREACHABLE });
    expect(codedError('UPLOAD_REJECTED', 'upload 12, instance 3')).toMatchObject({ detail: 'upload 12, instance 3' });
  });
});
