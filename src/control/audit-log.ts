import { randomBytes } from 'node:crypto';
import type { Database, RootDatabase } from 'lmdb';

// The audit log of admin writes (GET /admin/audit): who (the admin token's
// name), what, on what, and the record before and after. Stored in the
// `control_audit` LMDB db, keyed by [ts, id] so it reads oldest first and
// pages with a cursor. Every control-plane write appends its entry in the
// same transaction as the change; other modules (wallet credits, ...) call
// `AuditLog.append` for theirs.

export interface AuditEntry {
  ts: number;
  actor: string;
  action: string;
  target: string;
  before: unknown;
  after: unknown;
}

export interface AuditPage { entries: (Omit<AuditEntry, 'ts'> & { ts: string })[]; next_cursor: string | null }

export class AuditLog {
  readonly #db: Database<AuditEntry, [number, string]>;

  constructor(root: RootDatabase) {
    this.#db = root.openDB({ name: 'control_audit', encoding: 'msgpack' });
  }

  /** Writes one entry inside the caller's LMDB transaction (control-store.ts, wallet-transactions.ts): an audited write commits with its entry. */
  put(entry: AuditEntry): void {
    void this.#db.put([entry.ts, randomBytes(6).toString('hex')], entry);
  }

  /** Entries with from <= ts < to, oldest first, `limit` at most per page. */
  page(q: { from?: number; to?: number; limit: number; cursor?: [number, string] }): AuditPage {
    const start: [number, string] = q.cursor ?? [q.from ?? 0, ''];
    const entries: AuditPage['entries'] = [];
    let last: [number, string] | undefined;
    for (const { key, value } of this.#db.getRange({ start, end: [q.to ?? Number.MAX_SAFE_INTEGER, ''] })) {
      if (q.cursor && key[0] === q.cursor[0] && key[1] === q.cursor[1]) continue;
      if (entries.length === q.limit) return { entries, next_cursor: encodeAuditCursor(last!) };
      last = key;
      entries.push({ ...value, ts: new Date(value.ts).toISOString() });
    }
    return { entries, next_cursor: null };
  }
}

function encodeAuditCursor([ts, id]: [number, string]): string {
  return Buffer.from(`${ts}:${id}`).toString('base64url');
}

export function decodeAuditCursor(c: string): [number, string] | null {
  const m = /^(\d+):([0-9a-f]{12})$/.exec(Buffer.from(c, 'base64url').toString());
  return m ? [Number(m[1]), m[2]!] : null;
}
