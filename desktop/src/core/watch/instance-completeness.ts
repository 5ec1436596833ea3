import { createReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { createInflateRaw } from 'node:zlib';
import dicomParser from 'dicom-parser';
import type { Element } from 'dicom-parser';

export type CompletenessResult = { complete: true } | { complete: false; reason: string };

const PIXEL_DATA = 'x7fe00010';
const DEFLATED = '1.2.840.10008.1.2.1.99';
const FIRST_READ = 64 * 1024;
/** The header reader gives up on headers larger than this; so do we (and call the file complete). */
const MAX_PREFIX = 16 * 1024 * 1024;
const COMPLETE = { complete: true } as const;

/**
 * Answers whether a file whose header already parsed also holds all of its pixel data. The header
 * reader stops at Pixel Data (7FE0,0010), so a copy that stalled mid-image reads as a good header;
 * taking it then would send half an image. The element's own length says where the file must end:
 * a defined length must fit inside the file, encapsulated fragments must run to their Sequence
 * Delimitation Item (PS3.5 §A.4), and a deflated data set (PS3.5 §A.5) must inflate to its end.
 *
 * Only "certainly incomplete" is an answer that holds a file back: anything this check cannot judge
 * (no Pixel Data, a shape it does not know) is called complete, and validation downstream decides.
 */
export async function checkInstanceComplete(path: string, transferSyntaxUid: string): Promise<CompletenessResult> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const preamble = Buffer.alloc(132);
    const { bytesRead } = await handle.read(preamble, 0, 132, 0);
    const part10 = bytesRead === 132 && preamble.toString('latin1', 128, 132) === 'DICM';
    if (transferSyntaxUid === DEFLATED) return part10 ? await checkDeflated(handle, path, size) : COMPLETE;

    const pixelData = await findPixelData(handle, size, part10 ? undefined : transferSyntaxUid);
    if (pixelData === undefined) return COMPLETE;
    if (!pixelData.hadUndefinedLength) {
      const end = pixelData.dataOffset + pixelData.length;
      return end <= size ? COMPLETE : { complete: false, reason: `the image data ends at byte ${end} but the file has ${size} bytes` };
    }
    return await checkFragments(handle, pixelData.dataOffset, size);
  } finally {
    await handle.close();
  }
}

/** The top-level Pixel Data element, read from a growing prefix; undefined when there is none to judge. */
async function findPixelData(handle: FileHandle, size: number, rawSyntax: string | undefined): Promise<Element | undefined> {
  let want = Math.min(size, FIRST_READ);
  for (;;) {
    const prefix = Buffer.allocUnsafe(want);
    const { bytesRead } = await handle.read(prefix, 0, want, 0);
    const bytes = prefix.subarray(0, bytesRead);
    const whole = bytesRead >= size;
    try {
      const dataSet = dicomParser.parseDicom(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), {
        untilTag: PIXEL_DATA,
        ...(rawSyntax ? { TransferSyntaxUID: rawSyntax } : {}),
      });
      const element = dataSet.elements[PIXEL_DATA];
      if (element || whole) return element;
    } catch {
      // The prefix ended inside an element before Pixel Data: read more. (A whole file that does
      // not parse is not ours to judge; the header reader has already accepted it.)
      if (whole) return undefined;
    }
    if (want >= MAX_PREFIX) return undefined;
    want = Math.min(size, want * 2, MAX_PREFIX);
  }
}

/** Walks the fragment items of encapsulated Pixel Data, 8 bytes of item header at a time. */
async function checkFragments(handle: FileHandle, start: number, size: number): Promise<CompletenessResult> {
  const itemHeader = Buffer.alloc(8);
  let position = start;
  for (let items = 0; items < 10_000_000; items++) {
    if (position + 8 > size) return { complete: false, reason: 'the file ends inside its compressed image fragments' };
    await handle.read(itemHeader, 0, 8, position);
    const group = itemHeader.readUInt16LE(0);
    const element = itemHeader.readUInt16LE(2);
    const length = itemHeader.readUInt32LE(4);
    if (group !== 0xfffe) return COMPLETE;
    if (element === 0xe0dd) return COMPLETE; // Sequence Delimitation Item: the last fragment is in.
    if (element !== 0xe000) return COMPLETE;
    position += 8 + length;
  }
  return COMPLETE;
}

/** A deflated data set is complete when its raw deflate stream, after the meta group, reaches its end. */
async function checkDeflated(handle: FileHandle, path: string, size: number): Promise<CompletenessResult> {
  const streamStart = await metaGroupEnd(handle, size);
  if (streamStart === undefined) return COMPLETE;
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  try {
    await pipeline(createReadStream(path, { start: streamStart }), createInflateRaw(), discard);
    return COMPLETE;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'Z_BUF_ERROR') return { complete: false, reason: 'the compressed data set ends early' };
    return COMPLETE;
  }
}

/** Where the File Meta Information group (0002,xxxx, always explicit VR little endian) ends. */
async function metaGroupEnd(handle: FileHandle, size: number): Promise<number | undefined> {
  const header = Buffer.alloc(12);
  let position = 132;
  for (let elements = 0; elements < 1000; elements++) {
    if (position + 8 > size) return undefined;
    await handle.read(header, 0, 12, position);
    if (header.readUInt16LE(0) !== 0x0002) return position;
    const vr = header.toString('latin1', 4, 6);
    const long = ['OB', 'OW', 'OF', 'SQ', 'UT', 'UN', 'UC', 'UR', 'OD', 'OL', 'OV'].includes(vr);
    position += long ? 12 + header.readUInt32LE(8) : 8 + header.readUInt16LE(6);
  }
  return undefined;
}
