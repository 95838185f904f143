import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { haveChromium, launchChromium, requireChromiumInCi } from '../helpers/chromium.js';
import OpenAI from 'openai';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { ADMIN_TOKEN, startTollgate, type Tollgate } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers } from '../helpers/fixtures.js';
import { Ledger } from '../../src/store/ledger.js';
import type { UsageRecord } from '../../src/store/usage-record.js';
import { tempDir } from '../helpers/temp-dir.js';

// The dashboard end to end in headless Chromium against the real proxy:
// sign in with the admin token, see budget bars (capped and near-cap
// marked), open a customer, see the daily chart and the usage table, filter
// it, download the CSV. The proxy's clock starts at NOW (TOLLGATE_CLOCK_START)
// and the history is seeded relative to it, so "this month" and "the last 30
// days" are the same whatever day the suite runs. Screenshots go to a temp
// directory; UPDATE_SCREENSHOTS=1 writes docs/dashboard.png for the README.

const SCREENSHOT = process.env.UPDATE_SCREENSHOTS
  ? fileURLToPath(new URL('../../docs/dashboard.png', import.meta.url))
  : join(tempDir('tollgate-screens-'), 'dashboard.png');
const DAY = 86_400_000;
const NOW = Date.parse('2026-06-17T12:00:00Z');

requireChromiumInCi('dashboard in Chromium');

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;
let browser: Browser;
const requestedUrls: string[] = [];
let seededJune = 0; // USD billed in the seeded rows of NOW's month

/** Thirty days of history for three customers, billed at cost × 1.3, written through the real ledger. */
async function seed(dataDir: string, now: number): Promise<void> {
  const ledger = new Ledger(dataDir, 'UTC', false);
  const models = ['gpt-4o-mini', 'gpt-4o', 'claude-haiku-4-5'];
  const agents = ['support-bot', 'researcher', null];
  const appends: Promise<void>[] = [];
  let seq = 0;
  const add = (customer: string, ts: number, i: number, over: Partial<UsageRecord> = {}) => {
    const cost = 2_000_000 + ((i * 7919) % 9_000_000); // 0.002 – 0.011 USD
    appends.push(ledger.append({
      request_id: `req_seed${String(seq++).padStart(10, '0')}`, ts, customer, agent: agents[i % 3]!, tags: { team: i % 2 ? 'growth' : 'core' },
      endpoint: '/v1/chat/completions', model_requested: models[i % 3]!, model: models[i % 3]!, provider: 'openai',
      prompt_tokens: 800 + (i % 400), completion_tokens: 200 + (i % 150), cached_tokens: 0, cache_write_tokens: 0,
      cost_nano: cost, billed_nano: Math.round(cost * 1.3), decision: 'allowed', reason: null, status: 200, latency_ms: 300 + (i % 500),
      idempotency_key: null, price_source: models[i % 3]!, usage_source: 'provider', ...over,
    }));
  };
  for (let d = 29; d >= 0; d--) {
    const dayStart = Math.floor((now - d * DAY) / DAY) * DAY;
    const calls = 6 + ((29 - d) * 3) % 11;
    for (let i = 0; i < calls; i++) {
      const ts = Math.min(now - 1000, dayStart + 3_600_000 + i * 60_000);
      add('acme', ts, i + d);
      if (i % 2 === 0) add('globex', ts + 1, i + d + 1);
      if (i % 4 === 0) add('initech', ts + 2, i + d + 2);
    }
    if (d % 5 === 0) add('acme', dayStart + 7_200_000, d, { decision: 'blocked', reason: 'budget_exceeded', status: 402, model: null, cost_nano: 0, billed_nano: 0, prompt_tokens: 0, completion_tokens: 0 });
  }
  await ledger.flush();
  await Promise.all(appends);
  await ledger.close();
}

/** Dollars as the page writes them: more decimals for small amounts. */
const usdText = (n: number) => `$${n.toFixed(n === 0 ? 2 : n < 0.01 ? 6 : n < 1 ? 4 : 2)}`;

/** This month's billed spend of a customer in the seeded data, USD. */
function monthBilled(dataDir: string, customer: string): Promise<number> {
  const ledger = new Ledger(dataDir, 'UTC', false);
  const agg = ledger.aggregateAt(`c:${customer}`, 'month', NOW);
  return ledger.close().then(() => agg.billed_nano / 1e9);
}

describe.skipIf(!haveChromium)('dashboard in Chromium', () => {
  beforeAll(async () => {
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    mock = await startMockUpstream({ promptTokens: 40, completionTokens: 20 });
    const dataDir = join(tempDir('tollgate-dashboard-'), 'data');
    await seed(dataDir, NOW);
    const acme = await monthBilled(dataDir, 'acme');
    const globex = await monthBilled(dataDir, 'globex');
    seededJune = acme + globex + await monthBilled(dataDir, 'initech');
    tg = await startTollgate({
      dataDir,
      providers: providers(mock.url),
      plans: [{ name: 'pro', budgets: [{ limit: 2_000_000, unit: 'tokens', period: 'day' }] }],
      customers: [
        // Limits chosen against the seeded spend: acme near its cap, globex over it, initech comfortable.
        { id: 'acme', plan: 'pro', keys: [CUSTOMER_KEY], budgets: [{ limit: Math.max(0.01, Math.ceil((acme / 0.86) * 100) / 100), unit: 'USD', period: 'month' }] },
        { id: 'globex', keys: ['tg-globex-key-1'], budgets: [{ limit: Math.max(0.01, Math.floor(globex * 0.9 * 100) / 100), unit: 'USD', period: 'month' }] },
        { id: 'initech', keys: ['tg-initech-key'], budgets: [{ limit: 500, unit: 'USD', period: 'month' }] },
      ],
    }, { dataDir, shards: 2, clockStart: NOW });
    // A little live traffic on top of the history.
    const client = new OpenAI({ apiKey: CUSTOMER_KEY, baseURL: `${tg.url}/v1`, maxRetries: 0 });
    for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `hello ${i}` }], max_tokens: 20 });

    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await tg?.stop();
    await mock?.close();
  });

  /** A fresh browser context; its console errors (CSP violations included) are collected. */
  async function newPage(): Promise<Page & { errors: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 }, acceptDownloads: true });
    const page = Object.assign(await context.newPage(), { errors: [] as string[] });
    page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
    page.on('pageerror', (e) => page.errors.push(String(e)));
    page.on('request', (r) => requestedUrls.push(r.url()));
    return page;
  }

  async function signIn(page: Page, token = ADMIN_TOKEN): Promise<void> {
    await page.goto(`${tg.url}/dashboard`);
    await page.fill('#token', token);
    await page.click('#login-form button[type=submit]');
  }

  it('serves the page with security headers and no inline script', async () => {
    const r = await fetch(`${tg.url}/dashboard`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(r.headers.get('content-security-policy')).not.toMatch(/unsafe-inline/);
    expect(r.headers.get('x-frame-options')).toBe('DENY');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await r.text()).not.toMatch(/<script>(?!<\/script>)/);
  });

  it('refuses a wrong token and keeps the sign-in form', async () => {
    const page = await newPage();
    await signIn(page, 'not-the-admin-token');
    await expect.poll(() => page.textContent('#login-error')).toMatch(/refused/);
    expect(await page.isVisible('#view-customers')).toBe(false);
    await page.context().close();
  });

  it('signs in, marks capped and near-cap budgets, opens a customer, charts it, filters and downloads the CSV', async () => {
    const page = await newPage();
    await signIn(page);

    // Customer list with budget bars.
    await page.waitForSelector('#customer-table tbody tr');
    const states = await page.$$eval('#customer-table tbody tr', (rows) => rows.map((r) => [(r as HTMLElement).dataset.customer, r.className]));
    expect(states).toEqual(expect.arrayContaining([['acme', expect.stringContaining('state-near_cap')], ['globex', expect.stringContaining('state-capped')], ['initech', expect.stringContaining('state-ok')]]));
    expect(await page.locator('tr[data-customer="globex"] .badge.capped').first().textContent()).toBe('capped');
    expect(await page.locator('tr[data-customer="acme"] .budget[data-state="near_cap"] .bar').count()).toBe(1);
    const acmeFill = await page.locator('tr[data-customer="acme"] .budget[data-state="near_cap"] .fill').evaluate((e) => (e as HTMLElement).style.width);
    expect(parseFloat(acmeFill)).toBeGreaterThan(80);
    expect(parseFloat(acmeFill)).toBeLessThan(100);

    await page.screenshot({ path: SCREENSHOT.replace('dashboard.png', 'dashboard-customers.png'), fullPage: false });

    // One customer: chart, totals, breakdowns, usage table.
    await page.click('tr[data-customer="acme"] a');
    await page.waitForSelector('#chart[data-ready="true"] canvas');
    expect(await page.getAttribute('#chart', 'data-points')).toBe('30');
    // The default range is the 30 days ending the proxy's today, not the browser's.
    expect([await page.inputValue('#filters [name=from]'), await page.inputValue('#filters [name=to]')]).toEqual(['2026-05-19', '2026-06-17']);
    await page.waitForSelector('#usage-table tbody tr');
    expect(await page.locator('#by-model tbody tr').count()).toBe(3);
    expect(await page.textContent('#customer-title')).toBe('acme');
    await page.screenshot({ path: SCREENSHOT, fullPage: false });

    // Filter: one model, blocked calls excluded.
    await page.selectOption('#filters select[name=model]', 'gpt-4o');
    await page.selectOption('#filters select[name=decision]', 'allowed');
    await page.click('#filters button[type=submit]');
    // Columns: time, request, agent, session, model, ...
    await expect.poll(() => page.$$eval('#usage-table tbody tr td:nth-child(5)', (tds) => [...new Set(tds.map((t) => t.textContent))])).toEqual(['gpt-4o']);
    // Page through the table (100 rows a page) to its end.
    while (await page.isVisible('#usage-more')) {
      const before = await page.locator('#usage-table tbody tr').count();
      await page.click('#usage-more');
      await expect.poll(() => page.locator('#usage-table tbody tr').count()).toBeGreaterThan(before);
    }
    const shown = await page.locator('#usage-table tbody tr').count();
    expect(shown).toBeGreaterThan(100);
    expect(await page.textContent('#chart-note')).toBe('model gpt-4o');

    // CSV download of exactly what the table shows.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
    expect(download.suggestedFilename()).toBe('usage-acme-2026-05-19-2026-06-17.csv');
    const csv = readFileSync((await download.path())!, 'utf8').trim().split('\n');
    expect(csv[0]).toMatch(/^request_id,ts,customer,agent,tags,endpoint/);
    expect(csv.length - 1).toBe(shown);
    expect(csv.slice(1).every((l) => l.includes(',gpt-4o,') && l.includes(',allowed,'))).toBe(true);

    // The token lives in this tab's sessionStorage and never in a URL.
    expect(await page.evaluate(() => sessionStorage.getItem('tollgate.adminToken'))).toBe(ADMIN_TOKEN);
    expect(requestedUrls.filter((u) => u.includes(ADMIN_TOKEN))).toEqual([]);
    expect(page.url()).not.toContain(ADMIN_TOKEN);
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it('totals this month\'s billing in the summary cards and draws a billed bar for each day', async () => {
    const { customers } = await tg.admin('/admin/customers');
    const billed = customers.reduce((sum: number, c: any) => sum + c.month.billed, 0);
    // The seeded June rows (read from the ledger before the proxy started) plus the live calls above.
    const live = (await tg.admin('/admin/usage?customer=acme&limit=1000')).rows.filter((r: any) => !r.request_id.startsWith('req_seed'));
    expect(live).toHaveLength(3);
    expect(billed).toBeCloseTo(seededJune + live.reduce((sum: number, r: any) => sum + r.billed, 0), 9);
    const page = await newPage();
    await signIn(page);
    await page.waitForSelector('#customer-table tbody tr');
    const cards = Object.fromEntries(await page.$$eval('#customer-summary .card', (cs) => cs.map((c) => [c.querySelector('.card-label')!.textContent, c.querySelector('.card-value')!.textContent])));
    expect(cards).toMatchObject({ Customers: '3', Capped: '1', 'Near cap': '1', 'Billed this month': usdText(billed) });

    await page.click('tr[data-customer="initech"] a');
    await page.waitForSelector('#chart[data-ready="true"] canvas');
    // Pixels of the billed series' blue, over the whole plot: thirty bars of seeded spend, not an empty frame.
    const blue = await page.$eval('#chart canvas', (c) => {
      const canvas = c as HTMLCanvasElement;
      const d = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 3]! > 40 && d[i + 2]! > 180 && d[i]! < 90 && d[i + 1]! < 140) n++;
      return { n, area: canvas.width * canvas.height };
    });
    expect(blue.n / blue.area).toBeGreaterThan(0.1);
    await page.screenshot({ path: SCREENSHOT.replace('dashboard.png', 'dashboard-initech.png'), fullPage: false });
    expect(page.errors).toEqual([]);
    await page.context().close();
  });
});
