import { createHash, timingSafeEqual } from 'node:crypto';

/** A named admin token (config `adminTokens`; `adminToken` is the `admin` token named "admin"). */
export interface AdminToken { name: string; token: string; role: 'admin' | 'read' }

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The token `Authorization: Bearer …` presents, compared in constant time with every one (no early exit). */
export function matchToken(authorization: string, tokens: readonly AdminToken[]): AdminToken | undefined {
  if (!authorization.startsWith('Bearer ')) return undefined;
  const a = digest(authorization.slice(7).trim());
  let found: AdminToken | undefined;
  for (const t of tokens) if (timingSafeEqual(a, digest(t.token)) && !found) found = t;
  return found;
}

/** Every admin token of a config: `adminToken` (as "admin") and `adminTokens`. */
export function adminTokens(config: { adminToken?: string; adminTokens: readonly AdminToken[] }): AdminToken[] {
  return [...(config.adminToken ? [{ name: 'admin', token: config.adminToken, role: 'admin' as const }] : []), ...config.adminTokens];
}
