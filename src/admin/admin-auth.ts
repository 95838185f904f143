import { createHash, timingSafeEqual } from 'node:crypto';

/** Constant-time check of `Authorization: Bearer <adminToken>`. */
export function isAdmin(authorization: string, adminToken: string | undefined): boolean {
  if (!adminToken || !authorization.startsWith('Bearer ')) return false;
  const a = createHash('sha256').update(authorization.slice(7).trim()).digest();
  const b = createHash('sha256').update(adminToken).digest();
  return timingSafeEqual(a, b);
}
