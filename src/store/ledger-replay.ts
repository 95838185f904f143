import type { Ledger } from './ledger.js';
import type { UsageRecord } from './usage-record.js';

// Re-enters usage rows a Tollgate process could not commit (its disk was
// full at shutdown) from the `ledger_unwritten_row` lines it logged. A row
// already in the ledger is skipped, so replaying the same log twice — or a
// log whose rows did commit after all — charges nothing twice. Run it before
// starting Tollgate on that data directory: budgets are seeded from the
// ledger at start.

export interface ReplayOutcome { replayed: number; present: number; invalid: number }

export async function replayUnwrittenRows(ledger: Ledger, lines: Iterable<string>): Promise<ReplayOutcome> {
  const out: ReplayOutcome = { replayed: 0, present: 0, invalid: 0 };
  const seen = new Set<string>();
  for (const line of lines) {
    if (!line.includes('ledger_unwritten_row')) continue;
    let parsed: { msg?: string; row?: unknown } | undefined;
    try {
      parsed = JSON.parse(line.slice(line.indexOf('{')));
    } catch {
      continue; // a line that merely mentions it
    }
    if (parsed?.msg !== 'ledger_unwritten_row') continue;
    const row = parsed.row;
    if (!isRow(row)) {
      out.invalid++;
      continue;
    }
    if (seen.has(row.request_id) || ledger.get(row.ts, row.request_id)) {
      out.present++;
      continue;
    }
    seen.add(row.request_id);
    await ledger.append(row);
    out.replayed++;
  }
  return out;
}

function isRow(r: unknown): r is UsageRecord {
  const x = r as Partial<UsageRecord> | undefined;
  return !!x && typeof x.request_id === 'string' && typeof x.ts === 'number' && typeof x.customer === 'string'
    && (x.decision === 'allowed' || x.decision === 'blocked') && typeof x.billed_nano === 'number' && typeof x.cost_nano === 'number';
}
