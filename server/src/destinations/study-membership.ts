import type { Readable } from 'node:stream';
import { validatePart10 } from '../dicom/part10-validator.js';
import type { InstanceOutcome, InstanceToSend, StudyContext } from '../forward/destination.js';

/**
 * Checks, before sending, that an instance's header names the batch's study and the SOP instance
 * and class it is queued under. STOW-RS does not need this: the study is in the URL and the origin
 * server refuses instances of other studies (PS3.18 §10.5.1). Orthanc REST, C-STORE and a folder
 * carry no study context and would file such an instance under its own study. The relay checked
 * this on upload; checking again here keeps a queue or storage mix-up from reaching a PACS.
 *
 * Answers undefined when the instance may be sent and a permanent failure otherwise. Reads only
 * the header (PS3.10 §7), through fresh open() streams; rejects only on a read error.
 */
export async function checkStudyMembership(study: StudyContext, instance: InstanceToSend): Promise<InstanceOutcome | undefined> {
  const result = await validatePart10((start, end) => readRange(instance.open(), start, end), instance.size, {
    studyInstanceUid: study.studyInstanceUid,
    sopInstanceUid: instance.sopInstanceUid,
    sopClassUid: instance.sopClassUid,
    // Which SOP classes are accepted was decided on upload; here only identity matters.
    allowedSopClasses: new Set([instance.sopClassUid]),
  });
  return result.ok ? undefined : { status: 'failed', permanent: true, reason: `not sent: ${result.reason}`, code: result.code };
}

/** Bytes [start, end) of a stream that starts at byte 0; destroys the stream once they are read. */
async function readRange(stream: Readable, start: number, end: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let position = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const chunkEnd = position + chunk.length;
      if (chunkEnd > start) parts.push(chunk.subarray(Math.max(0, start - position), Math.min(chunk.length, end - position)));
      position = chunkEnd;
      if (position >= end) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(parts);
}
