// Reports from a RIS as HL7 v2 ORU^R01 over a real MLLP socket: matched to a delivered study by its
// Study Instance UID, recorded once, told as a `report` event, served as text, acknowledged only
// once durable; what cannot be used is refused with AE or AR, and a frame too large closes the line.
import { connect, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateStudy } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RelayEvent } from '../../src/protocol/event-protocol.js';
import type { ReportList } from '../../src/protocol/report-protocol.js';
import { Hl7Listener } from '../../src/reports/hl7/hl7-listener.js';
import { MllpDecoder } from '../../src/reports/hl7/mllp-framing.js';
import { startTestRelay, type TestRelay } from '../support/test-relay.js';
import { allDelivered, sendStudy, waitForStatus } from '../support/upload-flow.js';

let relay: TestRelay;
let workDir: string;
let port: number;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-hl7-'));
  relay = await startTestRelay({
    destinations: [{ name: 'archive', kind: 'folder', directory: join(workDir, 'archive') }],
    reports: { hl7: { port: 0, maxMessageBytes: 4096, idleTimeoutSeconds: 5, matchAccessionNumbers: true } },
  }, { deliver: true });
  port = (await relay.services.startHl7Listener())!.port;
}, 60_000);
afterAll(async () => {
  await relay?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** An ORU^R01 as a RIS writes it (HL7 v2.5.1): OBR-25 the result status, the text in OBX TX, the study in ZDS-1. */
function oru(options: { controlId: string; status: string; studyUid?: string; accession?: string; filler?: string; lines: string[]; type?: string }): string {
  const obr = ['OBR', '1', 'PLACER1', options.filler ?? 'FILLER1', 'CT^CT CHEST^L', '', '', '20261208110000', '', '', '', '', '', '', '', '', '', '', options.accession ?? '', '', '', '', '20261208120000', '', 'CT', options.status];
  return [
    `MSH|^~\\&|RIS|HOSP|RELAYPACS|HOSP|20261208120000||${options.type ?? 'ORU^R01'}|${options.controlId}|P|2.5.1`,
    'PID|1||SYN123^^^HOSP^MR||SYNTHETIC^PATIENT',
    obr.join('|'),
    `OBX|1|TX|18782-3^Radiology Study observation^LN||${options.lines.join('~')}||||||F`,
    ...(options.studyUid ? [`ZDS|${options.studyUid}^RELAYPACS^Application^DICOM`] : []),
  ].join('\r');
}

/** Sends messages over one MLLP connection (split across writes as a slow link would) and reads the ACKs. */
async function exchange(messages: string[], { split = false, to = port } = {}): Promise<string[]> {
  const socket: Socket = connect(to, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const decoder = new MllpDecoder(1 << 20);
  const acks: string[] = [];
  const done = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      acks.push(...decoder.push(chunk).map((m) => m.toString('utf8')));
      if (acks.length === messages.length) resolve();
    });
    socket.on('close', () => resolve());
  });
  for (const message of messages) {
    const framed = Buffer.concat([Buffer.from([0x0b]), Buffer.from(message), Buffer.from([0x1c, 0x0d])]);
    if (split) for (let at = 0; at < framed.length; at += 7) socket.write(framed.subarray(at, at + 7));
    else socket.write(framed);
  }
  await done;
  socket.destroy();
  return acks;
}

const msa = (ack: string) => ack.split('\r').find((s) => s.startsWith('MSA'))!.split('|');

describe('HL7 ORU^R01 over MLLP', () => {
  it('records the report of a delivered study once, tells its sender, serves its text, and acknowledges each message', async () => {
    const token = await relay.tokenFor('radiographer', 'hl7-sender');
    const study = await generateStudy(join(workDir, 'study'), { instances: 2, rows: 16, columns: 16 });
    const sent = await sendStudy(relay, study, {}, token);
    await waitForStatus(relay, sent, allDelivered, 30_000);
    // With the HL7 listener on, a study is watched wherever it was delivered (here a folder, which has no finder of its own).
    await vi.waitFor(async () => expect((await relay.services.store.reports.watchesOfStudy(study.studyInstanceUid)).map((w) => w.destination)).toEqual(['archive']));
    const events: RelayEvent[] = [];
    relay.services.events.subscribe('all', (event) => events.push(event));

    const preliminary = oru({ controlId: 'MSG-1', status: 'P', studyUid: study.studyInstanceUid, lines: ['Findings: small effusion.', 'Impression: see final.'] });
    const final = oru({ controlId: 'MSG-2', status: 'F', studyUid: study.studyInstanceUid, lines: ['Findings: small right pleural effusion.', 'Impression: effusion, no consolidation.'] });
    // A RIS that names the study by its accession number only (OBR-18), as the study's images carry it.
    const amended = oru({ controlId: 'MSG-3', status: 'C', accession: study.accessionNumber, lines: ['Addendum: effusion is small.'] });
    expect((await relay.services.store.uploads.find(sent.uploadId))?.accessionNumber).toBe(study.accessionNumber);
    const acks = await exchange([preliminary, final, final, amended], { split: true });
    // The message sent again is acknowledged again, and counted once.
    expect(acks.map((a) => msa(a)[1])).toEqual(['AA', 'AA', 'AA', 'AA']);
    expect(acks.map((a) => msa(a)[2])).toEqual(['MSG-1', 'MSG-2', 'MSG-2', 'MSG-3']);
    expect(acks[0]).toMatch(/^MSH\|\^~\\&\|RELAYPACS\|HOSP\|RIS\|HOSP\|\d{14}\|\|ACK\^R01\^ACK\|ACKMSG-1\|P\|2\.5\.1\r/);

    await vi.waitFor(() => expect(events.filter((e) => e.type === 'report').map((e) => (e as { status: string }).status)).toEqual(['preliminary', 'final', 'amended']));
    const listed = (await (await relay.get(`/upload/${sent.uploadId}/reports`, token)).json()) as ReportList;
    expect(listed.reports.map((r) => [r.kind, r.status, r.source, r.destination, r.studyInstanceUid])).toEqual([
      ['hl7', 'preliminary', 'hl7', 'hl7', study.studyInstanceUid], ['hl7', 'final', 'hl7', 'hl7', study.studyInstanceUid], ['hl7', 'amended', 'hl7', 'hl7', study.studyInstanceUid],
    ]);
    const content = await relay.get(`/reports/${listed.reports[1]!.id}/content`, token);
    expect(content.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await content.text()).toBe('Findings: small right pleural effusion.\nImpression: effusion, no consolidation.\n');
  }, 60_000);

  it('refuses what it cannot use: another message type (AR), no study named (AE), a study nobody delivered (AA, nothing kept), garbage (AE), an order status (AA, ignored)', async () => {
    const before = relay.db.prepare('SELECT COUNT(*) AS n FROM reports').get() as { n: number };
    const acks = await exchange([
      oru({ controlId: 'ORM-1', status: 'F', studyUid: '1.2.3', lines: ['x'], type: 'ORM^O01' }),
      oru({ controlId: 'NOSTUDY', status: 'F', filler: '', lines: ['x'] }),
      oru({ controlId: 'UNKNOWN', status: 'F', studyUid: '1.2.3.4.5.6', lines: ['x'] }),
      'this is not HL7',
      oru({ controlId: 'BADSTATUS', status: 'X', studyUid: '1.2.3', lines: ['x'] }),
    ]);
    expect(acks.map((a) => msa(a)[1])).toEqual(['AR', 'AE', 'AA', 'AE', 'AA']);
    expect(msa(acks[1]!)[3]).toContain('names no study');
    expect(msa(acks[2]!)[3]).toBe('no delivered study matches');
    expect(msa(acks[4]!)[3]).toBe('result status (OBR-25) X carries no report');
    // The reasons name codes and fields, never the patient of the message; nothing was kept.
    expect(acks.join('\n')).not.toContain('SYNTHETIC');
    expect(relay.db.prepare('SELECT COUNT(*) AS n FROM reports').get()).toEqual(before);
    // No control id (MSH-10): nothing to acknowledge it by, nor to tell a resend by.
    const [noId] = await exchange([oru({ controlId: '', status: 'F', studyUid: '1.2.3', lines: ['x'] })]);
    expect(msa(noId!)[1]).toBe('AE');
  }, 30_000);

  it('refuses an accession number that names more than one study (unique within one RIS only)', async () => {
    const { store } = relay.services;
    const user = await store.users.create('two-studies', 'radiographer', 'hash');
    for (const [id, studyUid] of [['dup-a', '1.2.826.0.1.1'], ['dup-b', '1.2.826.0.1.2']] as const) {
      await store.uploads.insert({ id, userId: user.id, studyInstanceUid: studyUid, serviceLevel: 'ROUTINE', manifestHash: id, chunkBytes: 64, totalBytes: 1, expiresAt: new Date(relay.now().getTime() + 3_600_000).toISOString(),
        instances: [{ sopInstanceUid: `${studyUid}.1`, sopClassUid: '1.2.840.10008.5.1.4.1.1.2', size: 1, sha256: 'a'.repeat(64), state: 'receiving' }] }, relay.now().toISOString());
      await store.uploads.setAccessionNumber(id, 'SHARED-ACC');
      await store.reports.watch({ uploadId: id, destination: 'archive', studyInstanceUid: studyUid, userId: user.id, nextCheckAt: relay.now().toISOString(), intervalSeconds: 60, until: new Date(relay.now().getTime() + 3_600_000).toISOString() });
    }
    const [ack] = await exchange([oru({ controlId: 'AMBIGUOUS', status: 'F', accession: 'SHARED-ACC', filler: '', lines: ['x'] })]);
    expect(msa(ack!).slice(1)).toEqual(['AE', 'AMBIGUOUS', 'the accession number matches more than one study']);
    expect(await store.reports.ofUpload('dup-a')).toEqual([]);
  }, 30_000);

  it('serves only the senders it is told to (MLLP has no authentication of its own)', async () => {
    const guarded = await Hl7Listener.start({
      host: '127.0.0.1', port: 0, maxMessageBytes: 4096, idleTimeoutSeconds: 5, maxConnections: 4, matchAccessionNumbers: false,
      allowFrom: ['192.0.2.10'], store: relay.services.store, events: relay.services.events, now: relay.now, log: () => undefined,
    });
    try {
      expect(await exchange([oru({ controlId: 'FROM-ELSEWHERE', status: 'F', studyUid: '1.2.3', lines: ['x'] })], { to: guarded.port })).toEqual([]);
    } finally {
      await guarded.close();
    }
  }, 30_000);

  it('closes a connection whose message is larger than allowed, and goes on serving others', async () => {
    const huge = oru({ controlId: 'BIG', status: 'F', studyUid: '1.2.3', lines: ['y'.repeat(10_000)] });
    expect(await exchange([huge])).toEqual([]);
    const after = await exchange([oru({ controlId: 'AFTER', status: 'F', studyUid: '1.2.3', lines: ['z'] })]);
    expect(msa(after[0]!)[1]).toBe('AA');
  }, 30_000);
});
