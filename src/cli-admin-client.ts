import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from './config/load-config.js';

// How the CLI talks to a running node's admin API (`rerate`, `customers`,
// `keys`, `credits`): where the node is and which token to present, then one
// JSON request. The address is --url, else the config's `listen`; the token
// is --token, else TOLLGATE_ADMIN_TOKEN, else the config's `adminToken`. The
// config is read only when one of them is missing, so `--url` + a token in
// the environment works on a machine with no config file at all.

const BUNDLED = fileURLToPath(new URL('../config/tollgate.example.yaml', import.meta.url));

export interface AdminTarget { url: string; token: string }

export interface TargetFlags { url?: string; token?: string; config?: string }

/** A problem with how the command was called or where it points: exit 1 with this message. */
export class AdminTargetError extends Error {}

/** The API answered with an error: its status, its code and its message, as the API said them. */
export class AdminApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly body: unknown) {
    super(message);
  }
}

export function resolveAdminTarget(f: TargetFlags, env: NodeJS.ProcessEnv = process.env): AdminTarget {
  let url = f.url || undefined;
  let token = f.token || env.TOLLGATE_ADMIN_TOKEN || undefined; // an empty variable is no token
  if (!url || !token) {
    const file = f.config ?? (existsSync('tollgate.yaml') ? 'tollgate.yaml' : BUNDLED);
    const config = loadConfigFile(file); // a ConfigError names the file and the field
    token ??= config.adminToken || undefined;
    const host = config.listen.host === '0.0.0.0' || config.listen.host === '::' ? '127.0.0.1' : config.listen.host;
    url ??= `http://${host.includes(':') ? `[${host}]` : host}:${config.listen.port}`;
  }
  if (!token) throw new AdminTargetError('no admin token: pass --token, set TOLLGATE_ADMIN_TOKEN, or set adminToken in the config');
  try {
    new URL(url);
  } catch {
    throw new AdminTargetError(`--url: not a URL (got "${url}")`);
  }
  return { url, token };
}

/** One admin API request; resolves with the parsed JSON answer, rejects with AdminApiError on a 4xx/5xx. */
export async function adminRequest<T = any>(target: AdminTarget, method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(new URL(path, target.url), {
      method,
      headers: { authorization: `Bearer ${target.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new AdminTargetError(`cannot reach the node at ${target.url} (${(err as Error).cause ?? (err as Error).message}); start it or pass --url`);
  }
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = json?.error;
    throw new AdminApiError(res.status, e?.code ?? e?.type ?? String(res.status), e?.message ?? (text.trim() || res.statusText), json);
  }
  return json as T;
}

/** `path` with each segment percent-encoded: ids may hold characters a URL path cannot. */
export const adminPath = (...segments: string[]) => segments.map((s, i) => (i === 0 ? s : encodeURIComponent(s))).join('/');
