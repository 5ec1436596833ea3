import { describe, expect, it } from 'vitest';
import { MllpDecoder, MllpFrameTooLarge, mllpFrame } from '../../src/reports/hl7/mllp-framing.js';

const VT = '\x0b';
const END = '\x1c\r';

describe('MLLP framing', () => {
  it('hands out whole messages however the stream is cut, and drops what lies outside frames', () => {
    const decoder = new MllpDecoder(1024);
    const stream = Buffer.from(`noise${VT}MSH|one${END}\r\n${VT}MSH|two${END}`);
    const got: string[] = [];
    for (let at = 0; at < stream.length; at += 3) got.push(...decoder.push(stream.subarray(at, at + 3)).map((m) => m.toString()));
    expect(got).toEqual(['MSH|one', 'MSH|two']);
    expect(decoder.inMessage).toBe(false);
  });

  it('starts again at a start block inside a frame: an abandoned message is never glued to the next', () => {
    const decoder = new MllpDecoder(1024);
    expect(decoder.push(Buffer.from(`${VT}MSH|half of a message`))).toEqual([]);
    expect(decoder.inMessage).toBe(true);
    expect(decoder.push(Buffer.from(`${VT}MSH|whole${END}`)).map((m) => m.toString())).toEqual(['MSH|whole']);
  });

  it('refuses a message larger than its limit, counted across chunks', () => {
    const decoder = new MllpDecoder(10);
    decoder.push(Buffer.from(`${VT}MSH|12`));
    expect(() => decoder.push(Buffer.from('3456789'))).toThrow(MllpFrameTooLarge);
  });

  it('frames a message for the wire', () => {
    expect(mllpFrame('MSA|AA|1')).toEqual(Buffer.from(`${VT}MSA|AA|1${END}`));
  });
});
