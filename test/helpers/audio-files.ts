// Small audio files built in memory for the duration tests: real container
// layouts, silent or empty payloads (duration readers never decode audio).

/** A PCM WAV of `seconds` of silence. */
export function wavSilence(seconds: number, rate = 16000, channels = 1, bits = 16): Buffer {
  const block = channels * (bits / 8);
  const data = Math.round(seconds * rate) * block;
  const b = Buffer.alloc(44 + data);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(36 + data, 4);
  b.write('WAVE', 8, 'latin1');
  b.write('fmt ', 12, 'latin1');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(channels, 22);
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * block, 28);
  b.writeUInt16LE(block, 32);
  b.writeUInt16LE(bits, 34);
  b.write('data', 36, 'latin1');
  b.writeUInt32LE(data, 40);
  return b;
}
