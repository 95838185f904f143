import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Exchange } from '../http/exchange.js';
import type { ShardContext } from '../proxy/shard-context.js';
import { rowMatches, type ExportSpec } from '../store/row-export.js';
import { CSV_COLUMNS, csvLine, publicRowToCsv, toPublicRow } from '../store/usage-record.js';
import { failRead, usageRows } from './usage-source.js';

// CSV exports of usage rows. A bounded export (limit ≤ IN_PROCESS_LIMIT)
// streams from the shard itself; anything larger runs in a reader process
// (store/export-process.ts) whose output the shard relays, pausing the pipe
// on backpressure. That keeps a million-row export off the shard's event
// loop and out of the server's memory (see row-export.ts on LMDB's map).

export const IN_PROCESS_LIMIT = 10_000;
/** Reader processes one shard runs at once; more exports wait their turn as a 503. */
const MAX_READERS = 2;
const READER = fileURLToPath(new URL('../store/export-process.js', import.meta.url));

let readers = 0;

export function exportCsv(ex: Exchange, ctx: ShardContext, spec: Omit<ExportSpec, 'dataDir' | 'timeZone'>, name: string): void {
  const full: ExportSpec = { ...spec, dataDir: ctx.config.dataDir, timeZone: ctx.clock.timeZone };
  const headers = { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="${name}.csv"` };
  // The cluster ledger is read in pages over the network: no memory map to keep out of the server.
  if (ctx.clusterLedger || (spec.limit !== undefined && spec.limit <= IN_PROCESS_LIMIT)) {
    void streamInProcess(ex, ctx, full, headers);
    return;
  }
  if (readers >= MAX_READERS) {
    ex.fail('openai', 'overloaded_error', `${MAX_READERS} exports are already running on this shard; retry shortly`, undefined, { 'retry-after': '5' });
    return;
  }
  relayReader(ex, ctx, full, headers);
}

async function streamInProcess(ex: Exchange, ctx: ShardContext, spec: ExportSpec, headers: Record<string, string>): Promise<void> {
  let buf = csvLine(CSV_COLUMNS);
  let n = 0;
  try {
    for await (const row of usageRows(ctx, spec.query)) {
      if (ex.aborted || n >= (spec.limit ?? Infinity)) break;
      if (spec.filter && !rowMatches(row, spec.filter)) continue;
      n++;
      buf += publicRowToCsv(toPublicRow(row));
      if (buf.length > 64 * 1024) {
        if (!ex.started) ex.begin(200, headers);
        const wait = ex.write(buf);
        buf = '';
        if (wait) await wait;
      }
    }
  } catch (err) {
    // Before any byte: a proper error. After: cut the connection, so a truncated file never looks complete.
    if (!ex.started) failRead(ex, ctx, err);
    else ex.close();
    return;
  }
  if (!ex.started) ex.begin(200, headers);
  ex.end(buf);
}

function relayReader(ex: Exchange, ctx: ShardContext, spec: ExportSpec, headers: Record<string, string>): void {
  readers++;
  ctx.inFlight++;
  const child = spawn(process.execPath, [READER, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const cancel = { cancel: () => child.kill('SIGTERM') };
  // Shutdown cancels it like a call past its deadline; nothing else does.
  ctx.inFlightCalls.set(cancel, Date.now() + 7 * 86_400_000);
  ex.onAbort(cancel.cancel);
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    if (stderr.length < 4000) stderr += d;
  });
  child.stdout.on('data', (chunk: Buffer) => {
    if (!ex.started) ex.begin(200, headers);
    const wait = ex.write(chunk);
    if (wait) {
      child.stdout.pause();
      void wait.then(() => child.stdout.resume());
    }
  });
  child.once('close', (code, signal) => {
    readers--;
    ctx.inFlight--;
    ctx.inFlightCalls.delete(cancel);
    ctx.callFinished();
    if (ex.aborted) return;
    if (code === 0) {
      if (!ex.started) ex.begin(200, headers);
      ex.end();
      return;
    }
    ctx.log('error', 'CSV export reader failed', { code, signal, stderr: stderr.slice(0, 2000) });
    // Before any byte: a proper error. After: cut the connection, so a truncated file never looks complete.
    if (!ex.started) ex.fail('openai', 'internal_error', 'the CSV export failed; see the server log');
    else ex.close();
  });
}
