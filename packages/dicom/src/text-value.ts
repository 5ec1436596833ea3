/**
 * Text values as a person reads them. The Specific Character Set (0008,0005) names how the text of
 * a data set is encoded (PS3.3 §C.12.1.1.2, PS3.5 §6.1); without it the default repertoire (ASCII)
 * applies. Single-byte and UTF-8 sets are decoded; the ISO 2022 code extensions (escape sequences
 * switching sets inside a value, PS3.5 §6.1.2.5) are decoded by their first set, the rest as Latin-1:
 * the catalog shows a name slightly wrong rather than not at all.
 */

/** ISO-IR registration numbers of the single-byte sets (PS3.3 Table C.12-2) and how to decode each. */
const SINGLE_BYTE_SETS: readonly [number, string][] = [
  [6, 'latin1'], [100, 'latin1'], [101, 'iso-8859-2'], [109, 'iso-8859-3'], [110, 'iso-8859-4'], [144, 'iso-8859-5'],
  [127, 'iso-8859-6'], [126, 'iso-8859-7'], [138, 'iso-8859-8'], [148, 'iso-8859-9'], [203, 'iso-8859-15'],
  [13, 'shift_jis'], [166, 'windows-874'],
];

/** Each set under its plain term ("ISO_IR 100") and its code extension term ("ISO 2022 IR 100"), and the multi-byte sets. */
const DECODERS: ReadonlyMap<string, string> = new Map([
  ...SINGLE_BYTE_SETS.flatMap(([ir, label]): [string, string][] => [[`ISO_IR ${ir}`, label], [`ISO 2022 IR ${ir}`, label]]),
  ['ISO_IR 192', 'utf-8'], ['GB18030', 'gb18030'], ['GBK', 'gbk'],
]);

/** The decoder for a Specific Character Set value (its first value decides; see above). */
export function textDecoderFor(specificCharacterSet: string | undefined): (bytes: Buffer) => string {
  const first = (specificCharacterSet ?? '').split('\\')[0]!.trim();
  const label = DECODERS.get(first) ?? 'latin1';
  if (label === 'latin1') return (bytes) => bytes.toString('latin1');
  try {
    const decoder = new TextDecoder(label);
    return (bytes) => decoder.decode(bytes);
  } catch {
    // A Node built without full ICU lacks the legacy encodings.
    return (bytes) => bytes.toString('latin1');
  }
}

/** A string value without its padding: trailing spaces and NULs (PS3.5 §6.2), and leading spaces. */
export function trimText(value: string): string {
  return value.replace(/^[ \0]+|[ \0]+$/g, '');
}

/** The first value of an IS (Integer String, PS3.5 §6.2), or null when absent or not a number. */
export function integerString(value: string | undefined): number | null {
  if (value === undefined) return null;
  const parsed = Number.parseInt(trimText(value.split('\\')[0]!), 10);
  return Number.isNaN(parsed) ? null : parsed;
}
