/**
 * A small reader for XML property lists (Apple's PropertyList-1.0 DTD): dict, array, string, integer,
 * real, true, false, date and data. Managed preferences are usually stored as binary plists; the loader
 * converts those with `plutil -convert xml1` first (macOS only), so only the XML form is parsed here.
 * Written by hand because a policy reader should not pull an XML library into the app for six elements.
 */

export type PlistValue = string | number | boolean | Date | Uint8Array | PlistValue[] | { [key: string]: PlistValue };

export class PlistParseError extends Error {}

interface Token { kind: 'open' | 'close' | 'empty'; name: string; at: number }

export function parseXmlPlist(xml: string): PlistValue {
  const reader = new Reader(xml.replace(/^\uFEFF/, ''));
  reader.skipProlog();
  const root = reader.expectOpen('plist');
  if (root.kind === 'empty') throw new PlistParseError('the plist is empty');
  const value = reader.value();
  reader.expectClose('plist');
  reader.skipMisc();
  if (!reader.atEnd()) throw new PlistParseError(`unexpected content after </plist> at offset ${reader.pos}`);
  return value;
}

class Reader {
  pos = 0;
  constructor(private readonly text: string) {}

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  /** <?xml ...?>, <!DOCTYPE ...>, comments and whitespace before the root. */
  skipProlog(): void {
    for (;;) {
      this.skipMisc();
      if (this.text.startsWith('<?', this.pos)) this.skipPast('?>');
      else if (this.text.startsWith('<!DOCTYPE', this.pos)) this.skipPast('>');
      else return;
    }
  }

  skipMisc(): void {
    for (;;) {
      while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
      if (this.text.startsWith('<!--', this.pos)) this.skipPast('-->');
      else return;
    }
  }

  private skipPast(end: string): void {
    const index = this.text.indexOf(end, this.pos);
    if (index < 0) throw new PlistParseError(`unterminated markup at offset ${this.pos}`);
    this.pos = index + end.length;
  }

  private tag(): Token {
    this.skipMisc();
    const at = this.pos;
    const match = /^<(\/?)([A-Za-z][\w.-]*)((?:\s+[\w:-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/.exec(this.text.slice(this.pos, this.pos + 512));
    if (!match) throw new PlistParseError(`expected an element at offset ${at}: ${JSON.stringify(this.text.slice(at, at + 40))}`);
    this.pos += match[0].length;
    return { kind: match[1] ? 'close' : match[4] ? 'empty' : 'open', name: match[2]!, at };
  }

  expectOpen(name: string): Token {
    const token = this.tag();
    if (token.kind === 'close' || token.name !== name) throw new PlistParseError(`expected <${name}> at offset ${token.at}`);
    return token;
  }

  expectClose(name: string): void {
    const token = this.tag();
    if (token.kind !== 'close' || token.name !== name) throw new PlistParseError(`expected </${name}> at offset ${token.at}, found <${token.kind === 'close' ? '/' : ''}${token.name}>`);
  }

  /** Character data up to the next tag, entities decoded; CDATA sections kept as they are. */
  private characters(): string {
    let out = '';
    for (;;) {
      if (this.text.startsWith('<![CDATA[', this.pos)) {
        const end = this.text.indexOf(']]>', this.pos);
        if (end < 0) throw new PlistParseError(`unterminated CDATA at offset ${this.pos}`);
        out += this.text.slice(this.pos + 9, end);
        this.pos = end + 3;
        continue;
      }
      if (this.text.startsWith('<!--', this.pos)) {
        this.skipPast('-->');
        continue;
      }
      const next = this.text.indexOf('<', this.pos);
      if (next < 0) throw new PlistParseError('unexpected end of the plist');
      out += decodeEntities(this.text.slice(this.pos, next), this.pos);
      this.pos = next;
      if (!this.text.startsWith('<![CDATA[', this.pos) && !this.text.startsWith('<!--', this.pos)) return out;
    }
  }

  value(token = this.tag()): PlistValue {
    if (token.kind === 'close') throw new PlistParseError(`unexpected </${token.name}> at offset ${token.at}`);
    const empty = token.kind === 'empty';
    switch (token.name) {
      case 'true': if (!empty) this.expectClose('true'); return true;
      case 'false': if (!empty) this.expectClose('false'); return false;
      case 'string': return empty ? '' : this.textOf('string');
      case 'integer': {
        const text = empty ? '' : this.textOf('integer').trim();
        if (!/^[+-]?(\d+|0x[0-9a-fA-F]+)$/.test(text)) throw new PlistParseError(`<integer> at offset ${token.at} is not a whole number: ${JSON.stringify(text)}`);
        return Number(text.startsWith('-') ? -BigInt(text.slice(1)) : BigInt(text.replace(/^\+/, '')));
      }
      case 'real': {
        const text = empty ? '' : this.textOf('real').trim();
        const number = Number(text);
        if (text === '' || Number.isNaN(number)) throw new PlistParseError(`<real> at offset ${token.at} is not a number: ${JSON.stringify(text)}`);
        return number;
      }
      case 'date': {
        const text = empty ? '' : this.textOf('date').trim();
        const date = new Date(text);
        if (Number.isNaN(date.getTime())) throw new PlistParseError(`<date> at offset ${token.at} is not an ISO 8601 date: ${JSON.stringify(text)}`);
        return date;
      }
      case 'data': return empty ? new Uint8Array() : new Uint8Array(Buffer.from(this.textOf('data').replace(/\s+/g, ''), 'base64'));
      case 'array': {
        const items: PlistValue[] = [];
        if (empty) return items;
        for (;;) {
          const next = this.tag();
          if (next.kind === 'close') {
            if (next.name !== 'array') throw new PlistParseError(`expected </array> at offset ${next.at}`);
            return items;
          }
          items.push(this.value(next));
        }
      }
      case 'dict': {
        const dict: Record<string, PlistValue> = Object.create(null) as Record<string, PlistValue>;
        if (empty) return { ...dict };
        for (;;) {
          const next = this.tag();
          if (next.kind === 'close') {
            if (next.name !== 'dict') throw new PlistParseError(`expected </dict> at offset ${next.at}`);
            return { ...dict };
          }
          if (next.name !== 'key' || next.kind === 'empty') throw new PlistParseError(`expected <key> in <dict> at offset ${next.at}, found <${next.name}>`);
          const key = this.textOf('key');
          if (Object.hasOwn(dict, key)) throw new PlistParseError(`the key "${key}" appears twice in one <dict> (offset ${next.at})`);
          dict[key] = this.value();
        }
      }
      default:
        throw new PlistParseError(`<${token.name}> at offset ${token.at} is not a plist element`);
    }
  }

  private textOf(name: string): string {
    const text = this.characters();
    this.expectClose(name);
    return text;
  }
}

function decodeEntities(text: string, offset: number): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);|&/g, (whole, entity: string | undefined) => {
    if (entity === undefined) throw new PlistParseError(`a bare "&" near offset ${offset}: write &amp;`);
    if (entity.startsWith('#x')) return String.fromCodePoint(parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(parseInt(entity.slice(1), 10));
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[entity as 'amp']!;
  });
}

/** Binary plists start with this magic; they need `plutil -convert xml1` before parseXmlPlist. */
export function isBinaryPlist(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && Buffer.from(bytes.subarray(0, 8)).toString('latin1') === 'bplist00';
}
