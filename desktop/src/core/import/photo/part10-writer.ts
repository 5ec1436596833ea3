import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import dcmjs from 'dcmjs';
import type { NaturalDataset } from 'dcmjs';
import { RELAYPACS_IMPLEMENTATION_CLASS_UID, RELAYPACS_IMPLEMENTATION_VERSION } from './dicom-uid.js';

const { DicomDict, DicomMetaDictionary } = dcmjs.data;

export type PixelData =
  /** Native samples (PS3.5 §8.1.1): OB for 8-bit, OW for 16-bit. */
  | { encapsulated: false; vr: 'OB' | 'OW'; bytes: Buffer }
  /** One compressed frame, encapsulated (PS3.5 §8.2, A.4). */
  | { encapsulated: true; bytes: Buffer };

export interface Part10Content {
  /** Every attribute except Pixel Data, dcmjs "naturalized" (keyword → value). */
  dataset: NaturalDataset;
  sopClassUid: string;
  sopInstanceUid: string;
  /** Explicit VR little endian, or an encapsulated syntax whose data set is explicit VR LE too. */
  transferSyntaxUid: string;
  pixelData: PixelData;
}

/**
 * Writes a DICOM Part 10 file (PS3.10 §7): dcmjs encodes the preamble, File Meta Information and
 * every attribute; Pixel Data (7FE0,0010), the last element, is appended here so the photo's bytes
 * are written straight from their buffer and the encapsulation is exactly what PS3.5 A.4 asks.
 * The file appears under `outPath` only when complete and flushed: a temporary name in the same
 * folder, then rename.
 */
export async function writePart10File(outPath: string, content: Part10Content): Promise<void> {
  const dict = new DicomDict(
    DicomMetaDictionary.denaturalizeDataset({
      FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
      MediaStorageSOPClassUID: content.sopClassUid,
      MediaStorageSOPInstanceUID: content.sopInstanceUid,
      TransferSyntaxUID: content.transferSyntaxUid,
      ImplementationClassUID: RELAYPACS_IMPLEMENTATION_CLASS_UID,
      ImplementationVersionName: RELAYPACS_IMPLEMENTATION_VERSION,
    }),
  );
  dict.dict = DicomMetaDictionary.denaturalizeDataset({ ...content.dataset, SOPClassUID: content.sopClassUid, SOPInstanceUID: content.sopInstanceUid });
  const attributes = Buffer.from(dict.write());
  const chunks = [attributes, ...pixelDataElement(content.pixelData)];

  const temporary = join(dirname(outPath), `.${basename(outPath)}.${randomBytes(6).toString('hex')}.partial`);
  const handle = await open(temporary, 'wx');
  try {
    try {
      for (const chunk of chunks) {
        // write() may take less than asked: go on until the whole chunk is down.
        for (let offset = 0; offset < chunk.length; ) offset += (await handle.write(chunk, offset)).bytesWritten;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, outPath);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** The Pixel Data element in explicit VR little endian, value padded to even length (PS3.5 §7.1.1). */
function pixelDataElement(pixelData: PixelData): Buffer[] {
  const padding = pixelData.bytes.length % 2 === 1 ? [Buffer.alloc(1)] : [];
  if (!pixelData.encapsulated) {
    return [elementHeader(pixelData.vr, pixelData.bytes.length + padding.length), pixelData.bytes, ...padding];
  }
  // PS3.5 A.4: OB with undefined length; an empty Basic Offset Table item (allowed for a single
  // frame); the frame as one fragment item of even length, a JPEG stream padded after EOI with
  // one 00H; then the Sequence Delimitation Item.
  return [
    elementHeader('OB', 0xffffffff),
    itemHeader(0xe000, 0),
    itemHeader(0xe000, pixelData.bytes.length + padding.length),
    pixelData.bytes,
    ...padding,
    itemHeader(0xe0dd, 0),
  ];
}

function elementHeader(vr: 'OB' | 'OW', length: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16LE(0x7fe0, 0);
  header.writeUInt16LE(0x0010, 2);
  header.write(vr, 4, 'latin1');
  // two reserved bytes stay 0, then the 32-bit length (PS3.5 §7.1.2, Table 7.1-1)
  header.writeUInt32LE(length, 8);
  return header;
}

function itemHeader(element: number, length: number): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(0xfffe, 0);
  header.writeUInt16LE(element, 2);
  header.writeUInt32LE(length, 4);
  return header;
}
