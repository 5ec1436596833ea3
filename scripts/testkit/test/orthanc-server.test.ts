import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateStudy, OrthancServer, TRANSFER_SYNTAX_NAMES, type GeneratedStudy } from '../src/index.js';

/** PS3.18 response attributes: ReferencedSOPSequence and FailedSOPSequence. */
const REFERENCED_SOP_SEQUENCE = '00081199';
const FAILED_SOP_SEQUENCE = '00081198';
const REFERENCED_SOP_INSTANCE_UID = '00081155';

function portIsClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); resolve(false); });
    socket.once('error', () => resolve(true));
  });
}

let orthanc: OrthancServer;
let workDir: string;
const studies = new Map<string, GeneratedStudy>();

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-orthanc-test-'));
  orthanc = await OrthancServer.start();
  for (const syntax of TRANSFER_SYNTAX_NAMES) {
    studies.set(syntax, await generateStudy(join(workDir, syntax), { instances: 3, series: 2, rows: 64, columns: 64, transferSyntax: syntax }));
  }
});

afterAll(async () => {
  await orthanc?.stop();
  await rm(workDir, { recursive: true, force: true });
});

describe('Orthanc harness', () => {
  it('runs a real Orthanc with the DICOMweb plugin on loopback', async () => {
    const system = await orthanc.json<{ DicomAet: string; Version: string }>('/system');
    expect(system.DicomAet).toBe('ORTHANC');
    const plugins = await orthanc.json<string[]>('/plugins');
    expect(plugins).toContain('dicom-web');
    expect(await orthanc.countInstances()).toBe(0);
  });

  it.each(TRANSFER_SYNTAX_NAMES)('accepts a generated %s study through STOW-RS, every instance referenced', async (syntax) => {
    const study = studies.get(syntax)!;
    const result = await orthanc.stowRs(study.instances.map((i) => i.path));
    expect(result.status).toBe(200);
    const body = result.body as Record<string, { Value?: Record<string, { Value: string[] }>[] }>;
    expect(body[FAILED_SOP_SEQUENCE]?.Value ?? []).toEqual([]);
    const referenced = (body[REFERENCED_SOP_SEQUENCE]?.Value ?? []).map((item) => item[REFERENCED_SOP_INSTANCE_UID]?.Value[0]);
    expect(referenced.sort()).toEqual(study.instances.map((i) => i.sopInstanceUid).sort());
    for (const instance of study.instances) {
      const orthancId = await orthanc.findInstance(instance.sopInstanceUid);
      expect(orthancId, instance.sopInstanceUid).toBeDefined();
      const tags = await orthanc.instanceTags(orthancId!);
      expect(tags).toMatchObject({ StudyInstanceUID: study.studyInstanceUid, SeriesInstanceUID: instance.seriesInstanceUid, PatientID: study.patient.id });
    }
  });

  it('returns stored files byte for byte', async () => {
    const instance = studies.get('explicit-le')!.instances[0]!;
    const orthancId = await orthanc.findInstance(instance.sopInstanceUid);
    expect(await orthanc.instanceFile(orthancId!)).toEqual(await readFile(instance.path));
  });

  it('accepts the Orthanc REST upload too, and counts what it holds', async () => {
    const extra = await generateStudy(join(workDir, 'rest'), { instances: 1, rows: 16, columns: 16 });
    const answer = await orthanc.uploadInstance(extra.instances[0]!.path);
    expect(answer.Status).toBe('Success');
    const expected = TRANSFER_SYNTAX_NAMES.length * 3 + 1;
    expect(await orthanc.countInstances()).toBe(expected);
    expect(await orthanc.countStudies()).toBe(TRANSFER_SYNTAX_NAMES.length + 1);
    expect((await orthanc.listInstances()).map((i) => i.sopInstanceUid)).toContain(extra.instances[0]!.sopInstanceUid);
  });

  it('reports an instance it does not hold as absent', async () => {
    expect(await orthanc.findInstance('2.25.1')).toBeUndefined();
  });
});

describe('Orthanc lifecycle', () => {
  it('gives concurrent servers their own ports and storage, and stops cleanly', async () => {
    const [a, b] = await Promise.all([OrthancServer.start(), OrthancServer.start()]);
    expect(new Set([a.httpPort, a.dicomPort, b.httpPort, b.dicomPort]).size).toBe(4);
    expect(a.workDir).not.toBe(b.workDir);
    const statuses = await Promise.all([a.stop(), b.stop()]);
    for (const status of statuses) expect(status).toMatchObject({ code: 0, forced: false });
    expect(await portIsClosed(a.httpPort)).toBe(true);
    expect(await portIsClosed(a.dicomPort)).toBe(true);
    await expect(stat(a.workDir)).rejects.toThrow(/ENOENT/);
  });

  it('requires credentials when configured with them', async () => {
    const secured = await OrthancServer.start({ credentials: { username: 'pacs', password: 's3cret' } });
    try {
      expect((await fetch(`${secured.baseUrl}/system`)).status).toBe(401);
      expect((await secured.request('/system')).status).toBe(200);
    } finally {
      await secured.stop();
    }
  });
});
