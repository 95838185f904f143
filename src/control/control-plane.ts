import type { Config } from '../config/schema.js';
import type { ErrorType } from '../http/errors.js';
import { CapacityError, type SlotRegistry } from '../server/slot-registry.js';
import type { ControlChange, ControlDelta, ControlSnapshot } from './control-records.js';
import { ControlState } from './control-state.js';
import type { ControlStore } from './control-store.js';
import { createCustomer, deleteCustomer, issueKey, parseReset, patchCustomer, putPlan, revokeKey, type Outcome } from './control-ops.js';

// The supervisor's side of the control plane: the one writer of runtime
// state on this node. A write is validated against the state (control-ops.ts),
// staged in memory (so the next write sees it), committed to LMDB with its
// audit entry and the new global version, then applied on every shard —
// each acknowledges — and only then answered. Changes reach the shards in
// version order. A commit that fails is undone in memory and answered 503;
// nothing is half-written. `publish` (the Redis change feed) sees every
// committed change; `applyRemote` takes other nodes' changes.

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

export class ControlPlane {
  readonly state: ControlState;
  #registry: SlotRegistry | undefined;
  #version: number;
  /** Committed changes reach shards (and the feed) one after another, in version order. */
  #tail: Promise<unknown> = Promise.resolve();
  /** Every committed change of this node (change-feed.ts publishes it). */
  publish: (change: ControlChange) => Promise<void> = async () => {};

  constructor(
    private readonly config: Config,
    private readonly store: ControlStore,
    snapshot: ControlSnapshot,
    private readonly shards: () => ShardApply[],
    private readonly log: (msg: string) => void,
  ) {
    this.state = new ControlState(config, snapshot);
    this.#version = this.state.version;
  }

  /** The slot registry reads the state's catalog; it is built after the state (its table is sized from it). */
  attach(registry: SlotRegistry): void {
    this.#registry = registry;
  }

  get version(): number {
    return this.#version;
  }

  async handle(actor: string, op: ControlOp, now = Date.now()): Promise<ControlAnswer> {
    const outcome = this.#plan(op, now);
    if (!outcome.ok) return outcome;
    const change: ControlChange = { version: this.#version + 1, deltas: outcome.deltas };
    const moved = this.#stage(change.deltas);
    try {
      this.#registry?.checkReserve(moved);
    } catch (err) {
      this.#unstage(outcome.undo, moved);
      if (err instanceof CapacityError) return { ok: false, type: 'capacity_exhausted', message: err.message };
      throw err;
    }
    this.#registry?.reserve(moved);
    this.#version = change.version;
    this.state.version = change.version;
    const committed = this.store.commit(change, [{ ts: now, actor, ...outcome.audit }]);
    const done = this.#tail.then(() => committed).then(
      () => this.#ship(change),
      (err: unknown) => {
        this.#unstage(outcome.undo, moved);
        throw err;
      },
    );
    this.#tail = done.catch(() => {});
    try {
      await done;
    } catch (err) {
      this.log(`error: control plane: ${op.op} not written: ${(err as Error)?.message ?? err}`);
      return { ok: false, type: 'ledger_unavailable', message: `the change could not be written to the data directory (${(err as Error)?.message ?? err}); nothing was changed, retry later` };
    }
    return { ok: true, status: outcome.status, body: outcome.body };
  }

  #plan(op: ControlOp, now: number): Outcome {
    const { config, state } = this;
    switch (op.op) {
      case 'create-customer': return createCustomer(config, state, op.body);
      case 'patch-customer': return patchCustomer(config, state, op.id, op.body);
      case 'delete-customer': return deleteCustomer(state, op.id);
      case 'issue-key': return issueKey(state, op.customer, op.body, now);
      case 'revoke-key': return revokeKey(state, op.customer, op.key_id);
      case 'put-plan': return putPlan(config, state, op.name, op.body);
      case 'reset-spend': {
        const r = parseReset(state, op.customer, op.body);
        if ('ok' in r) return r;
        // The shared counters move now (every shard sees them at once); the offsets keep a later re-seed from the ledger honest.
        const offsets = this.#registry?.resetSpend(op.customer, now) ?? [];
        const delta: ControlDelta = { t: 'spend-reset', customer: op.customer, offsets };
        return { ok: true, deltas: [delta], undo: [], audit: { action: 'budget.reset', target: `customer:${op.customer}`, before: { reason: r.reason, spent: offsets }, after: { spent: 0 } }, status: 200, body: { customer: op.customer, reason: r.reason, reset: offsets.map((o) => ({ budget: o.key.split('\u0000').slice(2).join('/'), period_start: new Date(o.periodStart).toISOString() })) } };
      }
    }
  }

  /** Applies deltas to the in-memory state; returns how the reserved slot counts moved. */
  #stage(deltas: ControlDelta[]): { budgets: number; rates: number } {
    const affected = this.#affected(deltas);
    const before = this.#reservedFor(affected);
    for (const d of deltas) this.state.applyDelta(d);
    const after = this.#reservedFor(affected);
    return { budgets: after.budgets - before.budgets, rates: after.rates - before.rates };
  }

  #unstage(undo: ControlDelta[], moved: { budgets: number; rates: number }): void {
    for (const d of undo) this.state.applyDelta(d);
    this.#registry?.reserve({ budgets: -moved.budgets, rates: -moved.rates });
  }

  /** Customers whose reserved slots a change can move: the ones it names, and every customer on a plan it changes. */
  #affected(deltas: ControlDelta[]): Set<string> {
    const ids = new Set<string>();
    for (const d of deltas) {
      if (d.t === 'customer') ids.add(d.customer.id);
      else if (d.t === 'customer-deleted') ids.add(d.id);
      else if (d.t === 'plan' || d.t === 'plan-deleted') {
        const name = d.t === 'plan' ? d.plan.name : d.name;
        for (const c of this.state.catalog.customers()) if (c.plan === name) ids.add(c.id);
      }
    }
    return ids;
  }

  #reservedFor(ids: Set<string>): { budgets: number; rates: number } {
    let budgets = 0, rates = 0;
    if (this.#registry) {
      for (const id of ids) {
        const n = this.#registry.reservedFor(id);
        budgets += n.budgets;
        rates += n.rates;
      }
    }
    return { budgets, rates };
  }

  async #ship(change: ControlChange): Promise<void> {
    const results = await Promise.allSettled(this.shards().map((apply) => apply(change)));
    for (const r of results) if (r.status === 'rejected') this.log(`warn: control plane: a shard did not confirm version ${change.version}: ${(r.reason as Error)?.message ?? r.reason} (a restarted shard loads the current state)`);
    await this.publish(change).catch((err) => this.log(`warn: control plane: change feed: ${(err as Error)?.message ?? err}`));
  }

  /**
   * A change another node committed (change-feed.ts), or one this node
   * missed and reads back by version: stored, staged and shipped like our
   * own, without an audit entry (the writing node has it).
   */
  async applyRemote(change: ControlChange): Promise<boolean> {
    if (change.version <= this.#version) return false;
    const moved = this.#stage(change.deltas);
    this.#registry?.reserve(moved); // the writing node checked capacity; ours may only run fuller
    this.#version = change.version;
    this.state.version = change.version;
    const committed = this.store.commit(change, []);
    const done = this.#tail.then(() => committed).then(() => this.#shipLocal(change));
    this.#tail = done.catch(() => {});
    await done;
    return true;
  }

  async #shipLocal(change: ControlChange): Promise<void> {
    await Promise.allSettled(this.shards().map((apply) => apply(change)));
  }

  /** last_used_at from the shards, one batched write. */
  touchKeys(used: [string, number][]): void {
    if (used.length) this.store.touchKeys(used).catch((err) => this.log(`warn: control plane: last_used_at not written: ${(err as Error)?.message ?? err}`));
  }
}
