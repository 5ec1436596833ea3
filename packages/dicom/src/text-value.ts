/**
 * Text values as a person reads them. The Specific Character Set (0008,0005) names how the text of
 * a data set is encoded (PS3.3 §C.12.1.1.2, PS3.5 §6.1); without it the default repertoire (ASCII)
 * applies. Single-byte and UTF-8 sets are decoded; the ISO 2022 code extensions (escape sequences
 * switching sets inside a value, PS3.5 §6.1.2.5) are decoded by their first set, the rest as Latin-1:
 * the catalog shows a name slightly wrong rather than not at all.
 */
const DECODERS: Readonly<Record<string, string>> = {
  'ISO_IR 6': 'latin1', 'ISO 2022 IR 6': 'latin1',
  'ISO_IR 100': 'latin1', 'ISO 2022 IR 100': 'latin1',
  'ISO_IR 101': 'iso-8859-2', 'ISO 2022 IR 101': 'iso-8859-2',
  'ISO_IR 109': 'iso-8859-3', 'ISO 2022 IR 109': 'iso-8859-3',
  'ISO_IR 110': 'iso-8859-4', 'ISO 2022 IR 110': 'iso-8859-4',
  'ISO_IR 144': 'iso-8859-5', 'ISO 2022 IR 144': 'iso-8859-5',
  'ISO_IR 127': 'iso-8859-6', 'ISO 2022 IR 127': 'iso-8859-6',
  'ISO_IR 126': 'iso-8859-7', 'ISO 2022 IR 126': 'iso-8859-7',
  'ISO_IR 138': 'iso-8859-8', 'ISO 2022 IR 138': 'iso-8859-8',
  'ISO_IR 148': 'iso-8859-9', 'ISO 2022 IR 148': 'iso-8859-9',
  'ISO_IR 203': 'iso-8859-15', 'ISO 2022 IR 203': 'iso-8859-15',
  'ISO_IR 13': 'shift_jis', 'ISO 2022 IR 13': 'shift_jis',
  'ISO_IR 166': 'windows-874', 'ISO 2022 IR 166': 'windows-874',
  'ISO_IR 192': 'utf-8',
  'GB18030': 'gb18030',
  'GBK': 'gbk',
};

/** The decoder for a Specific Character Set value (its first value decides; see above). */
export function textDecoderFor(specificCharacterSet: string | undefined): (bytes: Buffer) => string {
  const first = (specificCharacterSet ?? '').split('\\')[0]!.trim();
  const label = DECODERS[first] ?? 'latin1';
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
