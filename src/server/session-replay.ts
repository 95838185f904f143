import type { Config } from '../config/schema.js';
import { chargeSession, sessionBudgetRefs, type SessionBudgetRef } from '../budget/session-budgets.js';
import { sessionKey } from '../budget/session-key.js';
import type { SessionTable } from '../budget/session-table.js';
import { isCharged, type Ledger } from '../store/ledger.js';

// Session counters live in shared memory only, so a restart would let every
// session spend its budget again. At start the supervisor rebuilds them from
// the ledger's last `sessionTtl` of rows (oldest first, so each session's
// last call is its last row): charged rows add what the call was billed,
// refused ones keep the session alive, as they did before the restart.

export interface ReplayResult { rows: number; sessions: number; ms: number }

export function replaySessions(table: SessionTable, config: Config, ledger: Ledger, now: number, lockAs: number): ReplayResult {
  const t0 = performance.now();
  const timing = { ttlMs: config.sessionTtl, staleMs: 0 };
  const refsOf = new Map<string, SessionBudgetRef[]>();
  const seen = new Set<string>();
  let rows = 0;
  for (const row of ledger.rows({ from: now - config.sessionTtl, to: now + 1 })) {
    if (!row.session) continue;
    let refs = refsOf.get(row.customer);
    if (!refs) refsOf.set(row.customer, (refs = sessionBudgetRefs(config, row.customer)));
    if (!refs.length) continue;
    const call = { id: row.session, key: sessionKey(row.customer, row.session) };
    const charged = isCharged(row);
    const amounts = { billedPico: charged ? row.billed_nano * 1000 : 0, tokens: charged ? row.prompt_tokens + row.completion_tokens : 0, requests: charged ? 1 : 0 };
    chargeSession(table, refs, call, amounts, row.ts, timing, lockAs);
    seen.add(`${row.customer}\u0000${row.session}`);
    rows++;
  }
  return { rows, sessions: seen.size, ms: Math.round(performance.now() - t0) };
}
