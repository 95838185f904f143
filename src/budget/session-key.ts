import { createHash, hash } from 'node:crypto';

// The session table's key for a (customer, session) pair: the first 64 bits
// of SHA-256 over both. An unkeyed but cryptographic hash, so a client cannot
// craft a session id whose key lands on another customer's session (that
// takes ~2^64 tries); two honest sessions share a key with odds of about
// n / 2^64 per new session (n live sessions: ~5e-14 at a million).

export interface SessionKey {
  /** The 64-bit key, never 0 (empty) or -1 (being reclaimed). */
  key: bigint;
  /** Low and high 32 bits: the two candidate buckets. */
  lo: number;
  hi: number;
}

// SHA-256 costs a few µs; a session usually makes several calls, so each
// thread keeps the keys of its most recent sessions (bounded, oldest out).
const RECENT = 4096;
const recent = new Map<string, SessionKey>();

export function sessionKey(customer: string, session: string): SessionKey {
  const name = `${customer}\u0000${session}`;
  const hit = recent.get(name);
  if (hit) return hit;
  // crypto.hash (Node >= 20.12) skips the Hash object; createHash otherwise.
  const d = typeof hash === 'function' ? hash('sha256', name, 'buffer') : createHash('sha256').update(name).digest();
  let key = d.readBigInt64LE(0);
  if (key === 0n || key === -1n) key = 1n;
  const k = { key, lo: Number(BigInt.asUintN(32, key)), hi: Number(BigInt.asUintN(32, key >> 32n)) };
  if (recent.size >= RECENT) recent.delete(recent.keys().next().value!);
  recent.set(name, k);
  return k;
}
