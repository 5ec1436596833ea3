import { describe, expect, it } from 'vitest';
import { cStoreOutcome } from '../../src/destinations/c-store-status.js';
import { orthancOutcome } from '../../src/destinations/orthanc-rest-destination.js';
import { DELIVERY_FAILURE_CODES, dicomStatusCode, httpStatusCode, isDeliveryFailureCode } from '../../src/protocol/delivery-failure-codes.js';

describe('delivery failure codes', () => {
  it('are the named codes and the HTTP_nnn and DICOM_hhhh families, in one spelling', () => {
    for (const code of Object.keys(DELIVERY_FAILURE_CODES)) expect(isDeliveryFailureCode(code)).toBe(true);
    expect(httpStatusCode(400)).toBe('HTTP_400');
    expect(dicomStatusCode(0xa700)).toBe('DICOM_A700');
    expect(dicomStatusCode(0x0122)).toBe('DICOM_0122');
    // The spellings that were stored or counted before there was one table.
    for (const old of ['HTTP 400', 'A700', '0122', 'FilteredOut', 'refused', 'transient', 'ENOSPC', 'DICOM_a700', 'HTTP_4000']) {
      expect(isDeliveryFailureCode(old)).toBe(false);
    }
  });

  it('hold every code a C-STORE status can produce', () => {
    for (let status = 0; status <= 0xffff; status++) {
      const outcome = cStoreOutcome(status);
      if (outcome.status === 'failed' && outcome.code !== undefined && !isDeliveryFailureCode(outcome.code)) {
        expect.fail(`C-STORE status ${status} produced ${outcome.code}`);
      }
    }
  });

  it('hold every code an Orthanc REST answer can produce', () => {
    for (let status = 200; status < 600; status++) {
      for (const body of ['', '{"Status":"FilteredOut"}', '{"Status":"Success"}']) {
        const outcome = orthancOutcome({ status, body });
        if (outcome.status === 'failed' && outcome.code !== undefined) expect(isDeliveryFailureCode(outcome.code), `HTTP ${status} ${body}`).toBe(true);
      }
    }
  });
});
