import { hash, timingSafeEqual } from 'node:crypto';

// Client keys are held only as SHA-256 hashes. Lookup goes through a Map keyed
// by the hex hash (timing there reveals only the hash of a guess, not the key),
// then the bytes are compared in constant time.

export function hashKey(key: string): string {
  return hash('sha256', key, 'hex');
}

export function sameHash(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}
