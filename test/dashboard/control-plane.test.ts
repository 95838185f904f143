import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { haveChromium, launchChromium, requireChromiumInCi } from '../helpers/chromium.js';
import OpenAI from 'openai';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { ADMIN_TOKEN, TEST_CLOCK, startTollgate, type Tollgate } from '../helpers/tollgate-process.js';
import { providers } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/temp-dir.js';

// The control-plane pages in headless Chromium against the real proxy: create
// a customer, issue a key (shown once) and use it for a real call through the
// mock upstream, revoke it (401 from then on), change the plan and a limit
// (this period's spend kept), top up a wallet with a double click (credited
// once), see the audit log; a read token sees it all and can write nothing.
// UPDATE_SCREENSHOTS=1 writes docs/dashboard-manage.png for the README.

const SCREENS = process.env.UPDATE_SCREENSHOTS ? fileURLToPath(new URL('../../docs/', import.meta.url)) : tempDir('tollgate-screens-');
const READ_TOKEN = 'test-read-token-456';
// A write answers once every shard applied it, then the page reloads what it shows: on a loaded machine that takes seconds.
const POLL = { timeout: 20_000 };

requireChromiumInCi('control-plane pages in Chromium');

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;
let browser: Browser;

describe.skipIf(!haveChromium)('control-plane pages in Chromium', () => {
  beforeAll(async () => {
    mkdirSync(SCREENS, { recursive: true });
    mock = await startMockUpstream({ promptTokens: 40, completionTokens: 20 });
    tg = await startTollgate({
      providers: providers(mock.url),
      adminTokens: [{ name: 'viewer', token: READ_TOKEN, role: 'read' }],
      plans: [
        { name: 'starter', budgets: [{ limit: 5, unit: 'USD', period: 'month' }] },
        { name: 'pro', budgets: [{ limit: 500, unit: 'USD', period: 'month' }] },
      ],
      customers: [
        { id: 'from-file', plan: 'starter', keys: ['tg-from-file-key-1'] },
        // Config-file customers may be credited too: the wallet pages do not depend on creating one.
        { id: 'wallet-co', wallet: { currency: 'USD' } },
      ],
    }, { shards: 2, clockStart: TEST_CLOCK });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await tg?.stop();
    await mock?.close();
  });

  /** A fresh context (clipboard allowed); console errors and the admin API requests are collected. */
  async function newPage(): Promise<Page & { errors: string[]; writes: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: tg.url });
    const page = Object.assign(await context.newPage(), { errors: [] as string[], writes: [] as string[] });
    page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
    page.on('pageerror', (e) => page.errors.push(String(e)));
    page.on('request', (r) => { if (r.method() !== 'GET') page.writes.push(`${r.method()} ${new URL(r.url()).pathname}`); });
    return page;
  }

  async function signIn(page: Page, token = ADMIN_TOKEN): Promise<void> {
    await page.goto(`${tg.url}/dashboard`);
    await page.fill('#token', token);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#view-customers:not([hidden])');
  }

  /** A budget row of a form: fills its limit, unit and period. */
  async function fillBudget(page: Page, form: string, i: number, limit: string, unit: string, period: string): Promise<void> {
    const row = page.locator(`${form} .budget-row`).nth(i);
    await row.locator('[name=limit]').fill(limit);
    await row.locator('[name=unit]').fill(unit);
    await row.locator('[name=period]').selectOption(period);
  }

  it('creates a customer, issues a key once, serves a call with it, revokes it, and changes the plan and a limit keeping the spend', async () => {
    const page = await newPage();
    await signIn(page);

    // Create: id, plan, one budget of its own.
    await page.click('#new-customer-open');
    await page.fill('#new-customer [name=id]', 'dash-co');
    await page.fill('#new-customer [name=plan]', 'starter');
    await page.click('#new-customer .add-budget');
    await fillBudget(page, '#new-customer', 0, '20', 'USD', 'month');
    await page.click('#new-customer button[type=submit]');
    await page.waitForURL(/#\/customer\/dash-co$/);
    await expect.poll(() => page.inputValue('#plan-form [name=plan]'), POLL).toBe('starter');
    const created = await tg.admin('/admin/customers/dash-co');
    expect(created.budgets.map((b: any) => [b.source, b.limit, b.unit, b.period])).toEqual(expect.arrayContaining([['customer', 20, 'USD', 'month'], ['plan', 5, 'USD', 'month']]));

    // Issue a key: shown once, copyable, then gone from the page.
    await page.fill('#key-form [name=name]', 'production');
    await page.click('#key-form button[type=submit]');
    await page.waitForSelector('#new-key:not([hidden])');
    const key = (await page.textContent('#new-key-value'))!;
    expect(key.length).toBeGreaterThanOrEqual(20);
    expect(await page.textContent('#new-key')).toMatch(/won't see it again/);
    await page.click('#new-key-copy');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);
    await page.waitForSelector('#keys-table tbody tr[data-key-id]');
    const listed = await tg.admin('/admin/customers/dash-co/keys');
    expect(listed.keys).toHaveLength(1);
    expect(JSON.stringify(listed)).not.toContain(key); // the list never carries the secret
    await page.click('#new-key-done');
    expect(await page.isVisible('#new-key')).toBe(false);
    expect(await page.content()).not.toContain(key);

    // The key serves a real call through the mock upstream, billed to dash-co.
    const client = new OpenAI({ apiKey: key, baseURL: `${tg.url}/v1`, maxRetries: 0 });
    const { response: answer } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }], max_tokens: 20 }).withResponse();
    expect(answer.status).toBe(200);
    const row = await tg.usageRow('dash-co', answer.headers.get('x-tollgate-request-id')!);
    expect(row).toMatchObject({ customer: 'dash-co', decision: 'allowed', status: 200 });
    const spent = (await tg.admin('/admin/customers/dash-co')).budgets.find((b: any) => b.source === 'customer').used;
    expect(spent).toBeGreaterThan(0);

    // Revoke (a second click confirms): the key answers 401 on every connection from then on.
    const keyId = listed.keys[0].key_id;
    await page.click(`#keys-table tr[data-key-id="${keyId}"] .revoke`);
    expect(await page.textContent(`#keys-table tr[data-key-id="${keyId}"] .revoke`)).toMatch(/again/);
    await page.click(`#keys-table tr[data-key-id="${keyId}"] .revoke`);
    await page.waitForSelector(`#keys-table tr[data-key-id="${keyId}"]`, { state: 'detached' });
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${tg.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', connection: 'close' }, body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }) });
      expect(r.status).toBe(401);
    }

    // Plan starter → pro and the own budget 20 → 30 USD: the spend this period stays.
    await page.fill('#plan-form [name=plan]', 'pro');
    await page.fill('#plan-form .budget-row [name=limit]', '30');
    await page.click('#plan-form button[type=submit]');
    await expect.poll(() => page.textContent('#plan-form .form-ok'), POLL).toBe('Saved.');
    const after = await tg.admin('/admin/customers/dash-co');
    expect(after.budgets.map((b: any) => [b.source, b.limit])).toEqual(expect.arrayContaining([['customer', 30], ['plan', 500]]));
    expect(after.budgets.find((b: any) => b.source === 'customer').used).toBeCloseTo(spent, 9);
    expect(after.budgets.find((b: any) => b.source === 'plan').used).toBeCloseTo(spent, 9);
    // The budget bars show the new limit.
    await expect.poll(() => page.locator('#customer-budgets .budget').allTextContents(), POLL).toEqual(expect.arrayContaining([expect.stringMatching(/\/ 30 USD per month/)]));

    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it('edits a customer\'s metadata (a malformed line is refused before anything is sent) and resets this period\'s spend with a reason', async () => {
    const page = await newPage();
    await signIn(page);
    await page.goto(`${tg.url}/dashboard#/customer/dash-co`);
    await page.waitForSelector('#plan-form [name=metadata]');
    await expect.poll(() => page.inputValue('#plan-form [name=plan]'), POLL).toBe('pro');

    // A line without "=": marked next to the field, no write sent.
    const writesBefore = page.writes.length;
    await page.fill('#plan-form [name=metadata]', 'tier=gold\nnot a pair');
    await page.click('#plan-form button[type=submit]');
    await expect.poll(() => page.locator('#plan-form [name=metadata]').getAttribute('aria-invalid'), POLL).toBe('true');
    expect(await page.locator('#plan-form .field-error').allTextContents()).toEqual(expect.arrayContaining([expect.stringMatching(/metadata: line 2/)]));
    expect(page.writes.length).toBe(writesBefore);

    await page.fill('#plan-form [name=metadata]', 'tier=gold\nregion=eu');
    await page.click('#plan-form button[type=submit]');
    await expect.poll(() => page.textContent('#plan-form .form-ok'), POLL).toBe('Saved.');
    expect((await tg.admin('/admin/customers/dash-co')).metadata).toEqual({ tier: 'gold', region: 'eu' });
    // Searchable by it, and shown again when the page is opened anew.
    expect((await tg.admin('/admin/customers?metadata.tier=gold')).customers.map((c: any) => c.id)).toEqual(['dash-co']);
    await page.reload();
    await expect.poll(() => page.inputValue('#plan-form [name=metadata]'), POLL).toBe('region=eu\ntier=gold');

    // Reset: the customer's budgets start this period from 0; the audit log has the reason and the actor.
    expect((await tg.admin('/admin/customers/dash-co')).budgets.find((b: any) => b.source === 'customer').used).toBeGreaterThan(0);
    page.once('dialog', (d) => void d.accept());
    await page.fill('#reset-form [name=reason]', 'goodwill after the outage');
    await page.click('#reset-form button[type=submit]');
    await expect.poll(() => page.textContent('#reset-form .form-ok'), POLL).toMatch(/^Reset/);
    const reset = await tg.admin('/admin/customers/dash-co');
    expect(reset.budgets.find((b: any) => b.source === 'customer').used).toBe(0);
    const audit = (await tg.admin('/admin/audit')).entries;
    expect(audit[audit.length - 1]).toMatchObject({ actor: expect.any(String), action: 'budget.reset', target: 'customer:dash-co', before: { reason: 'goodwill after the outage' } });
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it('shows each refusal next to the field it names and writes nothing', async () => {
    const page = await newPage();
    await signIn(page);
    await page.click('#new-customer-open');
    await page.fill('#new-customer [name=id]', 'bad-co');
    await page.fill('#new-customer [name=plan]', 'no-such-plan');
    await page.click('#new-customer button[type=submit]');
    await expect.poll(() => page.locator('#new-customer [name=plan]').getAttribute('aria-invalid'), POLL).toBe('true');
    expect(await page.locator('#new-customer .field-error').allTextContents()).toEqual(expect.arrayContaining([expect.stringMatching(/plan/)]));

    await page.fill('#new-customer [name=plan]', '');
    await page.click('#new-customer .add-budget');
    await page.click('#new-customer .add-budget');
    await fillBudget(page, '#new-customer', 0, '10', 'USD', 'month');
    await fillBudget(page, '#new-customer', 1, '10', 'dollars', 'day');
    await page.click('#new-customer button[type=submit]');
    // The second row's unit is the one marked.
    await expect.poll(() => page.locator('#new-customer .budget-row').nth(1).locator('[name=unit]').getAttribute('aria-invalid'), POLL).toBe('true');
    expect(await page.locator('#new-customer .budget-row').nth(0).locator('[name=unit]').getAttribute('aria-invalid')).toBeNull();
    expect(await page.locator('#new-customer .budget-row').nth(1).locator('.field-error').textContent()).toMatch(/unit|currency/i);

    // A duplicate id: the id field says so.
    await page.fill('#new-customer [name=id]', 'from-file');
    await page.fill('#new-customer .budget-row >> nth=1 >> [name=unit]', 'USD');
    await page.click('#new-customer button[type=submit]');
    await expect.poll(async () => (await page.locator('#new-customer .field-error, #new-customer .form-error').allTextContents()).join(' '), POLL).toMatch(/exists|managed_by_config|from-file/);

    const r = await fetch(`${tg.url}/admin/customers/bad-co`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(r.status).toBe(404);
    expect(page.errors.filter((e) => !/status of 4\d\d/.test(e))).toEqual([]);
    await page.context().close();
  });

  it('tops up a wallet once when the button is double-clicked, and once when the same top-up is sent twice', async () => {
    const page = await newPage();
    await signIn(page);
    await page.goto(`${tg.url}/dashboard#/customer/wallet-co`);
    await page.waitForSelector('#view-customer:not([hidden])');
    await expect.poll(() => page.textContent('#wallet-balance'), POLL).toMatch(/^0(\.00)? USD$/);

    await page.fill('#topup-form [name=amount]', '12.50');
    await page.fill('#topup-form [name=reference]', 'invoice 1042');
    await page.dblclick('#topup-form button[type=submit]');
    await expect.poll(() => page.textContent('#wallet-balance'), POLL).toBe('12.50 USD');
    await expect.poll(() => page.locator('#wallet-table tbody tr.tx-credit').count(), POLL).toBe(1);

    // The same top-up submitted twice before the first answer: two requests, one idempotency key, one credit.
    await page.fill('#topup-form [name=amount]', '5');
    const before = page.writes.length;
    await page.$eval('#topup-form', (f) => { (f as HTMLFormElement).requestSubmit(); (f as HTMLFormElement).requestSubmit(); });
    await expect.poll(() => page.textContent('#wallet-balance'), POLL).toBe('17.50 USD');
    expect(page.writes.slice(before).filter((w) => w === 'POST /admin/customers/wallet-co/credits')).toHaveLength(2);
    const wallet = await tg.admin('/admin/customers/wallet-co/wallet');
    expect(wallet.balance).toMatchObject({ amount: 17.5, currency: 'USD' });
    expect(wallet.transactions.filter((x: any) => x.type === 'credit').map((x: any) => x.amount)).toEqual([12.5, 5]);
    await expect.poll(() => page.locator('#wallet-table tbody tr.tx-credit').count(), POLL).toBe(2);

    // A key for a config-file customer is allowed too; the page as the README shows it.
    await page.fill('#key-form [name=name]', 'billing-service');
    await page.click('#key-form button[type=submit]');
    await page.waitForSelector('#new-key:not([hidden])');
    expect((await tg.admin('/admin/customers/wallet-co/keys')).keys).toHaveLength(1);
    await page.screenshot({ path: join(SCREENS, 'dashboard-manage.png'), fullPage: false });

    // A refused top-up names its field.
    await page.fill('#topup-form [name=amount]', '-3');
    await page.click('#topup-form button[type=submit]');
    await expect.poll(() => page.locator('#topup-form [name=amount]').getAttribute('aria-invalid'), POLL).toBe('true');
    expect((await tg.admin('/admin/customers/wallet-co/wallet')).balance.amount).toBe(17.5);
    expect(page.errors.filter((e) => !/status of 4\d\d/.test(e))).toEqual([]);
    await page.context().close();
  });

  it('issues a key with its own wallet, tops that wallet up, and goes back to the customer\'s', async () => {
    const page = await newPage();
    await signIn(page);
    await page.goto(`${tg.url}/dashboard#/customer/wallet-co`);
    await page.waitForSelector('#view-customer:not([hidden])');
    await expect.poll(() => page.textContent('#wallet-balance'), POLL).toBe('17.50 USD');
    await page.fill('#key-form [name=name]', 'endpoint');
    await page.fill('#key-form [name=wallet]', 'usd');
    await page.click('#key-form button[type=submit]');
    await page.waitForSelector('#new-key:not([hidden])');
    const issued = (await tg.admin('/admin/customers/wallet-co/keys')).keys.find((k: any) => k.name === 'endpoint');
    expect(issued.wallet).toMatchObject({ currency: 'USD' });

    await page.click(`#keys-table tr[data-key-id="${issued.key_id}"] .show-wallet`);
    await expect.poll(() => page.textContent('#wallet-owner'), POLL).toBe(`key ${issued.key_id}`);
    await expect.poll(() => page.textContent('#wallet-balance'), POLL).toMatch(/^0(\.00)? USD$/);
    await page.fill('#topup-form [name=amount]', '3');
    await page.click('#topup-form button[type=submit]');
    await expect.poll(() => page.textContent('#wallet-balance'), POLL).toBe('3.00 USD');
    expect(page.writes).toContain(`POST /admin/customers/wallet-co/keys/${issued.key_id}/credits`);
    expect((await tg.admin(`/admin/customers/wallet-co/keys/${issued.key_id}/wallet`)).balance.amount).toBe(3);
    expect((await tg.admin('/admin/customers/wallet-co/wallet')).balance.amount).toBe(17.5);

    await page.click('#wallet-customer');
    await expect.poll(() => page.textContent('#wallet-balance'), POLL).toBe('17.50 USD');
    expect(await page.isHidden('#wallet-customer')).toBe(true);
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it('lists every write in the audit log with its actor', async () => {
    const page = await newPage();
    await signIn(page);
    await page.click('#nav a[href="#/audit"]');
    await page.waitForSelector('#audit-table tbody tr');
    // Columns: time, actor, action, target, before, after. Newest first.
    const rows = await page.$$eval('#audit-table tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent!)));
    const entries = rows.map(([, actor, action, target, , after]) => ({ actor, action, target, after }));
    expect(entries).toEqual(expect.arrayContaining([
      expect.objectContaining({ actor: 'admin', action: 'customer.create', target: 'customer:dash-co' }),
      expect.objectContaining({ actor: 'admin', action: 'customer.update', target: 'customer:dash-co' }),
      expect.objectContaining({ actor: 'admin', action: 'key.create', after: expect.stringContaining('dash-co') }),
      expect.objectContaining({ actor: 'admin', action: 'key.revoke' }),
    ]));
    // The refused writes of the previous test left nothing.
    expect(entries.filter((e) => e.target === 'customer:bad-co')).toEqual([]);
    await page.fill('#audit-search', 'key.revoke');
    expect(await page.$$eval('#audit-table tbody tr td:nth-child(3)', (tds) => tds.map((t) => t.textContent))).toEqual(['key.revoke']);
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it('gives a read token every page with the write controls disabled, and shows the 403 if a write is forced', async () => {
    const page = await newPage();
    await signIn(page, READ_TOKEN);
    await page.waitForSelector('#customer-table tbody tr');
    expect(await page.textContent('#whoami')).toMatch(/viewer.*read/);
    expect(await page.isVisible('#new-customer-open')).toBe(false);

    await page.goto(`${tg.url}/dashboard#/customer/wallet-co`);
    await page.waitForSelector('#view-customer:not([hidden])');
    await expect.poll(() => page.textContent('#wallet-balance'), POLL).toBe('17.50 USD');
    for (const sel of ['#topup-form button[type=submit]', '#key-form button[type=submit]', '#plan-form button[type=submit]', '#topup-form [name=amount]']) {
      expect(await page.isDisabled(sel), sel).toBe(true);
    }
    // Forced past the disabled controls: the API refuses with 403 and the page says so.
    await page.$eval('#topup-form', (f) => {
      const form = f as HTMLFormElement;
      for (const c of [...form.elements] as HTMLInputElement[]) c.disabled = false;
      (form.elements.namedItem('amount') as HTMLInputElement).value = '1000';
      form.requestSubmit();
    });
    await expect.poll(() => page.textContent('#topup-form .form-error'), POLL).toMatch(/^403/);
    expect((await tg.admin('/admin/customers/wallet-co/wallet')).balance.amount).toBe(17.5);

    // The audit log reads fine.
    await page.click('#nav a[href="#/audit"]');
    await page.waitForSelector('#audit-table tbody tr');
    expect(page.errors.filter((e) => !/status of 403/.test(e))).toEqual([]);
    await page.context().close();
  });
});
