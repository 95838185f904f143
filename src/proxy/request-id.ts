import { randomFillSync } from 'node:crypto';

// Time-ordered, globally unique ids (ULID layout: 48-bit ms time + 80 random
// bits, Crockford base32), so ids from any node sort by time and never collide.

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const pool = new Uint8Array(4096);
let offset = pool.length;

function randomByte(): number {
  if (offset >= pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  return pool[offset++]!;
}

export function newRequestId(now = Date.now()): string {
  let t = now;
  let time = '';
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  let rand = '';
  for (let i = 0; i < 16; i++) rand += ALPHABET[randomByte() & 31];
  return `req_${time}${rand}`;
}
