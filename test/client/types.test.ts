import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// tollgate/client is typed for its users: declarations are emitted by
// tsconfig.client.json and found through package.json "exports", and a
// wrapped client keeps the SDK's types plus getStatus() / flushReports().

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const tsc = (project: string) => execFileSync(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, '-p', project], { cwd: ROOT, encoding: 'utf8' });

describe('tollgate/client types', () => {
  it('type-checks an app that imports it by the package name', () => {
    tsc('tsconfig.client.json');
    let out = '';
    try {
      out = tsc('test/client/consumer/tsconfig.json');
    } catch (err) {
      out = String((err as { stdout?: string }).stdout ?? err);
    }
    expect(out).toBe('');
  }, 60_000);
});
