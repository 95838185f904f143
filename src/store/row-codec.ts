import type { UsageRecord } from './usage-record.js';

// A usage row as a flat binary record: what a shard hands to the ledger
// writer (in a transferred buffer, one per event-loop turn) and what the
// journal stores. Filling it is a few typed writes per field — no object
// encoding on the shard's thread; the writer decodes rows back into the
// exact UsageRecord the shard built before LMDB stores them (msgpack, as
// always), so nothing a reader sees changes.
//
// A batch is a sequence of [u32 length][record]. A record:
//   u8 version, u32 flags (which optional fields follow),
//   f64 ts, prompt, completion, cached, cache_write, cost_nano, billed_nano, latency_ms, i32 status, u8 decision,
//   str request_id, customer, endpoint; nullable str agent, model_requested, model, provider, reason,
//   idempotency_key, price_source, usage_source; tags (u32 n, n × (str, str));
//   then, by flag: session, cache_write_1h_tokens, shadow_exceeded, unit, units, attempts,
//   original_cost_nano, original_billed_nano, key_id, extra (JSON of fields this codec does not know).
// str: u32 byte length + UTF-8; nullable: length 0xFFFFFFFF is null (a nullable field
// left undefined by a hand-built row is stored as null).

const VERSION = 1;
const NULL = 0xffffffff;

const F_SESSION = 1 << 0;
const F_CW1H = 1 << 1;
const F_SHADOW = 1 << 2;
const F_UNIT = 1 << 3;
const F_UNITS = 1 << 4;
const F_ATTEMPTS = 1 << 5;
const F_ORIG_COST = 1 << 6;
const F_ORIG_BILLED = 1 << 7;
const F_EXTRA = 1 << 8;
const F_KEY_ID = 1 << 9;

const KNOWN = new Set<string>([
  'request_id', 'ts', 'customer', 'agent', 'session', 'tags', 'endpoint', 'model_requested', 'model', 'provider',
  'prompt_tokens', 'completion_tokens', 'cached_tokens', 'cache_write_tokens', 'cache_write_1h_tokens', 'cost_nano',
  'billed_nano', 'decision', 'reason', 'status', 'latency_ms', 'idempotency_key', 'price_source', 'usage_source',
  'shadow_exceeded', 'unit', 'units', 'attempts', 'original_cost_nano', 'original_billed_nano', 'key_id',
]);

/**
 * Rows of one batch, encoded as they are appended. The buffer is its own
 * ArrayBuffer (never Node's shared pool), so take() can hand it to another
 * thread by transfer.
 */
export class RowBatchEncoder {
  #buf: Buffer;
  #view: DataView;
  #pos = 0;
  #rows = 0;

  constructor(private readonly initialBytes = 16 * 1024) {
    this.#buf = Buffer.allocUnsafeSlow(initialBytes);
    this.#view = new DataView(this.#buf.buffer);
  }

  get rows(): number {
    return this.#rows;
  }

  add(row: UsageRecord): void {
    this.#ensure(RECORD_ROOM);
    const start = this.#pos;
    this.#pos += 4;
    this.#record(row);
    this.#view.setUint32(start, this.#pos - start - 4, true);
    this.#rows++;
  }

  /**
   * The batch so far, copied into an ArrayBuffer of exactly its size and its
   * own (transferable); the encoder starts over in its working buffer. A batch
   * of a few rows is a few hundred bytes: handing over the 16 KB working
   * buffer and allocating a fresh one per batch made every event-loop turn
   * with a row cost 16 KB of external memory, which V8 counts toward its
   * collections, on the shard and again on the writer that held it.
   */
  take(): Buffer {
    const out = Buffer.from(this.#buf.buffer.slice(0, this.#pos));
    if (this.#buf.length > MAX_KEPT_BYTES) {
      // One huge batch does not keep its memory on the thread for good.
      this.#buf = Buffer.allocUnsafeSlow(this.initialBytes);
      this.#view = new DataView(this.#buf.buffer);
    }
    this.#pos = 0;
    this.#rows = 0;
    return out;
  }

  #record(r: UsageRecord): void {
    let flags = 0;
    if (r.session !== undefined) flags |= F_SESSION;
    if (r.cache_write_1h_tokens !== undefined) flags |= F_CW1H;
    if (r.shadow_exceeded !== undefined) flags |= F_SHADOW;
    if (r.unit !== undefined) flags |= F_UNIT;
    if (r.units !== undefined) flags |= F_UNITS;
    if (r.attempts !== undefined) flags |= F_ATTEMPTS;
    if (r.original_cost_nano !== undefined) flags |= F_ORIG_COST;
    if (r.original_billed_nano !== undefined) flags |= F_ORIG_BILLED;
    if (r.key_id !== undefined) flags |= F_KEY_ID;
    const extra = extraFields(r);
    if (extra) flags |= F_EXTRA;
    this.#buf[this.#pos++] = VERSION;
    this.#view.setUint32(this.#pos, flags, true);
    this.#pos += 4;
    this.#f64(r.ts);
    this.#f64(r.prompt_tokens);
    this.#f64(r.completion_tokens);
    this.#f64(r.cached_tokens);
    this.#f64(r.cache_write_tokens);
    this.#f64(r.cost_nano);
    this.#f64(r.billed_nano);
    this.#f64(r.latency_ms);
    this.#view.setInt32(this.#pos, r.status, true);
    this.#pos += 4;
    this.#buf[this.#pos++] = r.decision === 'allowed' ? 0 : 1;
    this.#str(r.request_id);
    this.#str(r.customer);
    this.#str(r.endpoint);
    this.#str(r.agent ?? null);
    this.#str(r.model_requested ?? null);
    this.#str(r.model ?? null);
    this.#str(r.provider ?? null);
    this.#str(r.reason ?? null);
    this.#str(r.idempotency_key ?? null);
    this.#str(r.price_source ?? null);
    this.#str(r.usage_source ?? null);
    const tags = Object.keys(r.tags ?? {});
    this.#u32(tags.length);
    for (const k of tags) {
      this.#str(k);
      this.#str(r.tags[k]!);
    }
    if (flags & F_SESSION) this.#str(r.session ?? null);
    if (flags & F_CW1H) this.#f64(r.cache_write_1h_tokens!);
    if (flags & F_SHADOW) {
      this.#buf[this.#pos++] = r.shadow_exceeded ? 1 : 0;
    }
    if (flags & F_UNIT) this.#str(r.unit!);
    if (flags & F_UNITS) this.#f64(r.units!);
    if (flags & F_ATTEMPTS) {
      this.#u32(r.attempts!.length);
      for (const a of r.attempts!) {
        this.#str(a.target);
        this.#str(a.error);
      }
    }
    if (flags & F_ORIG_COST) this.#f64(r.original_cost_nano!);
    if (flags & F_ORIG_BILLED) this.#f64(r.original_billed_nano!);
    if (flags & F_KEY_ID) this.#str(r.key_id!);
    if (extra) this.#str(JSON.stringify(extra));
  }

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.#buf.length * 2, this.#pos + n));
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  // Numbers need no room check of their own: add() reserved RECORD_ROOM, and every
  // string reserves its own bytes plus the room the numbers after it may need.
  #f64(v: number): void {
    this.#view.setFloat64(this.#pos, v, true);
    this.#pos += 8;
  }

  #u32(v: number): void {
    this.#view.setUint32(this.#pos, v, true);
    this.#pos += 4;
  }

  #str(s: string | null): void {
    if (s === null) return this.#u32(NULL);
    this.#ensure(4 + s.length * 3 + RECORD_ROOM);
    const n = writeAscii(this.#buf, s, this.#pos + 4) ?? this.#buf.write(s, this.#pos + 4, 'utf8');
    this.#view.setUint32(this.#pos, n, true);
    this.#pos += 4 + n;
  }
}

/** Largest working buffer an encoder keeps between batches. */
const MAX_KEPT_BYTES = 1024 * 1024;

/** Room for every fixed-size part of a record (the numbers, flags, counts and null markers). */
const RECORD_ROOM = 256;

/** Fields of a row this codec does not know (a later row version): carried as JSON, never dropped. */
function extraFields(r: UsageRecord): Record<string, unknown> | undefined {
  let extra: Record<string, unknown> | undefined;
  for (const k in r) {
    if (!KNOWN.has(k) && (r as unknown as Record<string, unknown>)[k] !== undefined) (extra ??= {})[k] = (r as unknown as Record<string, unknown>)[k];
  }
  return extra;
}

/** Most row strings are short ASCII (ids, names): copied byte by byte, faster than Buffer.write. Undefined for anything else. */
function writeAscii(buf: Buffer, s: string, at: number): number | undefined {
  if (s.length > 64) return undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return undefined;
    buf[at + i] = c;
  }
  return s.length;
}

/** Every record of a batch (or of a journal group's payload), in order. */
export function decodeRows(buf: Buffer): UsageRecord[] {
  const rows: UsageRecord[] = [];
  let pos = 0;
  while (pos + 4 <= buf.length) {
    const len = buf.readUInt32LE(pos);
    pos += 4;
    if (pos + len > buf.length) throw new Error('row batch is truncated');
    rows.push(decodeRow(buf, pos, pos + len));
    pos += len;
  }
  return rows;
}

/** Number of records in a batch, without decoding them. */
export function countRows(buf: Buffer): number {
  let n = 0;
  for (let pos = 0; pos + 4 <= buf.length; pos += 4 + buf.readUInt32LE(pos)) n++;
  return n;
}

// The decoder's cursor: module state rather than closures, so decoding a row
// allocates nothing but the row and its strings (it runs once per row on the
// writer thread, and again for every row a journal replay reads).
let b: Buffer = Buffer.alloc(0);
let pos = 0;
let end = 0;

function f64(): number {
  const v = b.readDoubleLE(pos);
  pos += 8;
  return v;
}

function u32(): number {
  const v = b.readUInt32LE(pos);
  pos += 4;
  return v;
}

function str(): string | null {
  const n = u32();
  if (n === NULL) return null;
  if (pos + n > end) throw new Error('row record is truncated');
  const s = readAscii(b, pos, n) ?? b.toString('utf8', pos, pos + n);
  pos += n;
  return s;
}

/**
 * The decoding side of writeAscii: a short ASCII string read as latin1 (one
 * flat string; UTF-8 decoding and, before, building it a character at a time
 * cost more: the row's strings are hashed and encoded again right after).
 * Undefined for anything else.
 */
function readAscii(buf: Buffer, at: number, n: number): string | undefined {
  if (n > 64) return undefined;
  for (let i = at; i < at + n; i++) if (buf[i]! > 0x7f) return undefined;
  return buf.toString('latin1', at, at + n);
}

/**
 * A field whose values repeat from row to row (customer, agent, endpoint,
 * models, provider, sources, tags): the string decoded for the same bytes
 * before, found by a hash of the bytes and a byte-by-byte check, so decoding
 * a row allocates little more than the row, its request id and its reason.
 * Bounded: the table starts over when it is full (many distinct sessions or
 * tag values), which costs only the allocations it would have saved.
 */
function shared(): string | null {
  const n = u32();
  if (n === NULL) return null;
  if (pos + n > end) throw new Error('row record is truncated');
  const s = internAscii(b, pos, n) ?? b.toString('utf8', pos, pos + n);
  pos += n;
  return s;
}

const SHARED_MAX = 4096;
const sharedStrings = new Map<number, string>();

function internAscii(buf: Buffer, at: number, n: number): string | undefined {
  if (n > 64) return undefined;
  let h = 0x811c9dc5 ^ n; // FNV-1a
  for (let i = at; i < at + n; i++) {
    const c = buf[i]!;
    if (c > 0x7f) return undefined;
    h = Math.imul(h ^ c, 0x01000193);
  }
  const known = sharedStrings.get(h);
  if (known !== undefined && known.length === n) {
    let i = 0;
    while (i < n && known.charCodeAt(i) === buf[at + i]) i++;
    if (i === n) return known;
  }
  const fresh = buf.toString('latin1', at, at + n); // ASCII: latin1 reads it as UTF-8 would
  if (sharedStrings.size >= SHARED_MAX) sharedStrings.clear();
  sharedStrings.set(h, fresh);
  return fresh;
}

function decodeRow(buf: Buffer, from: number, to: number): UsageRecord {
  b = buf;
  pos = from;
  end = to;
  if (b[pos++] !== VERSION) throw new Error(`unknown row record version ${b[from]}`);
  const flags = u32();
  const ts = f64(), prompt = f64(), completion = f64(), cached = f64(), cacheWrite = f64(), cost = f64(), billed = f64(), latency = f64();
  const status = b.readInt32LE(pos);
  pos += 4;
  const decision = b[pos++] === 0 ? 'allowed' : 'blocked';
  const requestId = str()!, customer = shared()!, endpoint = shared()!;
  const agent = shared(), modelRequested = shared(), model = shared(), provider = shared(), reason = str(), idem = str(), priceSource = shared();
  const usageSource = shared() as UsageRecord['usage_source'];
  const tags: Record<string, string> = {};
  for (let n = u32(); n > 0; n--) {
    const k = shared()!;
    const v = shared()!;
    // Every tag an own property, as JSON.parse makes them: `tags['__proto__'] = v` would set the object's prototype
    // instead, and the tag would vanish from the row (the header parser refuses that name; the codec does not rely on it).
    if (k === '__proto__') Object.defineProperty(tags, k, { value: v, enumerable: true, writable: true, configurable: true });
    else tags[k] = v;
  }
  const row: UsageRecord = {
    request_id: requestId, ts, customer, agent, tags, endpoint, model_requested: modelRequested, model, provider,
    prompt_tokens: prompt, completion_tokens: completion, cached_tokens: cached, cache_write_tokens: cacheWrite,
    cost_nano: cost, billed_nano: billed, decision, reason, status, latency_ms: latency, idempotency_key: idem,
    price_source: priceSource, usage_source: usageSource,
  };
  if (flags & F_SESSION) row.session = str();
  if (flags & F_CW1H) row.cache_write_1h_tokens = f64();
  if (flags & F_SHADOW) row.shadow_exceeded = b[pos++] === 1;
  if (flags & F_UNIT) row.unit = shared() as UsageRecord['unit'];
  if (flags & F_UNITS) row.units = f64();
  if (flags & F_ATTEMPTS) {
    const attempts: { target: string; error: string }[] = [];
    for (let n = u32(); n > 0; n--) attempts.push({ target: str()!, error: str()! });
    row.attempts = attempts;
  }
  if (flags & F_ORIG_COST) row.original_cost_nano = f64();
  if (flags & F_ORIG_BILLED) row.original_billed_nano = f64();
  if (flags & F_KEY_ID) row.key_id = shared()!;
  if (flags & F_EXTRA) Object.assign(row, JSON.parse(str()!));
  if (pos > end) throw new Error('row record is truncated');
  return row;
}
