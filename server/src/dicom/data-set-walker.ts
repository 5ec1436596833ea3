import type { ByteWindow } from './byte-window.js';
import {
  ITEM, ITEM_DELIMITATION_ITEM, SEQUENCE_DELIMITATION_ITEM, UNDEFINED_LENGTH,
  readElementHeader, readUidValue, tagName, type ElementHeader,
} from './data-element.js';
import { HeaderRejection } from './header-rejection.js';
import { IMPLICIT_LE, type DataSetEncoding } from './transfer-syntax.js';

/** What the header walk learned about the top-level data set. UIDs have their padding removed. */
export interface DataSetFacts {
  sopClassUid?: string;
  sopInstanceUid?: string;
  studyInstanceUid?: string;
  /** The top-level pixel data element where the walk stopped, if any (none: an SR, a PDF...). */
  pixelData?: { tag: number; length: number };
  /** Why the walk stopped. */
  endedBy: 'pixel-data' | 'trailing-padding' | 'end-of-data';
}

const SOP_CLASS_UID = 0x00080016;
const SOP_INSTANCE_UID = 0x00080018;
const STUDY_INSTANCE_UID = 0x0020000d;
const TOP_LEVEL_UIDS: ReadonlySet<number> = new Set([SOP_CLASS_UID, SOP_INSTANCE_UID, STUDY_INSTANCE_UID]);
const PIXEL_DATA = 0x7fe00010;
/** Float Pixel Data, Double Float Pixel Data and Pixel Data (PS3.3 §C.7.6.24, §C.7.6.25, §C.7.6.3). */
const PIXEL_DATA_TAGS: ReadonlySet<number> = new Set([0x7fe00008, 0x7fe00009, PIXEL_DATA]);
/** Data Set Trailing Padding: may only close the top-level data set and carries no meaning. */
const DATA_SET_TRAILING_PADDING = 0xfffcfffc;

/** Real objects nest a handful of levels (SR content trees a few dozen); beyond this it is an attack or garbage. */
export const MAX_SEQUENCE_DEPTH = 64;

const malformed = (reason: string) => new HeaderRejection('MALFORMED', reason);

/**
 * Walks a data set element by element (PS3.5 §7) from `start` until the top-level Pixel Data, the
 * trailing padding or the end of the data, and returns the few facts the validator checks. Values
 * are skipped, not read, except the three UIDs; Pixel Data is never read. Sequences are walked
 * item by item whether their lengths are defined or not (PS3.5 §7.5), so a broken nesting is found;
 * every length is checked against the element, item or sequence that holds it and against the end
 * of the file before anything moves past it, so an absurd length costs nothing.
 */
export async function walkDataSet(window: ByteWindow, start: number, encoding: DataSetEncoding, offsetNote = ''): Promise<DataSetFacts> {
  return new DataSetWalker(window, encoding, offsetNote).walk(start);
}

class DataSetWalker {
  private readonly facts: DataSetFacts = { endedBy: 'end-of-data' };

  /** `offsetNote` says what the offsets in reasons count from when not the file (" of the inflated data set"). */
  constructor(private readonly window: ByteWindow, private readonly encoding: DataSetEncoding, private readonly offsetNote: string) {}

  async walk(start: number): Promise<DataSetFacts> {
    let offset = start;
    for (;;) {
      const header = await readElementHeader(this.window, offset, this.encoding);
      if (!header) return this.facts;
      if (header.group === 0xfffe) throw malformed(`an item or delimiter ${tagName(header.tag)} appears outside any sequence (PS3.5 §7.5)`);
      if (header.group === 0x0002) {
        // Group 0002 belongs in the meta header only (PS3.10 §7.1): the meta group length stopped short.
        throw new HeaderRejection('BAD_META_HEADER', `file meta element ${tagName(header.tag)} appears in the data set: the meta group length (0002,0000) is too small`);
      }
      if (PIXEL_DATA_TAGS.has(header.tag)) {
        this.stopAtPixelData(header, offset);
        return this.facts;
      }
      if (header.tag === DATA_SET_TRAILING_PADDING) {
        this.facts.endedBy = 'trailing-padding';
        return this.facts;
      }
      offset = await this.element(header, offset, this.encoding, 0, undefined);
    }
  }

  /**
   * Records the pixel data element and checks what can be checked without reading it: native pixels
   * have a defined length that must fit in the file; encapsulated ones have an undefined length
   * (PS3.5 Annex A.4). Fragments are not walked: parsing stops at Pixel Data.
   */
  private stopAtPixelData(header: ElementHeader, offset: number): void {
    this.facts.pixelData = { tag: header.tag, length: header.length };
    this.facts.endedBy = 'pixel-data';
    const expected = this.encoding.pixelData;
    if (header.length === UNDEFINED_LENGTH) {
      if (header.tag !== PIXEL_DATA || expected === 'native') {
        throw malformed(`${tagName(header.tag)} is encapsulated (undefined length) but the transfer syntax is not an encapsulated one (PS3.5 Annex A.4)`);
      }
      return;
    }
    if (header.tag === PIXEL_DATA && expected === 'encapsulated') {
      throw malformed('Pixel Data (7FE0,0010) has a defined length but the transfer syntax requires encapsulated pixel data (PS3.5 Annex A.4)');
    }
    this.checkFits(header, offset + header.headerBytes + header.length, undefined);
  }

  /**
   * One data element at `offset` whose header has been read; returns the offset after it. `limit`
   * is the end of the defined-length item or sequence that holds it, if any.
   */
  private async element(header: ElementHeader, offset: number, encoding: DataSetEncoding, depth: number, limit: number | undefined): Promise<number> {
    const valueStart = offset + header.headerBytes;
    if (header.length === UNDEFINED_LENGTH) return this.undefinedLengthValue(header, valueStart, encoding, depth, limit);
    const valueEnd = valueStart + header.length;
    this.checkFits(header, valueEnd, limit);
    if (encoding.explicitVr && header.vr === 'SQ') {
      await this.sequence(header.tag, valueStart, valueEnd, encoding, depth + 1, valueEnd);
    } else if (depth === 0 && TOP_LEVEL_UIDS.has(header.tag)) {
      await this.noteUid(header, valueStart);
    }
    // Implicit VR gives no VR, so a defined-length sequence there is skipped as an opaque value.
    return valueEnd;
  }

  /** PS3.5 §7.1.1: only SQ, UN (holding a sequence in implicit VR, PS3.5 §6.2.2) and encapsulated pixel data may lack a length. */
  private async undefinedLengthValue(header: ElementHeader, valueStart: number, encoding: DataSetEncoding, depth: number, limit: number | undefined): Promise<number> {
    if (!encoding.explicitVr) {
      return PIXEL_DATA_TAGS.has(header.tag)
        ? this.fragments(header.tag, valueStart, encoding, limit)
        : this.sequence(header.tag, valueStart, undefined, encoding, depth + 1, limit);
    }
    switch (header.vr) {
      case 'SQ':
        return this.sequence(header.tag, valueStart, undefined, encoding, depth + 1, limit);
      case 'UN':
        return this.sequence(header.tag, valueStart, undefined, IMPLICIT_LE, depth + 1, limit);
      case 'OB':
      case 'OW':
        return this.fragments(header.tag, valueStart, encoding, limit);
      default:
        throw malformed(`${tagName(header.tag)} has an undefined length, which VR ${header.vr ?? '?'} does not allow (PS3.5 §7.1.1)`);
    }
  }

  /**
   * The items of a sequence (PS3.5 §7.5): up to `end` when its length is defined, else up to the
   * Sequence Delimitation Item. Each item holds a data set, itself of defined or undefined length.
   */
  private async sequence(tag: number, start: number, end: number | undefined, encoding: DataSetEncoding, depth: number, limit: number | undefined): Promise<number> {
    if (depth > MAX_SEQUENCE_DEPTH) throw malformed(`sequences are nested more than ${MAX_SEQUENCE_DEPTH} levels deep`);
    let offset = start;
    for (;;) {
      if (offset === end) return offset;
      const header = await this.header(offset, encoding, limit, 'inside a sequence');
      if (header.tag === SEQUENCE_DELIMITATION_ITEM && end === undefined) return offset + header.headerBytes;
      if (header.tag !== ITEM) throw malformed(`sequence ${tagName(tag)} holds ${tagName(header.tag)} where an item should be (PS3.5 §7.5)`);
      const contentStart = offset + header.headerBytes;
      if (header.length === UNDEFINED_LENGTH) {
        offset = await this.itemDataSet(contentStart, undefined, encoding, depth, limit);
      } else {
        const itemEnd = contentStart + header.length;
        this.checkFits(header, itemEnd, limit);
        offset = await this.itemDataSet(contentStart, itemEnd, encoding, depth, itemEnd);
      }
    }
  }

  /** The data set inside one item: up to `end`, or up to its Item Delimitation Item (PS3.5 §7.5.2). */
  private async itemDataSet(start: number, end: number | undefined, encoding: DataSetEncoding, depth: number, limit: number | undefined): Promise<number> {
    let offset = start;
    for (;;) {
      if (offset === end) return offset;
      const header = await this.header(offset, encoding, limit, 'inside a sequence item');
      if (header.group === 0xfffe) {
        if (header.tag === ITEM_DELIMITATION_ITEM && end === undefined) return offset + header.headerBytes;
        throw malformed(`a sequence item holds ${tagName(header.tag)} where a data element should be (PS3.5 §7.5)`);
      }
      offset = await this.element(header, offset, encoding, depth, limit);
    }
  }

  /**
   * Encapsulated pixel data nested in a sequence (an icon image, PS3.3 §C.7.6.1.1.6): items of
   * defined length, opaque, closed by a Sequence Delimitation Item (PS3.5 Annex A.4). Skipped, not read.
   */
  private async fragments(tag: number, start: number, encoding: DataSetEncoding, limit: number | undefined): Promise<number> {
    let offset = start;
    for (;;) {
      const header = await this.header(offset, encoding, limit, 'inside encapsulated pixel data');
      if (header.tag === SEQUENCE_DELIMITATION_ITEM) return offset + header.headerBytes;
      if (header.tag !== ITEM || header.length === UNDEFINED_LENGTH) {
        throw malformed(`encapsulated ${tagName(tag)} holds something other than fragments of defined length (PS3.5 Annex A.4)`);
      }
      const fragmentEnd = offset + header.headerBytes + header.length;
      this.checkFits(header, fragmentEnd, limit);
      offset = fragmentEnd;
    }
  }

  private async header(offset: number, encoding: DataSetEncoding, limit: number | undefined, where: string): Promise<ElementHeader> {
    const header = await readElementHeader(this.window, offset, encoding);
    if (!header) throw new HeaderRejection('TRUNCATED', `the file ends ${where}, at byte ${offset}${this.offsetNote}`);
    if (limit !== undefined && offset + header.headerBytes > limit) {
      throw malformed(`a data element header crosses the end of the item or sequence that holds it`);
    }
    return header;
  }

  /**
   * A value must end inside whatever holds it (an overrun is malformed) and inside the file (if not,
   * the file was cut short). Checked before moving on, so a length like FFFFFFF0H is never acted on.
   */
  private checkFits(header: ElementHeader, valueEnd: number, limit: number | undefined): void {
    if (limit !== undefined && valueEnd > limit) {
      throw malformed(`${tagName(header.tag)} declares ${header.length} bytes, more than the item or sequence that holds it`);
    }
    const length = this.window.length;
    if (length !== undefined && valueEnd > length) {
      const valueStart = valueEnd - header.length;
      throw new HeaderRejection('TRUNCATED', `the file ends inside ${tagName(header.tag)}: its value starts at byte ${valueStart}${this.offsetNote} and declares ${header.length} bytes, of which ${Math.max(0, length - valueStart)} are there`);
    }
  }

  private async noteUid(header: ElementHeader, valueStart: number): Promise<void> {
    switch (header.tag) {
      case SOP_CLASS_UID:
        this.facts.sopClassUid = await this.uniqueUid(header, valueStart, this.facts.sopClassUid);
        break;
      case SOP_INSTANCE_UID:
        this.facts.sopInstanceUid = await this.uniqueUid(header, valueStart, this.facts.sopInstanceUid);
        break;
      case STUDY_INSTANCE_UID:
        this.facts.studyInstanceUid = await this.uniqueUid(header, valueStart, this.facts.studyInstanceUid);
        break;
    }
  }

  private async uniqueUid(header: ElementHeader, valueStart: number, seen: string | undefined): Promise<string> {
    if (seen !== undefined) throw malformed(`${tagName(header.tag)} appears twice in the data set`);
    return readUidValue(this.window, header, valueStart);
  }
}
