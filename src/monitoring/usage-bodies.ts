import { reservationShard } from './reservation-id.js';
import { badSessionId } from '../identity/key-directory.js';

// The three monitoring-mode request bodies (docs/interface.md), validated into
// typed values or a message naming the bad field.

export interface AuthorizeBody {
  model: string;
  max_tokens?: number;
  estimated_prompt_tokens?: number;
  /** The session the call belongs to (as x-tollgate-session, which it overrides). */
  session?: string;
}

export interface EventBody {
  model: string;
  prompt_tokens: number;        // every input token, cached ones included (OpenAI's meaning)
  completion_tokens: number;
  cached_tokens: number;        // of prompt_tokens, read from a prompt cache
  cache_write_tokens: number;   // of prompt_tokens, written to a prompt cache
  reservation_id?: string;
  idempotency_key: string;
  provider?: string;            // configured provider name or a provider type: a pricing hint
  latency_ms?: number;
  session?: string;             // without a reservation_id: the session to charge (a reservation keeps its own)
}

export interface ReleaseBody { reservation_id: string }

type Obj = Record<string, unknown>;

function object(raw: Buffer): Obj | string {
  let v: unknown;
  try {
    v = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    return `request body is not valid JSON: ${(err as Error).message}`;
  }
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : 'request body must be a JSON object';
}

function str(o: Obj, name: string, required: boolean, max = 200): string | undefined | { error: string } {
  const v = o[name];
  if (v === undefined || v === null) return required ? { error: `${name}: required` } : undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > max) return { error: `${name}: a string of 1 to ${max} characters` };
  return v;
}

function count(o: Obj, name: string, required: boolean): number | undefined | { error: string } {
  const v = o[name];
  if (v === undefined || v === null) return required ? { error: `${name}: required` } : undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return { error: `${name}: a whole number >= 0 (got ${JSON.stringify(v).slice(0, 30)})` };
  return v;
}

const failed = (...vs: unknown[]): string | undefined => {
  for (const v of vs) if (v && typeof v === 'object' && 'error' in v) return (v as { error: string }).error;
  return undefined;
};

function session(o: Obj): string | undefined | { error: string } {
  const v = o.session;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length === 0) return { error: 'session: a string of 1 to 128 visible ASCII characters' };
  const bad = badSessionId(v, 'session');
  return bad ? { error: bad } : v;
}

function reservationId(o: Obj, required: boolean): string | undefined | { error: string } {
  const id = str(o, 'reservation_id', required, 64);
  if (typeof id === 'string' && reservationShard(id) === undefined) return { error: `reservation_id: "${id}" is not a reservation id this proxy issued` };
  return id;
}

export function parseAuthorize(raw: Buffer): AuthorizeBody | string {
  const o = object(raw);
  if (typeof o === 'string') return o;
  const model = str(o, 'model', true);
  const max = count(o, 'max_tokens', false);
  const est = count(o, 'estimated_prompt_tokens', false);
  const sid = session(o);
  const err = failed(model, max, est, sid);
  if (err) return err;
  if (max === 0) return 'max_tokens: at least 1';
  return { model: model as string, max_tokens: max as number | undefined, estimated_prompt_tokens: est as number | undefined, ...(sid ? { session: sid as string } : {}) };
}

export function parseEvent(raw: Buffer): EventBody | string {
  const o = object(raw);
  if (typeof o === 'string') return o;
  const model = str(o, 'model', true);
  const prompt = count(o, 'prompt_tokens', true);
  const completion = count(o, 'completion_tokens', true);
  const cached = count(o, 'cached_tokens', false);
  const cacheWrite = count(o, 'cache_write_tokens', false);
  const latency = count(o, 'latency_ms', false);
  const key = str(o, 'idempotency_key', true, 255);
  const rid = reservationId(o, false);
  const provider = str(o, 'provider', false, 100);
  const sid = session(o);
  const err = failed(model, prompt, completion, cached, cacheWrite, latency, key, rid, provider, sid);
  if (err) return err === 'idempotency_key: required' ? 'idempotency_key: required, so a retried event is never charged twice' : err;
  if ((cached ?? 0) as number + ((cacheWrite ?? 0) as number) > (prompt as number)) return 'cached_tokens + cache_write_tokens: part of prompt_tokens, so at most prompt_tokens';
  return {
    model: model as string,
    prompt_tokens: prompt as number,
    completion_tokens: completion as number,
    cached_tokens: (cached as number | undefined) ?? 0,
    cache_write_tokens: (cacheWrite as number | undefined) ?? 0,
    reservation_id: rid as string | undefined,
    idempotency_key: key as string,
    provider: provider as string | undefined,
    latency_ms: latency as number | undefined,
    ...(sid ? { session: sid as string } : {}),
  };
}

export function parseRelease(raw: Buffer): ReleaseBody | string {
  const o = object(raw);
  if (typeof o === 'string') return o;
  const rid = reservationId(o, true);
  const err = failed(rid);
  return err ?? { reservation_id: rid as string };
}
