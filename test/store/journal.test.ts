import { afterEach, describe, expect, it, vi } from 'vitest';
import { appendFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Journal } from '../../src/store/journal.js';
import { JournalWriter } from '../../src/store/journal-writer.js';
import { Ledger } from '../../src/store/ledger.js';
import { LedgerProgress } from '../../src/store/ledger-progress.js';
import { customerScopeKey } from '../../src/store/aggregates.js';
import type { UsageRecord } from '../../src/store/usage-record.js';
import { tempDir } from '../helpers/temp-dir.js';
import { JOURNAL_TS, journalBatch, journalRows } from '../helpers/journal-rows.js';

// The journal is the ledger's durability point; LMDB is written behind from
// it. What a crash leaves in the journal is replayed exactly once, a torn
// last frame (never acknowledged) is dropped, and a clean close leaves it empty.

const TS = JOURNAL_TS;
const row = journalRows('j');
const batch = journalBatch;

const open: Ledger[] = [];
afterEach(async () => {
  for (const l of open.splice(0)) await l.close();
});
const ledgerAt = (dir: string) => {
  const l = new Ledger(dir, 'UTC', false);
  open.push(l);
  return l;
};
const segments = (dir: string) => readdirSync(join(dir, 'journal'));

describe('ledger journal', () => {
  it('replays what a crash left in the journal once, drops a torn last frame, and empties the journal', async () => {
    const dir = tempDir('tg-journal-');
    const rows = [row(), row({ idempotency_key: 'k1' }), row({ decision: 'blocked', status: 429 })];
    const torn = row();
    const j = new Journal(dir, true, 1 << 20);
    j.recover();
    j.append(1, [batch(rows.slice(0, 2))], 2);
    j.append(2, [batch(rows.slice(2))], 1);
    j.close();
    // Power loss mid-append: a frame header and half a payload.
    const file = join(dir, 'journal', segments(dir)[0]!);
    const tornFrame = batch([torn]);
    appendFileSync(file, Buffer.concat([Buffer.from([0x54, 0x47, 0x4a, 0x31]), Buffer.alloc(12, 0x20), tornFrame.subarray(0, 10)]));

    const ledger = ledgerAt(dir);
    const writer = new JournalWriter(ledger, new Journal(dir, true, 1 << 20));
    expect(await writer.recover()).toBe(3);
    for (const r of rows) expect(ledger.get(r.ts, r.request_id)).toStrictEqual(r);
    expect(ledger.get(torn.ts, torn.request_id)).toBeUndefined();
    expect(ledger.aggregateAt(customerScopeKey('acme'), 'total', TS)).toMatchObject({ calls: 2, blocked: 1, billed_nano: 3_000 });
    expect((await ledger.findIdempotent('acme', 'k1', TS, 86_400_000))?.request_id).toBe(rows[1]!.request_id);
    expect(segments(dir).map((f) => statSync(join(dir, 'journal', f)).size)).toEqual([0]);
  });

  it('charges nothing twice when the journal holds rows LMDB already has (killed between write-behind and truncation)', async () => {
    const dir = tempDir('tg-journal-');
    const rows = [row(), row(), row()];
    const ledger = ledgerAt(dir);
    expect(await ledger.commitRows(rows.slice(0, 2))).toBe(2);
    const j = new Journal(dir, false, 1 << 20);
    j.recover();
    j.append(1, [batch(rows)], 3);
    j.append(2, [batch([rows[2]!])], 1); // the same row twice in the journal
    j.close();
    const writer = new JournalWriter(ledger, new Journal(dir, false, 1 << 20));
    expect(await writer.recover()).toBe(1);
    expect(ledger.aggregateAt(customerScopeKey('acme'), 'total', TS)).toMatchObject({ calls: 3, billed_nano: 4_500 });
    expect(ledger.countRows({ customer: 'acme' })).toBe(3);
  });

  it('with new rows (the writer thread), still charges nothing twice on replay and on a write-behind retried after a commit that went through but failed', async () => {
    const dir = tempDir('tg-journal-');
    const rows = [row(), row()];
    const ledger = ledgerAt(dir);
    expect(await ledger.commitRows(rows.slice(0, 1))).toBe(1);
    const j = new Journal(dir, false, 1 << 20);
    j.recover();
    j.append(1, [batch(rows)], 2);
    j.close();
    const writer = new JournalWriter(ledger, new Journal(dir, false, 1 << 20), { newRows: true });
    expect(await writer.recover()).toBe(1); // the replay looks: the row LMDB had is not written again
    // LMDB takes a round's rows but its commit is reported failed (e.g. its sync): the retry must find them there.
    const real = ledger.commitRows.bind(ledger);
    const spy = vi.spyOn(ledger, 'commitRows').mockImplementationOnce(async (r, maybePresent) => {
      await real(r, maybePresent);
      throw new Error('commit reported failed after writing');
    });
    const more = [row(), row()];
    await new Promise<void>((applied) => writer.submit(batch(more), 2, () => {}, applied));
    expect(spy.mock.calls.map((c) => c[1])).toEqual([false, true]); // first attempt skips the lookup, the retry does not
    expect(ledger.aggregateAt(customerScopeKey('acme'), 'total', TS)).toMatchObject({ calls: 4, billed_nano: 6_000 });
    expect(ledger.countRows({ customer: 'acme' })).toBe(4);
    await writer.close();
  });

  it('group-commits batches submitted in one turn, tells each when it is durable and when LMDB has it, and rotates segments', async () => {
    const dir = tempDir('tg-journal-');
    const ledger = ledgerAt(dir);
    const progress = LedgerProgress.create();
    const writer = new JournalWriter(ledger, new Journal(dir, false, 64 * 1024), { progress });
    await writer.recover();
    const events: string[] = [];
    const all: UsageRecord[] = [];
    for (let round = 0; round < 40; round++) {
      const waits = [0, 1, 2].map((shard) => new Promise<void>((applied) => {
        const rows = Array.from({ length: 10 }, () => row({ tags: { pad: 'x'.repeat(200) } }));
        all.push(...rows);
        writer.submit(batch(rows), rows.length, () => events.push(`durable ${round}.${shard}`), applied);
      }));
      await Promise.all(waits);
    }
    expect(progress.read('journalCommits')).toBe(40); // one group per round: three batches, one append + sync
    expect(progress.read('journalRows')).toBe(1_200);
    expect(progress.applied).toBe(progress.durable);
    expect(progress.read('lmdbRows')).toBe(1_200);
    expect(events.slice(0, 3)).toEqual(['durable 0.0', 'durable 0.1', 'durable 0.2']);
    expect(ledger.countRows({ customer: 'acme' })).toBe(all.length);
    // 1,200 rows of ~300 bytes: several 64 KiB segments, those LMDB has durably deleted.
    await new Promise((r) => setTimeout(r, 50));
    expect(segments(dir).length).toBeLessThanOrEqual(2);
    expect(await writer.close()).toBe(0);
    expect(segments(dir).map((f) => statSync(join(dir, 'journal', f)).size)).toEqual([0]);
  });

  it('writes behind in rounds (many journal groups, one LMDB commit) and starts a round at once for a reader waiting for it', async () => {
    const dir = tempDir('tg-journal-');
    const ledger = ledgerAt(dir);
    const progress = LedgerProgress.create();
    const writer = new JournalWriter(ledger, new Journal(dir, false, 1 << 20), { progress, writeBehindMs: 60_000 });
    await writer.recover();
    const submit = (rows: UsageRecord[]) => new Promise<void>((durable) => writer.submit(batch(rows), rows.length, durable));
    // The first round starts at once (none before it); the groups after it wait for the next round.
    await submit([row()]);
    await new Promise((r) => setTimeout(r, 50));
    expect(progress.applied).toBe(1);
    for (let i = 0; i < 5; i++) await submit([row(), row()]);
    await new Promise((r) => setTimeout(r, 50));
    expect(progress.durable).toBe(6);
    expect(progress.applied).toBe(1); // durable in the journal, not yet in LMDB: the round is a minute away
    expect(progress.read('lmdbCommits')).toBe(1);
    // A reader needs LMDB to hold what is durable: it says so, and the round starts now.
    const started = Date.now();
    expect(await progress.catchUp(10_000)).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(progress.read('lmdbCommits')).toBe(2); // five groups, one commit
    expect(ledger.countRows({ customer: 'acme' })).toBe(11);
    expect(await writer.close()).toBe(0);
  });

  it('keeps rows appended through a ledger across a close and reopen', async () => {
    const dir = tempDir('tg-journal-');
    const a = new Ledger(dir, 'UTC', true);
    const rows = [row(), row(), row()];
    await Promise.all(rows.map((r) => a.append(r)));
    expect(a.countRows({ customer: 'acme' })).toBe(3); // an append resolves once LMDB has the row here
    await a.close();
    const b = ledgerAt(dir);
    for (const r of rows) expect(b.get(r.ts, r.request_id)).toStrictEqual(r);
  });
});

describe('read-your-writes', () => {
  it('waits until LMDB holds the group that was durable when the read began, and gives up at its deadline', async () => {
    const p = LedgerProgress.create();
    p.markDurable(2);
    p.markApplied(1);
    setTimeout(() => p.markApplied(2), 30);
    const started = Date.now();
    expect(await p.catchUp(5_000)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(20);
    p.markDurable(3); // a write-behind that never comes: the read goes ahead after its deadline
    expect(await p.catchUp(50)).toBe(false);
    expect(p.catchUpSync(30)).toBe(false);
    p.markApplied(3);
    expect(p.catchUpSync(0)).toBe(true);
  });
});
