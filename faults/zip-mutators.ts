// ZIP archives for the malformed-input fuzzer: a small in-memory writer (APPNOTE.TXT 4.3: local
// headers, central directory, end records, ZIP64 when asked), a reader of a valid archive's layout
// (where every record and field sits), and mutations aimed at what an unzipper trusts: the central
// directory, declared sizes, ZIP64 fields, entry names and the end records.
import { crc32, deflateRawSync } from 'node:zlib';
import { zipCentralHeader, zipEndRecords, zipLocalHeader as localHeaderRecord, ZIP_MAX32, ZIP_SIGNATURES, type ZipRecordEntry } from '@relaypacs/testkit';
import type { Xorshift32 } from './fuzz-random.js';
import type { Mutation } from './dicom-mutators.js';

export interface ZipEntryInput {
  name: string | Buffer;
  content: Buffer;
  deflate: boolean;
}

export interface ZipBuildOptions {
  /** Sizes and offsets in ZIP64 extra fields, plus the ZIP64 end records (APPNOTE 4.3.14, 4.5.3). */
  zip64?: boolean;
}

const { local: LOCAL, central: CENTRAL, end: END, locator64: LOCATOR64 } = ZIP_SIGNATURES;
const MAX32 = ZIP_MAX32;

/** A whole archive in memory. Names that are not ASCII get the UTF-8 flag (APPNOTE 4.4.4 bit 11). */
export function buildZip(entries: readonly ZipEntryInput[], options: ZipBuildOptions = {}): Buffer {
  const zip64 = options.zip64 === true;
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const data = entry.deflate ? deflateRawSync(entry.content) : entry.content;
    const folder = entry.name.length > 0 && (typeof entry.name === 'string' ? entry.name.endsWith('/') : entry.name[entry.name.length - 1] === 0x2f);
    const record: ZipRecordEntry = {
      name: entry.name, method: entry.deflate ? 8 : 0, crc32: crc32(entry.content), uncompressedSize: entry.content.length,
      compressedSize: data.length, zip64, externalAttributes: ((folder ? 0o040755 : 0o100644) << 16) >>> 0,
    };
    const local = Buffer.concat([localHeaderRecord(record), data]);
    locals.push(local);
    centrals.push(zipCentralHeader(record, offset));
    offset += local.length;
  }
  const directory = Buffer.concat(centrals);
  return Buffer.concat([...locals, directory, zipEndRecords(entries.length, offset, directory.length, zip64)]);
}

// ---------------------------------------------------------------------------------------------
// Layout of a valid archive

export interface CentralRecord {
  offset: number;
  nameOffset: number;
  nameLength: number;
  extraOffset: number;
  extraLength: number;
  commentLength: number;
  end: number;
  localOffset: number;
  /** The ZIP64 extended information field, if the record has one. */
  zip64Extra?: { offset: number; size: number };
}

export interface LocalRecord {
  offset: number;
  nameLength: number;
  extraLength: number;
  dataOffset: number;
}

export interface ZipLayout {
  end: number;
  directoryOffset: number;
  directorySize: number;
  count: number;
  central: CentralRecord[];
  local: LocalRecord[];
  end64?: number;
  locator64?: number;
}

export interface ZipSeed {
  name: string;
  bytes: Buffer;
  layout: ZipLayout;
}

export function zipLayout(bytes: Buffer): ZipLayout {
  const end = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new Error('no end of central directory record');
  let count = bytes.readUInt16LE(end + 10);
  let directorySize = bytes.readUInt32LE(end + 12);
  let directoryOffset = bytes.readUInt32LE(end + 16);
  let end64: number | undefined;
  let locator64: number | undefined;
  if (end >= 20 && bytes.readUInt32LE(end - 20) === LOCATOR64) {
    locator64 = end - 20;
    end64 = Number(bytes.readBigUInt64LE(locator64 + 8));
    count = Number(bytes.readBigUInt64LE(end64 + 32));
    directorySize = Number(bytes.readBigUInt64LE(end64 + 40));
    directoryOffset = Number(bytes.readBigUInt64LE(end64 + 48));
  }
  const central: CentralRecord[] = [];
  const local: LocalRecord[] = [];
  let at = directoryOffset;
  for (let i = 0; i < count; i++) {
    if (bytes.readUInt32LE(at) !== CENTRAL) throw new Error(`no central record ${i} at ${at}`);
    const nameLength = bytes.readUInt16LE(at + 28);
    const extraLength = bytes.readUInt16LE(at + 30);
    const commentLength = bytes.readUInt16LE(at + 32);
    const nameOffset = at + 46;
    const extraOffset = nameOffset + nameLength;
    let localOffset = bytes.readUInt32LE(at + 42);
    let zip64Extra: CentralRecord['zip64Extra'];
    for (let e = extraOffset; e + 4 <= extraOffset + extraLength;) {
      const id = bytes.readUInt16LE(e);
      const size = bytes.readUInt16LE(e + 2);
      if (id === 0x0001) {
        zip64Extra = { offset: e, size };
        // Present values come in a fixed order: uncompressed, compressed, local header offset.
        let field = e + 4;
        if (bytes.readUInt32LE(at + 24) === MAX32) field += 8;
        if (bytes.readUInt32LE(at + 20) === MAX32) field += 8;
        if (localOffset === MAX32) localOffset = Number(bytes.readBigUInt64LE(field));
      }
      e += 4 + size;
    }
    const record: CentralRecord = { offset: at, nameOffset, nameLength, extraOffset, extraLength, commentLength, end: extraOffset + extraLength + commentLength, localOffset, ...(zip64Extra ? { zip64Extra } : {}) };
    central.push(record);
    const localNameLength = bytes.readUInt16LE(localOffset + 26);
    const localExtraLength = bytes.readUInt16LE(localOffset + 28);
    local.push({ offset: localOffset, nameLength: localNameLength, extraLength: localExtraLength, dataOffset: localOffset + 30 + localNameLength + localExtraLength });
    at = record.end;
  }
  return { end, directoryOffset, directorySize, count, central, local, ...(end64 !== undefined ? { end64 } : {}), ...(locator64 !== undefined ? { locator64 } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Mutators

export type ZipMutator = (seed: ZipSeed, random: Xorshift32) => Mutation;

const hex = (n: number | bigint): string => `0x${n.toString(16).toUpperCase()}`;

/** Replaces one central record by `record` and moves what follows the directory (sizes and offsets kept right). */
function replaceCentral(seed: ZipSeed, index: number, record: Buffer | undefined, duplicate = false): Buffer {
  const { bytes, layout } = seed;
  const target = layout.central[index];
  if (!target) return Buffer.from(bytes);
  const old = bytes.subarray(target.offset, target.end);
  const replacement = record === undefined ? Buffer.alloc(0) : duplicate ? Buffer.concat([old, record]) : record;
  const delta = replacement.length - old.length;
  const countDelta = record === undefined ? -1 : duplicate ? 1 : 0;
  const out = Buffer.concat([bytes.subarray(0, target.offset), replacement, bytes.subarray(target.end)]);
  const end = layout.end + delta;
  if (layout.end64 !== undefined && layout.locator64 !== undefined) {
    const end64 = layout.end64 + delta;
    out.writeBigUInt64LE(BigInt(layout.count + countDelta), end64 + 24);
    out.writeBigUInt64LE(BigInt(layout.count + countDelta), end64 + 32);
    out.writeBigUInt64LE(BigInt(layout.directorySize + delta), end64 + 40);
    out.writeBigUInt64LE(BigInt(end64), layout.locator64 + delta + 8);
  } else {
    out.writeUInt16LE(layout.count + countDelta, end + 8);
    out.writeUInt16LE(layout.count + countDelta, end + 10);
    out.writeUInt32LE(layout.directorySize + delta, end + 12);
  }
  return out;
}

function centralWith(seed: ZipSeed, index: number, changes: { name?: Buffer; extra?: Buffer; flags?: number }): Buffer {
  const record = seed.layout.central[index]!;
  const bytes = seed.bytes;
  const head = Buffer.from(bytes.subarray(record.offset, record.offset + 46));
  const name = changes.name ?? bytes.subarray(record.nameOffset, record.nameOffset + record.nameLength);
  const extra = changes.extra ?? bytes.subarray(record.extraOffset, record.extraOffset + record.extraLength);
  head.writeUInt16LE(name.length & 0xffff, 28);
  head.writeUInt16LE(extra.length & 0xffff, 30);
  if (changes.flags !== undefined) head.writeUInt16LE(changes.flags, 8);
  return Buffer.concat([head, name, extra, bytes.subarray(record.extraOffset + record.extraLength, record.end)]);
}

export const zipCentralDirectory: ZipMutator = (seed, random) => {
  const { layout } = seed;
  const out = Buffer.from(seed.bytes);
  const index = random.int(0, layout.central.length - 1);
  const record = layout.central[index]!;
  switch (random.int(0, 10)) {
    case 0: {
      const n = random.int(1, 32);
      for (let k = 0; k < n; k++) out[random.int(layout.directoryOffset, layout.end - 1)] = random.next() & 0xff;
      return { bytes: out, detail: `${n} random bytes written over the central directory` };
    }
    case 1:
      out.writeUInt32LE(random.pick([0, LOCAL, END, random.next()]) >>> 0, record.offset);
      return { bytes: out, detail: `central record ${index}: signature damaged` };
    case 2: {
      const method = random.pick([1, 6, 9, 12, 14, 93, 95, 99, 0xffff, 8, 0]);
      out.writeUInt16LE(method, record.offset + 10);
      return { bytes: out, detail: `central record ${index}: method → ${method}` };
    }
    case 3: {
      const other = random.pick(layout.central).localOffset;
      const value = random.pick([MAX32, seed.bytes.length + random.int(1, 1000), random.int(0, seed.bytes.length), other, layout.directoryOffset, other + 1]);
      if (record.zip64Extra && record.localOffset !== seed.bytes.readUInt32LE(record.offset + 42)) {
        out.writeBigUInt64LE(BigInt(value), record.zip64Extra.offset + 4 + record.zip64Extra.size - 8);
      } else out.writeUInt32LE(value >>> 0, record.offset + 42);
      return { bytes: out, detail: `central record ${index}: local header offset → ${hex(value)}` };
    }
    case 4: {
      const attributes = random.pick([0o120777 << 16, 0o040755 << 16, 0o010644 << 16, 0o020644 << 16, random.next()]) >>> 0;
      out.writeUInt32LE(attributes, record.offset + 38);
      out.writeUInt16LE(random.pick([0x031e, 0x001e, 0x0b1e, 0x131e]), record.offset + 4);
      return { bytes: out, detail: `central record ${index}: external attributes → ${hex(attributes)}` };
    }
    case 5: {
      const flags = random.pick([0x1, 0x41, 0x8, 0x800, 0xffff, 0x2000]);
      out.writeUInt16LE(flags, record.offset + 8);
      return { bytes: out, detail: `central record ${index}: flags → ${hex(flags)}` };
    }
    case 6:
      if (random.chance(0.5)) return { bytes: replaceCentral(seed, index, undefined), detail: `central record ${index} removed (counts fixed)` };
      return { bytes: Buffer.concat([seed.bytes.subarray(0, record.offset), seed.bytes.subarray(record.end)]), detail: `central record ${index} removed (counts not fixed)` };
    case 7:
      return { bytes: replaceCentral(seed, index, seed.bytes.subarray(record.offset, record.end), true), detail: `central record ${index} listed twice (same data)` };
    case 8: {
      const disk = random.int(1, 0xffff);
      out.writeUInt16LE(disk, record.offset + 34);
      return { bytes: out, detail: `central record ${index}: disk number start → ${disk}` };
    }
    case 9: {
      const extra = random.pick([0xffff, record.extraLength + 1, record.extraLength + 3, random.int(0, 0xffff)]);
      out.writeUInt16LE(extra, record.offset + 30);
      return { bytes: out, detail: `central record ${index}: extra field length ${record.extraLength} → ${extra}` };
    }
    default: {
      const comment = random.pick([0xffff, 1, random.int(0, 0xffff)]);
      out.writeUInt16LE(comment, record.offset + 32);
      return { bytes: out, detail: `central record ${index}: comment length → ${comment}` };
    }
  }
};

export const zipSizes: ZipMutator = (seed, random) => {
  const out = Buffer.from(seed.bytes);
  const index = random.int(0, seed.layout.central.length - 1);
  const central = seed.layout.central[index]!;
  const local = seed.layout.local[index]!;
  const where = random.pick(['central', 'local', 'both'] as const);
  const field = random.pick(['compressed', 'uncompressed', 'crc', 'swap'] as const);
  const apply = (base: number, sizeAt: number, isCentral: boolean) => {
    const compressed = out.readUInt32LE(base + sizeAt);
    const uncompressed = out.readUInt32LE(base + sizeAt + 4);
    if (compressed === MAX32 || uncompressed === MAX32) {
      // ZIP64: the sizes live in the extra field.
      const extra = isCentral ? central.zip64Extra : undefined;
      if (extra) out.writeBigUInt64LE(BigInt(random.int(0, 2 * seed.bytes.length)), extra.offset + 4 + (field === 'compressed' ? 8 : 0));
      return;
    }
    const delta = random.pick([-1, 1, -2, 2, random.int(-1000, 1000), 4096]);
    if (field === 'compressed') out.writeUInt32LE(Math.max(0, compressed + delta) >>> 0, base + sizeAt);
    else if (field === 'uncompressed') out.writeUInt32LE(Math.max(0, uncompressed + delta) >>> 0, base + sizeAt + 4);
    else if (field === 'crc') out.writeUInt32LE(random.next(), base + sizeAt - 4);
    else {
      out.writeUInt32LE(uncompressed, base + sizeAt);
      out.writeUInt32LE(compressed, base + sizeAt + 4);
    }
  };
  if (where !== 'local') apply(central.offset, 20, true);
  if (where !== 'central') apply(local.offset, 18, false);
  return { bytes: out, detail: `entry ${index}: ${field} size changed in the ${where} header(s)` };
};

export const zipHugeSizes: ZipMutator = (seed, random) => {
  const out = Buffer.from(seed.bytes);
  const index = random.int(0, seed.layout.central.length - 1);
  const central = seed.layout.central[index]!;
  const local = seed.layout.local[index]!;
  const huge = random.pick([MAX32, 0xfffffffe, 0x7fffffff, 0x80000000, random.int(0x80000000, 0xfffffffe)]);
  const choice = random.int(0, 3);
  if (choice === 0) out.writeUInt32LE(huge, central.offset + 24);
  else if (choice === 1) {
    out.writeUInt32LE(huge, central.offset + 20);
    out.writeUInt32LE(huge, central.offset + 24);
  } else if (choice === 2) {
    out.writeUInt32LE(huge, local.offset + 18);
    out.writeUInt32LE(huge, local.offset + 22);
  } else {
    out.writeUInt16LE(0xffff, seed.layout.end + 8);
    out.writeUInt16LE(0xffff, seed.layout.end + 10);
    return { bytes: out, detail: 'end record entry count → 0xFFFF with no ZIP64 record behind it' };
  }
  return { bytes: out, detail: `entry ${index}: declared ${['uncompressed size', 'sizes', 'local sizes'][choice]} → ${hex(huge)}` };
};

export const zip64Fields: ZipMutator = (seed, random) => {
  const out = Buffer.from(seed.bytes);
  const { layout } = seed;
  const index = random.int(0, layout.central.length - 1);
  const record = layout.central[index]!;
  const huge = random.pick([2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n, 0n, BigInt(seed.bytes.length) * 1000n, BigInt(seed.bytes.length) + 1n]);
  if (layout.end64 !== undefined && layout.locator64 !== undefined && record.zip64Extra) {
    const extra = record.zip64Extra;
    switch (random.int(0, 5)) {
      case 0: {
        const slot = random.int(0, extra.size / 8 - 1);
        out.writeBigUInt64LE(huge, extra.offset + 4 + 8 * slot);
        return { bytes: out, detail: `entry ${index}: ZIP64 extra value ${slot} → ${hex(huge)}` };
      }
      case 1: {
        const size = random.pick([0, 4, 7, 8, 0xffff, extra.size + 8]);
        out.writeUInt16LE(size, extra.offset + 2);
        return { bytes: out, detail: `entry ${index}: ZIP64 extra field size ${extra.size} → ${size}` };
      }
      case 2: {
        const field = random.pick([24, 32, 40, 48]);
        out.writeBigUInt64LE(huge, layout.end64 + field);
        return { bytes: out, detail: `ZIP64 end record field at +${field} → ${hex(huge)}` };
      }
      case 3: {
        const value = random.pick([huge, huge, BigInt(seed.bytes.length + 10), 0n, BigInt(layout.end64 + 1)]);
        out.writeBigUInt64LE(value, layout.locator64 + 8);
        return { bytes: out, detail: `ZIP64 locator offset → ${hex(value)}` };
      }
      case 4: {
        const disks = random.pick([0, 2, 0xffffffff]);
        out.writeUInt32LE(disks, layout.locator64 + 16);
        return { bytes: out, detail: `ZIP64 locator total disks → ${disks}` };
      }
      default:
        out.writeBigUInt64LE(random.pick([0n, 12n, huge]), layout.end64 + 4);
        return { bytes: out, detail: 'ZIP64 end record size field damaged' };
    }
  }
  switch (random.int(0, 2)) {
    case 0: {
      // Sizes that say "look in the ZIP64 field" with no such field.
      out.writeUInt32LE(MAX32, record.offset + 20);
      out.writeUInt32LE(MAX32, record.offset + 24);
      if (random.chance(0.5)) out.writeUInt32LE(MAX32, record.offset + 42);
      return { bytes: out, detail: `entry ${index}: sizes → 0xFFFFFFFF without a ZIP64 field` };
    }
    case 1: {
      // A ZIP64 field with absurd values on a record whose sizes point at it.
      const bytes = seed.bytes;
      const field = Buffer.alloc(28);
      field.writeUInt16LE(0x0001, 0);
      field.writeUInt16LE(24, 2);
      field.writeBigUInt64LE(huge, 4);
      field.writeBigUInt64LE(random.pick([huge, 1n, 0n]), 12);
      field.writeBigUInt64LE(BigInt(record.localOffset), 20);
      const extra = Buffer.concat([bytes.subarray(record.extraOffset, record.extraOffset + record.extraLength), field]);
      const rebuilt = centralWith(seed, index, { extra });
      rebuilt.writeUInt32LE(MAX32, 20);
      rebuilt.writeUInt32LE(MAX32, 24);
      rebuilt.writeUInt32LE(MAX32, 42);
      return { bytes: replaceCentral(seed, index, rebuilt), detail: `entry ${index}: ZIP64 field added, sizes ${hex(huge)}` };
    }
    default: {
      // End record fields saying "ZIP64", and a locator pointing at nothing useful.
      const locator = Buffer.alloc(20);
      locator.writeUInt32LE(LOCATOR64, 0);
      locator.writeBigUInt64LE(random.pick([huge, 0n, BigInt(layout.directoryOffset)]), 8);
      locator.writeUInt32LE(1, 16);
      const end = Buffer.from(seed.bytes.subarray(layout.end));
      end.writeUInt16LE(0xffff, 8);
      end.writeUInt16LE(0xffff, 10);
      if (random.chance(0.5)) end.writeUInt32LE(MAX32, 16);
      return { bytes: Buffer.concat([seed.bytes.subarray(0, layout.end), locator, end]), detail: 'a ZIP64 locator inserted that points at no ZIP64 end record' };
    }
  }
};

const NASTY_NAMES: readonly (string | Buffer)[] = [
  '../../../../tmp/relaypacs-fuzz-escape.dcm', '/etc/relaypacs-fuzz.dcm', 'C:\\Windows\\relaypacs.dcm', '\\\\server\\share\\x.dcm',
  'a\0b.dcm', '', 'x'.repeat(300), Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0x2e, 0x64]), 'gpj\u202e.dcm', 'DICOM/', 'con', '.', '..',
  'DICOM/../../x.dcm', 'DICOM//IM1', 'DICOM\\..\\..\\x', '\u00e9t\u00e9/IM1', '\u0000', 'IM1\n\r',
];

export const zipNames: ZipMutator = (seed, random) => {
  const index = random.int(0, seed.layout.central.length - 1);
  const record = seed.layout.central[index]!;
  const local = seed.layout.local[index]!;
  switch (random.int(0, 4)) {
    case 0:
    case 1: {
      const picked = random.chance(0.8) ? random.pick(NASTY_NAMES) : random.bytes(random.int(1, 40));
      const name = typeof picked === 'string' ? Buffer.from(picked, 'utf8') : picked;
      const flags = random.chance(0.5) ? 0x800 : 0;
      return { bytes: replaceCentral(seed, index, centralWith(seed, index, { name, flags })), detail: `entry ${index}: central name → ${JSON.stringify(name.toString('latin1').slice(0, 40))}${flags ? ' (UTF-8 flag)' : ''}` };
    }
    case 2: {
      // Same length in the local header, so nothing moves: the two names disagree.
      const out = Buffer.from(seed.bytes);
      const start = local.offset + 30;
      const fill = random.pick(['../', '\0', '\xff', '/']);
      Buffer.from(fill.repeat(local.nameLength), 'latin1').copy(out, start, 0, local.nameLength);
      return { bytes: out, detail: `entry ${index}: local name overwritten with ${JSON.stringify(fill)}` };
    }
    case 3: {
      const out = Buffer.from(seed.bytes);
      const length = random.pick([0, 0xffff, record.nameLength + random.int(1, 100), Math.max(0, record.nameLength - 1)]);
      out.writeUInt16LE(length, record.offset + 28);
      return { bytes: out, detail: `entry ${index}: central name length ${record.nameLength} → ${length}` };
    }
    default: {
      // An Info-ZIP Unicode Path field (0x7075) whose CRC and name may disagree with the real name.
      const unicode = Buffer.from(random.pick(['../escape.dcm', 'ok/IM1.dcm', '\u202eevil', '']), 'utf8');
      const field = Buffer.alloc(9);
      field.writeUInt16LE(0x7075, 0);
      field.writeUInt16LE(5 + unicode.length, 2);
      field.writeUInt8(random.pick([1, 0, 2]), 4);
      field.writeUInt32LE(random.chance(0.5) ? crc32(seed.bytes.subarray(record.nameOffset, record.nameOffset + record.nameLength)) : random.next(), 5);
      const extra = Buffer.concat([seed.bytes.subarray(record.extraOffset, record.extraOffset + record.extraLength), field, unicode]);
      return { bytes: replaceCentral(seed, index, centralWith(seed, index, { extra })), detail: `entry ${index}: Info-ZIP Unicode Path field ${JSON.stringify(unicode.toString('utf8'))} added` };
    }
  }
};

export const zipEndRecord: ZipMutator = (seed, random) => {
  const out = Buffer.from(seed.bytes);
  const { end, count, directorySize, directoryOffset } = seed.layout;
  const real = seed.layout.end64 === undefined;
  switch (random.int(0, 7)) {
    case 0: {
      const value = random.pick([0, count - 1, count + 1, 0xfffe, count + 1000]);
      if (random.chance(0.5)) out.writeUInt16LE(value & 0xffff, end + 8);
      out.writeUInt16LE(value & 0xffff, end + 10);
      return { bytes: out, detail: `end record entry count ${real ? count : '0xFFFF'} → ${value}` };
    }
    case 1: {
      const value = random.pick([0, directorySize - 1, directorySize + 1, MAX32 - 1, random.next()]);
      out.writeUInt32LE(Math.max(0, value) >>> 0, end + 12);
      return { bytes: out, detail: `end record directory size → ${hex(value)}` };
    }
    case 2: {
      const value = random.pick([0, end, seed.bytes.length + 100, directoryOffset + 1, Math.max(0, directoryOffset - 1), MAX32 - 1]);
      out.writeUInt32LE(value >>> 0, end + 16);
      return { bytes: out, detail: `end record directory offset → ${hex(value)}` };
    }
    case 3: {
      const value = random.pick([1, 100, 0xffff]);
      out.writeUInt16LE(value, end + 20);
      return { bytes: out, detail: `end record comment length → ${value} (no comment follows)` };
    }
    case 4: {
      const garbage = Buffer.concat([random.bytes(random.int(1, 500)), random.chance(0.5) ? Buffer.from('PK\x05\x06', 'latin1') : Buffer.alloc(0), random.bytes(random.int(0, 30))]);
      return { bytes: Buffer.concat([out, garbage]), detail: `${garbage.length} bytes appended after the end record` };
    }
    case 5:
      out.writeUInt16LE(random.int(1, 0xffff), end + 4);
      out.writeUInt16LE(random.int(0, 0xffff), end + 6);
      return { bytes: out, detail: 'end record disk numbers → non-zero (a multi-disk archive)' };
    case 6: {
      const at = random.int(Math.max(0, end - 30), out.length - 1);
      return { bytes: out.subarray(0, at), detail: `archive cut at ${at} (end record damaged or missing)` };
    }
    default: {
      const twin = Buffer.from(out.subarray(end));
      twin.writeUInt16LE(random.int(0, 0xffff), 10);
      twin.writeUInt32LE(random.next(), 16);
      return { bytes: Buffer.concat([out, twin]), detail: 'a second end record with other values appended' };
    }
  }
};

export const zipLocalHeader: ZipMutator = (seed, random) => {
  const out = Buffer.from(seed.bytes);
  const index = random.int(0, seed.layout.local.length - 1);
  const local = seed.layout.local[index]!;
  switch (random.int(0, 5)) {
    case 0:
      out.writeUInt32LE(random.pick([0, CENTRAL, random.next()]) >>> 0, local.offset);
      return { bytes: out, detail: `local header ${index}: signature damaged` };
    case 1: {
      const method = random.pick([0, 8, 12, 14, 99, 0xffff]);
      out.writeUInt16LE(method, local.offset + 8);
      return { bytes: out, detail: `local header ${index}: method → ${method}` };
    }
    case 2: {
      const flags = random.pick([0x1, 0x8, 0x41, 0xffff]);
      out.writeUInt16LE(flags, local.offset + 6);
      return { bytes: out, detail: `local header ${index}: flags → ${hex(flags)}` };
    }
    case 3: {
      const length = random.pick([0, 0xffff, local.nameLength + random.int(1, 50)]);
      out.writeUInt16LE(length, local.offset + 26);
      return { bytes: out, detail: `local header ${index}: name length ${local.nameLength} → ${length}` };
    }
    case 4: {
      const length = random.pick([0xffff, local.extraLength + random.int(1, 5000), random.int(0, 0xffff)]);
      out.writeUInt16LE(length, local.offset + 28);
      return { bytes: out, detail: `local header ${index}: extra field length ${local.extraLength} → ${length}` };
    }
    default: {
      const version = random.pick([0xffff, 63, 51, 45]);
      out.writeUInt16LE(version, local.offset + 4);
      return { bytes: out, detail: `local header ${index}: version needed → ${version}` };
    }
  }
};

export const zipBytes: ZipMutator = (seed, random) => {
  const out = Buffer.from(seed.bytes);
  const { directoryOffset } = seed.layout;
  // Half of the damage lands in the directory and end records, where an unzipper decides things.
  const at = () => (random.chance(0.5) ? random.int(directoryOffset, out.length - 1) : random.int(0, out.length - 1));
  switch (random.int(0, 2)) {
    case 0: {
      const flips = random.pick([1, 2, 4, 8, 32]);
      for (let n = 0; n < flips; n++) {
        const p = at();
        out[p] = (out[p] ?? 0) ^ (1 << random.int(0, 7));
      }
      return { bytes: out, detail: `${flips} bit flip(s)` };
    }
    case 1: {
      const value = random.chance(0.5) ? 0 : 0xff;
      const p = at();
      const run = random.int(1, 256);
      out.fill(value, p, Math.min(out.length, p + run));
      return { bytes: out, detail: `${run} bytes of ${hex(value)} at ${p}` };
    }
    default: {
      const p = random.int(0, out.length - 1);
      return { bytes: out.subarray(0, p), detail: `archive cut at ${p} of ${out.length}` };
    }
  }
};

/** Every ZIP mutator by name, as results and reports count them (zip-of-mutants is built by the corpus). */
export const ZIP_MUTATORS: Readonly<Record<string, ZipMutator>> = {
  'zip-central-directory': zipCentralDirectory,
  'zip-sizes': zipSizes,
  'zip-huge-sizes': zipHugeSizes,
  'zip64-fields': zip64Fields,
  'zip-names': zipNames,
  'zip-end-record': zipEndRecord,
  'zip-local-header': zipLocalHeader,
  'zip-bytes': zipBytes,
};
