import { open, type RootDatabase, type Database } from 'lmdb';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { AlertEvent } from './alert-event.js';
import { writeTransaction } from '../store/lmdb-writes.js';

// The durable alert outbox (its own LMDB file beside the ledger). Firing an
// alert writes "fired" and one delivery per channel in one transaction, only
// if that alert (by dedupe key) never fired: a crossing seen twice, by two
// shards, or again after a restart, is delivered once. Deliveries stay until
// a channel accepts them, so a crash between crossing and delivery still
// delivers after restart.

export interface Delivery {
  id: string;          // `${eventId}|${channel}`
  channel: string;
  event: AlertEvent;
  attempts: number;
  nextAt: number;
  lastError?: string;
}

export class Outbox {
  readonly #root: RootDatabase;
  readonly #fired: Database<{ at: number }, string>;
  readonly #pending: Database<Delivery, string>;
  readonly #state: Database<unknown, string>;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.#root = open({ path: join(dataDir, 'alerts.lmdb'), maxDbs: 4 });
    this.#fired = this.#root.openDB({ name: 'fired', encoding: 'msgpack' });
    this.#pending = this.#root.openDB({ name: 'pending', encoding: 'msgpack' });
    this.#state = this.#root.openDB({ name: 'state', encoding: 'msgpack' });
  }

  /** Records the alert for delivery unless `dedupeKey` already fired. Resolves true if it was new. */
  fire(dedupeKey: string, event: AlertEvent, channels: string[], now = Date.now()): Promise<boolean> {
    return writeTransaction(this.#root, () => {
      if (this.#fired.get(dedupeKey)) return false;
      this.#fired.put(dedupeKey, { at: now });
      for (const channel of channels) {
        const id = `${event.id}|${channel}`;
        this.#pending.put(id, { id, channel, event, attempts: 0, nextAt: now });
      }
      return true;
    });
  }

  hasFired(dedupeKey: string): boolean {
    return this.#fired.get(dedupeKey) !== undefined;
  }

  due(now: number, limit = 100): Delivery[] {
    const out: Delivery[] = [];
    for (const { value } of this.#pending.getRange({})) {
      if (value.nextAt <= now) out.push(value);
      if (out.length >= limit) break;
    }
    return out;
  }

  pendingCount(): number {
    return this.#pending.getCount();
  }

  delivered(id: string): Promise<boolean> {
    return this.#pending.remove(id);
  }

  retryLater(d: Delivery, nextAt: number, error: string): Promise<boolean> {
    return this.#pending.put(d.id, { ...d, attempts: d.attempts + 1, nextAt, lastError: error.slice(0, 300) });
  }

  getState<T>(key: string): T | undefined {
    return this.#state.get(key) as T | undefined;
  }

  setState(key: string, v: unknown): Promise<boolean> {
    return this.#state.put(key, v);
  }

  removeState(key: string): Promise<boolean> {
    return this.#state.remove(key);
  }

  async close(): Promise<void> {
    await this.#root.close();
  }
}
