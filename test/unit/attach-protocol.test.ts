import { describe, expect, it } from 'vitest';
import {
  closeStdinFrame,
  inputFrames,
  MAX_FRAME,
  MonitorFrameReader,
  resizeFrame,
} from '../../src/runtime/attach-protocol.js';

describe('attach protocol', () => {
  it('frames keystrokes, splitting what is longer than one frame', () => {
    expect(inputFrames(Buffer.from('ab'))).toEqual(Buffer.from('i\x02\x00\x00\x00ab', 'latin1'));
    const big = inputFrames(Buffer.alloc(MAX_FRAME + 1, 0x61));
    expect(big.length).toBe(MAX_FRAME + 1 + 10);
    expect(big.subarray(MAX_FRAME + 5, MAX_FRAME + 10)).toEqual(Buffer.from('i\x01\x00\x00\x00', 'latin1'));
    expect(inputFrames(Buffer.alloc(0))).toEqual(Buffer.alloc(0));
  });

  it('frames a window size as u16 rows, u16 cols', () => {
    expect(resizeFrame(24, 336)).toEqual(Buffer.from('w\x04\x00\x00\x00\x18\x00\x50\x01', 'latin1'));
    expect(() => resizeFrame(65536, 1)).toThrow(RangeError);
  });

  it('frames the end of the input with no payload', () => {
    expect(closeStdinFrame()).toEqual(Buffer.from('c\x00\x00\x00\x00', 'latin1'));
  });

  it('reads stdout, stderr and exit frames across chunk boundaries', () => {
    const reader = new MonitorFrameReader();
    const stream = Buffer.from(
      'o\x03\x00\x00\x00hi\ne\x02\x00\x00\x00!\no\x00\x00\x00\x00x\x04\x00\x00\x00\xfd\xff\xff\xff',
      'latin1',
    );
    const frames = [...stream].flatMap((byte) => reader.push(Buffer.from([byte])));
    expect(frames).toEqual([
      { type: 'output', stream: 'stdout', data: Buffer.from('hi\n') },
      { type: 'output', stream: 'stderr', data: Buffer.from('!\n') },
      { type: 'output', stream: 'stdout', data: Buffer.alloc(0) },
      { type: 'exit', exitCode: -3 },
    ]);
  });

  it.each([
    ['an unknown type', 'i\x00\x00\x00\x00'],
    ['a client frame', 'c\x00\x00\x00\x00'],
    ['an oversized frame', 'o\x01\x40\x00\x00'],
    ['an exit frame of 3 bytes', 'x\x03\x00\x00\x00'],
  ])('refuses %s', (_, bytes) => {
    expect(() => new MonitorFrameReader().push(Buffer.from(bytes, 'latin1'))).toThrow(RangeError);
  });
});
