import { z } from 'zod';
import { badSessionId } from '../identity/key-directory.js';
import { reservationShard } from './reservation-id.js';

// The three monitoring-mode request bodies (docs/interface.md): one zod
// schema each, which both validates a request (into a typed value or a
// message naming the bad field) and is the body schema GET /admin/openapi.json
// publishes, so the document cannot drift from what is accepted. Unknown
// fields are ignored; null counts as absent.

const absentIsUndefined = (v: unknown) => (v === null ? undefined : v);

/** A string of 1 to `max` characters. */
const text = (max: number, requiredMessage = 'required') => {
  const message = `a string of 1 to ${max} characters`;
  return z.preprocess(absentIsUndefined, z.string({ required_error: requiredMessage, invalid_type_error: message }).min(1, message).max(max, message));
};

/** A whole number >= 0 (a token count, a duration in ms). */
const count = () => z.preprocess(absentIsUndefined, z.number({
  errorMap: (issue, ctx) => ({ message: issue.code === 'invalid_type' && ctx.data === undefined ? 'required' : `a whole number >= 0 (got ${JSON.stringify(ctx.data).slice(0, 30)})` }),
}).int().nonnegative().max(Number.MAX_SAFE_INTEGER));

const reservationId = (required: boolean) => text(64).superRefine((id, ctx) => {
  if (typeof id === 'string' && reservationShard(id) === undefined) ctx.addIssue({ code: 'custom', message: `"${id}" is not a reservation id this proxy issued` });
}).describe('The `reservation_id` an /authorize answer returned (rsv_<shard>_<id>).');

const optional = <T extends z.ZodTypeAny>(s: T) => z.preprocess(absentIsUndefined, s.optional());

/** A session id, validated as the x-tollgate-session header is (visible ASCII, 1 to 128 characters). */
const sessionId = () => z.string({ invalid_type_error: 'a string of 1 to 128 visible ASCII characters' }).superRefine((v, ctx) => {
  const bad = v.length === 0 ? 'a string of 1 to 128 visible ASCII characters' : badSessionId(v, 'session');
  if (bad) ctx.addIssue({ code: 'custom', message: bad.replace(/^session: /, '') });
});

export const authorizeBodySchema = z.object({
  model: text(200).describe('The model the app is about to call (priced from the table, routed names included).'),
  max_tokens: optional(count()).describe('Output cap of the coming call, at least 1; default: the table\'s max or defaultMaxOutputTokens.'),
  estimated_prompt_tokens: optional(count()).describe('Prompt size the app expects; default: 0 (only the output is held).'),
  session: optional(sessionId()).describe('The session the call belongs to (as x-tollgate-session, which it overrides).'),
}).superRefine((b, ctx) => {
  if (b.max_tokens === 0) ctx.addIssue({ code: 'custom', path: ['max_tokens'], message: 'at least 1' });
}).describe('POST /v1/usage/authorize: hold the worst-case cost of a call the app makes itself.');

export const eventBodySchema = z.object({
  model: text(200).describe('The model that answered.'),
  prompt_tokens: count().describe('Every input token, cached ones included (OpenAI\'s meaning).'),
  completion_tokens: count(),
  cached_tokens: optional(count()).default(0).describe('Of prompt_tokens, read from a prompt cache.'),
  cache_write_tokens: optional(count()).default(0).describe('Of prompt_tokens, written to a prompt cache.'),
  latency_ms: optional(count()),
  idempotency_key: text(255, 'required, so a retried event is never charged twice').describe('Unique per call: a retried event with the same key is charged once.'),
  reservation_id: optional(reservationId(false)),
  provider: optional(text(100)).describe('A configured provider name or a provider type: a pricing hint.'),
  session: optional(sessionId()).describe('Without a reservation_id: the session to charge (a reservation keeps its own).'),
}).superRefine((b, ctx) => {
  if (b.cached_tokens + b.cache_write_tokens > b.prompt_tokens) {
    ctx.addIssue({ code: 'custom', path: ['cached_tokens + cache_write_tokens'], message: 'part of prompt_tokens, so at most prompt_tokens' });
  }
}).describe('POST /v1/usage/events: what a call used; settles its reservation, or charges directly without one. cached_tokens + cache_write_tokens may not exceed prompt_tokens.');

export const releaseBodySchema = z.object({
  reservation_id: reservationId(true),
}).describe('POST /v1/usage/release: the call never happened; its hold is returned.');

export type AuthorizeBody = z.infer<typeof authorizeBodySchema>;
export type EventBody = z.infer<typeof eventBodySchema>;
export type ReleaseBody = z.infer<typeof releaseBodySchema>;

function parse<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, raw: Buffer): T | string {
  let v: unknown;
  try {
    v = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    return `request body is not valid JSON: ${(err as Error).message}`;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return 'request body must be a JSON object';
  const r = schema.safeParse(v);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  return `${issue.path.join('.')}: ${issue.message}`;
}

export const parseAuthorize = (raw: Buffer): AuthorizeBody | string => parse(authorizeBodySchema, raw);
export const parseEvent = (raw: Buffer): EventBody | string => parse(eventBodySchema, raw);
export const parseRelease = (raw: Buffer): ReleaseBody | string => parse(releaseBodySchema, raw);
