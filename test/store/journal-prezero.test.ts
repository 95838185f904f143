import { afterAll, describe, expect, it } from 'vitest';
import { closeSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { Journal, PREZERO_BYTES } from '../../src/store/journal.js';
import { JournalWriter } from '../../src/store/journal-writer.js';
import { Ledger } from '../../src/store/ledger.js';
import { customerScopeKey } from '../../src/store/aggregates.js';
import { decodeRows } from '../../src/store/row-codec.js';
import type { UsageRecord } from '../../src/store/usage-record.js';
import { tempDir } from '../helpers/temp-dir.js';
import { mountTmpfs, type Tmpfs } from '../helpers/tmpfs.js';
import { JOURNAL_TS, journalBatch, journalRows } from '../helpers/journal-rows.js';

// With ledger.sync the journal keeps its segment zero-filled ahead of the
// write position, so each group's fdatasync is a data flush only
// (journal.ts). What a crash leaves is then frames followed by zeros, not a
// file that ends at its last frame: recovery must read every whole frame,
// end the segment at the zeros (or at a torn frame written into them), and
// the journal must keep appending correctly after such a restart, across
// rotations and on a disk without room for the zeros.

const TS = JOURNAL_TS;
const row = journalRows('z');
const batch = journalBatch;

/** Groups of 1–5 rows, the rows kept to compare with what recovery reads. */
const groups = (count: number, pad = 0) => Array.from({ length: count }, (_, i) => {
  const rows = Array.from({ length: 1 + (i % 5) }, () => row(pad ? { tags: { pad: 'x'.repeat(pad) } } : {}));
  return { rows, payload: batch(rows) };
});

const segmentFiles = (dir: string) => readdirSync(join(dir, 'journal')).sort().map((f) => join(dir, 'journal', f));
const recovered = (dir: string, segmentBytes = 64 << 20) => new Journal(dir, true, segmentBytes).recover().map((g) => decodeRows(g.payload));
const FRAME_HEADER = 16;

/** A new journal of `count` groups, closed as a crash leaves it: nothing trims the zeros ahead. */
function crashedJournal(count: number, segmentBytes = 64 << 20, pad = 0) {
  const dir = tempDir('tg-prezero-');
  const j = new Journal(dir, true, segmentBytes);
  j.recover();
  const written = groups(count, pad);
  written.forEach((g, i) => j.append(i + 1, [g.payload], g.rows.length));
  const end = j.size;
  j.close();
  return { dir, written, end };
}

describe('a journal segment kept zero-filled ahead (ledger.sync)', () => {
  it('recovers every group of a crashed segment and ends it at the zeros', () => {
    const { dir, written, end } = crashedJournal(25);

    const [file] = segmentFiles(dir);
    const data = readFileSync(file!);
    expect(end).toBe(written.reduce((s, g) => s + FRAME_HEADER + g.payload.length, 0));
    expect(data.length).toBeGreaterThanOrEqual(end + PREZERO_BYTES - 64 * 1024); // the zeros ahead are on disk
    expect(data.subarray(end).every((b) => b === 0)).toBe(true);

    expect(recovered(dir)).toStrictEqual(written.map((g) => g.rows));
    expect(statSync(file!).size).toBe(end); // recovery cuts the segment after its last whole frame
  });

  it('drops a frame torn inside the zeros and keeps every whole frame before it', () => {
    for (const tear of ['header and part of the payload', 'header only', 'payload only'] as const) {
      const { dir, written, end } = crashedJournal(7);
      // Power loss while the next group was being written in place: some of its bytes reached the disk.
      const torn = batch([row(), row()]);
      const header = Buffer.alloc(FRAME_HEADER);
      header.writeUInt32LE(0x31_4a_47_54, 0);
      header.writeUInt32LE(torn.length, 4);
      header.writeUInt32LE(crc32(torn), 8);
      header.writeUInt32LE(2, 12);
      const fd = openSync(segmentFiles(dir)[0]!, 'r+');
      if (tear !== 'payload only') writeSync(fd, header, 0, FRAME_HEADER, end);
      if (tear === 'header and part of the payload') writeSync(fd, torn, 0, torn.length >> 1, end + FRAME_HEADER);
      if (tear === 'payload only') writeSync(fd, torn, 0, torn.length, end + FRAME_HEADER);
      closeSync(fd);

      expect(recovered(dir), tear).toStrictEqual(written.map((g) => g.rows));
    }
  });

  it('appends after a restart that found a zero-filled tail, and a later recovery reads both runs in order', () => {
    const { dir, written: first } = crashedJournal(4);

    const b = new Journal(dir, true, 64 << 20);
    expect(b.recover().map((g) => decodeRows(g.payload))).toStrictEqual(first.map((g) => g.rows));
    const second = groups(3);
    second.forEach((g, i) => b.append(i + 1, [g.payload], g.rows.length)); // a segment of its own, zero-filled ahead too
    b.close(); // crash again before anything was replayed

    expect(segmentFiles(dir)).toHaveLength(2);
    expect(statSync(segmentFiles(dir)[1]!).size).toBeGreaterThan(PREZERO_BYTES);
    expect(recovered(dir)).toStrictEqual([...first, ...second].map((g) => g.rows));
  });

  it('through the writer: a crash with rows in a zero-filled segment replays them once, and a clean stop leaves one empty segment', async () => {
    const { dir, written: crashed } = crashedJournal(5);

    const ledger = new Ledger(dir, 'UTC', true);
    try {
      const writer = new JournalWriter(ledger, new Journal(dir, true, 64 << 20), { newRows: true });
      expect(await writer.recover()).toBe(15);
      const more = [row(), row()];
      await new Promise<void>((applied) => writer.submit(batch(more), 2, () => {}, applied));
      expect(segmentFiles(dir)).toHaveLength(1);
      expect(statSync(segmentFiles(dir)[0]!).size).toBeGreaterThan(PREZERO_BYTES); // the new segment, zero-filled ahead
      expect(await writer.close()).toBe(0);
      expect(segmentFiles(dir).map((f) => statSync(f).size)).toEqual([0]);
      for (const r of [...crashed.flatMap((g) => g.rows), ...more]) expect(ledger.get(r.ts, r.request_id)).toStrictEqual(r);
      expect(ledger.aggregateAt(customerScopeKey('acme'), 'total', TS)).toMatchObject({ calls: 17, billed_nano: 17 * 1_500 });
    } finally {
      await ledger.close();
    }
  });

  it('zero-fills no further than the segment size, and recovery crosses every rotated segment\'s zeros', () => {
    const segmentBytes = 64 * 1024;
    const { dir, written } = crashedJournal(100, segmentBytes, 1_000); // ~1.2 KB a row, 3 rows a group on average: several 64 KiB segments

    const files = segmentFiles(dir);
    expect(files.length).toBeGreaterThanOrEqual(4);
    // A closed segment ends at its last frame (past the size) or at its zeros (the size): never 1 MiB beyond.
    for (const f of files) expect(statSync(f).size).toBeLessThan(segmentBytes + 16 * 1024);
    expect(recovered(dir, segmentBytes)).toStrictEqual(written.map((g) => g.rows));
  });
});

// A disk without room for the zeros: a group is still written if its own bytes fit (as before
// pre-zeroing), is refused (append throws: the writer holds it and retries) when they do not,
// and the segment is then cut back to its last whole group. Needs root for a small tmpfs.
describe('a zero-filled journal on a full disk', () => {
  let disk: Tmpfs | undefined;
  afterAll(() => disk?.unmount());

  it('writes groups into the room left, refuses the first that does not fit, and takes it once space returns', (t) => {
    disk = mountTmpfs('512k', 'tg-prezero-tmpfs-');
    if (!disk) return t.skip();
    const mountPoint = disk.path;
    const j = new Journal(mountPoint, true, 64 << 20);
    j.recover();
    // Leave ~64 KiB: far less than the zeros the first append asks for.
    const filler = join(mountPoint, 'filler');
    const fd = openSync(filler, 'w');
    try {
      writeSync(fd, Buffer.alloc(448 * 1024, 1));
    } finally {
      closeSync(fd);
    }

    const written: UsageRecord[][] = [];
    let seq = 0;
    let refused: { rows: UsageRecord[]; payload: Buffer } | undefined;
    for (let i = 0; i < 200 && !refused; i++) {
      const g = groups(1, 2_000)[0]!;
      try {
        j.append(seq + 1, [g.payload], g.rows.length);
        seq++;
        written.push(g.rows);
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
        refused = g;
      }
    }
    expect(written.length).toBeGreaterThan(3); // groups went into the room the zeros could not fill
    expect(refused).toBeDefined();
    const file = segmentFiles(mountPoint)[0]!;
    expect(statSync(file).size).toBe(j.size); // cut back to the last whole group

    unlinkSync(filler);
    j.append(seq + 1, [refused!.payload], refused!.rows.length); // the retry
    written.push(refused!.rows);
    j.close();
    expect(recovered(mountPoint)).toStrictEqual(written);
  });
});
