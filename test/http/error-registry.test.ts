import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS, errorBody, errorStatus } from '../../src/http/errors.js';

// The error registry (src/http/errors.ts) is the only source of error codes:
// every code is documented in docs/errors.md with its status, no code is a
// success status, and no literal code in src escapes the registry.

const ROOT = join(import.meta.dirname, '..', '..');
const DOC = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
const codes = Object.keys(ERRORS);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Literal codes passed where an error type goes, with file:line for the failure message. */
function literalCodes(): { code: string; where: string }[] {
  // Call forms that take a code: protocol first (errorBody, Exchange.fail) or code first (refuse, local fail helpers, errorStatus).
  const forms = [
    /\b(?:errorBody|\.fail)\(\s*(?:'[a-z]+'|[\w.[\]]+),\s*'([a-z_]+)'/g,
    /\b(?:refuse|fail|errorStatus)\(\s*'([a-z_]+)'/g,
    // Error-shaped literals anywhere (result types, SSE error events): a value named like an error code.
    /\b(?:type|code): '([a-z]+(?:_[a-z]+)*_(?:error|exceeded|found|priced|large|long|timeout|reused|unavailable|detected|config|allowed))'/g,
  ];
  const found: { code: string; where: string }[] = [];
  for (const file of sourceFiles(join(ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const re of forms) {
      for (const m of text.matchAll(re)) {
        if (m[1] === 'openai' || m[1] === 'anthropic') continue;
        const line = text.slice(0, m.index).split('\n').length;
        found.push({ code: m[1]!, where: `${file.slice(ROOT.length + 1)}:${line}` });
      }
    }
  }
  return found;
}

describe('error registry', () => {
  it('documents every code in docs/errors.md with its status', () => {
    const undocumented = codes.filter((c) => !DOC.includes(`\`${c}\``));
    expect(undocumented, 'codes missing from docs/errors.md').toEqual([]);
    for (const c of codes) {
      const row = DOC.split('\n').find((l) => l.startsWith(`| \`${c}\` |`));
      expect(row, `docs/errors.md has no table row for ${c}`).toBeDefined();
      expect(row!.split('|')[2]!.trim(), `status of ${c} in docs/errors.md`).toBe(String(errorStatus(c as keyof typeof ERRORS)));
    }
  });

  it('documents no code the registry does not have', () => {
    const rows = DOC.split('\n').flatMap((l) => /^\| `([a-z_]+)` \|/.exec(l)?.slice(1) ?? []);
    expect(rows.filter((c) => !codes.includes(c))).toEqual([]);
  });

  it('gives every code an error status, a when and an action', () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      expect(spec.status, code).toBeGreaterThanOrEqual(400);
      expect(spec.status, code).toBeLessThan(600);
      expect(spec.when.length, code).toBeGreaterThan(10);
      expect(spec.action.length, code).toBeGreaterThan(5);
    }
  });

  it('finds every literal error code in src registered', () => {
    const found = literalCodes();
    // The scan itself must see the call sites, or it proves nothing.
    expect(found.length).toBeGreaterThan(50);
    expect(found.map((f) => f.code)).toContain('invalid_config');
    const unregistered = found.filter((f) => !Object.hasOwn(ERRORS, f.code));
    expect(unregistered, 'error codes used in src but not in src/http/errors.ts').toEqual([]);
  });

  it('keeps the SDK-facing body shapes', () => {
    expect(errorBody('openai', 'budget_exceeded', 'over', { scope: { limit: 1 } })).toEqual({
      error: { type: 'budget_exceeded', code: 'budget_exceeded', message: 'over', scope: { limit: 1 } },
    });
    expect(errorBody('anthropic', 'rate_limit_exceeded', 'slow down', { code: 'loop_detected' })).toEqual({
      type: 'error', error: { type: 'rate_limit_exceeded', message: 'slow down', code: 'loop_detected' },
    });
  });
});
