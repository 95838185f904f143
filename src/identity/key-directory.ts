import type { Config } from '../config/schema.js';
import { hashKey, sameHash } from './key-hash.js';
import { configCatalog, type Catalog } from '../control/catalog.js';
import type { KeyRecord } from '../control/control-records.js';
import { badIdentityHeader, type IdentityHeaders } from './header-values.js';

// Who is calling: client key → customer, or app key acting for the customer
// named in x-tollgate-customer. Keys exist here only as SHA-256 hashes.

export interface Caller {
  customer: string;
  known: boolean;          // configured customer (false: first seen via an app key)
  plan: string | undefined;
  agent: string | null;
  /** x-tollgate-session: the session the call belongs to (session budgets, usage rows), or null. */
  session: string | null;
  tags: Record<string, string>;
  /** Id of the issued key (control plane) that authenticated the call; null for config-file and app keys. */
  keyId: string | null;
  /** The issued key's allowed models (globs), when it restricts them. */
  models: readonly string[] | null;
  /** keyId when the issued key carries its own budgets, rateLimit or wallet: its scope adds them (ScopeResolver.get). */
  keyScope: string | null;
}

/** A refusal carries its error code only: the status is the registry's (src/http/errors.ts). */
export type Identified = { ok: true; caller: Caller } | { ok: false; type: 'invalid_request_error' | 'authentication_error' | 'permission_error' | 'customer_disabled'; message: string };

const ID = /^[A-Za-z0-9._:@-]{1,128}$/;
const TAG_KEY = /^[A-Za-z0-9._-]{1,64}$/;
const MAX_TAGS = 16;

/** customer null: an app key. `issued`: a key the control plane issued (id, expiry, allowed models). */
interface KeyOwner { hash: string; customer: string | null; issued?: KeyRecord }

/**
 * Keys that authenticated recently, by their raw value, so SHA-256 runs once
 * per distinct key instead of once per call (~1.5% of a call's CPU). The
 * trade-off: these keys sit in the shard's memory in the clear (as every
 * request's own header does while it is served) until evicted. Only keys
 * that matched are kept, so guesses cannot fill it; a guess misses and is
 * hashed and compared in constant time as before. Bounded, oldest out first.
 */
const RECENT_KEYS = 1024;

export class KeyDirectory {
  readonly #byHash = new Map<string, KeyOwner>();
  readonly #recent = new Map<string, KeyOwner>();
  /** Issued keys that authenticated since the last takeUsed(): key_id → ms (last_used_at, written in batches). */
  #used = new Map<string, number>();

  constructor(config: Config, private readonly catalog: Catalog = configCatalog(config)) {
    for (const c of config.customers) {
      for (const k of c.keys) this.#add(hashKey(k), c.id);
      for (const h of c.keyHashes) this.#add(h.slice(7), c.id);
    }
    for (const k of config.appKeys) this.#add(hashKey(k), null);
    for (const h of config.appKeyHashes) this.#add(h.slice(7), null);
  }

  #add(hash: string, customer: string | null, issued?: KeyRecord) {
    this.#byHash.set(hash, { hash, customer, issued });
  }

  /** Adds or replaces a key issued through the admin API (only its hash is known). */
  putKey(k: KeyRecord): void {
    this.#add(k.hash, k.customer, k);
    this.#recent.clear(); // a cached owner may carry the key's previous settings
  }

  /** The key stops authenticating on this shard from the next call on. */
  removeKey(hash: string): void {
    this.#byHash.delete(hash);
    this.#recent.clear();
  }

  /** last_used_at of issued keys since the previous call (the supervisor writes them in one batch). */
  takeUsed(): Map<string, number> {
    const used = this.#used;
    this.#used = new Map();
    return used;
  }

  #verify(key: string): KeyOwner | undefined {
    const hash = hashKey(key);
    const owner = this.#byHash.get(hash);
    if (!owner || !sameHash(owner.hash, hash)) return undefined;
    if (this.#recent.size >= RECENT_KEYS) this.#recent.delete(this.#recent.keys().next().value!);
    this.#recent.set(key, owner);
    return owner;
  }

  customer(id: string) {
    return this.catalog.customer(id);
  }

  identify(h: IdentityHeaders): Identified {
    const bad = badIdentityHeader(h);
    if (bad) return { ok: false, type: 'invalid_request_error', message: bad };
    const key = h.apiKey || (h.authorization.startsWith('Bearer ') ? h.authorization.slice(7).trim() : '');
    if (!key) return { ok: false, type: 'authentication_error', message: 'missing API key: send Authorization: Bearer <key> or x-api-key: <key>' };
    const owner = this.#recent.get(key) ?? this.#verify(key);
    if (!owner) return { ok: false, type: 'authentication_error', message: 'invalid API key' };

    const issued = owner.issued;
    if (issued?.expires_at != null && issued.expires_at <= Date.now()) {
      return { ok: false, type: 'authentication_error', message: `API key expired at ${new Date(issued.expires_at).toISOString()}` };
    }
    let customerId: string;
    if (owner.customer !== null) {
      customerId = owner.customer;
      if (h.customer && h.customer !== customerId) {
        return { ok: false, type: 'permission_error', message: 'this key belongs to one customer and cannot act for another (x-tollgate-customer is for app keys)' };
      }
    } else {
      if (!h.customer) return { ok: false, type: 'invalid_request_error', message: 'an app key must name the customer it acts for in the x-tollgate-customer header' };
      if (!ID.test(h.customer)) return { ok: false, type: 'invalid_request_error', message: 'x-tollgate-customer must be 1-128 characters of A-Z a-z 0-9 . _ : @ -' };
      customerId = h.customer;
    }
    const customer = this.catalog.customer(customerId);
    if (customer?.disabled) return { ok: false, type: 'customer_disabled', message: `customer "${customerId}" is disabled` };
    if (issued) this.#used.set(issued.key_id, Date.now());

    let agent: string | null = null;
    if (h.agent) {
      if (!ID.test(h.agent)) return { ok: false, type: 'invalid_request_error', message: 'x-tollgate-agent must be 1-128 characters of A-Z a-z 0-9 . _ : @ -' };
      agent = h.agent;
    }
    let session: string | null = null;
    if (h.session) {
      const bad = badSessionId(h.session, 'x-tollgate-session');
      if (bad) return { ok: false, type: 'invalid_request_error', message: bad };
      session = h.session;
    }
    const tags = parseTags(h.tags);
    if (typeof tags === 'string') return { ok: false, type: 'invalid_request_error', message: tags };

    return {
      ok: true,
      caller: {
        customer: customerId,
        known: customer !== undefined,
        plan: customer ? customer.plan : this.catalog.defaultPlan,
        agent,
        session,
        tags,
        keyId: issued?.key_id ?? null,
        models: issued?.models?.length ? issued.models : null,
        keyScope: issued && (issued.budgets?.length || issued.rateLimit || issued.wallet) ? issued.key_id : null,
      },
    };
  }
}

/**
 * A session id is any 1-128 characters of visible ASCII (0x21-0x7E), so
 * UUIDs, ULIDs and base64 ids pass as they are. Returns what is wrong, or null.
 */
export function badSessionId(v: string, name: string): string | null {
  if (v.length > 128) return `${name}: at most 128 characters (got ${v.length})`;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return `${name}: character ${i} (code ${c}) is not visible ASCII; a session id is 1-128 characters of 0x21-0x7E`;
  }
  return null;
}

/** `k=v,k=v` → object, or an error message. */
export function parseTags(header: string): Record<string, string> | string {
  const tags: Record<string, string> = {};
  if (!header) return tags;
  const parts = header.split(',');
  if (parts.length > MAX_TAGS) return `x-tollgate-tags: at most ${MAX_TAGS} tags`;
  for (const part of parts) {
    const eq = part.indexOf('=');
    const k = (eq < 0 ? part : part.slice(0, eq)).trim();
    const v = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (!TAG_KEY.test(k)) return `x-tollgate-tags: bad tag name "${k.slice(0, 64)}" (use k=v,k=v with names of A-Z a-z 0-9 . _ -)`;
    // Assigning "__proto__" on a plain object sets nothing: the tag would vanish from the row in silence.
    if (k === '__proto__') return 'x-tollgate-tags: "__proto__" is not a tag name';
    if (v.length > 256) return `x-tollgate-tags: value of "${k}" is longer than 256 characters`;
    tags[k] = v;
  }
  return tags;
}
