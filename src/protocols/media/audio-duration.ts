// How long an uploaded audio file plays, read from its container's own
// bookkeeping: headers, the last Ogg page, or (MP3, which has no reliable
// header) the chain of frame headers. Never decodes audio. PURE.
//
// What each format gives, and how exact it is:
// - WAV: data chunk bytes / byte rate (fmt chunk). The data size is capped at
//   the bytes actually present, so a header claiming more cannot inflate it.
// - FLAC: STREAMINFO total samples / sample rate (exact; 0 samples = unknown).
// - Ogg Vorbis / Opus: the last page's granule position / the identification
//   header's rate (Opus: 48 kHz minus pre-skip). Exact.
// - M4A / MP4: mvhd duration / timescale (exact; 0 = fragmented, unknown).
// - MP3: walks the frame headers (4 bytes each, hopping frame to frame) and
//   counts samples: exact for CBR and VBR alike, whatever a Xing/VBRI header
//   claims (that frame itself is not counted). Bytes between frames that are
//   not a frame are skipped. An upper bound by the encoder's delay and
//   padding (about 50 ms: LAME's tag is not read).
// Anything else (WebM, AAC ADTS, a truncated header) is not measured.

export type AudioFormat = 'wav' | 'mp3' | 'flac' | 'ogg' | 'mp4';

export type AudioDuration =
  | { ok: true; seconds: number; format: AudioFormat }
  | { ok: false; problem: string };

const fail = (problem: string): AudioDuration => ({ ok: false, problem });
const ok = (seconds: number, format: AudioFormat): AudioDuration =>
  Number.isFinite(seconds) && seconds > 0 ? { ok: true, seconds, format } : fail(`the ${format} file declares no playable length`);

export function audioDuration(b: Uint8Array): AudioDuration {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.length < 12) return fail('the file is too short to be audio');
  if (buf.toString('latin1', 0, 4) === 'RIFF' && buf.toString('latin1', 8, 12) === 'WAVE') return wavDuration(buf);
  if (buf.toString('latin1', 0, 4) === 'OggS') return oggDuration(buf);
  if (buf.toString('latin1', 4, 8) === 'ftyp') return mp4Duration(buf);
  const start = id3v2End(buf);
  if (buf.length >= start + 4 && buf.toString('latin1', start, start + 4) === 'fLaC') return flacDuration(buf, start);
  return mp3Duration(buf, start);
}

function wavDuration(b: Buffer): AudioDuration {
  let byteRate = 0;
  for (let p = 12; p + 8 <= b.length;) {
    const id = b.toString('latin1', p, p + 4);
    const size = b.readUInt32LE(p + 4);
    const body = p + 8;
    if (id === 'fmt ') {
      if (body + 16 > b.length) break;
      byteRate = b.readUInt32LE(body + 8);
    } else if (id === 'data') {
      if (!byteRate) return fail('the WAV file has no fmt chunk before its data');
      // Streamed WAVs write 0 or 0xFFFFFFFF here: the bytes present are the data.
      const present = b.length - body;
      const bytes = size === 0 || size === 0xffffffff ? present : Math.min(size, present);
      return ok(bytes / byteRate, 'wav');
    }
    p = body + size + (size & 1);
  }
  return fail('the WAV file has no data chunk');
}

function flacDuration(b: Buffer, start: number): AudioDuration {
  const p = start + 4;
  if (p + 4 + 34 > b.length || (b[p]! & 0x7f) !== 0) return fail('the FLAC file does not start with STREAMINFO');
  const s = p + 4;
  const rate = (b[s + 10]! << 12) | (b[s + 11]! << 4) | (b[s + 12]! >> 4);
  const total = (b[s + 13]! & 0x0f) * 2 ** 32 + b.readUInt32BE(s + 14);
  if (!rate) return fail('the FLAC STREAMINFO has no sample rate');
  if (!total) return fail('the FLAC STREAMINFO does not state its total samples');
  return ok(total / rate, 'flac');
}

function oggDuration(b: Buffer): AudioDuration {
  // First page: header is 27 bytes + segment table; the first packet follows.
  const segs = b[26];
  if (segs === undefined) return fail('the Ogg page is truncated');
  const pkt = 27 + segs;
  let rate: number;
  let preSkip = 0;
  if (b.toString('latin1', pkt, pkt + 7) === '\x01vorbis' && pkt + 16 <= b.length) {
    rate = b.readUInt32LE(pkt + 12);
  } else if (b.toString('latin1', pkt, pkt + 8) === 'OpusHead' && pkt + 12 <= b.length) {
    rate = 48000; // Opus granules always count 48 kHz samples
    preSkip = b.readUInt16LE(pkt + 10);
  } else {
    return fail('the Ogg stream is neither Vorbis nor Opus');
  }
  const serial = b.readUInt32LE(14);
  // The last page of the stream carries its final granule position.
  for (let p = b.lastIndexOf('OggS', b.length - 27, 'latin1'); p >= 0; p = p > 0 ? b.lastIndexOf('OggS', p - 1, 'latin1') : -1) {
    if (p + 27 > b.length || b.readUInt32LE(p + 14) !== serial) continue;
    const granule = Number(b.readBigInt64LE(p + 6));
    if (granule < 0) continue; // -1: no packet ends on this page
    if (!rate) return fail('the Ogg identification header has no sample rate');
    return ok((granule - preSkip) / rate, 'ogg');
  }
  return fail('the Ogg stream has no page with a granule position');
}

function mp4Duration(b: Buffer): AudioDuration {
  const moov = findBox(b, 0, b.length, 'moov');
  if (!moov) return fail('the MP4 file has no moov box (only its start was sent?)');
  const mvhd = findBox(b, moov.start, moov.end, 'mvhd');
  if (!mvhd || mvhd.start + 32 > b.length) return fail('the MP4 file has no mvhd box');
  const v = b[mvhd.start]!;
  const p = mvhd.start + 4;
  const [scale, duration] = v === 1
    ? [b.readUInt32BE(p + 16), Number(b.readBigUInt64BE(p + 20))]
    : [b.readUInt32BE(p + 8), b.readUInt32BE(p + 12)];
  if (!scale) return fail('the MP4 mvhd box has no timescale');
  if (duration > 0) return ok(duration / scale, 'mp4');
  return fragmentedMp4Duration(b, moov);
}

/**
 * A fragmented MP4 (Safari's MediaRecorder writes them) states no duration in
 * mvhd: its samples are listed in moof boxes. Sums every fragment's sample
 * durations (trun, else tfhd's or trex's default) per track, in the track's
 * own timescale (mdhd); the longest track is the file's length.
 */
function fragmentedMp4Duration(b: Buffer, moov: { start: number; end: number }): AudioDuration {
  const tracks = new Map<number, { scale: number; defaultDuration: number; total: number }>();
  for (const trak of boxes(b, moov.start, moov.end, 'trak')) {
    const tkhd = findBox(b, trak.start, trak.end, 'tkhd');
    const mdia = findBox(b, trak.start, trak.end, 'mdia');
    const mdhd = mdia && findBox(b, mdia.start, mdia.end, 'mdhd');
    if (!tkhd || !mdhd || tkhd.start + 24 > b.length || mdhd.start + 24 > b.length) continue;
    const id = b.readUInt32BE(tkhd.start + (b[tkhd.start] === 1 ? 20 : 12));
    const scale = b.readUInt32BE(mdhd.start + (b[mdhd.start] === 1 ? 20 : 12));
    tracks.set(id, { scale, defaultDuration: 0, total: 0 });
  }
  const mvex = findBox(b, moov.start, moov.end, 'mvex');
  for (const trex of mvex ? boxes(b, mvex.start, mvex.end, 'trex') : []) {
    const t = trex.start + 12 <= b.length ? tracks.get(b.readUInt32BE(trex.start + 4)) : undefined;
    if (t) t.defaultDuration = b.readUInt32BE(trex.start + 12);
  }
  for (const moof of boxes(b, 0, b.length, 'moof')) {
    for (const traf of boxes(b, moof.start, moof.end, 'traf')) {
      const tfhd = findBox(b, traf.start, traf.end, 'tfhd');
      if (!tfhd || tfhd.start + 8 > b.length) continue;
      const t = tracks.get(b.readUInt32BE(tfhd.start + 4));
      if (!t) continue;
      const hf = b.readUInt32BE(tfhd.start) & 0xffffff;
      // tfhd optional fields in order: base offset (8), description index (4), default duration (4).
      let q = tfhd.start + 8 + (hf & 0x01 ? 8 : 0) + (hf & 0x02 ? 4 : 0);
      const fragDefault = hf & 0x08 && q + 4 <= b.length ? b.readUInt32BE(q) : t.defaultDuration;
      for (const trun of boxes(b, traf.start, traf.end, 'trun')) {
        if (trun.start + 8 > b.length) continue;
        const f = b.readUInt32BE(trun.start) & 0xffffff;
        const count = b.readUInt32BE(trun.start + 4);
        if (!(f & 0x100)) {
          t.total += count * fragDefault;
          continue;
        }
        // Per sample: duration (4), size (4), flags (4), composition offset (4), as the flags say.
        const stride = 4 * [0x100, 0x200, 0x400, 0x800].filter((bit) => f & bit).length;
        q = trun.start + 8 + (f & 0x01 ? 4 : 0) + (f & 0x04 ? 4 : 0);
        for (let i = 0; i < count && q + 4 <= trun.end; i++, q += stride) t.total += b.readUInt32BE(q);
      }
    }
  }
  let seconds = 0;
  for (const t of tracks.values()) if (t.scale) seconds = Math.max(seconds, t.total / t.scale);
  return seconds > 0 ? ok(seconds, 'mp4') : fail('the MP4 file states no duration in mvhd and has no fragments to count');
}

/** Every box named `type` among the boxes in [from, to). */
function boxes(b: Buffer, from: number, to: number, type: string): Array<{ start: number; end: number }> {
  const out: Array<{ start: number; end: number }> = [];
  for (let p = from; ;) {
    const next = findBoxAt(b, p, to);
    if (!next) return out;
    if (next.type === type) out.push({ start: next.start, end: next.end });
    p = next.end;
  }
}

/** The first box named `type` among the boxes in [from, to): its payload's range. */
function findBox(b: Buffer, from: number, to: number, type: string): { start: number; end: number } | undefined {
  for (let p = from; ;) {
    const next = findBoxAt(b, p, to);
    if (!next) return undefined;
    if (next.type === type) return next;
    p = next.end;
  }
}

/** The box whose header starts at p: its type, payload start and end (undefined past `to` or when damaged). */
function findBoxAt(b: Buffer, p: number, to: number): { type: string; start: number; end: number } | undefined {
  if (p + 8 > to) return undefined;
  let size = b.readUInt32BE(p);
  let header = 8;
  if (size === 1) {
    if (p + 16 > to) return undefined;
    size = Number(b.readBigUInt64BE(p + 8));
    header = 16;
  } else if (size === 0) {
    size = to - p;
  }
  if (size < header) return undefined;
  return { type: b.toString('latin1', p + 4, p + 8), start: p + header, end: Math.min(p + size, to) };
}

/** Where the audio starts after an ID3v2 tag (0 when there is none). */
function id3v2End(b: Buffer): number {
  if (b.length < 10 || b.toString('latin1', 0, 3) !== 'ID3') return 0;
  const size = ((b[6]! & 0x7f) << 21) | ((b[7]! & 0x7f) << 14) | ((b[8]! & 0x7f) << 7) | (b[9]! & 0x7f);
  return 10 + size + (b[5]! & 0x10 ? 10 : 0);
}

// kbit/s by [version MPEG1 ? 0 : 1][layer 1..3][index].
const BITRATES = [
  [[], [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448], [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384], [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]],
  [[], [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256], [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160], [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]],
];
const RATES: Record<number, number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };

interface Frame { length: number; samples: number; rate: number }

/** The MPEG audio frame whose header starts at p, if it is one. */
function frameAt(b: Buffer, p: number): Frame | undefined {
  if (p + 4 > b.length || b[p] !== 0xff || (b[p + 1]! & 0xe0) !== 0xe0) return undefined;
  const version = (b[p + 1]! >> 3) & 3; // 3 = MPEG1, 2 = MPEG2, 0 = MPEG2.5
  const layer = 4 - ((b[p + 1]! >> 1) & 3); // 1..3
  const bitIndex = b[p + 2]! >> 4;
  const rateIndex = (b[p + 2]! >> 2) & 3;
  const padding = (b[p + 2]! >> 1) & 1;
  if (version === 1 || layer === 4 || bitIndex === 0 || bitIndex === 15 || rateIndex === 3) return undefined;
  const kbps = BITRATES[version === 3 ? 0 : 1]![layer]![bitIndex]!;
  const rate = RATES[version]![rateIndex]!;
  const samples = layer === 1 ? 384 : layer === 3 && version !== 3 ? 576 : 1152;
  const length = layer === 1 ? (Math.floor((12 * kbps * 1000) / rate) + padding) * 4 : Math.floor(((samples / 8) * kbps * 1000) / rate) + padding;
  return { length, samples, rate };
}

function isInfoFrame(b: Buffer, p: number, length: number): boolean {
  const text = b.toString('latin1', p + 4, Math.min(p + length, p + 48, b.length));
  return text.includes('Xing') || text.includes('Info') || text.includes('VBRI');
}

function mp3Duration(b: Buffer, start: number): AudioDuration {
  // Whole samples per sample rate, divided once: no float drift over thousands of frames.
  const samples = new Map<number, number>();
  let frames = 0;
  let p = start;
  // A Xing/Info/VBRI frame at the start is the encoder's table of contents, not audio.
  const first = frameAt(b, p);
  if (first && isInfoFrame(b, p, first.length)) p += first.length;
  while (p + 4 <= b.length) {
    const f = frameAt(b, p);
    // A frame counts only when it is followed by another or ends the file: random bytes are rarely a chain.
    if (f && (p + f.length === b.length || p + f.length + 128 === b.length || frameAt(b, p + f.length) || p + f.length > b.length)) {
      samples.set(f.rate, (samples.get(f.rate) ?? 0) + f.samples);
      frames++;
      p += f.length;
    } else {
      p++;
    }
  }
  if (frames < 2) return fail('the file is not WAV, MP3, FLAC, Ogg (Vorbis, Opus) or M4A/MP4, or its header is damaged');
  let seconds = 0;
  for (const [rate, n] of samples) seconds += n / rate;
  return ok(seconds, 'mp3');
}
