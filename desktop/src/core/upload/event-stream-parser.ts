/** One dispatched event of a text/event-stream. */
export interface ServerSentEvent {
  /** The `event:` field, or 'message' when the event named none. */
  type: string;
  /** The `data:` lines joined with LF. */
  data: string;
  /** The last `id:` seen on this stream (it persists across events until the server sets another). */
  lastEventId: string;
}

/**
 * Parses a text/event-stream body as the HTML Living Standard §9.2.6 ("Interpreting an event
 * stream") says: UTF-8 with an optional leading BOM, lines ended by CRLF, LF or a lone CR, `:`
 * comments ignored, `data:` lines joined with LF, an event dispatched on a blank line and an
 * unfinished one discarded at the end. Chunks may split anywhere: mid-line, between CR and LF,
 * inside a multi-byte character.
 */
export class EventStreamParser {
  // The BOM is stripped below, so string and byte input behave alike.
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  private started = false;
  /** The unfinished line carried over from the previous chunk. */
  private partial = '';
  /** The previous chunk ended with CR: a LF opening the next one belongs to the same line break. */
  private afterCr = false;
  private data = '';
  private eventType = '';
  private idBuffer = '';
  /** The `retry:` field's reconnection time, when the server sent one. */
  reconnectionTimeMs: number | undefined;

  constructor(
    private readonly onEvent: (event: ServerSentEvent) => void,
    /** A line longer than this fails the stream, so a server that never sends a line break cannot fill memory. */
    private readonly maxLineLength = 1024 * 1024,
  ) {}

  get lastEventId(): string {
    return this.idBuffer;
  }

  push(chunk: Uint8Array | string): void {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.startsWith('\uFEFF')) text = text.slice(1);
    }
    if (this.afterCr && text.length > 0) {
      if (text.startsWith('\n')) text = text.slice(1);
      this.afterCr = false;
    }
    const breaks = /\r\n|\r|\n/g;
    let start = 0;
    for (let match = breaks.exec(text); match; match = breaks.exec(text)) {
      // A CR ending the chunk may be the first half of a CRLF split across chunks.
      if (match[0] === '\r' && match.index === text.length - 1) this.afterCr = true;
      const line = this.partial + text.slice(start, match.index);
      this.partial = '';
      start = match.index + match[0].length;
      this.line(line);
    }
    this.partial += text.slice(start);
    if (this.partial.length > this.maxLineLength) throw new Error(`an event stream line is longer than ${this.maxLineLength} characters`);
  }

  private line(line: string): void {
    if (line === '') {
      this.dispatch();
      return;
    }
    if (line.startsWith(':')) return; // a comment (the relay's keep-alive)
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.data += `${value}\n`;
        break;
      case 'id':
        if (!value.includes('\0')) this.idBuffer = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.reconnectionTimeMs = Number(value);
        break;
      default:
        break; // unknown fields are ignored (§9.2.6)
    }
  }

  private dispatch(): void {
    // The last event id sticks even for an event with no data.
    if (this.data === '') {
      this.eventType = '';
      return;
    }
    const event: ServerSentEvent = { type: this.eventType || 'message', data: this.data.slice(0, -1), lastEventId: this.idBuffer };
    this.data = '';
    this.eventType = '';
    this.onEvent(event);
  }
}
