/**
 * MLLP framing (HL7 v2 Minimal Lower Layer Protocol, HL7 v2.5.1 Implementation Guide C.4): each
 * message is sent as <VT> message <FS><CR> (0x0B ... 0x1C 0x0D). The decoder takes a TCP stream's
 * chunks and hands out whole messages; a message larger than `maxMessageBytes` is a protocol
 * error, and bytes outside a frame (line noise, a keep-alive) are dropped, never kept.
 */
export const START_BLOCK = 0x0b;
export const END_BLOCK = 0x1c;
export const CARRIAGE_RETURN = 0x0d;

export class MllpFrameTooLarge extends Error {}

export class MllpDecoder {
  private parts: Buffer[] = [];
  private size = 0;
  private inFrame = false;

  constructor(private readonly maxMessageBytes: number) {}

  /** A message has begun and not ended. */
  get inMessage(): boolean {
    return this.inFrame;
  }

  /** The whole messages the chunk completes, in order. Throws MllpFrameTooLarge. */
  push(chunk: Buffer): Buffer[] {
    const messages: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (!this.inFrame) {
        const start = chunk.indexOf(START_BLOCK, at);
        if (start === -1) return messages;
        this.inFrame = true;
        at = start + 1;
        continue;
      }
      const end = chunk.indexOf(END_BLOCK, at);
      // A new start block inside a frame: the sender gave the last message up and began again. What
      // came before it is dropped, never glued to the next message.
      const restart = chunk.indexOf(START_BLOCK, at);
      if (restart !== -1 && (end === -1 || restart < end)) {
        this.parts = [];
        this.size = 0;
        at = restart + 1;
        continue;
      }
      const piece = chunk.subarray(at, end === -1 ? chunk.length : end);
      this.size += piece.length;
      if (this.size > this.maxMessageBytes) throw new MllpFrameTooLarge(`an HL7 message is larger than ${this.maxMessageBytes} bytes`);
      this.parts.push(piece);
      if (end === -1) return messages;
      messages.push(Buffer.concat(this.parts));
      this.parts = [];
      this.size = 0;
      this.inFrame = false;
      // The CR after FS belongs to the frame's end; tolerate its absence.
      at = chunk[end + 1] === CARRIAGE_RETURN ? end + 2 : end + 1;
    }
    return messages;
  }
}

/** One message framed for the wire. */
export function mllpFrame(message: string): Buffer {
  return Buffer.concat([Buffer.from([START_BLOCK]), Buffer.from(message, 'utf8'), Buffer.from([END_BLOCK, CARRIAGE_RETURN])]);
}
