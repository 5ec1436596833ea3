import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dcmdump,
  dumpedValue,
  freeLoopbackPort,
  generateStudy,
  OrthancServer,
  StorescpServer,
  TRANSFER_SYNTAX_UIDS,
  type GeneratedInstance,
  type GeneratedStudy,
  type StorescpOptions,
  type TransferSyntaxName,
} from '@relaypacs/testkit';
import { AssociationLostError, AssociationRejectedError, CStoreDestination, type CStoreDestinationOptions } from '../../src/destinations/c-store-destination.js';
import { cStoreOutcome, formatStatus } from '../../src/destinations/c-store-status.js';
import { TransientDestinationError, type Destination, type InstanceOutcome, type InstanceToSend, type StudyContext } from '../../src/forward/destination.js';
import { describeDestinationContract, instanceToSend, studyContext } from './destination-contract.js';

const run = promisify(execFile);

const IMPLICIT_LE = TRANSFER_SYNTAX_UIDS['implicit-le'];
const JPEG_LOSSLESS_SV1 = '1.2.840.10008.1.2.4.70';

let workDir: string;
const studies = new Map<TransferSyntaxName, GeneratedStudy>();

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-c-store-test-'));
  for (const syntax of ['explicit-le', 'implicit-le', 'deflated-le', 'explicit-be'] as const) {
    studies.set(syntax, await generateStudy(join(workDir, syntax), { instances: 3, series: 2, rows: 64, columns: 64, transferSyntax: syntax }));
  }
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

function study(syntax: TransferSyntaxName): GeneratedStudy {
  const generated = studies.get(syntax);
  if (!generated) throw new Error(`no ${syntax} study`);
  return generated;
}

function contextOf(generated: { studyInstanceUid: string }): StudyContext {
  return studyContext(generated.studyInstanceUid);
}

function destinationFor(port: number, calledAet: string, options: Partial<CStoreDestinationOptions> = {}): CStoreDestination {
  return new CStoreDestination({ name: 'test-pacs', host: '127.0.0.1', port, calledAet, connectTimeoutMs: 5_000, associationTimeoutMs: 10_000, responseTimeoutMs: 20_000, ...options });
}

/** The data set of a Part 10 file: everything after the File Meta Information (PS3.10 §7.1). */
async function dataSetBytes(path: string): Promise<Buffer> {
  const file = await readFile(path);
  // (0002,0000) File Meta Information Group Length: value at byte 140, meta elements start at 144.
  return file.subarray(144 + file.readUInt32LE(140));
}

/**
 * What a data set says, as DCMTK's dcmdump reads it: every element's tag, VR, value (pixel data
 * included, +L prints it whole) with the File Meta Information and Specific Character Set left
 * out, since a converted data set gets a new meta header and is re-encoded as UTF-8 (ISO_IR 192).
 * dcmdump prints values in host byte order, so a big-endian original and its little-endian
 * conversion dump the same when every value survived.
 */
async function dumpedContent(path: string): Promise<string[]> {
  const dump = await dcmdump(path);
  return dump.split('\n')
    .filter((line) => line.startsWith('(') && !line.startsWith('(0002,') && !line.startsWith('(0008,0005)'));
}

/** A deflated bit stream of odd length travels with one trailing NUL (PS3.5 Annex A.5), which the generator leaves out. */
function evenLength(bytes: Buffer): Buffer {
  return bytes.length % 2 === 0 ? bytes : Buffer.concat([bytes, Buffer.alloc(1)]);
}

async function transferSyntaxOf(path: string): Promise<string | undefined> {
  return dumpedValue(await dcmdump(path, ['-M']), '0002,0010');
}

async function startStorescp(options: StorescpOptions = {}): Promise<StorescpServer> {
  return StorescpServer.start(options);
}

describe('C-STORE status table (PS3.4 Annex B.2.3)', () => {
  it.each(([
    [0x0000, { status: 'stored' }],
    [0xb000, { status: 'stored', warning: expect.stringContaining('B000') }],
    [0xb007, { status: 'stored', warning: expect.stringContaining('B007') }],
    [0xb006, { status: 'stored', warning: expect.stringContaining('B006') }],
    [0xa700, { status: 'failed', permanent: false, code: 'DICOM_A700' }],
    [0xa7ff, { status: 'failed', permanent: false, code: 'DICOM_A7FF' }],
    [0xa900, { status: 'failed', permanent: true, code: 'DICOM_A900' }],
    [0xc123, { status: 'failed', permanent: true, code: 'DICOM_C123' }],
    [0x0122, { status: 'failed', permanent: true, code: 'DICOM_0122' }],
    [0x0110, { status: 'failed', permanent: true, code: 'DICOM_0110' }],
    [0x0111, { status: 'stored', warning: expect.stringContaining('already holds') }],
    [0x0213, { status: 'failed', permanent: false, code: 'DICOM_0213' }],
    [0xd000, { status: 'failed', permanent: true, code: 'DICOM_D000' }],
  ] as const).map(([status, expected]) => [formatStatus(status), status, expected] as const))('status %s', (_hex, status, expected) => {
    expect(cStoreOutcome(status)).toMatchObject(expected);
  });

  it('keeps the PACS error comment in the reason', () => {
    expect(cStoreOutcome(0xa700, 'disk full')).toMatchObject({ reason: expect.stringMatching(/A700.*out of resources.*disk full/) });
  });
});

describe('CStoreDestination against DCMTK storescp', () => {
  it.each(['explicit-le', 'implicit-le', 'deflated-le', 'explicit-be'] as const)('stores %s instances in their own transfer syntax, the data set byte for byte', async (syntax) => {
    // storescp accepts every syntax it knows (+xa) and writes data sets exactly as received (+B),
    // with a meta header of its own: comparing what follows the meta header compares what was sent.
    const scp = await startStorescp({ acceptedTransferSyntaxes: 'all' });
    const destination = destinationFor(scp.port, scp.aet);
    try {
      const generated = study(syntax);
      const outcomes = await destination.store(contextOf(generated), generated.instances.map((i) => instanceToSend(i)));
      expect([...outcomes.values()]).toEqual(generated.instances.map(() => ({ status: 'stored' })));
      for (const instance of generated.instances) {
        const stored = await scp.fileFor(instance.sopInstanceUid);
        expect(stored, instance.sopInstanceUid).toBeDefined();
        expect(await transferSyntaxOf(stored!)).toBe(TRANSFER_SYNTAX_UIDS[syntax]);
        expect((await dataSetBytes(stored!)).equals(evenLength(await dataSetBytes(instance.path)))).toBe(true);
      }
    } finally {
      await destination.close();
      await scp.stop();
    }
  });

  it.each(['explicit-le', 'explicit-be', 'deflated-le'] as const)('falls back to implicit VR little endian for %s when the PACS accepts nothing else, every value kept', async (syntax) => {
    const scp = await startStorescp({ acceptedTransferSyntaxes: 'implicit-little-endian' });
    const destination = destinationFor(scp.port, scp.aet);
    try {
      const generated = study(syntax);
      const outcomes = await destination.store(contextOf(generated), generated.instances.map((i) => instanceToSend(i)));
      for (const instance of generated.instances) {
        expect(outcomes.get(instance.sopInstanceUid)).toEqual({
          status: 'stored',
          warning: `sent as ${IMPLICIT_LE} because the PACS refused transfer syntax ${TRANSFER_SYNTAX_UIDS[syntax]}`,
        });
        const stored = await scp.fileFor(instance.sopInstanceUid);
        expect(await transferSyntaxOf(stored!)).toBe(IMPLICIT_LE);
        // Converted, so not the same bytes: the same elements with the same values, pixel data included.
        expect(await dumpedContent(stored!)).toEqual(await dumpedContent(instance.path));
      }
    } finally {
      await destination.close();
      await scp.stop();
    }
  });

  it('fails a compressed instance the PACS refuses permanently, and still stores the rest of the batch', async () => {
    const generated = study('explicit-le');
    const [first, second] = generated.instances as [GeneratedInstance, GeneratedInstance];
    const jpegPath = join(workDir, 'jpeg-lossless.dcm');
    // JPEG Lossless SV1 (process 14, selection value 1) keeps every pixel; DCMTK writes it.
    await run('dcmcjpeg', ['+e1', first.path, jpegPath]);
    const jpeg = { ...first, path: jpegPath, transferSyntaxUid: JPEG_LOSSLESS_SV1 };
    const scp = await startStorescp({ acceptedTransferSyntaxes: 'uncompressed' });
    const destination = destinationFor(scp.port, scp.aet);
    try {
      const outcomes = await destination.store(contextOf(generated), [instanceToSend(jpeg), instanceToSend(second)]);
      expect(outcomes.get(first.sopInstanceUid)).toMatchObject({
        status: 'failed',
        permanent: true,
        reason: expect.stringContaining(`the PACS refused transfer syntax ${JPEG_LOSSLESS_SV1}`),
      });
      expect(outcomes.get(second.sopInstanceUid)).toEqual({ status: 'stored' });
      expect((await scp.receivedFiles()).map((file) => file.sopInstanceUid)).toEqual([second.sopInstanceUid]);
    } finally {
      await destination.close();
      await scp.stop();
    }
  });

  it('fails an instance of a SOP class the PACS does not support permanently', async () => {
    const generated = study('explicit-le');
    const [first, second] = generated.instances as [GeneratedInstance, GeneratedInstance];
    const unknownClass = '1.2.826.0.1.3680043.10.1.999';
    const unknownPath = join(workDir, 'unknown-class.dcm');
    await copyFile(first.path, unknownPath);
    // dcmodify updates the meta header's Media Storage SOP Class UID to match.
    await run('dcmodify', ['-nb', '-m', `(0008,0016)=${unknownClass}`, unknownPath]);
    const scp = await startStorescp();
    const destination = destinationFor(scp.port, scp.aet);
    try {
      const outcomes = await destination.store(contextOf(generated), [instanceToSend({ ...first, path: unknownPath, sopClassUid: unknownClass }), instanceToSend(second)]);
      expect(outcomes.get(first.sopInstanceUid)).toMatchObject({ status: 'failed', permanent: true, reason: expect.stringContaining(`does not accept SOP class ${unknownClass}`) });
      expect(outcomes.get(second.sopInstanceUid)).toEqual({ status: 'stored' });
    } finally {
      await destination.close();
      await scp.stop();
    }
  });

  it('opens a new association every maxInstancesPerAssociation instances', async () => {
    const generated = await generateStudy(join(workDir, 'five'), { instances: 5, rows: 32, columns: 32 });
    const scp = await startStorescp();
    const destination = destinationFor(scp.port, scp.aet, { maxInstancesPerAssociation: 2 });
    try {
      expect(destination.batchLimits.maxInstances).toBe(2);
      const outcomes = await destination.store(contextOf(generated), generated.instances.map((i) => instanceToSend(i)));
      expect([...outcomes.values()].every((outcome) => outcome.status === 'stored')).toBe(true);
      expect(await scp.receivedFiles()).toHaveLength(5);
      const log = await scp.logText();
      // (storescp also logs "Association Received" for the harness's readiness probe.)
      expect(log.match(/Association Acknowledged/g)).toHaveLength(3);
      expect(log.match(/Association Release/g)).toHaveLength(3);
    } finally {
      await destination.close();
      await scp.stop();
    }
  });

  it('throws a TransientDestinationError when the PACS refuses the association', async () => {
    const scp = await startStorescp({ extraArgs: ['--refuse'] });
    const destination = destinationFor(scp.port, scp.aet);
    try {
      const generated = study('explicit-le');
      const error = await destination.store(contextOf(generated), generated.instances.map((i) => instanceToSend(i))).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransientDestinationError);
      expect(error).toBeInstanceOf(AssociationRejectedError);
      expect((error as Error).message).toMatch(/rejected the association/);
      expect(await scp.receivedFiles()).toEqual([]);
    } finally {
      await destination.close();
      await scp.stop();
    }
  });

  it('throws a TransientDestinationError when the PACS aborts before answering anything', async () => {
    const scp = await startStorescp({ extraArgs: ['--abort-after'] });
    const destination = destinationFor(scp.port, scp.aet);
    try {
      const generated = study('explicit-le');
      const error = await destination.store(contextOf(generated), generated.instances.map((i) => instanceToSend(i))).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AssociationLostError);
      expect(error).toBeInstanceOf(TransientDestinationError);
    } finally {
      await destination.close();
      await scp.stop();
    }
  });

  it('aborts the association when closed during a delivery, and the delivery fails transiently', async () => {
    // storescp sleeps 5 s inside the first C-STORE, so the close lands while it is outstanding.
    const scp = await startStorescp({ extraArgs: ['--sleep-during', '5'] });
    const destination = destinationFor(scp.port, scp.aet);
    try {
      const generated = study('explicit-le');
      const started = Date.now();
      const delivery = destination.store(contextOf(generated), generated.instances.map((i) => instanceToSend(i))).catch((e: unknown) => e);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await destination.close();
      const error = await delivery;
      expect(error).toBeInstanceOf(AssociationLostError);
      expect(Date.now() - started).toBeLessThan(4_000);
      await expect(destination.store(contextOf(generated), generated.instances.map((i) => instanceToSend(i)))).rejects.toThrow(/closed/);
    } finally {
      await scp.stop();
    }
  });

  it('throws a TransientDestinationError when nothing listens on the port', async () => {
    const port = await freeLoopbackPort();
    const destination = destinationFor(port, 'NOBODY');
    const generated = study('explicit-le');
    const error = await destination.store(contextOf(generated), generated.instances.map((i) => instanceToSend(i))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientDestinationError);
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
  });

  it('refuses AE titles DICOM does not allow', () => {
    expect(() => destinationFor(104, 'THIS-AE-TITLE-IS-TOO-LONG')).toThrow(RangeError);
    expect(() => destinationFor(104, 'BACK\\SLASH')).toThrow(RangeError);
    expect(() => destinationFor(104, 'PACS', { callingAet: '   ' })).toThrow(RangeError);
  });
});

describe('CStoreDestination against Orthanc', () => {
  let orthanc: OrthancServer;

  beforeAll(async () => {
    // Orthanc refuses associations addressed to another AE title only when asked to.
    orthanc = await OrthancServer.start({ dicomWeb: false, extraConfig: { DicomCheckCalledAet: true } });
  });

  afterAll(async () => {
    await orthanc?.stop();
  });

  it.each(['explicit-le', 'explicit-be', 'deflated-le'] as const)('stores a %s study that Orthanc then holds, every value kept', async (syntax) => {
    const generated = study(syntax);
    const destination = destinationFor(orthanc.dicomPort, orthanc.aet);
    try {
      const outcomes = await destination.store(contextOf(generated), generated.instances.map((i) => instanceToSend(i)));
      expect([...outcomes.values()].every((outcome) => outcome.status === 'stored'), JSON.stringify([...outcomes.values()])).toBe(true);
      const scratch = join(workDir, `orthanc-${syntax}`);
      await mkdir(scratch, { recursive: true });
      for (const instance of generated.instances) {
        const orthancId = await orthanc.findInstance(instance.sopInstanceUid);
        expect(orthancId, instance.sopInstanceUid).toBeDefined();
        const storedPath = join(scratch, `${instance.sopInstanceUid}.dcm`);
        await writeFileFrom(storedPath, await orthanc.instanceFile(orthancId!));
        // Orthanc keeps the data set it received under a meta header of its own, byte for byte for
        // the uncompressed syntaxes (a deflated one it inflates and deflates again), and DCMTK
        // reads the same elements and values from both.
        if (syntax !== 'deflated-le') expect((await dataSetBytes(storedPath)).equals(await dataSetBytes(instance.path))).toBe(true);
        expect(await dumpedContent(storedPath)).toEqual(await dumpedContent(instance.path));
      }
    } finally {
      await destination.close();
    }
  });

  it('says clearly when Orthanc does not answer to the called AE title', async () => {
    const destination = destinationFor(orthanc.dicomPort, 'NOT-ORTHANC');
    try {
      const generated = study('explicit-le');
      const error = await destination.store(contextOf(generated), generated.instances.map((i) => instanceToSend(i))).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AssociationRejectedError);
      expect(error).toBeInstanceOf(TransientDestinationError);
      expect((error as AssociationRejectedError).permanent).toBe(true);
      expect((error as Error).message).toMatch(/called AE title not recognised/);
    } finally {
      await destination.close();
    }
  });
});

async function writeFileFrom(path: string, bytes: Buffer): Promise<void> {
  await writeFile(path, bytes);
}

/**
 * The contract compares what the peer holds with the uploaded file, hash for hash. C-STORE carries
 * the data set only; the File Meta Information belongs to the file (PS3.10 §7.1) and every SCP
 * writes its own. So the test remembers the meta header of each file it handed over and puts it
 * back in front of the data set the SCP stored: the hash then covers exactly the bytes that
 * crossed the association, and any change to them fails it. This wrapper is test scaffolding only;
 * everything else goes straight to the real CStoreDestination.
 */
class MetaRememberingDestination implements Destination {
  readonly kind: Destination['kind'];
  readonly name: string;
  readonly batchLimits: Destination['batchLimits'];
  private readonly handedOver = new Map<string, InstanceToSend>();

  constructor(private readonly inner: CStoreDestination) {
    this.kind = inner.kind;
    this.name = inner.name;
    this.batchLimits = inner.batchLimits;
  }

  store(study: StudyContext, instances: readonly InstanceToSend[]): Promise<Map<string, InstanceOutcome>> {
    for (const instance of instances) this.handedOver.set(instance.sopInstanceUid, instance);
    return this.inner.store(study, instances);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** The handed-over file's meta header followed by the data set of `storedFile`. */
  async reassemble(sopInstanceUid: string, storedFile: Buffer): Promise<Buffer> {
    const original = this.handedOver.get(sopInstanceUid);
    if (!original) throw new Error('the peer holds an instance the test never handed over');
    const chunks: Buffer[] = [];
    for await (const chunk of original.open()) chunks.push(chunk as Buffer);
    const file = Buffer.concat(chunks);
    const metaEnd = 144 + file.readUInt32LE(140);
    return Buffer.concat([file.subarray(0, metaEnd), storedFile.subarray(144 + storedFile.readUInt32LE(140))]);
  }
}

describeDestinationContract('C-STORE to DCMTK storescp', async () => {
  const scp = await StorescpServer.start();
  const destination = new MetaRememberingDestination(destinationFor(scp.port, scp.aet));
  return {
    destination,
    holds: async (uid) => {
      const path = await scp.fileFor(uid);
      return path === undefined ? undefined : destination.reassemble(uid, await readFile(path));
    },
    unreachable: async () => destinationFor(await freeLoopbackPort(), 'NOBODY'),
    teardown: async () => { await scp.stop(); },
  };
});

describeDestinationContract('C-STORE to Orthanc 1.10', async () => {
  const orthanc = await OrthancServer.start({ dicomWeb: false });
  const destination = new MetaRememberingDestination(destinationFor(orthanc.dicomPort, orthanc.aet));
  return {
    destination,
    holds: async (uid) => {
      const id = await orthanc.findInstance(uid);
      return id === undefined ? undefined : destination.reassemble(uid, await orthanc.instanceFile(id));
    },
    unreachable: async () => destinationFor(await freeLoopbackPort(), orthanc.aet),
    teardown: async () => { await orthanc.stop(); },
  };
});
