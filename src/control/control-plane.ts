import type { Config } from '../config/schema.js';
import type { ErrorType } from '../http/errors.js';
import { CapacityError, type SlotRegistry } from '../server/slot-registry.js';
import { PAGE, type ChangeFeed } from './change-feed.js';
import type { ControlChange, ControlDelta, ControlSnapshot } from './control-records.js';
import { ControlState } from './control-state.js';
import type { ControlStore } from './control-store.js';
import { createCustomer, deleteCustomer, issueKey, parseReset, patchCustomer, putPlan, revokeKey, type Outcome } from './control-ops.js';

// The supervisor's side of the control plane: the one writer of runtime
// state on this node. A write is validated against the state
// (control-ops.ts) and checked for room in the budget table; it then gets
// the next version — from this node alone, or from the Redis change feed
// (change-feed.ts), which orders the writes of every node — and is
// applied: staged in memory (the next write sees it), committed to LMDB
// with its audit entry and version, applied on every shard (each
// acknowledges), and only then answered. Changes are applied in version
// order, the same path for this node's writes and other nodes'. A commit
// that fails is undone in memory (single node) and answered 503; nothing is
// half-written.

/** Admin writes that shards forward to the supervisor (messages.ts `control`). */
export type ControlOp =
  | { op: 'create-customer'; body: unknown }
  | { op: 'patch-customer'; id: string; body: unknown }
  | { op: 'delete-customer'; id: string }
  | { op: 'issue-key'; customer: string; body: unknown }
  | { op: 'revoke-key'; customer: string; key_id: string }
  | { op: 'put-plan'; name: string; body: unknown }
  | { op: 'reset-spend'; customer: string; body: unknown };

export type ControlAnswer =
  | { ok: true; status: number; body: unknown }
  | { ok: false; type: ErrorType; message: string; problems?: string[] };

/** One live shard as the control plane reaches it: apply a change, resolve once the shard applied it. */
export type ShardApply = (change: ControlChange) => Promise<void>;

type Moved = { budgets: number; rates: number };
const NONE: Moved = { budgets: 0, rates: 0 };

export class ControlPlane {
  readonly state: ControlState;
  #registry: SlotRegistry | undefined;
  #feed: ChangeFeed | undefined;
  /** Committed changes reach shards one after another, in version order. */
  #tail: Promise<unknown> = Promise.resolve();
  #catching: Promise<void> | undefined;
  #again = false;

  constructor(
    private readonly config: Config,
    private readonly store: ControlStore,
    snapshot: ControlSnapshot,
    private readonly shards: () => ShardApply[],
    private readonly log: (msg: string) => void,
  ) {
    this.state = new ControlState(config, snapshot);
  }

  /** The slot registry reads the state's catalog; it is built after the state (its table is sized from it). */
  attach(registry: SlotRegistry): void {
    this.#registry = registry;
  }

  /** Many nodes: versions come from the feed, and every node's changes are applied from it. Catches up before returning. */
  async useFeed(feed: ChangeFeed, pollMs: number, waitMs: number): Promise<void> {
    this.#feed = feed;
    // Polled every pollMs: while Redis is down, say so once (and once when it is back), not four times a second.
    let failingSince = 0;
    const poll = () => void this.catchUp().then(
      () => {
        if (failingSince) this.log(`info: control plane: caught up from redis again after ${Date.now() - failingSince} ms`);
        failingSince = 0;
      },
      (err) => {
        if (!failingSince) this.log(`warn: control plane: cannot catch up from redis (${(err as Error)?.message ?? err}); retrying every ${pollMs} ms, writes are refused until it answers`);
        failingSince ||= Date.now();
      },
    );
    await feed.start(poll, pollMs, waitMs);
    await this.catchUp().catch((err) => this.log(`warn: control plane: cannot catch up from redis at start (${(err as Error)?.message ?? err}); retrying every ${pollMs} ms`));
  }

  get version(): number {
    return this.state.version;
  }

  async handle(actor: string, op: ControlOp, now = Date.now()): Promise<ControlAnswer> {
    const outcome = this.#plan(op, now);
    if (!outcome.ok) return outcome;
    // Room in the budget table, checked on the state as it would be, then put back: nothing moves before the version is taken.
    const moved = this.#stage(outcome.deltas, now, true);
    for (const d of outcome.undo) this.state.applyDelta(d);
    try {
      this.#registry?.checkReserve(moved);
    } catch (err) {
      if (err instanceof CapacityError) return { ok: false, type: 'capacity_exhausted', message: err.message };
      throw err;
    }
    const change = { deltas: outcome.deltas, audit: [{ ts: now, actor, ...outcome.audit }] };
    try {
      if (this.#feed) {
        const version = await this.#feed.append(change);
        while (this.state.version < version) await this.catchUp();
        await this.#tail;
      } else {
        await this.#apply({ version: this.state.version + 1, ...change }, outcome.undo);
      }
    } catch (err) {
      this.log(`error: control plane: ${op.op} not written: ${(err as Error)?.message ?? err}`);
      const where = this.#feed ? 'to Redis (the change feed every node applies)' : 'to the data directory';
      return { ok: false, type: 'ledger_unavailable', message: `the change could not be written ${where} (${(err as Error)?.message ?? err}); nothing was changed, retry later` };
    }
    return { ok: true, status: outcome.status, body: outcome.body };
  }

  #plan(op: ControlOp, now: number): Outcome {
    const { config, state } = this;
    switch (op.op) {
      case 'create-customer': return createCustomer(config, state, op.body);
      case 'patch-customer': return patchCustomer(config, state, op.id, op.body);
      case 'delete-customer': return deleteCustomer(state, op.id);
      case 'issue-key': return issueKey(config, state, op.customer, op.body, now);
      case 'revoke-key': return revokeKey(state, op.customer, op.key_id);
      case 'put-plan': return putPlan(config, state, op.name, op.body);
      case 'reset-spend': {
        // Nodes report settled spend to Redis as running totals that only grow (lease-script.ts): a reset here
        // would be undone by the next report. Refused rather than answered 200 and silently lost.
        if (config.redis) return { ok: false, type: 'not_in_cluster_mode', message: 'a spend reset is not available with `redis` (several nodes): Redis keeps each node\'s settled spend as a running total, which would undo it; raise the budget\'s limit instead (spend is kept)' };
        const r = parseReset(state, op.customer, op.body);
        if ('ok' in r) return r;
        return { ok: true, deltas: [{ t: 'spend-reset', customer: op.customer }], undo: [], audit: { action: 'budget.reset', target: `customer:${op.customer}`, before: { reason: r.reason }, after: null }, status: 200, body: { customer: op.customer, reason: r.reason, reset: true } };
      }
    }
  }

  /**
   * Applies one change in version order: staged now (synchronously, so
   * the order holds), committed (lmdb-js batches commits issued together),
   * then shipped to the shards after every earlier change.
   */
  #apply(change: ControlChange, undo?: ControlDelta[]): Promise<void> {
    if (change.version <= this.state.version) return Promise.resolve();
    const now = Date.now();
    const moved = this.#stage(change.deltas, now, false);
    this.#registry?.reserve(moved); // a change from the feed was checked by its writer; ours just now
    this.state.version = change.version;
    const committed = this.store.commit(change);
    const done = this.#tail.then(() => committed).then(
      () => this.#ship(change),
      (err: unknown) => {
        if (undo) {
          for (const d of undo) this.state.applyDelta(d);
          this.#registry?.reserve({ budgets: -moved.budgets, rates: -moved.rates });
          this.state.version = change.version - 1;
        } else {
          this.log(`error: control plane: version ${change.version} is applied but not stored here (${(err as Error)?.message ?? err}); a restart catches up from redis`);
        }
        throw err;
      },
    );
    this.#tail = done.catch(() => {});
    return done;
  }

  /** Reads the feed from this node's version and applies what it finds, in order. One at a time; a request meanwhile runs it again. */
  catchUp(): Promise<void> {
    const feed = this.#feed;
    if (!feed) return Promise.resolve();
    if (this.#catching) {
      this.#again = true;
      return this.#catching;
    }
    this.#catching = (async () => {
      do {
        this.#again = false;
        const { changes, oldest } = await feed.since(this.state.version);
        if (!changes.length) {
          // Redis lost its data (restarted empty): versions must not start again below ours, or our nodes would ignore them.
          if ((await feed.version()) < this.state.version) await feed.raise(this.state.version);
          continue;
        }
        if (oldest !== null && oldest > this.state.version + 1) this.log(`error: control plane: this node is at version ${this.state.version} but the change log starts at ${oldest}: changes in between are lost to it (restore its dataDir from another node)`);
        let last: Promise<void> = Promise.resolve();
        for (const c of changes) last = this.#apply(c);
        await last;
        this.#again ||= changes.length === PAGE; // more after this page
      } while (this.#again);
    })().finally(() => {
      this.#catching = undefined;
    });
    return this.#catching;
  }

  /** Applies deltas to the in-memory state; returns how the reserved slot counts moved. `dryRun`: a reset moves no counter. */
  #stage(deltas: ControlDelta[], now: number, dryRun: boolean): Moved {
    const affected = this.#affected(deltas);
    const before = this.#reservedFor(affected);
    for (const d of deltas) {
      // Each node moves its own counters when it applies a reset; what it took off is stored with the change.
      if (d.t === 'spend-reset' && !dryRun && this.#registry) d.offsets = this.#registry.resetSpend(d.customer, now);
      if (d.t === 'key-revoked' && !dryRun) this.#registry?.retireKey(d.key_id, now);
      if (d.t === 'customer-deleted' && !dryRun) this.#registry?.retireCustomer(d.id, now);
      this.state.applyDelta(d);
    }
    const after = this.#reservedFor(affected);
    return { budgets: after.budgets - before.budgets, rates: after.rates - before.rates };
  }

  /** Customers whose reserved slots a change can move: the ones it names (a key's budgets count for its customer), and every customer on a plan it changes. */
  #affected(deltas: ControlDelta[]): Set<string> {
    const ids = new Set<string>();
    for (const d of deltas) {
      if (d.t === 'customer') ids.add(d.customer.id);
      else if (d.t === 'customer-deleted') ids.add(d.id);
      else if (d.t === 'key') ids.add(d.key.customer);
      else if (d.t === 'key-revoked') ids.add(d.customer);
      else if (d.t === 'plan' || d.t === 'plan-deleted') {
        const name = d.t === 'plan' ? d.plan.name : d.name;
        for (const c of this.state.catalog.customers()) if (c.plan === name) ids.add(c.id);
      }
    }
    return ids;
  }

  #reservedFor(ids: Set<string>): Moved {
    if (!this.#registry || !ids.size) return NONE;
    let budgets = 0, rates = 0;
    for (const id of ids) {
      const n = this.#registry.reservedFor(id);
      budgets += n.budgets;
      rates += n.rates;
    }
    return { budgets, rates };
  }

  async #ship(change: ControlChange): Promise<void> {
    const results = await Promise.allSettled(this.shards().map((apply) => apply(change)));
    for (const r of results) if (r.status === 'rejected') this.log(`warn: control plane: a shard did not confirm version ${change.version}: ${(r.reason as Error)?.message ?? r.reason} (a restarted shard loads the current state)`);
  }

  /** last_used_at from the shards, one batched write. */
  touchKeys(used: [string, number][]): void {
    if (used.length) this.store.touchKeys(used).catch((err) => this.log(`warn: control plane: last_used_at not written: ${(err as Error)?.message ?? err}`));
  }

  async close(): Promise<void> {
    await this.#feed?.close();
    await this.#tail;
  }
}
