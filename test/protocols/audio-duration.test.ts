import { describe, expect, it } from 'vitest';
import { audioDuration } from '../../src/protocols/media/audio-duration.js';
import { formBoundary, formParts } from '../../src/protocols/media/multipart-form.js';
import { wavSilence } from '../helpers/audio-files.js';

// Synthetic containers: the headers real encoders write, with empty or
// silent payloads (the reader must never need the audio itself).

const u32be = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const box = (type: string, ...body: Buffer[]) => { const payload = Buffer.concat(body); return Buffer.concat([u32be(8 + payload.length), Buffer.from(type, 'latin1'), payload]); };

/** MPEG audio frames: header bytes b1 b2 then zeros to the frame's length. */
function mp3Frames(count: number, header: [number, number, number, number], length: number): Buffer {
  const f = Buffer.alloc(length);
  Buffer.from(header).copy(f);
  return Buffer.concat(Array.from({ length: count }, () => f));
}
const MPEG1_128K_44K: [number, number, number, number] = [0xff, 0xfb, 0x90, 0x00]; // 417-byte frames of 1152 samples
const MPEG1_64K_44K: [number, number, number, number] = [0xff, 0xfb, 0x50, 0x00]; // 208-byte frames
const MPEG2_32K_16K: [number, number, number, number] = [0xff, 0xf3, 0x48, 0x00]; // 576 samples at 16 kHz, 144-byte frames

function flac(rate: number, samples: number): Buffer {
  const info = Buffer.alloc(34);
  info.writeUInt16BE(4096, 0);
  info.writeUInt16BE(4096, 2);
  // 20 bits rate, 3 bits channels-1, 5 bits bps-1, 36 bits total samples.
  info[10] = rate >> 12;
  info[11] = (rate >> 4) & 0xff;
  info[12] = ((rate & 0x0f) << 4) | (1 << 1) | 0; // stereo, 16-bit (bps-1 = 15: high bit here, rest next byte)
  info[13] = (15 & 0x0f) << 4 | Math.floor(samples / 2 ** 32);
  info.writeUInt32BE(samples >>> 0, 14);
  return Buffer.concat([Buffer.from('fLaC', 'latin1'), Buffer.from([0x80, 0, 0, 34]), info, Buffer.alloc(100)]);
}

function oggPage(granule: bigint, serial: number, seq: number, packet: Buffer): Buffer {
  const h = Buffer.alloc(27);
  h.write('OggS', 0, 'latin1');
  h[5] = seq === 0 ? 2 : 0;
  h.writeBigInt64LE(granule, 6);
  h.writeUInt32LE(serial, 14);
  h.writeUInt32LE(seq, 18);
  h[26] = 1;
  return Buffer.concat([h, Buffer.from([packet.length]), packet]);
}

function vorbis(rate: number, samples: number): Buffer {
  const id = Buffer.alloc(30);
  id.write('\x01vorbis', 0, 'latin1');
  id[11] = 2;
  id.writeUInt32LE(rate, 12);
  return Buffer.concat([oggPage(0n, 77, 0, id), oggPage(BigInt(samples / 2), 77, 1, Buffer.alloc(200)), oggPage(BigInt(samples), 77, 2, Buffer.alloc(100))]);
}

function opus(seconds: number, preSkip: number): Buffer {
  const head = Buffer.alloc(19);
  head.write('OpusHead', 0, 'latin1');
  head[8] = 1;
  head[9] = 1;
  head.writeUInt16LE(preSkip, 10);
  head.writeUInt32LE(16000, 12); // the original rate: not the granule rate
  return Buffer.concat([oggPage(0n, 5, 0, head), oggPage(BigInt(seconds * 48000 + preSkip), 5, 1, Buffer.alloc(120)), oggPage(-1n, 5, 2, Buffer.alloc(10))]);
}

function mp4(timescale: number, duration: number, version: 0 | 1 = 0, moovFirst = false): Buffer {
  const mvhd = version === 0
    ? Buffer.concat([Buffer.from([0, 0, 0, 0]), Buffer.alloc(8), u32be(timescale), u32be(duration), Buffer.alloc(80)])
    : (() => { const b = Buffer.alloc(4 + 16 + 4 + 8 + 80); b[0] = 1; b.writeUInt32BE(timescale, 20); b.writeBigUInt64BE(BigInt(duration), 24); return b; })();
  const moov = box('moov', box('mvhd', mvhd), box('trak', Buffer.alloc(40)));
  const ftyp = box('ftyp', Buffer.from('M4A \0\0\0\0isomM4A ', 'latin1'));
  const mdat = box('mdat', Buffer.alloc(5000));
  return moovFirst ? Buffer.concat([ftyp, moov, mdat]) : Buffer.concat([ftyp, mdat, moov]);
}

/** A fragmented MP4 (mvhd duration 0): one track at `rate`, fragments of `perFragment` samples of 1024 ticks. */
function fragmentedMp4(rate: number, fragments: number, perFragment: number, perSampleDurations = false): Buffer {
  const full = (version: number, flags: number) => u32be((version << 24) | flags);
  const mvhd = Buffer.concat([full(0, 0), Buffer.alloc(8), u32be(1000), u32be(0), Buffer.alloc(80)]);
  const tkhd = Buffer.concat([full(0, 3), Buffer.alloc(8), u32be(1), Buffer.alloc(68)]);
  const mdhd = Buffer.concat([full(0, 0), Buffer.alloc(8), u32be(rate), u32be(0), Buffer.alloc(4)]);
  const trex = Buffer.concat([full(0, 0), u32be(1), u32be(1), u32be(1024), u32be(0), u32be(0)]);
  const moov = box('moov', box('mvhd', mvhd), box('trak', box('tkhd', tkhd), box('mdia', box('mdhd', mdhd))), box('mvex', box('trex', trex)));
  const frag = () => {
    const trun = perSampleDurations
      ? Buffer.concat([full(0, 0x100), u32be(perFragment), ...Array.from({ length: perFragment }, () => u32be(1024))])
      : Buffer.concat([full(0, 0), u32be(perFragment)]);
    return Buffer.concat([box('moof', box('traf', box('tfhd', Buffer.concat([full(0, 0), u32be(1)])), box('trun', trun))), box('mdat', Buffer.alloc(300))]);
  };
  return Buffer.concat([box('ftyp', Buffer.from('iso5\0\0\0\0iso5', 'latin1')), moov, ...Array.from({ length: fragments }, frag)]);
}

const seconds = (b: Buffer) => {
  const d = audioDuration(b);
  if (!d.ok) throw new Error(d.problem);
  return { s: d.seconds, f: d.format };
};

describe('audioDuration', () => {
  it('reads a PCM WAV from its data chunk and byte rate', () => {
    expect(seconds(wavSilence(30))).toEqual({ s: 30, f: 'wav' });
    expect(seconds(wavSilence(2.5, 44100, 2))).toEqual({ s: 2.5, f: 'wav' });
  });

  it('caps a WAV data size at the bytes present, and reads a streamed WAV (size 0xFFFFFFFF) from its bytes', () => {
    const lying = wavSilence(1);
    lying.writeUInt32LE(16000 * 2 * 3600, 40);
    expect(seconds(lying).s).toBe(1);
    const streamed = wavSilence(2);
    streamed.writeUInt32LE(0xffffffff, 40);
    expect(seconds(streamed).s).toBe(2);
  });

  it('counts MP3 frames: CBR, VBR and MPEG-2, after an ID3v2 tag', () => {
    expect(seconds(mp3Frames(100, MPEG1_128K_44K, 417)).s).toBeCloseTo((100 * 1152) / 44100, 9);
    const vbr = Buffer.concat([mp3Frames(10, MPEG1_128K_44K, 417), mp3Frames(30, MPEG1_64K_44K, 208)]);
    expect(seconds(vbr).s).toBeCloseTo((40 * 1152) / 44100, 9);
    const id3 = Buffer.concat([Buffer.from('ID3\x04\x00\x00\x00\x00\x01\x00', 'latin1'), Buffer.alloc(128, 0xff)]);
    const tagged = Buffer.concat([id3, mp3Frames(50, MPEG2_32K_16K, 144)]);
    expect(seconds(tagged)).toEqual({ s: (50 * 576) / 16000, f: 'mp3' });
  });

  it('reads FLAC STREAMINFO total samples over its sample rate', () => {
    expect(seconds(flac(44100, 44100 * 7))).toEqual({ s: 7, f: 'flac' });
    expect(audioDuration(flac(44100, 0))).toMatchObject({ ok: false, problem: expect.stringMatching(/total samples/) });
  });

  it('reads Ogg Vorbis and Opus from the last granule position', () => {
    expect(seconds(vorbis(22050, 22050 * 9))).toEqual({ s: 9, f: 'ogg' });
    expect(seconds(opus(3, 312))).toEqual({ s: 3, f: 'ogg' });
  });

  it('reads M4A/MP4 mvhd duration over timescale (moov before or after mdat, version 0 or 1), and a fragmented MP4 from its fragments', () => {
    expect(seconds(mp4(1000, 61_500))).toEqual({ s: 61.5, f: 'mp4' });
    expect(seconds(mp4(44100, 44100 * 4, 1, true))).toEqual({ s: 4, f: 'mp4' });
    expect(seconds(fragmentedMp4(44100, 3, 100))).toEqual({ s: (300 * 1024) / 44100, f: 'mp4' });
    expect(seconds(fragmentedMp4(48000, 2, 50, true))).toEqual({ s: (100 * 1024) / 48000, f: 'mp4' });
    const noMoov = mp4(1000, 1000).subarray(0, 40);
    expect(audioDuration(noMoov)).toMatchObject({ ok: false, problem: expect.stringMatching(/moov/) });
  });

  it('does not measure bytes that are no audio container', () => {
    expect(audioDuration(Buffer.from('not audio at all, just some bytes'.repeat(10)))).toMatchObject({ ok: false });
    expect(audioDuration(Buffer.alloc(30_000, 7))).toMatchObject({ ok: false });
    expect(audioDuration(Buffer.alloc(4))).toMatchObject({ ok: false });
  });
});

describe('multipart form reader', () => {
  const body = Buffer.concat([
    Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n', 'latin1'),
    Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n', 'latin1'),
    Buffer.from([0, 1, 2, 13, 10, 45, 45, 3]),
    Buffer.from('\r\n--XyZ--\r\n', 'latin1'),
  ]);

  it('finds each part and the file content byte for byte', () => {
    expect(formBoundary('multipart/form-data; boundary=XyZ')).toBe('XyZ');
    expect(formBoundary('application/json')).toBeUndefined();
    const parts = formParts(body, 'XyZ');
    expect(parts.map((p) => [p.name, p.filename])).toEqual([['model', undefined], ['file', 'a.wav']]);
    const file = parts[1]!;
    expect([...body.subarray(file.start, file.end)]).toEqual([0, 1, 2, 13, 10, 45, 45, 3]);
  });

  it('refuses a form whose closing boundary is missing', () => {
    expect(() => formParts(body.subarray(0, body.length - 12), 'XyZ')).toThrow(/truncated/);
  });
});
