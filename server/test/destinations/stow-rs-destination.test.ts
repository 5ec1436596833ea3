import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { freeLoopbackPort, generateStudy, OrthancServer, type GeneratedStudy } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransientDestinationError, type InstanceOutcome, type InstanceToSend } from '../../src/forward/destination.js';
import { parseStoreInstancesResponse } from '../../src/destinations/dicom-response.js';
import { multipartRelatedBody, StowRsDestination, type StowRsDestinationOptions } from '../../src/destinations/stow-rs-destination.js';
import { cutOffMidRequest, describeDestinationContract, instancesToSend, sha256, studyContext } from './destination-contract.js';
import { HttpStubServer, makeTestCertificates, multipartPayloads, type StubAnswer } from './http-stub-server.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const NONE = { type: 'none' } as const;

async function orthancHolds(orthanc: OrthancServer, sopInstanceUid: string): Promise<Buffer | undefined> {
  const id = await orthanc.findInstance(sopInstanceUid);
  return id === undefined ? undefined : orthanc.instanceFile(id);
}

async function closedPortUrl(): Promise<string> {
  return `http://127.0.0.1:${await freeLoopbackPort()}/dicom-web`;
}

describeDestinationContract('STOW-RS to Orthanc 1.10 with DICOMweb 1.7, no authentication', async () => {
  const orthanc = await OrthancServer.start();
  return {
    destination: new StowRsDestination({ name: 'orthanc-stow', url: orthanc.dicomWebUrl, auth: NONE }),
    holds: (uid) => orthancHolds(orthanc, uid),
    unreachable: async () => new StowRsDestination({ name: 'nowhere', url: await closedPortUrl(), auth: NONE, timeoutMs: 5_000 }),
    teardown: async () => { await orthanc.stop(); },
  };
});

describeDestinationContract('STOW-RS to Orthanc with HTTP basic authentication', async () => {
  const credentials = { username: 'relay', password: `pw-${randomUUID()}` };
  const orthanc = await OrthancServer.start({ credentials });
  return {
    destination: new StowRsDestination({ name: 'orthanc-stow-basic', url: `${orthanc.dicomWebUrl}/`, auth: { type: 'basic', ...credentials } }),
    holds: (uid) => orthancHolds(orthanc, uid),
    unreachable: async () => new StowRsDestination({ name: 'nowhere', url: await closedPortUrl(), auth: { type: 'basic', ...credentials }, timeoutMs: 5_000 }),
    teardown: async () => { await orthanc.stop(); },
  };
});

// ---- helpers for canned answers ----

interface ResponseItem { uid: string; warning?: number; failure?: number }

/** A Store Instances Response (PS3.18 §10.5.3) in DICOM JSON. */
function jsonResponse(referenced: ResponseItem[], failed: ResponseItem[] = []): string {
  const item = ({ uid, warning, failure }: ResponseItem) => ({
    '00081150': { vr: 'UI', Value: [CT] },
    '00081155': { vr: 'UI', Value: [uid] },
    ...(warning === undefined ? {} : { '00081196': { vr: 'US', Value: [warning] } }),
    ...(failure === undefined ? {} : { '00081197': { vr: 'US', Value: [failure] } }),
  });
  return JSON.stringify({
    '00081198': { vr: 'SQ', Value: failed.map(item) },
    '00081199': { vr: 'SQ', Value: referenced.map(item) },
  });
}

/** The same response in the Native DICOM Model (PS3.19). */
function xmlResponse(referenced: ResponseItem[], failed: ResponseItem[] = []): string {
  const value = (tag: string, vr: string, v: string | number) => `<DicomAttribute tag="${tag}" vr="${vr}"><Value number="1">${v}</Value></DicomAttribute>`;
  const item = ({ uid, warning, failure }: ResponseItem, n: number) => `<Item number="${n + 1}">${value('00081150', 'UI', CT)}${value('00081155', 'UI', uid)}${
    warning === undefined ? '' : value('00081196', 'US', warning)}${failure === undefined ? '' : value('00081197', 'US', failure)}</Item>`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDICOM">`
    + `<DicomAttribute tag="00081198" vr="SQ">${failed.map(item).join('')}</DicomAttribute>`
    + `<DicomAttribute tag="00081199" vr="SQ">${referenced.map(item).join('')}</DicomAttribute></NativeDicomModel>`;
}

function syntheticInstances(count: number, bytes = 2048): InstanceToSend[] {
  return Array.from({ length: count }, (_, i) => {
    const content = Buffer.alloc(bytes, i + 1);
    return { sopInstanceUid: `2.25.${1000 + i}${Date.now()}`, sopClassUid: CT, transferSyntaxUid: '1.2.840.10008.1.2.1', size: content.length, open: () => Readable.from([content]) };
  });
}

const STUDY = studyContext('2.25.777');

let workDir: string;
let small: GeneratedStudy;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-stow-test-'));
  small = await generateStudy(join(workDir, 'small'), { instances: 5, rows: 64, columns: 64 });
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe('StowRsDestination against a real Orthanc', () => {
  it('reports what Orthanc answers for an instance of another study: 409 with Failure Reason 0110, the others stored', async () => {
    const orthanc = await OrthancServer.start();
    const destination = new StowRsDestination({ name: 'orthanc', url: orthanc.dicomWebUrl, auth: NONE });
    try {
      const other = await generateStudy(join(workDir, 'other'), { instances: 1, rows: 32, columns: 32 });
      const batch = instancesToSend([small.instances[0]!, other.instances[0]!]);
      const outcomes = await destination.store(studyContext(small.studyInstanceUid), batch);
      expect(outcomes.get(small.instances[0]!.sopInstanceUid)).toEqual({ status: 'stored' });
      expect(outcomes.get(other.instances[0]!.sopInstanceUid)).toEqual({
        status: 'failed', permanent: true, code: 'DICOM_0110',
        reason: 'refused by the destination: processing failure (HTTP 409, Failure Reason 0110)',
      });
      expect(await orthanc.countInstances()).toBe(1);
    } finally {
      await destination.close();
      await orthanc.stop();
    }
  });

  it('reads Orthanc\'s own XML answer (PS3.19) exactly as its JSON answer to the same request', async () => {
    const orthanc = await OrthancServer.start();
    try {
      const other = await generateStudy(join(workDir, 'other-xml'), { instances: 1, rows: 32, columns: 32 });
      const parsed = [];
      for (const accept of ['application/dicom+xml', 'application/dicom+json']) {
        const boundary = `test-${randomUUID()}`;
        const body = multipartRelatedBody(instancesToSend([small.instances[1]!, other.instances[0]!]), boundary);
        const chunks: Uint8Array[] = [];
        for await (const chunk of body.parts) chunks.push(chunk);
        const response = await orthanc.request(`/dicom-web/studies/${small.studyInstanceUid}`, {
          method: 'POST', body: Buffer.concat(chunks), headers: { 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`, accept },
        });
        expect(response.status).toBe(409);
        const text = await response.text();
        expect(text.trimStart().startsWith(accept.endsWith('xml') ? '<?xml' : '{')).toBe(true);
        parsed.push(parseStoreInstancesResponse(text, response.headers.get('content-type')));
      }
      expect(parsed[0]).toEqual(parsed[1]);
      expect(parsed[0]?.referenced.has(small.instances[1]!.sopInstanceUid)).toBe(true);
      expect(parsed[0]?.failed.get(other.instances[0]!.sopInstanceUid)?.failureReason).toBe(0x0110);
    } finally {
      await orthanc.stop();
    }
  });

  it('refuses permanently, with a sentence about credentials, when Orthanc wants basic auth and gets none or a wrong password', async () => {
    const credentials = { username: 'relay', password: 'right' };
    const orthanc = await OrthancServer.start({ credentials });
    const batch = instancesToSend(small.instances.slice(0, 2));
    try {
      for (const auth of [NONE, { type: 'basic', username: 'relay', password: 'wrong' }] as const) {
        const destination = new StowRsDestination({ name: 'orthanc', url: orthanc.dicomWebUrl, auth });
        const outcomes = await destination.store(studyContext(small.studyInstanceUid), batch);
        await destination.close();
        for (const outcome of outcomes.values()) {
          expect(outcome).toMatchObject({ status: 'failed', permanent: true, code: 'HTTP_401' });
          expect(outcome.status === 'failed' && outcome.reason).toMatch(/credentials/);
        }
      }
      expect(await orthanc.countInstances()).toBe(0);
      const destination = new StowRsDestination({ name: 'orthanc', url: orthanc.dicomWebUrl, auth: { type: 'basic', ...credentials } });
      const outcomes = await destination.store(studyContext(small.studyInstanceUid), batch);
      await destination.close();
      expect([...outcomes.values()]).toEqual([{ status: 'stored' }, { status: 'stored' }]);
    } finally {
      await orthanc.stop();
    }
  });

  it('throws TransientDestinationError when Orthanc stops in the middle of a request, and delivers to a restarted Orthanc', async () => {
    const big = await generateStudy(join(workDir, 'midway'), { instances: 2, rows: 512, columns: 512 });
    const first = await OrthancServer.start();
    const cut = cutOffMidRequest(big.instances, () => first.stop());
    const destination = new StowRsDestination({ name: 'orthanc', url: first.dicomWebUrl, auth: NONE, timeoutMs: 20_000 });
    try {
      const error: unknown = await destination.store(studyContext(big.studyInstanceUid), cut.instances).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransientDestinationError);
      expect((error as Error).message).toMatch(/^the connection to the destination failed: connection (closed|reset)/);
      expect(cut.stopped()).toBeDefined();
    } finally {
      await destination.close();
      await cut.stopped();
    }
    const second = await OrthancServer.start();
    const again = new StowRsDestination({ name: 'orthanc', url: second.dicomWebUrl, auth: NONE });
    try {
      const outcomes = await again.store(studyContext(big.studyInstanceUid), instancesToSend(big.instances));
      expect([...outcomes.values()]).toEqual([{ status: 'stored' }, { status: 'stored' }]);
      expect(sha256(await orthancHolds(second, big.instances[0]!.sopInstanceUid) ?? Buffer.alloc(0))).toBe(big.instances[0]!.sha256);
    } finally {
      await again.close();
      await second.stop();
    }
  });

  it('stores a 30 MB instance byte for byte', async () => {
    const large = await largeStudy();
    const orthanc = await OrthancServer.start();
    const destination = new StowRsDestination({ name: 'orthanc', url: orthanc.dicomWebUrl, auth: NONE });
    try {
      const instance = large.instances[0]!;
      const outcomes = await destination.store(studyContext(large.studyInstanceUid), instancesToSend([instance]));
      expect(outcomes.get(instance.sopInstanceUid)).toEqual({ status: 'stored' });
      expect(sha256(await orthancHolds(orthanc, instance.sopInstanceUid) ?? Buffer.alloc(0))).toBe(instance.sha256);
      expect(await destination.confirm?.(studyContext(large.studyInstanceUid), [instance.sopInstanceUid])).toEqual(new Set([instance.sopInstanceUid]));
    } finally {
      await destination.close();
      await orthanc.stop();
    }
  });
});

let largeStudyPromise: Promise<GeneratedStudy> | undefined;
/** One 16-bit 3900 × 3900 image: about 30 MB, generated once per file. */
function largeStudy(): Promise<GeneratedStudy> {
  largeStudyPromise ??= generateStudy(join(workDir, 'large'), { instances: 1, rows: 3900, columns: 3900 });
  return largeStudyPromise;
}

describe('StowRsDestination against canned answers (a stub server: Orthanc never gives these)', () => {
  async function withStub<T>(answer: (request: Parameters<Parameters<typeof HttpStubServer.start>[0]>[0]) => StubAnswer | Promise<StubAnswer>,
    run: (stub: HttpStubServer, options: StowRsDestinationOptions) => Promise<T>, stubOptions?: Parameters<typeof HttpStubServer.start>[1]): Promise<T> {
    const stub = await HttpStubServer.start(answer, stubOptions);
    try {
      return await run(stub, { name: 'stub', url: `${stub.url}/dicom-web`, auth: NONE, timeoutMs: 10_000 });
    } finally {
      await stub.close();
    }
  }

  it('posts multipart/related to /studies/{uid} with the bearer token, Accept and exact Content-Length, and parses the JSON answer', async () => {
    const instances = instancesToSend(small.instances.slice(0, 3));
    const uids = instances.map((i) => i.sopInstanceUid);
    await withStub(() => ({ status: 200, headers: { 'content-type': 'application/dicom+json' }, body: jsonResponse(uids.map((uid) => ({ uid }))) }), async (stub, options) => {
      const destination = new StowRsDestination({ ...options, auth: { type: 'bearer', token: 'tok-123' } });
      const outcomes = await destination.store(studyContext(small.studyInstanceUid), instances);
      await destination.close();
      expect([...outcomes.values()]).toEqual([{ status: 'stored' }, { status: 'stored' }, { status: 'stored' }]);
      const [request] = stub.requests;
      expect(request?.method).toBe('POST');
      expect(request?.url).toBe(`/dicom-web/studies/${small.studyInstanceUid}`);
      expect(request?.headers.authorization).toBe('Bearer tok-123');
      expect(request?.headers.accept).toBe('application/dicom+json, application/dicom+xml;q=0.9');
      expect(request?.headers['content-type']).toMatch(/^multipart\/related; type="application\/dicom"; boundary=relaypacs-[0-9a-f]{32}$/);
      expect(request?.headers['content-length']).toBe(String(request?.bodyBytes));
      expect(request?.headers['transfer-encoding']).toBeUndefined();
      const payloads = multipartPayloads(request?.body ?? Buffer.alloc(0), request?.headers['content-type']);
      expect(payloads.map(sha256)).toEqual(small.instances.slice(0, 3).map((i) => i.sha256));
    });
  });

  it('sends basic credentials as RFC 7617 says, UTF-8 included', async () => {
    await withStub(() => ({ status: 200, body: '' }), async (stub, options) => {
      const destination = new StowRsDestination({ ...options, auth: { type: 'basic', username: 'relaÿ', password: 'pä:ss' } });
      await destination.store(STUDY, syntheticInstances(1));
      await destination.close();
      expect(stub.requests[0]?.headers.authorization).toBe(`Basic ${Buffer.from('relaÿ:pä:ss', 'utf8').toString('base64')}`);
    });
  });

  it('splits a batch into requests of maxInstancesPerRequest and maxBytesPerRequest', async () => {
    const instances = instancesToSend(small.instances);
    await withStub(() => ({ status: 200, body: '' }), async (stub, options) => {
      const destination = new StowRsDestination({ ...options, maxInstancesPerRequest: 2 });
      const outcomes = await destination.store(studyContext(small.studyInstanceUid), instances);
      await destination.close();
      expect(outcomes.size).toBe(5);
      // A 200 without a body is all stored, but says it was not itemised.
      expect(outcomes.get(instances[0]!.sopInstanceUid)).toMatchObject({ status: 'stored', warning: expect.stringMatching(/not itemised/) });
      const counts = stub.requests.map((r) => multipartPayloads(r.body, r.headers['content-type']).length);
      expect(counts).toEqual([2, 2, 1]);
      const sent = stub.requests.flatMap((r) => multipartPayloads(r.body, r.headers['content-type'])).map(sha256);
      expect(sent).toEqual(small.instances.map((i) => i.sha256));
    });
    await withStub(() => ({ status: 200, body: '' }), async (stub, options) => {
      // Any two instances fit, three do not (their sizes differ by a few bytes).
      const destination = new StowRsDestination({ ...options, maxBytesPerRequest: Math.max(...small.instances.map((i) => i.size)) * 2 });
      await destination.store(studyContext(small.studyInstanceUid), instances);
      await destination.close();
      expect(stub.requests.map((r) => multipartPayloads(r.body, r.headers['content-type']).length)).toEqual([2, 2, 1]);
    });
  });

  it('keeps what earlier requests stored when a later one fails transiently', async () => {
    let calls = 0;
    const instances = syntheticInstances(3);
    await withStub(() => (++calls === 1
      ? { status: 200, body: jsonResponse(instances.slice(0, 2).map((i) => ({ uid: i.sopInstanceUid }))) }
      : { status: 503, body: 'down' }), async (_stub, options) => {
      const destination = new StowRsDestination({ ...options, maxInstancesPerRequest: 2 });
      const outcomes = await destination.store(STUDY, instances);
      await destination.close();
      expect(outcomes.get(instances[0]!.sopInstanceUid)).toEqual({ status: 'stored' });
      expect(outcomes.get(instances[2]!.sopInstanceUid)).toMatchObject({ status: 'failed', permanent: false, reason: expect.stringMatching(/^not sent: .*HTTP 503/) });
    });
  });

  it('throws TransientDestinationError with retryAfterSeconds for 503 with Retry-After, in seconds or as an HTTP-date', async () => {
    const date = new Date(Date.now() + 90_000).toUTCString();
    for (const [status, retryAfter, expected] of [[503, '120', 120], [429, date, 90], [500, undefined, undefined]] as const) {
      const headers: Record<string, string> = retryAfter === undefined ? {} : { 'retry-after': retryAfter };
      await withStub(() => ({ status, headers, body: 'busy' }), async (_stub, options) => {
        const destination = new StowRsDestination(options);
        const error: unknown = await destination.store(STUDY, syntheticInstances(2)).catch((e: unknown) => e);
        await destination.close();
        expect(error).toBeInstanceOf(TransientDestinationError);
        const retry = (error as TransientDestinationError).retryAfterSeconds;
        if (expected === 90) expect(retry).toBeGreaterThanOrEqual(88); else expect(retry).toBe(expected);
        expect((error as Error).message).toContain(`HTTP ${status}`);
      });
    }
  });

  it('fails permanently only the instance a 409 names with Failure Reason 0110', async () => {
    const instances = syntheticInstances(3);
    const [a, b, c] = instances.map((i) => i.sopInstanceUid) as [string, string, string];
    await withStub(() => ({ status: 409, headers: { 'content-type': 'application/dicom+json' }, body: jsonResponse([{ uid: a }, { uid: c }], [{ uid: b, failure: 0x0110 }]) }), async (_stub, options) => {
      const destination = new StowRsDestination(options);
      const outcomes = await destination.store(STUDY, instances);
      await destination.close();
      expect(outcomes.get(a)).toEqual({ status: 'stored' });
      expect(outcomes.get(c)).toEqual({ status: 'stored' });
      expect(outcomes.get(b)).toEqual({ status: 'failed', permanent: true, code: 'DICOM_0110', reason: 'refused by the destination: processing failure (HTTP 409, Failure Reason 0110)' });
    });
  });

  it('reads a 202: stored with a warning, out of resources retried, unmentioned not acknowledged', async () => {
    const instances = syntheticInstances(4);
    const [warned, full, unsupported, missing] = instances.map((i) => i.sopInstanceUid) as [string, string, string, string];
    await withStub(() => ({ status: 202, headers: { 'content-type': 'application/dicom+json' },
      body: jsonResponse([{ uid: warned, warning: 0xb000 }], [{ uid: full, failure: 0xa700 }, { uid: unsupported, failure: 0x0122 }]) }), async (_stub, options) => {
      const destination = new StowRsDestination(options);
      const outcomes = await destination.store(STUDY, instances);
      await destination.close();
      expect(outcomes.get(warned)).toEqual({ status: 'stored', warning: 'some attribute values were coerced (Warning Reason B000)' });
      expect(outcomes.get(full)).toEqual({ status: 'failed', permanent: false, code: 'DICOM_A700', reason: 'refused by the destination: refused: out of resources (Failure Reason A700)' });
      expect(outcomes.get(unsupported)).toMatchObject({ status: 'failed', permanent: true, code: 'DICOM_0122' });
      expect(outcomes.get(missing)).toMatchObject({ status: 'failed', permanent: false, reason: expect.stringMatching(/^not acknowledged/) });
    });
  });

  it('reads an XML answer (application/dicom+xml) exactly as the same answer in JSON', async () => {
    const instances = syntheticInstances(3);
    const [ok, warned, failed] = instances.map((i) => i.sopInstanceUid) as [string, string, string];
    const referenced = [{ uid: ok }, { uid: warned, warning: 0xb006 }];
    const failures = [{ uid: failed, failure: 0xa900 }];
    const results: Map<string, InstanceOutcome>[] = [];
    for (const [type, body] of [['application/dicom+json', jsonResponse(referenced, failures)], ['application/dicom+xml', xmlResponse(referenced, failures)]] as const) {
      await withStub(() => ({ status: 202, headers: { 'content-type': type }, body }), async (_stub, options) => {
        const destination = new StowRsDestination(options);
        results.push(await destination.store(STUDY, instances));
        await destination.close();
      });
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[1]?.get(warned)).toEqual({ status: 'stored', warning: 'some elements were discarded (Warning Reason B006)' });
    expect(results[1]?.get(failed)).toMatchObject({ status: 'failed', permanent: true, code: 'DICOM_A900' });
  });

  it('fails every instance permanently for 400 without a response, 413, 415 and 403; transiently for a 202 it cannot read', async () => {
    for (const [status, body, pattern] of [
      [400, 'Bad Request', /HTTP 400/],
      [413, '', /too large.*batch size/],
      [415, '', /media type/],
      [403, '', /credentials/],
    ] as const) {
      await withStub(() => ({ status, body }), async (_stub, options) => {
        const destination = new StowRsDestination(options);
        const outcomes = await destination.store(STUDY, syntheticInstances(2));
        await destination.close();
        for (const outcome of outcomes.values()) {
          expect(outcome).toMatchObject({ status: 'failed', permanent: true, code: `HTTP_${status}` });
          expect(outcome.status === 'failed' && outcome.reason).toMatch(pattern);
        }
      });
    }
    await withStub(() => ({ status: 202, headers: { 'content-type': 'text/html' }, body: '<html>accepted</html>' }), async (_stub, options) => {
      const destination = new StowRsDestination(options);
      const outcomes = await destination.store(STUDY, syntheticInstances(2));
      await destination.close();
      for (const outcome of outcomes.values()) expect(outcome).toMatchObject({ status: 'failed', permanent: false, reason: expect.stringMatching(/^not acknowledged/) });
    });
  });

  it('throws TransientDestinationError when the server stays silent longer than timeoutMs', async () => {
    await withStub(() => new Promise<StubAnswer>(() => {}), async (_stub, options) => {
      const destination = new StowRsDestination({ ...options, timeoutMs: 400 });
      const error: unknown = await destination.store(STUDY, syntheticInstances(1)).catch((e: unknown) => e);
      await destination.close();
      expect(error).toBeInstanceOf(TransientDestinationError);
      expect((error as Error).message).toMatch(/silent/);
    });
  });

  it('streams a 30 MB instance: the file is read only as fast as the server takes it', async () => {
    const large = await largeStudy();
    const instance = large.instances[0]!;
    let pulled = 0;
    let maxLead = 0;
    let firstArrivalPulled: number | undefined;
    const counted: InstanceToSend = {
      ...instancesToSend([instance])[0]!,
      open: () => instancesToSend([instance])[0]!.open().pipe(new Transform({
        transform(chunk: Buffer, _encoding, done) {
          pulled += chunk.length;
          done(null, chunk);
        },
      })),
    };
    await withStub(() => ({ status: 200, body: jsonResponse([{ uid: instance.sopInstanceUid }]) }), async (stub, options) => {
      const destination = new StowRsDestination(options);
      const outcomes = await destination.store(studyContext(large.studyInstanceUid), [counted]);
      await destination.close();
      expect(outcomes.get(instance.sopInstanceUid)).toEqual({ status: 'stored' });
      expect(stub.requests[0]?.bodyBytes).toBeGreaterThan(instance.size);
    }, {
      keepBody: false,
      // A slow reader: the sender must wait for it instead of reading the file ahead into memory.
      onData: async (_chunk, received) => {
        firstArrivalPulled ??= pulled;
        maxLead = Math.max(maxLead, pulled - received);
        await sleep(1);
      },
    });
    expect(instance.size).toBeGreaterThan(30_000_000);
    expect(pulled).toBe(instance.size);
    // Reading the file first would put all 30 MB ahead of the server. What may be ahead here is what
    // the kernel's socket buffers hold (about 7 MB on loopback here; autotuned, so the bound is loose).
    expect(firstArrivalPulled).toBeLessThan(4 * 1024 * 1024);
    expect(maxLead).toBeLessThan(instance.size / 2);
  });

  it('trusts a private CA through caFile, and without it fails transiently naming the certificate', async () => {
    const certificates = await makeTestCertificates(await mkdtemp(join(workDir, 'pki-')));
    const instances = syntheticInstances(1);
    await withStub(() => ({ status: 200, body: jsonResponse([{ uid: instances[0]!.sopInstanceUid }]) }), async (stub, options) => {
      expect(stub.url).toMatch(/^https:/);
      const trusting = new StowRsDestination({ ...options, caFile: certificates.caFile });
      expect([...(await trusting.store(STUDY, instances)).values()]).toEqual([{ status: 'stored' }]);
      await trusting.close();
      const untrusting = new StowRsDestination(options);
      const error: unknown = await untrusting.store(STUDY, instances).catch((e: unknown) => e);
      await untrusting.close();
      expect(error).toBeInstanceOf(TransientDestinationError);
      expect((error as Error).message).toMatch(/certificate is not trusted/);
    }, { tls: { key: certificates.key, cert: certificates.cert } });
  });

  it('confirms through QIDO-RS with UID list matching, and by paging the study when the server refuses lists', async () => {
    const uids = ['1.2.3.1', '1.2.3.2', '1.2.3.3'];
    const qidoAnswer = (list: string[]) => ({ status: 200, headers: { 'content-type': 'application/dicom+json' }, body: JSON.stringify(list.map((uid) => ({ '00080018': { vr: 'UI', Value: [uid] } }))) });
    await withStub((request) => qidoAnswer(new URL(request.url, 'http://x').searchParams.get('SOPInstanceUID')?.split(',').filter((u) => u !== '1.2.3.3') ?? []), async (stub, options) => {
      const destination = new StowRsDestination(options);
      expect(await destination.confirm?.(STUDY, uids)).toEqual(new Set(['1.2.3.1', '1.2.3.2']));
      await destination.close();
      expect(stub.requests[0]?.url).toBe('/dicom-web/studies/2.25.777/instances?SOPInstanceUID=1.2.3.1,1.2.3.2,1.2.3.3&includefield=00080018');
    });
    await withStub((request) => (request.url.includes('SOPInstanceUID=') ? { status: 400, body: '' } : qidoAnswer(['1.2.3.2', '9.9.9'])), async (_stub, options) => {
      const destination = new StowRsDestination(options);
      expect(await destination.confirm?.(STUDY, uids)).toEqual(new Set(['1.2.3.2']));
      await destination.close();
    });
    await withStub(() => ({ status: 204 }), async (_stub, options) => {
      const destination = new StowRsDestination(options);
      expect(await destination.confirm?.(STUDY, uids)).toEqual(new Set());
      await destination.close();
    });
    expect(new StowRsDestination({ name: 'no-qido', url: 'http://127.0.0.1:1/dicom-web', auth: NONE, confirm: false }).confirm).toBeUndefined();
  });

  it('rejects with the local error, not a destination error, when an instance file is shorter than recorded', async () => {
    const [instance] = syntheticInstances(1);
    const shorter: InstanceToSend = { ...instance!, size: instance!.size + 10 };
    await withStub(() => ({ status: 200, body: '' }), async (_stub, options) => {
      const destination = new StowRsDestination(options);
      const error: unknown = await destination.store(STUDY, [shorter]).catch((e: unknown) => e);
      await destination.close();
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(TransientDestinationError);
      expect((error as Error).message).toBe('instance 1 of 1 ended after 2048 of its recorded 2058 bytes');
    });
  });
});
