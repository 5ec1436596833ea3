// The text/event-stream parser on input cut the awkward ways a network cuts it (HTML Living
// Standard §9.2.6). Pure code: no peers needed.
import { describe, expect, it } from 'vitest';
import { EventStreamParser, type ServerSentEvent } from '../../../src/core/upload/event-stream-parser.js';

function parse(chunks: (string | Uint8Array)[]): { events: ServerSentEvent[]; parser: EventStreamParser } {
  const events: ServerSentEvent[] = [];
  const parser = new EventStreamParser((e) => events.push(e));
  for (const chunk of chunks) parser.push(chunk);
  return { events, parser };
}

/** Every way of cutting `text` in two, as bytes (so multi-byte characters get split too). */
function everySplit(text: string): Uint8Array[][] {
  const bytes = new TextEncoder().encode(text);
  return Array.from({ length: bytes.length + 1 }, (_, i) => [bytes.subarray(0, i), bytes.subarray(i)]);
}

describe('event stream parser', () => {
  it('reads what the relay sends: comments, id, event and JSON data', () => {
    const { events, parser } = parse([': connected\n\nid: 1\nevent: delivered\ndata: {"type":"delivered","uploadId":"u1","instance":0}\n\n: keep-alive\n\n']);
    expect(events).toEqual([{ type: 'delivered', data: '{"type":"delivered","uploadId":"u1","instance":0}', lastEventId: '1' }]);
    expect(parser.lastEventId).toBe('1');
  });

  it('gives the same events however the stream is split, even between CR and LF or inside a character', () => {
    const stream = '\uFEFFid: 7\r\nevent: confirmed\r\ndata: first line\r\ndata:second line\r\ndata\r\n: a comment: with colons\r\ndata:  two spaces, one kept\r\n\r\n'
      + 'data: é → ✓ 🩻\rid\r\r' // lone CRs; an empty id resets it
      + 'event: failed\ndata: {"reason":"x"}\n\n';
    const expected = [
      { type: 'confirmed', data: 'first line\nsecond line\n\n two spaces, one kept', lastEventId: '7' },
      { type: 'message', data: 'é → ✓ 🩻', lastEventId: '' },
      { type: 'failed', data: '{"reason":"x"}', lastEventId: '' },
    ];
    expect(parse([stream]).events).toEqual(expected);
    for (const chunks of everySplit(stream)) expect(parse(chunks).events).toEqual(expected);
    // One byte at a time.
    expect(parse([...new TextEncoder().encode(stream)].map((b) => Uint8Array.of(b))).events).toEqual(expected);
  });

  it('ends a line at a CR that closes a chunk, without eating a blank line after it', () => {
    expect(parse(['data: a\r', '\n', '\n']).events).toEqual([{ type: 'message', data: 'a', lastEventId: '' }]);
    expect(parse(['data: a\r', '\r']).events).toEqual([{ type: 'message', data: 'a', lastEventId: '' }]);
  });

  it('keeps the last id across events, ignores an id with NUL, unknown fields and an unfinished event', () => {
    const { events, parser } = parse(['id: 3\n\n', 'data: x\n\n', 'id: bad\0id\ndata: y\n\n', 'retry: 2500\nretry: soon\nfoo: bar\n\n', 'data: never finished\n']);
    expect(events).toEqual([{ type: 'message', data: 'x', lastEventId: '3' }, { type: 'message', data: 'y', lastEventId: '3' }]);
    expect(parser.reconnectionTimeMs).toBe(2500);
  });

  it('refuses a line that never ends', () => {
    const parser = new EventStreamParser(() => undefined, 100);
    expect(() => parser.push(`data: ${'x'.repeat(200)}`)).toThrow(/longer than 100/);
  });
});
