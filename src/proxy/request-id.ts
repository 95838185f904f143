import { randomFillSync } from 'node:crypto';

// Time-ordered, globally unique ids (ULID layout: 48-bit ms time + 80 random
// bits, Crockford base32), so ids from any node sort by time and never collide.
// Written byte by byte into one buffer (one string per id, none per character);
// the time part is re-encoded only when the millisecond changes.

const ALPHABET = Buffer.from('0123456789ABCDEFGHJKMNPQRSTVWXYZ', 'latin1');
const pool = new Uint8Array(4096);
let offset = pool.length;

const PREFIX = 'req_';
const TIME_AT = PREFIX.length; // 10 characters of time
const RAND_AT = TIME_AT + 10; // 16 random characters
const id = Buffer.alloc(RAND_AT + 16);
id.write(PREFIX, 'latin1');
let encodedMs = -1;

export function newRequestId(now = Date.now()): string {
  if (now !== encodedMs) {
    encodedMs = now;
    let t = now;
    for (let i = RAND_AT - 1; i >= TIME_AT; i--) {
      id[i] = ALPHABET[t % 32]!;
      t = Math.floor(t / 32);
    }
  }
  if (offset + 16 > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  for (let i = RAND_AT; i < id.length; i++) id[i] = ALPHABET[pool[offset++]! & 31]!;
  return id.toString('latin1');
}
