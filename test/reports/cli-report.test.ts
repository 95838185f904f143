import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI } from '../helpers/tollgate-process.js';
import { DAY, REPORT_NOW, previousMonth, seedLedger, usageRow } from './seed-ledger.js';
import type { UsageRecord } from '../../src/store/usage-record.js';

// `tollgate report` run as users run it (the built CLI), on a seeded ledger.

const prev = previousMonth(REPORT_NOW);
let dir: string;
let config: string;
const ROWS = 30_000;

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, 'report', ...args, '--config', config], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(async () => {
  const rows: UsageRecord[] = [];
  for (let i = 0; i < ROWS; i++) {
    rows.push(usageRow({ customer: i % 3 ? 'acme' : 'beta', ts: prev.start + Math.floor((i / ROWS) * prev.days * DAY), model: i % 2 ? 'gpt-4o' : 'gpt-4o-mini', cost_nano: 1_000_000 }));
  }
  const dataDir = await seedLedger(rows);
  dir = join(dataDir, '..');
  config = join(dir, 'tollgate.yaml');
  writeFileSync(config, `dataDir: ${JSON.stringify(dataDir)}\n`);
});

describe('tollgate report', () => {
  it('prints a customer\'s month as JSON with cost, billed and margin', () => {
    const r = cli('monthly', '--customer', 'acme', '--month', prev.month, '--format', 'json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.totals.calls).toBe(20_000);
    expect(report.totals.cost_usd).toBeCloseTo(20, 9);
    expect(report.totals.billed).toBeCloseTo(26, 9);
    expect(report.totals.margin_usd).toBeCloseTo(6, 9);
    expect(report.by_model.map((m: any) => m.model).sort()).toEqual(['gpt-4o', 'gpt-4o-mini']);
  });

  it('prints the daily report as CSV and every customer as a table', () => {
    const daily = cli('daily', '--customer', 'beta', '--from', `${prev.month}-01`, '--to', `${prev.month}-02`, '--format', 'csv');
    expect(daily.code).toBe(0);
    expect(daily.out.trim().split('\n')).toHaveLength(3);
    const table = cli('customers', '--month', prev.month);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/^acme\s+20000\s/m);
    expect(table.out).toMatch(/^beta\s+10000\s/m);
  });

  it('exports every row to a file with a progress display, and says what it wrote', () => {
    const out = join(dir, 'export.csv');
    const r = cli('export', '--out', out, '--progress');
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/exporting\s+100\.0%\s+30,000 \/ 30,000 rows/);
    expect(r.err).toMatch(/wrote 30,000 rows/);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(ROWS + 1);
    expect(new Set(lines.slice(1).map((l) => l.split(',')[0])).size).toBe(ROWS);
  });

  it('exits 2 naming the problem on a bad invocation', () => {
    const r = cli('monthly', '--month', prev.month);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--customer is required/);
    expect(cli('weekly').err).toMatch(/unknown report "weekly"/);
  });
});
