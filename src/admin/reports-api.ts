import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Exchange } from '../http/exchange.js';
import type { ShardContext } from '../proxy/shard-context.js';
import { toPublicRow } from '../store/usage-record.js';
import { exportCsv } from './csv-export.js';
import { listCustomers, parseCustomerListQuery } from './customer-list.js';
import { breakdownCsv, customersCsv, dailyCsv, summaryCsv } from './report-csv.js';
import { parseFormat, parseRange, type ReportRange } from './report-query.js';
import { breakdownReport, customersReport, dailyReport, summaryReport } from './reports.js';
import { parseUsageSearch, searchPage } from './usage-search.js';
import { failRead, usageRows } from './usage-source.js';
import type { ReportSource } from '../store/report-source.js';
import { ClusterLedgerError } from '../store/pg/pg-ledger.js';

// Billing reports and the customer list on the admin API (same bearer
// guard). Reports read the report indexes the ledger keeps as rows are
// written; only /admin/reports/usage lists rows (CSV through csv-export.ts).

export interface ReportDeps {
  ctx: ShardContext;
  guard: (res: HttpResponse, req: HttpRequest) => Exchange | undefined;
}

type Dim = 'model' | 'agent' | 'tag';
const DIMS: readonly Dim[] = ['model', 'agent', 'tag'];

export function mountReports(app: TemplatedApp, { ctx, guard }: ReportDeps): void {
  const ix = ctx.ledger.reports;
  const bad = (ex: Exchange, message: string) => ex.fail('openai', 'invalid_request_error', message);
  const today = () => ix.day(Date.now());
  const range = (qs: URLSearchParams, span: 'month' | 'days') => parseRange(qs, today(), (t) => ix.day(t), span);
  /**
   * Runs `report` on the counters of `customer` (every customer: null) over the range: this node's
   * report indexes, or with `ledger.postgres` the cluster ledger's, read first. A customer neither
   * configured nor ever seen answers 404.
   */
  const withSource = (ex: Exchange, customer: string | null, r: ReportRange, report: (source: ReportSource) => void) => {
    const run = (source: ReportSource) => {
      if (customer !== null && !ctx.keys.customer(customer) && !source.customer(customer)) {
        return void ex.fail('openai', 'not_found_error', `no customer "${customer.slice(0, 200)}": not configured and never seen`);
      }
      report(source);
    };
    const cl = ctx.clusterLedger;
    if (!cl) return run(ix);
    (customer === null ? cl.customerTotals(r.from, r.to) : cl.customerReports(customer, r.from, r.to)).then(run).catch((err) => failRead(ex, ctx, err));
  };
  /** The customer named by `customer=`; answers 400 without one. */
  const customerOf = (ex: Exchange, qs: URLSearchParams): string | undefined => {
    const id = qs.get('customer');
    if (!id) bad(ex, 'customer: required');
    return id || undefined;
  };
  const answer = (ex: Exchange, t0: number, csv: boolean, name: string, json: () => unknown, text: () => string) => {
    const body = csv ? text() : JSON.stringify(json());
    ex.send(200, {
      'content-type': csv ? 'text/csv; charset=utf-8' : 'application/json',
      ...(csv ? { 'content-disposition': `attachment; filename="${name}.csv"` } : {}),
      'server-timing': `report;dur=${(performance.now() - t0).toFixed(2)}`,
    }, body);
  };
  /** Common preamble: guard, query string, format, range. */
  const begin = (res: HttpResponse, req: HttpRequest, span: 'month' | 'days') => {
    const ex = guard(res, req);
    if (!ex) return undefined;
    const t0 = performance.now();
    const qs = new URLSearchParams(req.getQuery() ?? '');
    const format = parseFormat(qs);
    if (format !== 'json' && format !== 'csv') return void bad(ex, format);
    const r = range(qs, span);
    if (typeof r === 'string') return void bad(ex, r);
    return { ex, t0, qs, csv: format === 'csv', range: r as ReportRange };
  };

  app.get('/admin/customers', (res, req) => {
    const ex = guard(res, req);
    if (!ex) return;
    const q = parseCustomerListQuery(new URLSearchParams(req.getQuery() ?? ''));
    if (typeof q === 'string') return bad(ex, q);
    listCustomers(ctx, q).then((list) => ex.json(200, list), (err) => (err instanceof ClusterLedgerError ? failRead(ex, ctx, err) : ex.fail('openai', 'overloaded_error', (err as Error).message)));
  });

  app.get('/admin/reports/daily', (res, req) => {
    const b = begin(res, req, 'days');
    if (!b) return;
    const customer = customerOf(b.ex, b.qs);
    if (!customer) return;
    const given = DIMS.filter((d) => b.qs.get(d));
    if (given.length > 1) return bad(b.ex, `filter by one of ${DIMS.join(', ')} at a time (got ${given.join(' and ')})`);
    const filter = given.length ? { dim: given[0]!, value: b.qs.get(given[0]!)! } : undefined;
    withSource(b.ex, customer, b.range, (source) => {
      const r = dailyReport(source, customer, b.range, filter);
      answer(b.ex, b.t0, b.csv, `daily-${safe(customer)}-${r.from}-${r.to}`, () => r, () => dailyCsv(r));
    });
  });

  const summary = (span: 'month' | 'days') => (res: HttpResponse, req: HttpRequest) => {
    const b = begin(res, req, span);
    if (!b) return;
    const customer = customerOf(b.ex, b.qs);
    if (!customer) return;
    withSource(b.ex, customer, b.range, (source) => {
      const r = summaryReport(source, customer, b.range);
      answer(b.ex, b.t0, b.csv, `report-${safe(customer)}-${r.from}-${r.to}`, () => r, () => summaryCsv(r));
    });
  };
  app.get('/admin/reports/summary', summary('days'));
  app.get('/admin/reports/monthly', summary('month'));

  app.get('/admin/reports/breakdown', (res, req) => {
    const b = begin(res, req, 'month');
    if (!b) return;
    const customer = customerOf(b.ex, b.qs);
    if (!customer) return;
    const by = b.qs.get('by') as Dim | null;
    if (!by || !DIMS.includes(by)) return bad(b.ex, `by: one of ${DIMS.join(', ')} (got "${String(by).slice(0, 20)}")`);
    withSource(b.ex, customer, b.range, (source) => {
      const rows = breakdownReport(source, customer, b.range, by);
      answer(b.ex, b.t0, b.csv, `by-${by}-${safe(customer)}-${b.range.from}-${b.range.to}`,
        () => ({ customer, from: b.range.from, to: b.range.to, by, rows: rows.map(({ key, ...c }) => ({ [by]: key, ...c })) }),
        () => breakdownCsv(by, rows));
    });
  });

  app.get('/admin/reports/customers', (res, req) => {
    const b = begin(res, req, 'month');
    if (!b) return;
    withSource(b.ex, null, b.range, (source) => {
      const r = customersReport(source, b.range);
      answer(b.ex, b.t0, b.csv, `customers-${r.from}-${r.to}`, () => r, () => customersCsv(r));
    });
  });

  app.get('/admin/reports/usage', (res, req) => {
    const ex = guard(res, req);
    if (!ex) return;
    const qs = new URLSearchParams(req.getQuery() ?? '');
    const csv = qs.get('format') === 'csv';
    const s = parseUsageSearch(qs, ctx.clock.timeZone, csv);
    if (typeof s === 'string') return bad(ex, s);
    if (!csv) {
      searchPage(usageRows(ctx, s.query), s).then(
        (page) => ex.json(200, { rows: page.rows.map(toPublicRow), next_cursor: page.next_cursor }),
        (err) => failRead(ex, ctx, err),
      );
      return;
    }
    exportCsv(ex, ctx, { query: s.query, filter: s.filter, limit: Number.isFinite(s.limit) ? s.limit : undefined }, `usage-${safe(s.query.customer)}`);
  });
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80);
