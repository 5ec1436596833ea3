import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { freeLoopbackPort, generateStudy, OrthancServer, type GeneratedStudy } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransientDestinationError, type InstanceToSend } from '../../src/forward/destination.js';
import { OrthancRestDestination, orthancOutcome, type OrthancRestDestinationOptions } from '../../src/destinations/orthanc-rest-destination.js';
import { cutOffMidRequest, describeDestinationContract, instancesToSend, sha256, studyContext } from './destination-contract.js';
import { HttpStubServer, type StubAnswer } from './http-stub-server.js';

const NONE = { type: 'none' } as const;

async function orthancHolds(orthanc: OrthancServer, sopInstanceUid: string): Promise<Buffer | undefined> {
  const id = await orthanc.findInstance(sopInstanceUid);
  return id === undefined ? undefined : orthanc.instanceFile(id);
}

describeDestinationContract('Orthanc REST to Orthanc 1.10, no authentication', async () => {
  const orthanc = await OrthancServer.start({ dicomWeb: false });
  return {
    destination: new OrthancRestDestination({ name: 'orthanc-rest', url: orthanc.baseUrl, auth: NONE }),
    holds: (uid) => orthancHolds(orthanc, uid),
    unreachable: async () => new OrthancRestDestination({ name: 'nowhere', url: `http://127.0.0.1:${await freeLoopbackPort()}`, auth: NONE, timeoutMs: 5_000 }),
    teardown: async () => { await orthanc.stop(); },
  };
});

describeDestinationContract('Orthanc REST to Orthanc with HTTP basic authentication', async () => {
  const credentials = { username: 'relay', password: `pw-${randomUUID()}` };
  const orthanc = await OrthancServer.start({ dicomWeb: false, credentials });
  return {
    destination: new OrthancRestDestination({ name: 'orthanc-rest-basic', url: `${orthanc.baseUrl}/`, auth: { type: 'basic', ...credentials } }),
    holds: (uid) => orthancHolds(orthanc, uid),
    unreachable: async () => new OrthancRestDestination({ name: 'nowhere', url: `http://127.0.0.1:${await freeLoopbackPort()}`, auth: { type: 'basic', ...credentials }, timeoutMs: 5_000 }),
    teardown: async () => { await orthanc.stop(); },
  };
});

let workDir: string;
let study: GeneratedStudy;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-orthanc-rest-test-'));
  study = await generateStudy(join(workDir, 'study'), { instances: 3, rows: 64, columns: 64 });
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe('OrthancRestDestination against a real Orthanc', () => {
  let orthanc: OrthancServer;
  let destination: OrthancRestDestination;

  beforeAll(async () => {
    orthanc = await OrthancServer.start({ dicomWeb: false });
    destination = new OrthancRestDestination({ name: 'orthanc', url: orthanc.baseUrl, auth: NONE });
  });

  afterAll(async () => {
    await destination?.close();
    await orthanc?.stop();
  });

  it('reports a second copy as stored with the AlreadyStored warning', async () => {
    const batch = instancesToSend(study.instances.slice(0, 1));
    expect([...(await destination.store(studyContext(study.studyInstanceUid), batch)).values()]).toEqual([{ status: 'stored' }]);
    expect([...(await destination.store(studyContext(study.studyInstanceUid), batch)).values()]).toEqual([
      { status: 'stored', warning: 'Orthanc already held this instance and kept its copy (AlreadyStored)' },
    ]);
  });

  it('refuses a file that is not DICOM permanently, without sending it', async () => {
    const before = await orthanc.countInstances();
    const outcomes = await destination.store(studyContext(study.studyInstanceUid), [
      { sopInstanceUid: '2.25.1', sopClassUid: '1.2.840.10008.5.1.4.1.1.2', transferSyntaxUid: '1.2.840.10008.1.2.1', size: 4096, open: () => Readable.from([Buffer.alloc(4096, 0x41)]) },
    ]);
    expect(outcomes.get('2.25.1')).toMatchObject({ status: 'failed', permanent: true, reason: expect.stringMatching(/^not sent: /) });
    expect(await orthanc.countInstances()).toBe(before);
  });

  it('stores a 30 MB instance byte for byte, reading it as fast as Orthanc takes it', async () => {
    const large = await generateStudy(join(workDir, 'large'), { instances: 1, rows: 3900, columns: 3900 });
    const instance = large.instances[0]!;
    let pulled = 0;
    const counted: InstanceToSend = {
      ...instancesToSend([instance])[0]!,
      open: () => instancesToSend([instance])[0]!.open().pipe(new Transform({
        transform(chunk: Buffer, _encoding, done) {
          pulled += chunk.length;
          done(null, chunk);
        },
      })),
    };
    const outcomes = await destination.store(studyContext(large.studyInstanceUid), [counted]);
    expect(outcomes.get(instance.sopInstanceUid)).toEqual({ status: 'stored' });
    expect(sha256(await orthancHolds(orthanc, instance.sopInstanceUid) ?? Buffer.alloc(0))).toBe(instance.sha256);
    // The whole file once for the request, plus the header read that checks its study first.
    expect(pulled).toBeGreaterThanOrEqual(instance.size);
    expect(pulled).toBeLessThan(instance.size + 2 * 1024 * 1024);
  });
});

describe('OrthancRestDestination and authentication', () => {
  it('fails the batch permanently with a sentence about credentials, sending only the first instance, when the password is wrong', async () => {
    const orthanc = await OrthancServer.start({ dicomWeb: false, credentials: { username: 'relay', password: 'right' } });
    try {
      for (const auth of [NONE, { type: 'basic', username: 'relay', password: 'wrong' }] as const) {
        let opened = 0;
        const batch = instancesToSend(study.instances).map((i) => ({ ...i, open: () => { opened++; return i.open(); } }));
        const destination = new OrthancRestDestination({ name: 'orthanc', url: orthanc.baseUrl, auth });
        const outcomes = await destination.store(studyContext(study.studyInstanceUid), batch);
        await destination.close();
        expect(outcomes.size).toBe(3);
        for (const outcome of outcomes.values()) {
          expect(outcome).toMatchObject({ status: 'failed', permanent: true, code: 'HTTP_401', reason: expect.stringMatching(/credentials/) });
        }
        // The header check and the request of the first instance; the others are not opened.
        expect(opened).toBe(2);
      }
      expect(await orthanc.countInstances()).toBe(0);
    } finally {
      await orthanc.stop();
    }
  });
});

describe('OrthancRestDestination when Orthanc goes away', () => {
  it('throws TransientDestinationError when Orthanc stops during the first instance, and delivers to a restarted Orthanc', async () => {
    const big = await generateStudy(join(workDir, 'midway'), { instances: 2, rows: 512, columns: 512 });
    const first = await OrthancServer.start({ dicomWeb: false });
    const cut = cutOffMidRequest(big.instances, () => first.stop(), 1);
    const destination = new OrthancRestDestination({ name: 'orthanc', url: first.baseUrl, auth: NONE, timeoutMs: 20_000 });
    try {
      const error: unknown = await destination.store(studyContext(big.studyInstanceUid), cut.instances).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransientDestinationError);
      expect((error as Error).message).toMatch(/^the connection to the destination failed: connection (closed|reset)/);
      expect(cut.stopped()).toBeDefined();
    } finally {
      await destination.close();
      await cut.stopped();
    }
    const second = await OrthancServer.start({ dicomWeb: false });
    const again = new OrthancRestDestination({ name: 'orthanc', url: second.baseUrl, auth: NONE });
    try {
      const outcomes = await again.store(studyContext(big.studyInstanceUid), instancesToSend(big.instances));
      expect([...outcomes.values()]).toEqual([{ status: 'stored' }, { status: 'stored' }]);
      expect(await again.confirm(studyContext(big.studyInstanceUid), big.instances.map((i) => i.sopInstanceUid))).toEqual(new Set(big.instances.map((i) => i.sopInstanceUid)));
    } finally {
      await again.close();
      await second.stop();
    }
  });
});

describe('OrthancRestDestination against canned answers (a stub server: Orthanc never gives these)', () => {
  async function withStub(answer: () => StubAnswer, run: (stub: HttpStubServer, options: OrthancRestDestinationOptions) => Promise<void>): Promise<void> {
    const stub = await HttpStubServer.start(answer);
    try {
      await run(stub, { name: 'stub', url: stub.url, auth: NONE, timeoutMs: 10_000 });
    } finally {
      await stub.close();
    }
  }

  it('posts each instance to /instances as application/dicom with its exact length and the bearer token', async () => {
    await withStub(() => ({ status: 200, headers: { 'content-type': 'application/json' }, body: '{"ID":"x","Status":"Success"}' }), async (stub, options) => {
      const destination = new OrthancRestDestination({ ...options, auth: { type: 'bearer', token: 'tok-456' } });
      const outcomes = await destination.store(studyContext(study.studyInstanceUid), instancesToSend(study.instances));
      await destination.close();
      expect([...outcomes.values()]).toEqual([{ status: 'stored' }, { status: 'stored' }, { status: 'stored' }]);
      expect(stub.requests.map((r) => [r.method, r.url, r.headers.authorization, r.headers['content-type'], r.headers['content-length']])).toEqual(
        study.instances.map((i) => ['POST', '/instances', 'Bearer tok-456', 'application/dicom', String(i.size)]),
      );
      expect(stub.requests.map((r) => sha256(r.body))).toEqual(study.instances.map((i) => i.sha256));
    });
  });

  it('throws TransientDestinationError with Retry-After when the first instance meets a 503', async () => {
    await withStub(() => ({ status: 503, headers: { 'retry-after': '30' }, body: '' }), async (_stub, options) => {
      const destination = new OrthancRestDestination(options);
      const error: unknown = await destination.store(studyContext(study.studyInstanceUid), instancesToSend(study.instances)).catch((e: unknown) => e);
      await destination.close();
      expect(error).toBeInstanceOf(TransientDestinationError);
      expect((error as TransientDestinationError).retryAfterSeconds).toBe(30);
    });
  });

  it('keeps the instances stored before a 500 and marks the rest for retry', async () => {
    let calls = 0;
    await withStub(() => (++calls === 1 ? { status: 200, body: '{"Status":"Success"}' } : { status: 500, body: '{"OrthancError":"Internal error"}' }), async (_stub, options) => {
      const destination = new OrthancRestDestination(options);
      const outcomes = await destination.store(studyContext(study.studyInstanceUid), instancesToSend(study.instances));
      await destination.close();
      expect(outcomes.get(study.instances[0]!.sopInstanceUid)).toEqual({ status: 'stored' });
      for (const instance of study.instances.slice(1)) {
        expect(outcomes.get(instance.sopInstanceUid)).toMatchObject({ status: 'failed', permanent: false, reason: expect.stringMatching(/^not sent: .*HTTP 500/) });
      }
    });
  });

  it('maps Orthanc answers to outcomes', () => {
    expect(orthancOutcome({ status: 400, body: '{"HttpStatus":400,"OrthancError":"Bad file format","Details":"Cannot parse an invalid DICOM file (size: 7 bytes)"}' }))
      .toEqual({ status: 'failed', permanent: true, code: 'HTTP_400', reason: 'not a valid DICOM file (Orthanc: Bad file format)' });
    expect(orthancOutcome({ status: 200, body: '{"Status":"FilteredOut"}' })).toMatchObject({ status: 'failed', permanent: true, code: 'FILTERED_OUT' });
    expect(orthancOutcome({ status: 200, body: 'garbage' })).toMatchObject({ status: 'failed', permanent: false });
    expect(orthancOutcome({ status: 413, body: '' })).toMatchObject({ status: 'failed', permanent: true, code: 'HTTP_413' });
    expect(orthancOutcome({ status: 302, body: '' })).toMatchObject({ status: 'failed', permanent: true, reason: expect.stringMatching(/redirects/) });
  });

  it('times out a silent Orthanc as a transient failure', async () => {
    const stub = await HttpStubServer.start(() => new Promise<StubAnswer>(() => {}));
    const destination = new OrthancRestDestination({ name: 'stub', url: stub.url, auth: NONE, timeoutMs: 300 });
    try {
      await expect(destination.store(studyContext(study.studyInstanceUid), instancesToSend(study.instances.slice(0, 1)))).rejects.toThrow(/silent/);
    } finally {
      await destination.close();
      await stub.close();
    }
  });
});
