// node --expose-gc bench/session-memory.mjs [--sessions 1000000] [--capacity 1000000] [--budgets 1] [--json]
//
// What a million idle sessions cost: builds the real session table
// (dist/budget/session-table.js, as the supervisor does at start), opens
// `sessions` distinct sessions with one call each (acquire, reserve, settle,
// unpin: every one left idle), and prints the table's bytes, the process's
// measured growth (arrayBuffers, RSS) and bytes per session. Then, past the
// TTL, opens as many new sessions again: they reuse the expired entries, so
// memory does not grow. Needs a build (npm run build).
import { execSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '1000000' },
    capacity: { type: 'string', default: '' },
    budgets: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const sessions = Number(values.sessions);
const capacity = Number(values.capacity || values.sessions);
const budgets = Number(values.budgets);

const { SessionTable } = await import('../dist/budget/session-table.js');
const { sessionKey } = await import('../dist/budget/session-key.js');
const { reserveSession, settleSessionHold } = await import('../dist/budget/session-budgets.js');

const gc = globalThis.gc ?? (() => {});
const mem = () => {
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, arrayBuffers: m.arrayBuffers, heapUsed: m.heapUsed };
};

const T = { ttlMs: 24 * 3_600_000, staleMs: 15 * 60_000 + 5_000 };
const refs = Array.from({ length: budgets }, (_, index) => ({ index, kind: 'requests', unit: 'requests', rate: 1, limit: 100, cap: 100n, source: 'customer' }));
const amounts = { billedPico: 0, tokens: 10, requests: 1 };

const before = mem();
const table = SessionTable.create(capacity, budgets);
// Touch every page, as a long-running proxy eventually does.
new Uint8Array(table.sab).fill(0);

function fill(prefix, now) {
  let stored = 0;
  let refused = 0;
  const t0 = performance.now();
  for (let i = 0; i < sessions; i++) {
    const v = reserveSession(table, refs, { id: `${prefix}-${i}`, key: sessionKey('acme', `${prefix}-${i}`) }, amounts, now, T, 0);
    if (!v.ok) {
      refused++;
      continue;
    }
    settleSessionHold(v.hold, amounts, false, now);
    stored++;
  }
  return { stored, refused, ms: Math.round(performance.now() - t0) };
}

const first = fill('s', 1_000_000);
const after = mem();
const second = fill('t', 1_000_000 + T.ttlMs + 1); // a day later: every first-round session has expired
const reused = mem();

let commit = 'unknown';
try {
  commit = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
} catch {}

const result = {
  node: process.version, commit, capacity: table.capacity, budgets, sessions,
  table_bytes: table.sab.byteLength,
  bytes_per_session: +(table.sab.byteLength / table.capacity).toFixed(2),
  first_round: first,
  measured_growth: { array_buffers: after.arrayBuffers - before.arrayBuffers, rss: after.rss - before.rss, heap_used: after.heapUsed - before.heapUsed },
  measured_per_stored_session: { array_buffers: +((after.arrayBuffers - before.arrayBuffers) / first.stored).toFixed(2), rss: +((after.rss - before.rss) / first.stored).toFixed(2) },
  after_ttl_round: second,
  growth_after_ttl_round: { array_buffers: reused.arrayBuffers - after.arrayBuffers, rss: reused.rss - after.rss },
};
if (values.json) {
  console.log(JSON.stringify(result));
} else {
  console.log(`session table: node ${result.node}, commit ${commit}, capacity ${result.capacity}, ${budgets} session budget(s)`);
  console.log(`  table: ${result.table_bytes} bytes = ${result.bytes_per_session} B per session`);
  console.log(`  ${sessions} sessions opened in ${first.ms} ms: ${first.stored} stored, ${first.refused} refused (both buckets full)`);
  console.log(`  measured growth: arrayBuffers +${result.measured_growth.array_buffers} B (${result.measured_per_stored_session.array_buffers} B/session), rss +${result.measured_growth.rss} B (${result.measured_per_stored_session.rss} B/session), heap +${result.measured_growth.heap_used} B`);
  console.log(`  after the TTL: ${second.stored} new sessions stored in ${second.ms} ms, ${second.refused} refused; growth arrayBuffers +${result.growth_after_ttl_round.array_buffers} B, rss +${result.growth_after_ttl_round.rss} B`);
}
