import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { ADMIN_TOKEN, CLI, startTollgate, type Tollgate } from '../helpers/tollgate-process.js';
import { APP_KEY, providers } from '../helpers/fixtures.js';
import { csvLine } from '../../src/store/usage-record.js';

// A cell a spreadsheet would read as a formula (= + - @ TAB CR first) is
// prefixed with ' in every CSV Tollgate writes, whatever the value's type:
// tags are an object, ids are strings. Only numbers Tollgate computes itself
// are written as they are.

const ATTACK_TAG = "-1=+cmd|' /C calc'!A0";
const FORMULA_START = /^[=+\-@\t\r]/;

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 4 });
  tg = await startTollgate({ providers: providers(mock.url), appKeys: [APP_KEY], unknownModel: 'allow' }, { shards: 1 });
  const r = await fetch(`${tg.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${APP_KEY}`, 'content-type': 'application/json', 'x-tollgate-customer': '-acme', 'x-tollgate-agent': '@bot', 'x-tollgate-tags': ATTACK_TAG },
    body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] }),
  });
  expect(r.status).toBe(200);
  await r.text();
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

/** Cells of a CSV text (RFC 4180 quoting), row by row. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(cell), (cell = '');
    else if (c === '\n') row.push(cell), rows.push(row), (row = []), (cell = '');
    else cell += c;
  }
  return rows;
}

function expectNoFormula(text: string, mustContain: string): void {
  const cells = parseCsv(text).flat();
  expect(cells.some((c) => c.includes(mustContain))).toBe(true);
  for (const c of cells) {
    if (/^-?\d+(\.\d+)?(e-?\d+)?$/.test(c)) continue; // numbers Tollgate computed
    expect(c, `cell ${JSON.stringify(c)}`).not.toMatch(FORMULA_START);
  }
}

const adminCsv = async (path: string) => {
  const r = await fetch(tg.url + path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(r.status).toBe(200);
  return r.text();
};

describe('CSV cells that spreadsheets read as formulas', () => {
  it('neutralises the tags column of /admin/usage CSV, streamed in process and from the reader process', async () => {
    for (const path of ['/admin/usage?format=csv&limit=100', '/admin/usage?format=csv']) {
      const text = await adminCsv(path);
      expectNoFormula(text, 'cmd|');
      expect(text).toContain(`'${ATTACK_TAG}`);
    }
  });

  it('neutralises a customer and agent id that start with - and @ in usage and report CSVs', async () => {
    expectNoFormula(await adminCsv('/admin/reports/usage?customer=-acme&format=csv'), 'acme');
    expectNoFormula(await adminCsv('/admin/reports/summary?customer=-acme&format=csv'), 'acme');
    expectNoFormula(await adminCsv('/admin/reports/breakdown?customer=-acme&by=tag&format=csv'), 'cmd|');
    expectNoFormula(await adminCsv('/admin/reports/customers?format=csv'), 'acme');
  });

  it('neutralises the same cells in the command-line export', () => {
    const text = execFileSync(process.execPath, [CLI, 'report', 'export', '--config', tg.configFile, '--no-progress'], { encoding: 'utf8' });
    expectNoFormula(text, 'cmd|');
  });

  it('writes a tag object, a string and a non-finite number defensively but keeps real numbers as they are', () => {
    expect(csvLine([{ '-1': "+cmd|' /C calc'!A0" }, '=1+1', -0.5, 12, '\tx'])).toBe(`'-1=+cmd|' /C calc'!A0,'=1+1,-0.5,12,'\tx\n`);
  });
});
