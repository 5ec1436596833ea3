import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateStudy, type GeneratedInstance, type GeneratedStudy } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransientDestinationError, type Destination, type InstanceToSend, type StudyContext } from '../../src/forward/destination.js';

/** One destination wired to a real peer for the contract suite. */
export interface DestinationUnderTest {
  destination: Destination;
  /** The Part 10 bytes the peer holds for a SOP Instance UID, read back through the peer itself; undefined when it holds none. */
  holds(sopInstanceUid: string): Promise<Buffer | undefined>;
  /**
   * A destination of the same kind whose peer cannot be reached (a closed loopback port, a
   * folder on a missing mount). Network destinations must give one; without it that case is skipped.
   */
  unreachable?(): Promise<Destination>;
  /** Stops the peer and removes what it stored. The suite closes `destination` itself first. */
  teardown(): Promise<void>;
}

/** A generated instance as the delivery queue hands it over: a fresh file stream per open(). */
export function instanceToSend(
  instance: Pick<GeneratedInstance, 'path' | 'sopClassUid' | 'sopInstanceUid' | 'transferSyntaxUid' | 'size'>,
  overrides: Partial<InstanceToSend> = {},
): InstanceToSend {
  return {
    sopInstanceUid: instance.sopInstanceUid,
    sopClassUid: instance.sopClassUid,
    transferSyntaxUid: instance.transferSyntaxUid,
    size: instance.size,
    open: () => createReadStream(instance.path),
    ...overrides,
  };
}

export function instancesToSend(instances: readonly GeneratedInstance[]): InstanceToSend[] {
  return instances.map((instance) => instanceToSend(instance));
}

/**
 * The instances, but the first one's upload stream hands over 64 kB and then waits until the peer
 * was stopped before the rest: a PACS going away in the middle of a request. Opens before the
 * upload (e.g. a header check) get the plain file: `opensBeforeUpload` says how many there are.
 */
export function cutOffMidRequest(instances: readonly GeneratedInstance[], stopPeer: () => Promise<unknown>, opensBeforeUpload = 0): { instances: InstanceToSend[]; stopped: () => Promise<unknown> | undefined } {
  let stopping: Promise<unknown> | undefined;
  let opens = 0;
  const first = instances[0]!;
  return {
    instances: instances.map((instance, index) => index > 0 ? instanceToSend(instance) : instanceToSend(instance, {
      open: () => (++opens <= opensBeforeUpload ? createReadStream(first.path) : Readable.from((async function* () {
        const bytes = await readFile(first.path);
        yield bytes.subarray(0, 65_536);
        stopping ??= stopPeer();
        await stopping;
        yield bytes.subarray(65_536);
      })())),
    })),
    stopped: () => stopping,
  };
}

export function studyContext(studyInstanceUid: string): StudyContext {
  return { uploadId: `contract-${randomUUID()}`, studyInstanceUid, serviceLevel: 'ROUTINE' };
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * What every destination kind promises the delivery queue (destination.ts), run against a real
 * peer: Orthanc for STOW-RS and Orthanc REST, a DICOM SCP for C-STORE, a directory for a folder.
 */
export function describeDestinationContract(name: string, setup: () => Promise<DestinationUnderTest>): void {
  describe(`${name} honours the destination contract`, () => {
    let subject: DestinationUnderTest | undefined;
    let workDir: string;
    let study: GeneratedStudy;
    let mixed: GeneratedStudy;
    let foreign: GeneratedStudy;

    const under = (): DestinationUnderTest => {
      if (!subject) throw new Error('setup did not finish');
      return subject;
    };

    beforeAll(async () => {
      workDir = await mkdtemp(join(tmpdir(), 'relaypacs-destination-contract-'));
      const spec = { rows: 64, columns: 64, transferSyntax: 'explicit-le' } as const;
      [study, mixed, foreign] = await Promise.all([
        generateStudy(join(workDir, 'study'), { ...spec, instances: 3 }),
        generateStudy(join(workDir, 'mixed'), { ...spec, instances: 2 }),
        generateStudy(join(workDir, 'foreign'), { ...spec, instances: 1 }),
      ]);
      subject = await setup();
    });

    afterAll(async () => {
      try {
        await subject?.destination.close();
      } finally {
        await subject?.teardown();
        await rm(workDir, { recursive: true, force: true });
      }
    });

    it('declares a kind and usable batch limits', () => {
      const { destination } = under();
      expect(['stow-rs', 'orthanc-rest', 'c-store', 'folder']).toContain(destination.kind);
      expect(destination.name).not.toBe('');
      expect(destination.batchLimits.maxInstances).toBeGreaterThanOrEqual(1);
      expect(destination.batchLimits.maxBytes).toBeGreaterThan(0);
    });

    it('stores a three-instance study, one outcome per instance, and holds every instance byte for byte', async () => {
      const { destination, holds } = under();
      const outcomes = await destination.store(studyContext(study.studyInstanceUid), instancesToSend(study.instances));
      expect([...outcomes.keys()].sort()).toEqual(study.instances.map((i) => i.sopInstanceUid).sort());
      for (const instance of study.instances) {
        expect(outcomes.get(instance.sopInstanceUid)).toMatchObject({ status: 'stored' });
        const held = await holds(instance.sopInstanceUid);
        expect(held, 'the destination holds the instance').toBeDefined();
        expect(sha256(held ?? Buffer.alloc(0))).toBe(instance.sha256);
      }
    });

    it('stores the same instances again without an error (a retry after a lost answer)', async () => {
      const { destination, holds } = under();
      const outcomes = await destination.store(studyContext(study.studyInstanceUid), instancesToSend(study.instances));
      for (const instance of study.instances) {
        const outcome = outcomes.get(instance.sopInstanceUid);
        expect(outcome?.status, JSON.stringify(outcome)).toBe('stored');
        expect(sha256(await holds(instance.sopInstanceUid) ?? Buffer.alloc(0))).toBe(instance.sha256);
      }
    });

    it('refuses, permanently, an instance of another study in the batch and stores the others', async () => {
      const { destination, holds } = under();
      const [first, second] = mixed.instances;
      const [stranger] = foreign.instances;
      if (!first || !second || !stranger) throw new Error('generator gave too few instances');
      const outcomes = await destination.store(studyContext(mixed.studyInstanceUid), instancesToSend([first, stranger, second]));
      expect(outcomes.size).toBe(3);
      expect(outcomes.get(first.sopInstanceUid)).toMatchObject({ status: 'stored' });
      expect(outcomes.get(second.sopInstanceUid)).toMatchObject({ status: 'stored' });
      expect(outcomes.get(stranger.sopInstanceUid)).toMatchObject({ status: 'failed', permanent: true });
      const reason = outcomes.get(stranger.sopInstanceUid);
      expect(reason?.status === 'failed' ? reason.reason : '').not.toBe('');
      expect(await holds(stranger.sopInstanceUid)).toBeUndefined();
      expect(sha256(await holds(first.sopInstanceUid) ?? Buffer.alloc(0))).toBe(first.sha256);
    });

    it('confirms the instances it holds and no others', async (context) => {
      const { destination } = under();
      if (!destination.confirm) return context.skip();
      const [stranger] = foreign.instances;
      const asked = [...study.instances.map((i) => i.sopInstanceUid), stranger?.sopInstanceUid ?? '', `2.25.${BigInt(`0x${randomUUID().replaceAll('-', '')}`)}`];
      const present = await destination.confirm(studyContext(study.studyInstanceUid), asked);
      expect([...present].sort()).toEqual(study.instances.map((i) => i.sopInstanceUid).sort());
    });

    it('throws TransientDestinationError when its peer cannot be reached', async (context) => {
      const { unreachable } = under();
      if (!unreachable) return context.skip();
      const destination = await unreachable();
      try {
        await expect(destination.store(studyContext(study.studyInstanceUid), instancesToSend(study.instances))).rejects.toBeInstanceOf(TransientDestinationError);
      } finally {
        await destination.close();
      }
    });
  });
}
