import { inflateRawSync } from 'node:zlib';
import dimse from 'dcmjs-dimse';
import type { Dataset } from 'dcmjs-dimse';
import {
  ByteWindow, DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, DicomReadError, EXPLICIT_VR_BIG_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN,
  IMPLICIT_VR_LITTLE_ENDIAN, normalizeUid, readFileMeta, type ByteSource,
} from '@relaypacs/dicom';
import { validatePart10 } from '../dicom/part10-validator.js';
import type { InstanceToSend } from '../forward/destination.js';

/**
 * The uncompressed syntaxes the relay converts between when the PACS accepts none of the file's
 * own (PS3.5 §10, Annex A.1–A.3, A.5). Converting only reorders bytes and rewrites element headers;
 * pixel values do not change. Compressed syntaxes are never decompressed here.
 */
export const CONVERTIBLE_TRANSFER_SYNTAXES: ReadonlySet<string> = new Set([
  IMPLICIT_VR_LITTLE_ENDIAN,
  EXPLICIT_VR_LITTLE_ENDIAN,
  DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
  EXPLICIT_VR_BIG_ENDIAN,
]);

/**
 * Deflate suits objects without bulk pixel data (PS3.5 Annex A.5, Note 2); a data set that
 * inflates beyond this is a deflate bomb, not a study, and is refused instead of exhausting memory.
 */
const MAX_INFLATED_BYTES = 1024 * 1024 * 1024;

/** Syntaxes dcmjs-dimse's transcoder reads and writes without its codec module. */
const DIMSE_NATIVE = new Set([IMPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_BIG_ENDIAN]);

/** The instance cannot be sent as it is; retrying would give the same answer. */
export class InstanceNotSendable extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'InstanceNotSendable';
  }
}

/**
 * A data set handed to dcmjs-dimse as the bytes to put on the wire, unchanged. dcmjs-dimse would
 * otherwise parse every instance into dcmjs objects and encode it again, which changes what a
 * relay must pass through untouched (text re-encoded as UTF-8, number formatting, lengths). Only
 * the SOP Class and SOP Instance UIDs are exposed as elements: the C-STORE request reads them.
 */
class EncodedDataset extends dimse.Dataset {
  constructor(private readonly encoded: Buffer, transferSyntaxUid: string, sopClassUid: string, sopInstanceUid: string) {
    super({ SOPClassUID: sopClassUid, SOPInstanceUID: sopInstanceUid }, transferSyntaxUid);
  }

  override getDenaturalizedDataset(): Buffer {
    return this.encoded;
  }
}

/**
 * One instance read into memory for a C-STORE: dcmjs-dimse writes a data set to the socket from
 * one buffer, so each instance is held whole while it is sent, and only that one.
 */
export class LoadedInstance {
  private constructor(
    readonly instance: InstanceToSend,
    /** The transfer syntax the file is really encoded in, from its meta header. */
    readonly transferSyntaxUid: string,
    /** Everything after the File Meta Information (PS3.10 §7.1): what C-STORE carries. */
    private readonly dataSet: Buffer,
  ) {}

  /**
   * Reads the instance and checks it with the relay's own Part 10 validator against what the
   * delivery says: its SOP instance and class, and that it belongs to `studyInstanceUid` (a batch
   * is one study; an instance of another must not reach the PACS under this delivery).
   */
  static async load(instance: InstanceToSend, studyInstanceUid: string): Promise<LoadedInstance> {
    const file = await readAll(instance);
    const checked = await validatePart10(async (start, end) => file.subarray(start, end), file.length, {
      studyInstanceUid,
      sopInstanceUid: instance.sopInstanceUid,
      sopClassUid: instance.sopClassUid,
      // Which SOP classes the relay accepts was decided at upload; here only consistency matters.
      allowedSopClasses: new Set([instance.sopClassUid]),
    });
    if (!checked.ok) {
      throw new InstanceNotSendable(checked.code === 'STUDY_UID_MISMATCH'
        ? 'the instance belongs to another study than the one being delivered'
        : `the stored file cannot be sent: ${checked.reason}`);
    }
    let meta;
    try {
      meta = await readFileMeta(new ByteWindow(bufferSource(file), 4096, 64 * 1024), file.length);
    } catch (error) {
      if (error instanceof DicomReadError) throw new InstanceNotSendable(`the stored file is not a valid DICOM Part 10 file: ${error.reason}`);
      throw error;
    }
    return new LoadedInstance(instance, normalizeUid(meta.transferSyntaxUid), file.subarray(meta.dataSetStart));
  }

  /**
   * The data set in `targetSyntax`: the file's own bytes when it already is, else converted.
   * Deflated to explicit VR little endian is a plain inflate (PS3.5 Annex A.5); the other
   * conversions go through dcmjs-dimse's transcoder, which re-encodes the data set: values are
   * kept, but text comes out as UTF-8 with Specific Character Set ISO_IR 192 (PS3.5 §6.1.2.3).
   */
  encodeAs(targetSyntax: string): Dataset {
    const { sopClassUid, sopInstanceUid } = this.instance;
    if (targetSyntax === this.transferSyntaxUid) {
      return new EncodedDataset(evenLength(this.dataSet), targetSyntax, sopClassUid, sopInstanceUid);
    }
    if (!CONVERTIBLE_TRANSFER_SYNTAXES.has(this.transferSyntaxUid) || !CONVERTIBLE_TRANSFER_SYNTAXES.has(targetSyntax)) {
      throw new InstanceNotSendable(`cannot convert transfer syntax ${this.transferSyntaxUid} to ${targetSyntax}`);
    }
    let bytes = this.dataSet;
    let syntax = this.transferSyntaxUid;
    try {
      if (syntax === DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN) {
        bytes = inflateRawSync(bytes, { maxOutputLength: MAX_INFLATED_BYTES });
        syntax = EXPLICIT_VR_LITTLE_ENDIAN;
        if (targetSyntax === syntax) return new EncodedDataset(bytes, syntax, sopClassUid, sopInstanceUid);
      }
      if (!DIMSE_NATIVE.has(targetSyntax)) throw new Error(`the relay does not write ${targetSyntax}`);
      const parsed = new dimse.Dataset(bytes, syntax);
      return dimse.Transcoding.transcodeDataset(parsed, targetSyntax);
    } catch (error) {
      throw new InstanceNotSendable(`converting from transfer syntax ${this.transferSyntaxUid} to ${targetSyntax} failed: ${(error as Error).message}`);
    }
  }
}

/**
 * A deflated bit stream of odd length carries one trailing NUL (PS3.5 Annex A.5). Some writers
 * leave it out of the file; DCMTK-based PACS (Orthanc included) then fail on the odd message
 * fragment and abort the association, so it is added here. Inflating stops before the padding.
 * Any other data set is already even, as every element value is (PS3.5 §7.1.1).
 */
function evenLength(dataSet: Buffer): Buffer {
  return dataSet.length % 2 === 0 ? dataSet : Buffer.concat([dataSet, Buffer.alloc(1)]);
}

async function readAll(instance: InstanceToSend): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of instance.open()) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    chunks.push(buffer);
    length += buffer.length;
  }
  return Buffer.concat(chunks, length);
}

function bufferSource(bytes: Buffer): ByteSource {
  return {
    length: bytes.length,
    read: async (start, _needEnd, wantEnd) => bytes.subarray(start, Math.min(bytes.length, wantEnd)),
  };
}
