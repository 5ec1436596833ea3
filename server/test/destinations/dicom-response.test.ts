import { describe, expect, it } from 'vitest';
import {
  failureReasonMeaning, parseQidoSopInstanceUids, parseStoreInstancesResponse, parseStoreInstancesResponseJson, statusCodeHex,
  UnreadableResponseError, warningReasonMeaning,
} from '../../src/destinations/dicom-response.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const STORED = '1.2.826.0.1.3680043.8.498.101';
const WARNED = '1.2.826.0.1.3680043.8.498.102';
const FAILED = '1.2.826.0.1.3680043.8.498.103';

/** A Store Instances Response (PS3.18 §10.5.3) in DICOM JSON, as Annex F writes it. */
const JSON_RESPONSE = {
  '00081190': { vr: 'UR', Value: ['https://pacs.example/dicom-web/studies/1.2.3'] },
  '00081198': {
    vr: 'SQ',
    Value: [{
      '00081150': { vr: 'UI', Value: [CT] },
      '00081155': { vr: 'UI', Value: [FAILED] },
      '00081197': { vr: 'US', Value: [0xa700] },
    }],
  },
  '00081199': {
    vr: 'SQ',
    Value: [
      { '00081150': { vr: 'UI', Value: [CT] }, '00081155': { vr: 'UI', Value: [STORED] } },
      { '00081150': { vr: 'UI', Value: [CT] }, '00081155': { vr: 'UI', Value: [WARNED] }, '00081196': { vr: 'US', Value: [0xb000] } },
    ],
  },
  '0008119A': { vr: 'SQ', Value: [{ '00081197': { vr: 'US', Value: [0xc000] } }] },
};

/** The same response in the Native DICOM Model (PS3.19 §A.1), with a comment, CDATA and entities. */
const XML_RESPONSE = `<?xml version="1.0" encoding="utf-8"?>
<!-- written by a test, <not> an element -->
<NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDICOM">
  <DicomAttribute tag="00081190" vr="UR" keyword="RetrieveURL"><Value number="1">https://pacs.example/dicom-web/studies/1.2.3?a=1&amp;b=2</Value></DicomAttribute>
  <DicomAttribute tag="00081198" vr="SQ" keyword="FailedSOPSequence">
    <Item number="1">
      <DicomAttribute tag="00081150" vr="UI" keyword="ReferencedSOPClassUID"><Value number="1">${CT}</Value></DicomAttribute>
      <DicomAttribute tag="00081155" vr="UI" keyword="ReferencedSOPInstanceUID"><Value number="1"><![CDATA[${FAILED}]]></Value></DicomAttribute>
      <DicomAttribute tag="00081197" vr="US" keyword="FailureReason"><Value number="1">42752</Value></DicomAttribute>
    </Item>
  </DicomAttribute>
  <DicomAttribute tag="00081199" vr="SQ" keyword="ReferencedSOPSequence">
    <Item number="2">
      <DicomAttribute tag="00081150" vr="UI" keyword="ReferencedSOPClassUID"><Value number="1">${CT}</Value></DicomAttribute>
      <DicomAttribute tag="00081155" vr="UI" keyword="ReferencedSOPInstanceUID"><Value number="1">
        ${WARNED}
      </Value></DicomAttribute>
      <DicomAttribute tag="00081196" vr="US" keyword="WarningReason"><Value number="1">45056</Value></DicomAttribute>
    </Item>
    <Item number="1">
      <DicomAttribute tag="00081150" vr="UI" keyword="ReferencedSOPClassUID"><Value number="1">${CT}</Value></DicomAttribute>
      <DicomAttribute tag="00081155" vr="UI" keyword="ReferencedSOPInstanceUID"><Value number="1">${STORED}</Value></DicomAttribute>
    </Item>
    <Value number="1" />
  </DicomAttribute>
  <DicomAttribute tag="0008119A" vr="SQ" keyword="OtherFailuresSequence">
    <Item number="1"><DicomAttribute tag="00081197" vr="US" keyword="FailureReason"><Value number="1">49152</Value></DicomAttribute></Item>
  </DicomAttribute>
</NativeDicomModel>`;

const EXPECTED = {
  referenced: new Map([[STORED, { sopClassUid: CT, warningReason: undefined }], [WARNED, { sopClassUid: CT, warningReason: 0xb000 }]]),
  failed: new Map([[FAILED, { sopClassUid: CT, failureReason: 0xa700 }]]),
  otherFailures: [0xc000],
};

describe('Store Instances Response (PS3.18 §10.5.3)', () => {
  it('reads referenced instances with warnings, failed instances with reasons, and other failures from DICOM JSON', () => {
    expect(parseStoreInstancesResponse(JSON.stringify(JSON_RESPONSE), 'application/dicom+json')).toEqual(EXPECTED);
  });

  it('reads the same facts from the Native DICOM Model in XML', () => {
    expect(parseStoreInstancesResponse(XML_RESPONSE, 'application/dicom+xml; charset=utf-8')).toEqual(EXPECTED);
  });

  it('tells JSON from XML by the first character when the content type is missing (Orthanc 1.10 sends none with a 409)', () => {
    expect(parseStoreInstancesResponse(`\uFEFF ${JSON.stringify(JSON_RESPONSE)}`, null)).toEqual(EXPECTED);
    expect(parseStoreInstancesResponse(XML_RESPONSE, undefined)).toEqual(EXPECTED);
    expect(parseStoreInstancesResponse(XML_RESPONSE, 'application/octet-stream')).toEqual(EXPECTED);
  });

  it('accepts the data set wrapped in an array, lower-case tags, quoted numbers and NUL-padded UIDs', () => {
    const response = parseStoreInstancesResponseJson([{
      '00081199': { vr: 'SQ', Value: [{ '00081155': { vr: 'UI', Value: [`${STORED}\0`] }, '00081196': { vr: 'US', Value: ['45062'] } }] },
      '0008119a': { vr: 'SQ', Value: [] },
    }]);
    expect(response.referenced.get(STORED)).toEqual({ sopClassUid: undefined, warningReason: 0xb006 });
  });

  it('treats empty sequences and absent attributes as nothing stored and nothing failed', () => {
    const response = parseStoreInstancesResponse('{"00081198":{"vr":"SQ"},"00081199":{"vr":"SQ","Value":[]}}', 'application/dicom+json');
    expect(response).toEqual({ referenced: new Map(), failed: new Map(), otherFailures: [] });
    expect(parseStoreInstancesResponse('  \n', 'application/dicom+json')).toBeUndefined();
  });

  it('keeps a top-level Warning Reason', () => {
    expect(parseStoreInstancesResponse('{"00081196":{"vr":"US","Value":[45063]}}', null)?.warningReason).toBe(0xb007);
  });

  it('refuses bodies that are neither DICOM JSON nor well-formed Native DICOM Model XML', () => {
    for (const [body, type] of [
      ['<html><body>Bad gateway</body></html>', 'text/html'],
      ['<NativeDicomModel><DicomAttribute tag="00081199"></NativeDicomModel>', 'application/dicom+xml'],
      ['<NativeDicomModel>', 'application/dicom+xml'],
      ['Service Unavailable', 'text/plain'],
      ['[1,2]', 'application/dicom+json'],
      ['"text"', 'application/dicom+json'],
    ] as const) {
      expect(() => parseStoreInstancesResponse(body, type), body).toThrow(UnreadableResponseError);
    }
  });
});

describe('Failure and Warning Reasons', () => {
  it('retries out-of-resources failures and gives up on the others', () => {
    expect(failureReasonMeaning(0xa700)).toEqual({ permanent: false, meaning: 'refused: out of resources' });
    expect(failureReasonMeaning(0xa7ff).permanent).toBe(false);
    expect(failureReasonMeaning(0x0213).permanent).toBe(false);
    for (const code of [0xa900, 0xa9ff, 0xc000, 0xc122, 0xcfff, 0x0110, 0x0111, 0x0117, 0x0122, 0x0124, 0x1234, undefined]) {
      expect(failureReasonMeaning(code).permanent, String(code)).toBe(true);
    }
    expect(failureReasonMeaning(0x0122).meaning).toBe('the SOP class is not supported');
    expect(failureReasonMeaning(0xc122).meaning).toBe('the transfer syntax is not supported');
  });

  it('names the standard warnings and writes codes as DICOM does', () => {
    expect(warningReasonMeaning(0xb000)).toBe('some attribute values were coerced');
    expect(warningReasonMeaning(0xb006)).toBe('some elements were discarded');
    expect(warningReasonMeaning(0xb007)).toBe('the data set does not match its SOP class');
    expect(warningReasonMeaning(0x0001)).toBe('warning reason not in the DICOM standard');
    expect([0x0110, 0xa700, 0xb000, 7].map(statusCodeHex)).toEqual(['0110', 'A700', 'B000', '0007']);
  });
});

describe('QIDO-RS instance answer (PS3.18 §10.6.3)', () => {
  it('lists the SOP Instance UIDs and treats an empty body as no match', () => {
    const body = JSON.stringify([
      { '00080018': { vr: 'UI', Value: [STORED] }, '00080016': { vr: 'UI', Value: [CT] } },
      { '00080016': { vr: 'UI', Value: [CT] } },
      { '00080018': { vr: 'UI', Value: [WARNED] } },
    ]);
    expect(parseQidoSopInstanceUids(body)).toEqual([STORED, WARNED]);
    expect(parseQidoSopInstanceUids('')).toEqual([]);
    expect(parseQidoSopInstanceUids('[]')).toEqual([]);
    expect(() => parseQidoSopInstanceUids('{}')).toThrow(UnreadableResponseError);
  });
});
