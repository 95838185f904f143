// pricing/generate.mjs: reproducibility (--check), the --max-drop guard, the diff, URL sources.
import { spawnSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM module without types
import { scaleDecimal, usdToPico, usdPerMtokToPico } from '../../pricing/decimal.mjs';
import { PRICING_DIR, ROOT } from './helpers.ts';

const run = (cwd: string, args: string[]) => {
  const r = spawnSync(process.execPath, [path.join(cwd, 'pricing', 'generate.mjs'), ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

/** A scratch copy of pricing/ (scripts, overrides, sources, current models.json). */
const scratch: string[] = [];
function sandbox(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'tollgate-pricing-'));
  scratch.push(dir);
  mkdirSync(path.join(dir, 'pricing', 'sources'), { recursive: true });
  for (const f of ['generate.mjs', 'decimal.mjs', 'crosscheck.mjs', 'verified.mjs', 'overrides.json', 'known-disagreements.json', 'SOURCE.json', 'models.json']) {
    cpSync(path.join(PRICING_DIR, f), path.join(dir, 'pricing', f));
  }
  for (const f of ['litellm_model_prices.json', 'genai_prices_npm-0.1.8.json', 'vendor-verified.json']) cpSync(path.join(PRICING_DIR, 'sources', f), path.join(dir, 'pricing', 'sources', f));
  return dir;
}
afterAll(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

const litellm = () => JSON.parse(readFileSync(path.join(PRICING_DIR, 'sources', 'litellm_model_prices.json'), 'utf8'));

describe('generate.mjs', { timeout: 60_000 }, () => {
  it('--check: the committed models.json is reproduced byte for byte from the shipped source', () => {
    const r = run(ROOT, ['--check', '--quiet']);
    expect(r.err).toBe('');
    expect(r.out).toContain('up to date');
    expect(r.code).toBe(0);
  });

  it('--check fails when models.json differs', () => {
    const dir = sandbox();
    const p = path.join(dir, 'pricing', 'models.json');
    writeFileSync(p, readFileSync(p, 'utf8').replace('"input": 2500000', '"input": 2500001'));
    const r = run(dir, ['--check', '--quiet']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('out of date');
  });

  it('refuses to drop more than --max-drop of the models unless --force', () => {
    const dir = sandbox();
    const src = litellm();
    const keys = Object.keys(src).filter((k) => k !== 'sample_spec' && k !== 'fallback_generalizations');
    for (const k of keys.slice(0, Math.floor(keys.length * 0.6))) delete src[k];
    const small = path.join(dir, 'small.json');
    writeFileSync(small, JSON.stringify(src));
    const before = readFileSync(path.join(dir, 'pricing', 'models.json'), 'utf8');

    const refused = run(dir, ['--source', small]);
    expect(refused.code).toBe(1);
    // patches for models that vanished upstream are skipped with a warning, not fatal
    expect(refused.err).toMatch(/WARNING: override models\["[^"]+"\] patches a model that is not in the LiteLLM source; skipped/);
    expect(refused.err).toMatch(/REFUSING to write: \d+ of \d+ models \(\d+\.\d%\) would be removed/);
    expect(readFileSync(path.join(dir, 'pricing', 'models.json'), 'utf8')).toBe(before);

    const forced = run(dir, ['--source', small, '--force', '--quiet']);
    expect(forced.code).toBe(0);
    const after = JSON.parse(readFileSync(path.join(dir, 'pricing', 'models.json'), 'utf8'));
    expect(Object.keys(after.models).length).toBeLessThan(Object.keys(JSON.parse(before).models).length * 0.7);
    // The adopted source now reproduces the table, and SOURCE.json records it.
    expect(run(dir, ['--check', '--quiet']).code).toBe(0);
    const sj = JSON.parse(readFileSync(path.join(dir, 'pricing', 'SOURCE.json'), 'utf8'));
    expect(sj.files['litellm_model_prices.json'].sha256).toBe(after.generated_at_source.litellm.sha256);
  });

  it('refuses to write a table that lowers a vendor-verified price, and says which', () => {
    const dir = sandbox();
    const src = litellm();
    src['claude-opus-4-1-20250805'].input_cost_per_token = 1e-5; // vendor page: $15/M
    const cut = path.join(dir, 'cut.json');
    writeFileSync(cut, JSON.stringify(src));
    const before = readFileSync(path.join(dir, 'pricing', 'models.json'), 'utf8');
    const r = run(dir, ['--source', cut, '--force']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('REFUSING: the new table is LOWER than a vendor-verified price: 1');
    expect(r.err).toMatch(/! claude-opus-4-1-20250805 input: \$10\/M, vendor-verified \$15\/M \(https:\/\/docs\.anthropic\.com/);
    expect(readFileSync(path.join(dir, 'pricing', 'models.json'), 'utf8')).toBe(before);
    // A raise is listed, not refused.
    src['claude-opus-4-1-20250805'].input_cost_per_token = 2e-5;
    writeFileSync(cut, JSON.stringify(src));
    const up = run(dir, ['--source', cut]);
    expect(up.code).toBe(0);
    expect(up.out).toMatch(/~ claude-opus-4-1-20250805 input: \$20\/M, vendor-verified \$15\/M/);
  });

  it('takes genai-prices and models.dev files, shows their diff against the vendor-verified list, and adopts them', () => {
    const dir = sandbox();
    const genai = path.join(dir, 'genai.json');
    writeFileSync(genai, JSON.stringify([{ id: 'anthropic', models: [{ id: 'opus-41', match: { equals: 'claude-opus-4-1-20250805' }, prices: { input_mtok: 14, output_mtok: 75 } }] }]));
    const md = path.join(dir, 'models-dev.json');
    writeFileSync(md, JSON.stringify({ xai: { models: { 'grok-4.3': { cost: { input: 1, output: 2.5, cache_read: 0.2 } } } } }));
    const check = run(dir, ['--check', '--genai-prices', genai, '--models-dev', md]);
    expect(check.code).toBe(0);
    expect(check.out).toMatch(/genai-prices \(.*genai\.json\) vs vendor-verified/);
    expect(check.out).toMatch(/! claude-opus-4-1-20250805 input: \$14\/M, vendor-verified \$15\/M/);
    expect(check.out).toMatch(/! xai\/grok-4\.3 input: \$1\/M, vendor-verified \$1\.25\/M \(https:\/\/docs\.x\.ai/);
    expect(existsSync(path.join(dir, 'pricing', 'sources', 'models_dev_catalog.json'))).toBe(false);

    const adopt = run(dir, ['--genai-prices', genai, '--models-dev', md, '--quiet']);
    expect(adopt.code).toBe(0);
    const sj = JSON.parse(readFileSync(path.join(dir, 'pricing', 'SOURCE.json'), 'utf8'));
    expect(sj.files['genai_prices_latest.json'].role).toMatch(/^cross-check/);
    expect(sj.files['genai_prices_npm-0.1.8.json'].role).toMatch(/^superseded/);
    expect(sj.files['models_dev_catalog.json'].role).toMatch(/^third vote/);
    expect(readFileSync(path.join(dir, 'pricing', 'sources', 'models_dev_catalog.json'), 'utf8')).toBe(readFileSync(md, 'utf8'));
    // models.json does not depend on either file: still reproduced byte for byte.
    expect(run(dir, ['--check', '--quiet']).code).toBe(0);
  });

  it('--max-drop is a parameter: 0.7 lets a 60% drop through', () => {
    const dir = sandbox();
    const src = litellm();
    const keys = Object.keys(src).filter((k) => k !== 'sample_spec' && k !== 'fallback_generalizations');
    for (const k of keys.slice(0, Math.floor(keys.length * 0.6))) delete src[k];
    writeFileSync(path.join(dir, 'small.json'), JSON.stringify(src));
    expect(run(dir, ['--source', path.join(dir, 'small.json'), '--max-drop', '0.7', '--quiet']).code).toBe(0);
    expect(run(dir, ['--max-drop', 'lots']).code).toBe(2);
  });

  it('prints added / removed / re-priced models', () => {
    const dir = sandbox();
    const src = litellm();
    src['gpt-4o'].input_cost_per_token = 0.000003;
    delete src['o3'];
    src['acme-test-model'] = { litellm_provider: 'openai', mode: 'chat', input_cost_per_token: 1e-6, output_cost_per_token: 2e-6 };
    writeFileSync(path.join(dir, 'new.json'), JSON.stringify(src, null, 4));
    const r = run(dir, ['--source', path.join(dir, 'new.json')]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\(\+1 added, -1 removed, ~1 re-priced/);
    expect(r.out).toContain('  - o3\n');
    expect(r.out).toContain('  + acme-test-model\n');
    expect(r.out).toContain('  ~ gpt-4o: input $2.5/M -> $3/M');
    const m = JSON.parse(readFileSync(path.join(dir, 'pricing', 'models.json'), 'utf8'));
    expect(m.models['acme-test-model']).toEqual({ provider: 'openai', mode: 'chat', input: 1_000_000, output: 2_000_000, source: 'litellm' });
  });

  it('downloads a URL source with fetch and saves it over the vendored file', async () => {
    const dir = sandbox();
    const src = litellm();
    src['gpt-4o'].output_cost_per_token = 0.000012;
    const body = JSON.stringify(src);
    const server = createServer((req, res) => {
      if (req.url === '/model_prices.json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const url = `http://127.0.0.1:${port}/model_prices.json`;
      const child = spawn(process.execPath, [path.join(dir, 'pricing', 'generate.mjs'), '--source', url], { cwd: dir });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code).toBe(0);
      expect(out).toContain('~ gpt-4o: output $10/M -> $12/M');
      expect(readFileSync(path.join(dir, 'pricing', 'sources', 'litellm_model_prices.json'), 'utf8')).toBe(body);
      const sj = JSON.parse(readFileSync(path.join(dir, 'pricing', 'SOURCE.json'), 'utf8'));
      expect(sj.files['litellm_model_prices.json'].origin).toBe(url);
      expect(run(dir, ['--check', '--quiet']).code).toBe(0);
      // (spawnSync would block this process's event loop and with it the server)
      const missing = spawn(process.execPath, [path.join(dir, 'pricing', 'generate.mjs'), '--source', `http://127.0.0.1:${port}/nope.json`], { cwd: dir });
      let err = '';
      missing.stderr.on('data', (d) => (err += d));
      expect(await new Promise<number | null>((resolve) => missing.on('close', resolve))).toBe(1);
      expect(err).toContain('HTTP 404');
    } finally {
      server.close();
    }
  });

  it('rejects overrides without a reason', () => {
    const dir = sandbox();
    const p = path.join(dir, 'pricing', 'overrides.json');
    const o = JSON.parse(readFileSync(p, 'utf8'));
    o.models['gpt-4o'] = { input: 3 };
    writeFileSync(p, JSON.stringify(o));
    const r = run(dir, ['--check']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('needs a "reason"');
  });
});

describe('decimal conversion (pricing/decimal.mjs)', () => {
  it('is exact for decimal inputs', () => {
    expect(usdToPico(2.1875e-6)).toEqual({ value: 2_187_500, exact: true, text: '0.0000021875' });
    expect(usdToPico(2.8e-9).value).toBe(2800);
    expect(usdToPico(0.00003083).value).toBe(30_830_000);
    expect(usdToPico(1e-7).value).toBe(100_000);
    expect(usdPerMtokToPico(0.075).value).toBe(75_000);
    expect(usdPerMtokToPico('0.003625').value).toBe(3625);
    // The float product is not a whole number for many LiteLLM values (6e-08 is in the source):
    expect(6e-8 * 1e12).toBe(59999.99999999999);
    expect(usdToPico(6e-8)).toMatchObject({ value: 60_000, exact: true });
    expect(usdToPico(0.000004125)).toMatchObject({ value: 4_125_000, exact: true });
  });

  it('rounds half-up and reports float noise', () => {
    expect(usdToPico(0.0002833333333333333)).toMatchObject({ value: 283_333_333, exact: false });
    expect(usdToPico(7.000000000000001e-7)).toMatchObject({ value: 700_000, exact: false });
    expect(scaleDecimal('0.5', 0)).toMatchObject({ value: 1, exact: false });
    expect(scaleDecimal('0.49', 0)).toMatchObject({ value: 0, exact: false });
  });

  it('multiplies by pixel counts exactly', () => {
    expect(usdToPico(3.81469e-8, 1024n * 1024n)).toMatchObject({ value: 39_999_923_814, exact: false });
    expect(usdToPico(2.0751953125e-9, 1024n * 1024n)).toMatchObject({ value: 2_176_000_000, exact: true });
  });

  it('rejects garbage', () => {
    expect(() => usdToPico(Number.NaN)).toThrow();
    expect(() => usdToPico(-1e-6)).toThrow(/negative/);
    expect(() => usdToPico('1,5')).toThrow();
  });
});
