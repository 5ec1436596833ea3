/**
 * An HL7 v2 message read as segments and fields (HL7 v2.5.1 Chapter 2): segments end with CR, the
 * field separator is MSH-1 (the character after "MSH"), the component, repetition, escape and
 * subcomponent characters are MSH-2. Field numbers are HL7's: MSH-1 is the separator itself, so
 * for MSH the split index is one less than for other segments.
 */
export class Hl7Message {
  readonly segments: string[][];
  private readonly component: string;
  private readonly repetition: string;
  private readonly escape: string;

  private constructor(segments: string[][], encoding: string) {
    this.segments = segments;
    this.component = encoding[0] ?? '^';
    this.repetition = encoding[1] ?? '~';
    this.escape = encoding[2] ?? '\\';
  }

  /** Parses a message; throws when it does not start with an MSH segment. */
  static parse(text: string): Hl7Message {
    // Segments end with CR (v2.5.1 §2.5.3); a line feed is a segment end only where no CR is used at all
    // (a free-text field may hold a raw line feed).
    const lines = (text.includes('\r') ? text.replace(/\r\n/g, '\r').split('\r') : text.split('\n')).filter((line) => line.length > 0);
    const msh = lines[0];
    if (!msh?.startsWith('MSH') || msh.length < 8) throw new Error('the message does not start with an MSH segment');
    const separator = msh[3]!;
    const encoding = msh.slice(4, msh.indexOf(separator, 4) === -1 ? 8 : msh.indexOf(separator, 4));
    return new Hl7Message(lines.map((line) => line.split(separator)), encoding);
  }

  /** The segments with this id, e.g. "OBX", in order. */
  all(id: string): string[][] {
    return this.segments.filter((segment) => segment[0] === id);
  }

  /** A field of a segment by HL7's number (MSH-9, OBR-25), raw (components and escapes kept). */
  field(segment: string[] | undefined, number: number): string {
    if (!segment) return '';
    return segment[segment[0] === 'MSH' ? number - 1 : number] ?? '';
  }

  /** One component (1-based) of a field's first repetition, unescaped. */
  componentOf(segment: string[] | undefined, number: number, component = 1): string {
    const first = this.field(segment, number).split(this.repetition)[0] ?? '';
    return this.unescape(first.split(this.component)[component - 1] ?? '');
  }

  /** Every repetition of a field, each unescaped whole (components joined by spaces): free text. */
  text(segment: string[] | undefined, number: number): string[] {
    return this.field(segment, number).split(this.repetition).map((rep) => this.unescape(rep.split(this.component).join(' ')));
  }

  /** HL7 escape sequences (v2.5.1 §2.7.4): separators, and \.br\ as a line break; others removed. */
  unescape(value: string): string {
    const e = this.escape;
    if (!value.includes(e)) return value;
    const pattern = new RegExp(`${escapeRegExp(e)}([^${escapeRegExp(e)}]*)${escapeRegExp(e)}`, 'g');
    return value.replace(pattern, (_, code: string) => {
      switch (code) {
        case 'F': return '|';
        case 'S': return this.component;
        case 'T': return '&';
        case 'R': return this.repetition;
        case 'E': return e;
        case '.br': return '\n';
        default: return '';
      }
    });
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
