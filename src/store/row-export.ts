import { readFileSync } from 'node:fs';
import { Ledger, type UsageQuery } from './ledger.js';
import { CSV_COLUMNS, csvLine, publicRowToCsv, toPublicRow, type UsageRecord } from './usage-record.js';

// Every usage row of a query as CSV, in ~64 KiB chunks, with memory bounded
// whatever the row count. LMDB reads through a memory map, and on Linux each
// page fault maps up to 16 neighbouring pages already in the page cache
// ("fault-around"), so a long scan leaves hundreds of MB of file pages
// counted in the process's RSS although nothing was copied. The export
// therefore closes its ledger handle — unmapping the file — whenever the
// file pages it has mapped pass a bound, and reopens it after the last row
// it wrote. Run it in a process of its own (export-process.ts, the CLI):
// in the server, other threads keep the environment mapped.

export interface ExportSpec {
  dataDir: string;
  timeZone: string;
  query: UsageQuery;
  filter?: { model?: string; agent?: string; decision?: 'allowed' | 'blocked' };
  limit?: number;
}

export interface ExportOptions {
  /** File-backed memory the reader may map before it reopens (bytes). */
  maxMappedBytes?: number;
  /** Rows between two looks at the mapped size. */
  checkEvery?: number;
  /** Without /proc (not Linux): rows per reopen. */
  rowsPerOpen?: number;
}

const CHUNK = 64 * 1024;

export function rowMatches(row: UsageRecord, f: NonNullable<ExportSpec['filter']>): boolean {
  if (f.decision && row.decision !== f.decision) return false;
  if (f.agent !== undefined && (row.agent ?? '(none)') !== f.agent) return false;
  if (f.model !== undefined && (row.model ?? row.model_requested ?? '(unknown)') !== f.model) return false;
  return true;
}

/** Resident file-backed memory of this process in bytes, or undefined without /proc. */
function mappedFileBytes(): number | undefined {
  try {
    const m = /RssFile:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export async function* csvChunks(spec: ExportSpec, opts: ExportOptions = {}): AsyncGenerator<string> {
  const maxMapped = opts.maxMappedBytes ?? 48 * 1024 * 1024;
  const checkEvery = opts.checkEvery ?? 1000;
  const rowsPerOpen = opts.rowsPerOpen ?? 20_000;
  const limit = spec.limit ?? Infinity;
  let cursor = spec.query.cursor;
  let written = 0;
  yield csvLine(CSV_COLUMNS);
  for (;;) {
    const ledger = new Ledger(spec.dataDir, spec.timeZone, false);
    const base = mappedFileBytes();
    let buf = '';
    let finished = true;
    let seen = 0;
    try {
      for (const row of ledger.rows({ ...spec.query, cursor })) {
        if (written >= limit) break;
        cursor = [row.ts, row.request_id];
        if (!spec.filter || rowMatches(row, spec.filter)) {
          buf += publicRowToCsv(toPublicRow(row));
          written++;
          if (buf.length >= CHUNK) {
            yield buf;
            buf = '';
          }
        }
        if (++seen % checkEvery === 0) {
          const now = base === undefined ? undefined : mappedFileBytes();
          if (now === undefined ? seen >= rowsPerOpen : now - base! > maxMapped) {
            finished = false;
            break;
          }
        }
      }
    } finally {
      await ledger.close();
    }
    if (buf) yield buf;
    if (finished) return;
  }
}

/** CSV of rows read elsewhere (the cluster ledger's pages): a header line, then ~64 KiB chunks. */
export async function* csvChunksOf(rows: AsyncIterable<UsageRecord>): AsyncGenerator<string> {
  yield csvLine(CSV_COLUMNS);
  let buf = '';
  for await (const row of rows) {
    buf += publicRowToCsv(toPublicRow(row));
    if (buf.length >= CHUNK) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}
