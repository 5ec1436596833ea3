import type { ByteWindow } from './byte-window.js';
import {
  ITEM, ITEM_DELIMITATION_ITEM, SEQUENCE_DELIMITATION_ITEM, UNDEFINED_LENGTH,
  readElementHeader, readUidValue, tagName, type ElementHeader,
} from './data-element.js';
import { DicomReadError } from './read-problem.js';
import { IMPLICIT_LE, type DataSetEncoding } from './transfer-syntax.js';

/** What the walk learned about the top-level data set. UIDs have their padding removed. */
export interface DataSetFacts {
  sopClassUid?: string;
  sopInstanceUid?: string;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  /** The raw values of the top-level attributes the caller asked to keep (WalkOptions.keep). */
  values: Map<number, Buffer>;
  /**
   * The top-level pixel data element where the walk stopped, if any (none: an SR, a PDF...);
   * `valueOffset` counts from the start of what was walked (the inflated stream, if deflated).
   */
  pixelData?: { tag: number; length: number; valueOffset: number };
  /**
   * How many items of the listener's sequence (WalkOptions.items) the walk passed: 0 for an empty
   * sequence, absent when the data set has no such sequence (a DICOMDIR without its Directory
   * Record Sequence is no directory, one with an empty sequence is an empty directory).
   */
  itemCount?: number;
  /** Why the walk stopped. */
  endedBy: 'pixel-data' | 'trailing-padding' | 'end-of-data';
}

/** The items of one top-level sequence, handed over one at a time as the walk passes them. */
export interface ItemListener {
  /** The top-level sequence, e.g. the Directory Record Sequence (0004,1220) of a DICOMDIR. */
  sequence: number;
  /** Attributes of each item's own data set (not nested deeper) whose values to hand over. */
  keep: ReadonlySet<number>;
  onItem(values: ReadonlyMap<number, Buffer>): void;
}

export interface WalkOptions {
  /** Top-level attributes whose values to keep in DataSetFacts.values (each up to MAX_KEPT_VALUE_BYTES). */
  keep?: ReadonlySet<number>;
  items?: ItemListener;
  /**
   * Walk the fragments of top-level encapsulated Pixel Data to their Sequence Delimitation Item
   * (PS3.5 Annex A.4), reading 8 bytes per fragment: tells a file still being written from a whole
   * one. Without it the walk stops at Pixel Data, which is never read.
   */
  throughPixelData?: boolean;
  /** What the offsets in reasons count from when not the file, e.g. " of the inflated data set". */
  offsetNote?: string;
}

/** The longest value the walk keeps: far above any name, date or code string, far below pixel data. */
export const MAX_KEPT_VALUE_BYTES = 64 * 1024;

const SOP_CLASS_UID = 0x00080016;
const SOP_INSTANCE_UID = 0x00080018;
const STUDY_INSTANCE_UID = 0x0020000d;
const SERIES_INSTANCE_UID = 0x0020000e;
/** The unique keys a PACS stores and finds an instance by (PS3.4 §C.1.2.1): always read at the top level. */
const IDENTITY_UIDS: ReadonlySet<number> = new Set([SOP_CLASS_UID, SOP_INSTANCE_UID, STUDY_INSTANCE_UID, SERIES_INSTANCE_UID]);
const PIXEL_DATA = 0x7fe00010;
/** Float Pixel Data, Double Float Pixel Data and Pixel Data (PS3.3 §C.7.6.24, §C.7.6.25, §C.7.6.3). */
const PIXEL_DATA_TAGS: ReadonlySet<number> = new Set([0x7fe00008, 0x7fe00009, PIXEL_DATA]);
/** Data Set Trailing Padding: may only close the top-level data set and carries no meaning. */
const DATA_SET_TRAILING_PADDING = 0xfffcfffc;

/** Real objects nest a handful of levels (SR content trees a few dozen); beyond this it is an attack or garbage. */
export const MAX_SEQUENCE_DEPTH = 64;

const malformed = (reason: string) => new DicomReadError('MALFORMED', reason);

/** Where the values of one data set's wanted attributes go: the top level's facts, or one item's. */
interface ValueSink {
  keep: ReadonlySet<number>;
  values: Map<number, Buffer>;
  /** UIDs are read as UIDs: bounded to MAX_UID_BYTES, refused beyond it. */
  uids: ReadonlySet<number>;
}

/**
 * Walks a data set element by element (PS3.5 §7) from `start` until the top-level Pixel Data, the
 * trailing padding or the end of the data, and returns what it learned. Values are skipped, not
 * read, except those asked for; Pixel Data is never read. Sequences are walked item by item whether
 * their lengths are defined or not (PS3.5 §7.5), so a broken nesting is found; every length is
 * checked against the element, item or sequence that holds it and against the end of the source
 * before anything moves past it, so an absurd length costs nothing. Throws DicomReadError.
 */
export async function walkDataSet(window: ByteWindow, start: number, encoding: DataSetEncoding, options: WalkOptions = {}): Promise<DataSetFacts> {
  return new DataSetWalker(window, encoding, options).walk(start);
}

class DataSetWalker {
  private readonly facts: DataSetFacts = { endedBy: 'end-of-data', values: new Map() };
  private readonly topLevelSink: ValueSink;
  private readonly offsetNote: string;

  constructor(private readonly window: ByteWindow, private readonly encoding: DataSetEncoding, private readonly options: WalkOptions) {
    this.offsetNote = options.offsetNote ?? '';
    this.topLevelSink = { keep: new Set([...IDENTITY_UIDS, ...(options.keep ?? [])]), values: this.facts.values, uids: IDENTITY_UIDS };
  }

  async walk(start: number): Promise<DataSetFacts> {
    try {
      await this.topLevel(start);
    } catch (error) {
      // A file still being written is cut after its first elements: what they say (its study) is
      // whole, as every value is checked against the end of the file before it is read.
      if (error instanceof DicomReadError && error.code === 'TRUNCATED') {
        this.noteIdentity();
        error.readBeforeCut = this.facts;
      }
      throw error;
    }
    this.noteIdentity();
    return this.facts;
  }

  private async topLevel(start: number): Promise<void> {
    let offset = start;
    for (;;) {
      const header = await readElementHeader(this.window, offset, this.encoding);
      if (!header) break;
      if (header.group === 0xfffe) throw malformed(`an item or delimiter ${tagName(header.tag)} appears outside any sequence (PS3.5 §7.5)`);
      if (header.group === 0x0002) {
        // Group 0002 belongs in the meta header only (PS3.10 §7.1): the meta group length stopped short.
        throw new DicomReadError('BAD_META_HEADER', `file meta element ${tagName(header.tag)} appears in the data set: the meta group length (0002,0000) is too small`);
      }
      if (PIXEL_DATA_TAGS.has(header.tag)) {
        await this.stopAtPixelData(header, offset);
        break;
      }
      if (header.tag === DATA_SET_TRAILING_PADDING) {
        this.facts.endedBy = 'trailing-padding';
        break;
      }
      offset = await this.element(header, offset, this.encoding, 0, undefined, this.topLevelSink);
    }
  }

  /**
   * Records the pixel data element and checks what can be checked without reading it: native pixels
   * have a defined length that must fit in the file; encapsulated ones have an undefined length
   * (PS3.5 Annex A.4), and their fragments are walked only when asked (throughPixelData).
   */
  private async stopAtPixelData(header: ElementHeader, offset: number): Promise<void> {
    const valueOffset = offset + header.headerBytes;
    this.facts.pixelData = { tag: header.tag, length: header.length, valueOffset };
    this.facts.endedBy = 'pixel-data';
    const expected = this.encoding.pixelData;
    if (header.length === UNDEFINED_LENGTH) {
      if (header.tag !== PIXEL_DATA || expected === 'native') {
        throw malformed(`${tagName(header.tag)} is encapsulated (undefined length) but the transfer syntax is not an encapsulated one (PS3.5 Annex A.4)`);
      }
      if (this.options.throughPixelData) await this.fragments(header.tag, valueOffset, this.encoding, undefined);
      return;
    }
    if (header.tag === PIXEL_DATA && expected === 'encapsulated') {
      throw malformed('Pixel Data (7FE0,0010) has a defined length but the transfer syntax requires encapsulated pixel data (PS3.5 Annex A.4)');
    }
    this.checkFits(header, valueOffset + header.length, undefined);
  }

  /**
   * One data element at `offset` whose header has been read; returns the offset after it. `limit`
   * is the end of the defined-length item or sequence that holds it, if any; `sink` takes the
   * values wanted from the data set the element belongs to.
   */
  private async element(header: ElementHeader, offset: number, encoding: DataSetEncoding, depth: number, limit: number | undefined, sink: ValueSink | undefined): Promise<number> {
    const valueStart = offset + header.headerBytes;
    if (header.length === UNDEFINED_LENGTH) return this.undefinedLengthValue(header, valueStart, encoding, depth, limit);
    const valueEnd = valueStart + header.length;
    this.checkFits(header, valueEnd, limit);
    if (encoding.explicitVr ? header.vr === 'SQ' : this.isListenedSequence(header.tag, depth)) {
      await this.sequence(header.tag, valueStart, valueEnd, encoding, depth + 1, valueEnd);
    } else if (sink?.keep.has(header.tag)) {
      await this.keepValue(header, valueStart, sink, limit);
    } else if (this.window.length === undefined && header.length > 0) {
      await this.checkStreamHolds(header, valueEnd, limit);
    }
    // Implicit VR gives no VR, so any other defined-length sequence there is skipped as an opaque value.
    return valueEnd;
  }

  /**
   * The listener's sequence is a sequence whatever the encoding: its caller names it as one (VR SQ
   * in PS3.6), which is what implicit VR leaves to the dictionary (PS3.5 §7.1.3, Annex A.1).
   */
  private isListenedSequence(tag: number, depth: number): boolean {
    return depth === 0 && this.options.items?.sequence === tag;
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
    const listener = this.isListenedSequence(tag, depth - 1) ? this.options.items : undefined;
    if (listener) this.facts.itemCount ??= 0;
    let offset = start;
    for (;;) {
      if (offset === end) return offset;
      const header = await this.header(offset, encoding, limit, 'inside a sequence');
      if (header.tag === SEQUENCE_DELIMITATION_ITEM && end === undefined) return offset + header.headerBytes;
      if (header.tag !== ITEM) throw malformed(`sequence ${tagName(tag)} holds ${tagName(header.tag)} where an item should be (PS3.5 §7.5)`);
      const sink: ValueSink | undefined = listener ? { keep: listener.keep, values: new Map(), uids: new Set() } : undefined;
      const contentStart = offset + header.headerBytes;
      if (header.length === UNDEFINED_LENGTH) {
        offset = await this.itemDataSet(contentStart, undefined, encoding, depth, limit, sink);
      } else {
        const itemEnd = contentStart + header.length;
        this.checkFits(header, itemEnd, limit);
        offset = await this.itemDataSet(contentStart, itemEnd, encoding, depth, itemEnd, sink);
      }
      if (listener && sink) {
        this.facts.itemCount = (this.facts.itemCount ?? 0) + 1;
        listener.onItem(sink.values);
      }
    }
  }

  /** The data set inside one item: up to `end`, or up to its Item Delimitation Item (PS3.5 §7.5.2). */
  private async itemDataSet(start: number, end: number | undefined, encoding: DataSetEncoding, depth: number, limit: number | undefined, sink: ValueSink | undefined): Promise<number> {
    let offset = start;
    for (;;) {
      if (offset === end) return offset;
      const header = await this.header(offset, encoding, limit, 'inside a sequence item');
      if (header.group === 0xfffe) {
        if (header.tag === ITEM_DELIMITATION_ITEM && end === undefined) return offset + header.headerBytes;
        throw malformed(`a sequence item holds ${tagName(header.tag)} where a data element should be (PS3.5 §7.5)`);
      }
      offset = await this.element(header, offset, encoding, depth, limit, sink);
    }
  }

  /**
   * Encapsulated pixel data (PS3.5 Annex A.4), top-level or nested in a sequence (an icon image,
   * PS3.3 §C.7.6.1.1.6): items of defined length, opaque, closed by a Sequence Delimitation Item.
   * Skipped, not read.
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
    if (!header) throw new DicomReadError('TRUNCATED', `the file ends ${where}, at byte ${offset}${this.offsetNote}`);
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
      throw new DicomReadError('TRUNCATED', `the file ends inside ${tagName(header.tag)}: its value starts at byte ${valueStart}${this.offsetNote} and declares ${header.length} bytes, of which ${Math.max(0, length - valueStart)} are there`);
    }
  }

  /**
   * In a stream whose length is not known yet (an inflated data set), a skipped value's end is
   * checked by inflating up to it: the walk would inflate through it to the next element anyway, and
   * a cut is then reported as the value it cuts, as keepValue reports a kept value. So the relay,
   * which keeps no values, and the desktop, which keeps several, give one reason. Only for a value
   * that is skipped: the stream is read forward only, so a sequence's items or a kept value must be
   * read before anything past them.
   */
  private async checkStreamHolds(header: ElementHeader, valueEnd: number, limit: number | undefined): Promise<void> {
    const last = this.window.cached(valueEnd - 1, 1) ?? await this.window.peek(valueEnd - 1, 1);
    if (last.length === 0) this.checkFits(header, valueEnd, limit);
  }

  /**
   * Keeps one wanted value (a copy: the window moves on). An identifying UID given twice makes the
   * instance ambiguous and is refused; any other attribute given twice keeps its first value, so
   * what the caller asked to read never changes the verdict.
   */
  private async keepValue(header: ElementHeader, valueStart: number, sink: ValueSink, limit: number | undefined): Promise<void> {
    if (sink.values.has(header.tag)) {
      if (sink.uids.has(header.tag)) throw malformed(`${tagName(header.tag)} appears twice in the data set`);
      return;
    }
    if (sink.uids.has(header.tag)) {
      sink.values.set(header.tag, Buffer.from(await readUidValue(this.window, header, valueStart), 'latin1'));
      return;
    }
    const valueEnd = valueStart + header.length;
    if (header.length > MAX_KEPT_VALUE_BYTES) {
      if (this.window.length === undefined) await this.checkStreamHolds(header, valueEnd, limit);
      return;
    }
    const bytes = await this.window.peek(valueStart, header.length);
    if (bytes.length < header.length) {
      // The source ended inside the value, so its length is known now: the same reason as a skipped value's.
      this.checkFits(header, valueEnd, limit);
      throw new DicomReadError('TRUNCATED', `the file ends inside ${tagName(header.tag)}, whose value starts at byte ${valueStart}${this.offsetNote}`);
    }
    sink.values.set(header.tag, Buffer.from(bytes));
  }

  /** The identifying UIDs, read like any kept value, as strings; the caller sees them in `values` only if it asked. */
  private noteIdentity(): void {
    const sopClassUid = this.takeUid(SOP_CLASS_UID);
    const sopInstanceUid = this.takeUid(SOP_INSTANCE_UID);
    const studyInstanceUid = this.takeUid(STUDY_INSTANCE_UID);
    const seriesInstanceUid = this.takeUid(SERIES_INSTANCE_UID);
    if (sopClassUid) this.facts.sopClassUid = sopClassUid;
    if (sopInstanceUid) this.facts.sopInstanceUid = sopInstanceUid;
    if (studyInstanceUid) this.facts.studyInstanceUid = studyInstanceUid;
    if (seriesInstanceUid) this.facts.seriesInstanceUid = seriesInstanceUid;
  }

  /** One identifying UID as a string; its raw value stays in `values` only if the caller asked to keep it. */
  private takeUid(tag: number): string | undefined {
    const values = this.facts.values;
    const value = values.get(tag)?.toString('latin1');
    if (!this.options.keep?.has(tag)) values.delete(tag);
    return value || undefined;
  }
}
