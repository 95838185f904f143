import { createWriteStream, existsSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfigFile } from './config/load-config.js';
import type { Config } from './config/schema.js';
import { Ledger, type UsageQuery } from './store/ledger.js';
import { csvChunks, csvChunksOf } from './store/row-export.js';
import { ClusterLedgerError, PgLedger } from './store/pg/pg-ledger.js';
import type { ReportSource } from './store/report-source.js';
import { customersCsv, dailyCsv, summaryCsv } from './admin/report-csv.js';
import { dayWindow, isDay, parseRange, type ReportRange } from './admin/report-query.js';
import { COUNTER_COLUMNS, customersReport, dailyReport, summaryReport, type PublicCounters } from './admin/reports.js';
import { table } from './cli-table.js';

// `tollgate report`: billing reports and CSV exports read straight from the
// ledger in the config's dataDir (LMDB allows readers beside a running
// server). Reports read the report indexes; `export` streams rows with
// bounded memory and draws a progress bar on stderr.

export const REPORT_USAGE = `usage:
  tollgate report daily     --customer ID [--from DATE] [--to DATE] [--model M | --agent A | --tag k=v] [--format table|json|csv]
  tollgate report monthly   --customer ID [--month YYYY-MM] [--format table|json|csv]
  tollgate report customers [--month YYYY-MM | --from DATE --to DATE] [--format table|json|csv]
  tollgate report export    [--customer ID] [--from DATE|ISO] [--to DATE|ISO] [--out FILE] [--progress | --no-progress]
options for all: --config FILE (default ./tollgate.yaml, else the bundled example), --data-dir DIR,
  --local (with ledger.postgres configured: this node's own ledger instead of the whole cluster's)`;

const BUNDLED = fileURLToPath(new URL('../config/tollgate.example.yaml', import.meta.url));

type Format = 'table' | 'json' | 'csv';

interface ReportFlags {
  config?: string; dataDir?: string; customer?: string; from?: string; to?: string; month?: string;
  model?: string; agent?: string; tag?: string; format: Format; out?: string; progress?: boolean; local?: boolean;
}

class UsageError extends Error {}

function parseFlags(args: string[]): ReportFlags {
  const f: ReportFlags = { format: 'table' };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    const value = () => {
      const v = eq > 0 ? a.slice(eq + 1) : args[++i];
      if (v === undefined) throw new UsageError(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '--config': case '-c': f.config = value(); break;
      case '--data-dir': f.dataDir = value(); break;
      case '--customer': f.customer = value(); break;
      case '--from': f.from = value(); break;
      case '--to': f.to = value(); break;
      case '--month': f.month = value(); break;
      case '--model': f.model = value(); break;
      case '--agent': f.agent = value(); break;
      case '--tag': f.tag = value(); break;
      case '--out': case '-o': f.out = value(); break;
      case '--progress': f.progress = true; break;
      case '--no-progress': f.progress = false; break;
      case '--local': f.local = true; break;
      case '--format': {
        const v = value();
        if (v !== 'table' && v !== 'json' && v !== 'csv') throw new UsageError(`--format: table, json or csv (got "${v}")`);
        f.format = v;
        break;
      }
      default: throw new UsageError(`unknown option ${a}`);
    }
  }
  return f;
}

/** The config, and where to read: the cluster ledger when `ledger.postgres` is set (unless --local), else the node's dataDir. */
function dataOf(f: ReportFlags): { config: Config; dataDir: string; postgres?: string } {
  const file = f.config ?? (existsSync('tollgate.yaml') ? 'tollgate.yaml' : BUNDLED);
  const config = loadConfigFile(file);
  const dataDir = f.dataDir ?? config.dataDir;
  const postgres = f.local ? undefined : config.ledger.postgres;
  if (!postgres && !existsSync(join(dataDir, 'tollgate.lmdb'))) throw new UsageError(`no ledger in ${dataDir} (config ${file}); give --data-dir or --config`);
  return { config, dataDir, postgres };
}

function rangeOf(f: ReportFlags, day: (ts: number) => string, span: 'month' | 'days'): ReportRange {
  const qs = new URLSearchParams();
  for (const k of ['from', 'to', 'month'] as const) if (f[k]) qs.set(k, f[k]!);
  const r = parseRange(qs, day(Date.now()), day, span);
  if (typeof r === 'string') throw new UsageError(r.replace(/^(from|to|month)/, '--$1'));
  return r;
}

export async function runReport(args: string[], out: Writable = process.stdout, err: NodeJS.WriteStream = process.stderr): Promise<number> {
  const [sub, ...rest] = args;
  let ledger: Ledger | undefined;
  let db: PgLedger | undefined;
  try {
    if (!sub || sub === 'help' || sub === '--help') {
      out.write(REPORT_USAGE + '\n');
      return sub ? 0 : 2;
    }
    const f = parseFlags(rest);
    const { config, dataDir, postgres } = dataOf(f);
    if (postgres) db = new PgLedger({ url: postgres, timeZone: config.timezone, node: 'cli', poolSize: 1 });
    // The export opens (and re-opens) its own handles; nothing else may keep the map open meanwhile.
    if (sub === 'export') {
      await exportRows(db ?? dataDir, config.timezone, f, out, err);
      return 0;
    }
    if (!db) ledger = new Ledger(dataDir, config.timezone, false, config.reports);
    const day = db ? (t: number) => db!.day(t) : (t: number) => ledger!.reports.day(t);
    /** The counters a report reads: the node's report indexes, or the cluster ledger's for this customer (all: null) and range. */
    const source = async (customer: string | null, range: ReportRange): Promise<ReportSource> =>
      !db ? ledger!.reports : customer === null ? db.customerTotals(range.from, range.to) : db.customerReports(customer, range.from, range.to);
    const needCustomer = () => {
      if (!f.customer) throw new UsageError('--customer is required');
      return f.customer;
    };
    switch (sub) {
      case 'daily': {
        const dims = (['model', 'agent', 'tag'] as const).filter((d) => f[d]);
        if (dims.length > 1) throw new UsageError('give one of --model, --agent, --tag');
        const range = rangeOf(f, day, 'days');
        const r = dailyReport(await source(needCustomer(), range), needCustomer(), range, dims[0] ? { dim: dims[0], value: f[dims[0]]! } : undefined);
        write(out, f.format, r, () => dailyCsv(r), () => table(['date', ...COUNTER_COLUMNS], r.days.map((d) => [d.date, ...cells(d)])));
        break;
      }
      case 'monthly': {
        const range = rangeOf(f, day, 'month');
        const r = summaryReport(await source(needCustomer(), range), needCustomer(), range);
        write(out, f.format, r, () => summaryCsv(r), () => [
          `customer ${r.customer}, ${r.from} to ${r.to}`,
          table(['', ...COUNTER_COLUMNS], [['total', ...cells(r.totals)]]),
          'by model', table(['model', ...COUNTER_COLUMNS], r.by_model.map((m) => [m.model, ...cells(m)])),
          'by agent', table(['agent', ...COUNTER_COLUMNS], r.by_agent.map((a) => [a.agent, ...cells(a)])),
          'by tag', table(['tag', ...COUNTER_COLUMNS], r.by_tag.map((t) => [t.tag, ...cells(t)])),
          'by day (days with activity)', table(['date', ...COUNTER_COLUMNS], r.days.filter((d) => d.calls + d.blocked > 0).map((d) => [d.date, ...cells(d)])),
        ].join('\n'));
        break;
      }
      case 'customers': {
        const range = rangeOf(f, day, 'month');
        const r = customersReport(await source(null, range), range);
        write(out, f.format, r, () => customersCsv(r), () => `${r.from} to ${r.to}\n` + table(['customer', ...COUNTER_COLUMNS], [...r.customers.map((c) => [c.customer, ...cells(c)]), ['(all)', ...cells(r.totals)]]));
        break;
      }
      default:
        throw new UsageError(`unknown report "${sub}"`);
    }
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      err.write(`tollgate report: ${e.message}\n${REPORT_USAGE}\n`);
      return 2;
    }
    if (e instanceof ConfigError || e instanceof ClusterLedgerError) {
      err.write(`tollgate: ${e.message}${e instanceof ClusterLedgerError ? ' (--local reads this node\'s own ledger)' : ''}\n`);
      return 1;
    }
    throw e;
  } finally {
    await ledger?.close();
    await db?.close();
  }
}

function write(out: Writable, format: Format, json: unknown, csv: () => string, text: () => string): void {
  out.write(format === 'json' ? JSON.stringify(json, null, 2) + '\n' : format === 'csv' ? csv() : text() + '\n');
}

const cells = (c: PublicCounters) => COUNTER_COLUMNS.map((k) => {
  const v = c[k];
  if (v === null) return '';
  return k === 'cost_usd' || k === 'billed' || k === 'margin_usd' ? (v as number).toFixed(6) : String(v);
});

/** Streams every matching row as CSV with backpressure; memory stays bounded whatever the count (row-export.ts). */
async function exportRows(from: string | PgLedger, timeZone: string, f: ReportFlags, stdout: Writable, err: NodeJS.WriteStream): Promise<void> {
  const q: UsageQuery = {};
  if (f.customer) q.customer = f.customer;
  for (const k of ['from', 'to'] as const) {
    const v = f[k];
    if (!v) continue;
    if (isDay(v)) {
      const w = dayWindow(v, timeZone);
      q[k] = k === 'from' ? w.start : w.end; // a date means its whole day
    } else {
      const t = Date.parse(v);
      if (Number.isNaN(t)) throw new UsageError(`--${k}: a date YYYY-MM-DD or an ISO time (got "${v}")`);
      q[k] = t;
    }
  }
  const showProgress = f.progress ?? (err.isTTY === true);
  let total = 0;
  if (showProgress) {
    if (typeof from === 'string') {
      const counting = new Ledger(from, timeZone, false);
      total = counting.countRows(q);
      await counting.close();
    } else total = await from.countRows(q);
  }
  const out = f.out ? createWriteStream(f.out) : stdout;
  const bar = showProgress ? new ProgressBar(err, total) : undefined;
  let rows = -1; // the header line is not a row
  let bytes = 0;
  for await (const chunk of typeof from === 'string' ? csvChunks({ dataDir: from, timeZone, query: q }) : csvChunksOf(from.rows(q))) {
    bytes += chunk.length;
    for (let i = chunk.indexOf('\n'); i !== -1; i = chunk.indexOf('\n', i + 1)) rows++;
    if (!out.write(chunk)) await once(out, 'drain');
    bar?.update(rows, bytes);
  }
  bar?.done(rows, bytes);
  if (f.out) {
    (out as ReturnType<typeof createWriteStream>).end();
    await once(out, 'finish');
    err.write(`tollgate report: wrote ${rows.toLocaleString('en-US')} rows (${(bytes / 1e6).toFixed(1)} MB) to ${f.out}\n`);
  }
}

/** Progress on stderr: a redrawn bar on a terminal, a line per 10% otherwise. */
class ProgressBar {
  readonly #t0 = performance.now();
  #last = 0;
  #lastDecile = -1;

  constructor(private readonly err: NodeJS.WriteStream, private readonly total: number) {}

  update(rows: number, bytes: number, force = false): void {
    const now = performance.now();
    if (!force && now - this.#last < 100) return;
    this.#last = now;
    const frac = this.total ? Math.min(1, rows / this.total) : 1;
    const secs = ((now - this.#t0) / 1000).toFixed(1);
    const text = `${(frac * 100).toFixed(1).padStart(5)}%  ${rows.toLocaleString('en-US')} / ${this.total.toLocaleString('en-US')} rows  ${(bytes / 1e6).toFixed(1)} MB  ${secs} s`;
    if (this.err.isTTY) {
      const width = 30;
      const filled = Math.round(frac * width);
      this.err.write(`\rexporting [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}`);
    } else {
      const decile = Math.floor(frac * 10);
      if (decile === this.#lastDecile && !force) return;
      this.#lastDecile = decile;
      this.err.write(`exporting ${text}\n`);
    }
  }

  done(rows: number, bytes: number): void {
    this.update(rows, bytes, true);
    if (this.err.isTTY) this.err.write('\n');
  }
}
