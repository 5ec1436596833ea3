import { inflateRawSync } from 'node:zlib';
import { EMPTY, type ByteSource } from './byte-source.js';
import { ByteWindow } from './byte-window.js';
import { ITEM, ITEM_DELIMITATION_ITEM, SEQUENCE_DELIMITATION_ITEM, UNDEFINED_LENGTH, readElementHeader, tagName } from './data-element.js';
import { MAX_SEQUENCE_DEPTH } from './data-set-walker.js';
import { readFileMeta, type FileMeta } from './file-meta.js';
import { DicomReadError } from './read-problem.js';
import { textDecoderFor, trimText } from './text-value.js';
import { IMPLICIT_LE, dataSetEncoding, type DataSetEncoding } from './transfer-syntax.js';

/**
 * A whole small object read into memory as a tree: every element with its value, every sequence
 * with its items, nested. For objects read whole and whose content is the point, such as a
 * structured report's content tree (PS3.3 §C.17.3) or an encapsulated document (PS3.3 §C.24.2);
 * not for images (walkDataSet skips what it does not need and never holds pixel data).
 */

export interface TreeElement {
  /** Explicit VR as written; for implicit VR, 'SQ' where items were found, else undefined. */
  vr: string | undefined;
  /** The value's bytes (undefined for a sequence and for encapsulated pixel data, which is not kept). */
  value: Buffer | undefined;
  /** A sequence's items, in order. */
  items: DataSetTree[] | undefined;
}

/** One data set (the top level, or one item) with typed accessors; text decoded by its Specific Character Set. */
export class DataSetTree {
  constructor(
    readonly elements: ReadonlyMap<number, TreeElement>,
    private readonly decode: (bytes: Buffer) => string,
    private readonly littleEndian: boolean,
  ) {}

  has(tag: number): boolean {
    return this.elements.has(tag);
  }

  /** A text value (any string VR) without its padding; multiple values stay joined by backslashes. */
  text(tag: number): string | undefined {
    const value = this.elements.get(tag)?.value;
    return value === undefined ? undefined : trimText(this.decode(value));
  }

  /** A text value with its line breaks and inner spacing as written (LT, ST, UT: PS3.5 §6.2), trailing padding removed. */
  longText(tag: number): string | undefined {
    const value = this.elements.get(tag)?.value;
    return value === undefined ? undefined : this.decode(value).replace(/[ \0]+$/, '');
  }

  /** A UID without its padding. */
  uid(tag: number): string | undefined {
    const value = this.elements.get(tag)?.value;
    return value === undefined ? undefined : value.toString('latin1').replace(/[\0 ]+$/, '');
  }

  /** The first value of an unsigned 32-bit (UL) element. */
  uint32(tag: number): number | undefined {
    const value = this.elements.get(tag)?.value;
    if (value === undefined || value.length < 4) return undefined;
    return this.littleEndian ? value.readUInt32LE(0) : value.readUInt32BE(0);
  }

  bytes(tag: number): Buffer | undefined {
    return this.elements.get(tag)?.value;
  }

  /** A sequence's items; none when absent or empty. */
  items(tag: number): DataSetTree[] {
    return this.elements.get(tag)?.items ?? [];
  }
}

export interface TreeReadOptions {
  /** Elements and items read at most, in all: bounds memory whatever the object (default 200,000). */
  maxElements?: number;
  /** A deflated data set inflates to at most this many bytes (default 64 MiB). */
  maxInflatedBytes?: number;
}

export interface Part10Tree {
  meta: FileMeta;
  dataSet: DataSetTree;
}

const SPECIFIC_CHARACTER_SET = 0x00080005;
const PIXEL_DATA = 0x7fe00010;
const DATA_SET_TRAILING_PADDING = 0xfffcfffc;
const malformed = (reason: string) => new DicomReadError('MALFORMED', reason);

/** A Buffer as the ByteSource the element reader takes: every read answered from memory. */
class InMemoryBytes implements ByteSource {
  constructor(private readonly bytes: Buffer) {}

  get length(): number {
    return this.bytes.length;
  }

  read(start: number, _needEnd: number, wantEnd: number): Promise<Buffer> {
    return Promise.resolve(start >= this.bytes.length ? EMPTY : this.bytes.subarray(start, Math.min(wantEnd, this.bytes.length)));
  }
}

const windowOver = (bytes: Buffer) => new ByteWindow(new InMemoryBytes(bytes), bytes.length || 1, bytes.length || 1);

/** Reads a whole Part 10 file (PS3.10 §7.1) held in memory into a tree. Throws DicomReadError. */
export async function readPart10Tree(file: Buffer, options: TreeReadOptions = {}): Promise<Part10Tree> {
  const meta = await readFileMeta(windowOver(file), file.length);
  const encoding = dataSetEncoding(meta.transferSyntaxUid);
  let body = file.subarray(meta.dataSetStart);
  if (encoding.deflated) {
    try {
      body = inflateRawSync(body, { maxOutputLength: options.maxInflatedBytes ?? 64 * 1024 * 1024 });
    } catch {
      throw malformed('the deflated data set cannot be inflated, or inflates past the limit (PS3.5 Annex A.5)');
    }
  }
  return { meta, dataSet: await readDataSetTree(body, encoding, options) };
}

/** Reads a data set (no meta header) held in memory into a tree. Throws DicomReadError. */
export async function readDataSetTree(bytes: Buffer, encoding: DataSetEncoding, options: TreeReadOptions = {}): Promise<DataSetTree> {
  return new TreeReader(bytes, encoding, options.maxElements ?? 200_000).read();
}

class TreeReader {
  private readonly window: ByteWindow;
  private elementsLeft: number;
  private decode: (bytes: Buffer) => string = textDecoderFor(undefined);

  constructor(private readonly bytes: Buffer, private readonly encoding: DataSetEncoding, maxElements: number) {
    this.window = windowOver(bytes);
    this.elementsLeft = maxElements;
  }

  async read(): Promise<DataSetTree> {
    const elements = new Map<number, TreeElement>();
    await this.dataSet(0, this.bytes.length, this.encoding, 0, elements, true);
    return new DataSetTree(elements, this.decode, this.encoding.littleEndian);
  }

  /**
   * The elements from `start` to `end` (a defined length's end) or to an Item Delimitation Item
   * (undefined-length item: `end` undefined); answers the offset after the last byte read.
   */
  private async dataSet(start: number, end: number | undefined, encoding: DataSetEncoding, depth: number, into: Map<number, TreeElement>, topLevel: boolean): Promise<number> {
    let offset = start;
    for (;;) {
      if (end !== undefined && offset >= end) return offset;
      const header = await readElementHeader(this.window, offset, encoding);
      if (!header) {
        if (end === undefined && !topLevel) throw new DicomReadError('TRUNCATED', 'the data ends inside an item of undefined length');
        return offset;
      }
      if (header.tag === ITEM_DELIMITATION_ITEM && end === undefined && !topLevel) return offset + header.headerBytes;
      if (header.group === 0xfffe) throw malformed(`${tagName(header.tag)} where a data element was expected (PS3.5 §7.5)`);
      if (topLevel && header.tag === DATA_SET_TRAILING_PADDING) return this.bytes.length;
      if (--this.elementsLeft < 0) throw malformed('the object has more data elements than the reader takes');
      const valueStart = offset + header.headerBytes;
      if (header.length === UNDEFINED_LENGTH) {
        if (header.tag === PIXEL_DATA && topLevel) {
          offset = await this.skipFragments(valueStart);
          into.set(header.tag, { vr: header.vr, value: undefined, items: undefined });
          continue;
        }
        if (depth >= MAX_SEQUENCE_DEPTH) throw malformed(`sequences nest deeper than ${MAX_SEQUENCE_DEPTH} levels`);
        // An undefined-length UN holds its items in implicit VR little endian (PS3.5 §6.2.2).
        const inner = header.vr === 'UN' ? IMPLICIT_LE : encoding;
        const items: DataSetTree[] = [];
        offset = await this.sequence(valueStart, undefined, inner, depth + 1, items);
        into.set(header.tag, { vr: header.vr ?? 'SQ', value: undefined, items });
        continue;
      }
      const valueEnd = valueStart + header.length;
      if (valueEnd > (end ?? this.bytes.length)) throw new DicomReadError('TRUNCATED', `${tagName(header.tag)} runs past the end of what holds it`);
      if (header.vr === 'SQ' || (header.vr === undefined && this.startsWithItem(valueStart, valueEnd))) {
        if (depth >= MAX_SEQUENCE_DEPTH) throw malformed(`sequences nest deeper than ${MAX_SEQUENCE_DEPTH} levels`);
        const items: DataSetTree[] = [];
        await this.sequence(valueStart, valueEnd, encoding, depth + 1, items);
        into.set(header.tag, { vr: 'SQ', value: undefined, items });
      } else {
        const value = this.bytes.subarray(valueStart, valueEnd);
        into.set(header.tag, { vr: header.vr, value, items: undefined });
        if (topLevel && header.tag === SPECIFIC_CHARACTER_SET) this.decode = textDecoderFor(value.toString('latin1'));
      }
      offset = valueEnd;
    }
  }

  /** Implicit VR has no VR: a defined-length value made of items is a sequence (PS3.5 §7.5, Annex A.1). */
  private startsWithItem(start: number, end: number): boolean {
    if (end - start < 8) return false;
    const tag = ((this.encoding.littleEndian ? this.bytes.readUInt16LE(start) : this.bytes.readUInt16BE(start)) << 16
      | (this.encoding.littleEndian ? this.bytes.readUInt16LE(start + 2) : this.bytes.readUInt16BE(start + 2))) >>> 0;
    return tag === ITEM;
  }

  private async sequence(start: number, end: number | undefined, encoding: DataSetEncoding, depth: number, items: DataSetTree[]): Promise<number> {
    let offset = start;
    for (;;) {
      if (end !== undefined && offset >= end) return offset;
      const header = await readElementHeader(this.window, offset, encoding);
      if (!header) throw new DicomReadError('TRUNCATED', 'the data ends inside a sequence');
      if (header.tag === SEQUENCE_DELIMITATION_ITEM && end === undefined) return offset + header.headerBytes;
      if (header.tag !== ITEM) throw malformed(`${tagName(header.tag)} inside a sequence, where an item was expected (PS3.5 §7.5)`);
      // Items count as elements: an empty one is 8 bytes, and each costs a data set in memory.
      if (--this.elementsLeft < 0) throw malformed('the object has more data elements and items than the reader takes');
      const itemStart = offset + header.headerBytes;
      const elements = new Map<number, TreeElement>();
      if (header.length === UNDEFINED_LENGTH) {
        offset = await this.dataSet(itemStart, undefined, encoding, depth, elements, false);
      } else {
        const itemEnd = itemStart + header.length;
        if (itemEnd > (end ?? this.bytes.length)) throw new DicomReadError('TRUNCATED', 'an item runs past the end of its sequence');
        await this.dataSet(itemStart, itemEnd, encoding, depth, elements, false);
        offset = itemEnd;
      }
      items.push(new DataSetTree(elements, (bytes) => this.decode(bytes), encoding.littleEndian));
    }
  }

  /** Encapsulated Pixel Data's fragments (PS3.5 Annex A.4), skipped to the Sequence Delimitation Item. */
  private async skipFragments(start: number): Promise<number> {
    let offset = start;
    for (;;) {
      const header = await readElementHeader(this.window, offset, IMPLICIT_LE);
      if (!header) throw new DicomReadError('TRUNCATED', 'the data ends inside encapsulated pixel data');
      if (header.tag === SEQUENCE_DELIMITATION_ITEM) return offset + header.headerBytes;
      if (header.tag !== ITEM || header.length === UNDEFINED_LENGTH) throw malformed('encapsulated pixel data holds something other than fragments (PS3.5 Annex A.4)');
      offset += header.headerBytes + header.length;
      if (offset > this.bytes.length) throw new DicomReadError('TRUNCATED', 'a pixel data fragment runs past the end of the data');
    }
  }
}
