import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDeflateRaw } from 'node:zlib';
import dcmjs from 'dcmjs';
import type { NaturalDataset } from 'dcmjs';
import { TESTKIT_IMPLEMENTATION_CLASS_UID, TESTKIT_IMPLEMENTATION_VERSION } from './dicom-uid.js';
import { TRANSFER_SYNTAX_UIDS, type TransferSyntaxName } from './transfer-syntax.js';

const { DicomDict, DicomMetaDictionary } = dcmjs.data;

export interface PixelDataSource {
  /** 'OW' for 16-bit samples, 'OB' for 8-bit ones (PS3.5 §8.1.2, A.1-A.3). */
  vr: 'OB' | 'OW';
  /** Frames as little-endian sample bytes, produced one at a time so huge objects stream. */
  frames: () => Iterable<Buffer>;
  byteLength: number;
}

export interface Part10Content {
  /** Everything but Pixel Data, in dcmjs "naturalized" form (keyword → value). */
  dataset: NaturalDataset;
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntax: TransferSyntaxName;
  pixelData?: PixelDataSource;
}

export interface WrittenFile {
  path: string;
  size: number;
  sha256: string;
}

/**
 * Writes a DICOM Part 10 file (PS3.10 §7): preamble, DICM, File Meta Information in explicit VR
 * little endian, then the data set in the chosen transfer syntax. dcmjs encodes the attributes;
 * Pixel Data is appended here frame by frame so a multi-gigabyte object never sits in memory, and
 * the deflated syntax is produced by raw-deflating the data set after the meta group (PS3.5 §A.5).
 * The file appears under its final name only once complete (write to a temp name, then rename).
 */
export async function writePart10File(path: string, content: Part10Content): Promise<WrittenFile> {
  const transferSyntaxUid = TRANSFER_SYNTAX_UIDS[content.transferSyntax];
  const dict = new DicomDict(
    DicomMetaDictionary.denaturalizeDataset({
      FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
      MediaStorageSOPClassUID: content.sopClassUid,
      MediaStorageSOPInstanceUID: content.sopInstanceUid,
      TransferSyntaxUID: transferSyntaxUid,
      ImplementationClassUID: TESTKIT_IMPLEMENTATION_CLASS_UID,
      ImplementationVersionName: TESTKIT_IMPLEMENTATION_VERSION,
    }),
  );
  dict.dict = DicomMetaDictionary.denaturalizeDataset({
    ...content.dataset,
    SOPClassUID: content.sopClassUid,
    SOPInstanceUID: content.sopInstanceUid,
  });
  const encoded = Buffer.from(dict.write());
  const datasetStart = metaGroupEnd(encoded);
  const header = encoded.subarray(0, datasetStart);
  const attributes = encoded.subarray(datasetStart);

  function* datasetBytes(): Generator<Buffer> {
    yield attributes;
    const pixels = content.pixelData;
    if (!pixels) return;
    const padded = pixels.byteLength + (pixels.byteLength % 2);
    yield pixelDataElementHeader(content.transferSyntax, pixels.vr, padded);
    let written = 0;
    for (const frame of pixels.frames()) {
      // Big endian OW: each 16-bit word is byte-swapped (PS3.5 §A.3); OB is a byte stream either way.
      if (content.transferSyntax === 'explicit-be' && pixels.vr === 'OW') frame.swap16();
      written += frame.length;
      yield frame;
    }
    if (written !== pixels.byteLength) {
      throw new Error(`pixel frames came to ${written} bytes, expected ${pixels.byteLength}`);
    }
    if (padded !== pixels.byteLength) yield Buffer.alloc(1);
  }

  const hash = createHash('sha256');
  let size = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  const tempPath = `${path}.partial`;
  try {
    await pipeline(
      Readable.from(datasetBytes(), { objectMode: false }),
      content.transferSyntax === 'deflated-le' ? createDeflateRaw() : new PassThrough(),
      async function* prependFileHeader(source: AsyncIterable<Buffer>) {
        yield header;
        let length = header.length;
        for await (const chunk of source) {
          length += chunk.length;
          yield chunk;
        }
        // A deflated bit stream is padded with one NUL to an even length (PS3.5 §A.5).
        if (content.transferSyntax === 'deflated-le' && length % 2 === 1) yield Buffer.alloc(1);
      },
      measure,
      createWriteStream(tempPath),
    );
    await rename(tempPath, path);
  } catch (error) {
    await rm(tempPath, { force: true });
    throw error;
  }
  return { path, size, sha256: hash.digest('hex') };
}

/** Offset of the first data set byte: 132 + the (0002,0000) element (12 bytes) + its value. */
function metaGroupEnd(file: Buffer): number {
  if (file.toString('latin1', 128, 132) !== 'DICM' || file.readUInt16LE(132) !== 0x0002 || file.readUInt16LE(134) !== 0x0000) {
    throw new Error('dcmjs did not start the file with a File Meta Information Group Length');
  }
  return 144 + file.readUInt32LE(140);
}

function pixelDataElementHeader(syntax: TransferSyntaxName, vr: 'OB' | 'OW', length: number): Buffer {
  if (syntax === 'implicit-le') {
    const out = Buffer.alloc(8);
    out.writeUInt16LE(0x7fe0, 0);
    out.writeUInt16LE(0x0010, 2);
    out.writeUInt32LE(length, 4);
    return out;
  }
  const out = Buffer.alloc(12);
  const bigEndian = syntax === 'explicit-be';
  if (bigEndian) {
    out.writeUInt16BE(0x7fe0, 0);
    out.writeUInt16BE(0x0010, 2);
  } else {
    out.writeUInt16LE(0x7fe0, 0);
    out.writeUInt16LE(0x0010, 2);
  }
  out.write(vr, 4, 'latin1');
  // two reserved bytes stay 0, then a 32-bit length (PS3.5 §7.1.2, Table 7.1-1)
  if (bigEndian) out.writeUInt32BE(length, 8);
  else out.writeUInt32LE(length, 8);
  return out;
}
