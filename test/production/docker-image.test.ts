import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, execSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { CUSTOMER_KEY, providers } from '../helpers/fixtures.js';

// No container engine runs here, so this test reads the Dockerfile and
// performs its runtime stage in a clean directory: the same COPY sources,
// the same `npm install` command, the same CMD (exec form) and HEALTHCHECK.
// If the image would lack a file or a dependency, the server started from
// that directory fails here.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

interface Instruction { op: string; args: string }

function instructions(text: string): Instruction[] {
  const joined = text.replace(/\\\n\s*/g, ' ');
  return joined.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((l) => {
    const sp = l.indexOf(' ');
    return { op: l.slice(0, sp).toUpperCase(), args: l.slice(sp + 1).trim() };
  });
}

function stages(list: Instruction[]): Map<string, Instruction[]> {
  const out = new Map<string, Instruction[]>();
  let current: Instruction[] = [];
  for (const i of list) {
    if (i.op === 'FROM') {
      current = [];
      out.set(/ AS (\S+)/i.exec(i.args)?.[1] ?? String(out.size), current);
    }
    current.push(i);
  }
  return out;
}

const all = instructions(dockerfile);
const byStage = stages(all);
const runtime = byStage.get('runtime')!;
const one = (op: string) => runtime.filter((i) => i.op === op);

let dir = '';
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the Docker image', () => {
  it('is multi-stage on node:20-bookworm-slim, runs as a non-root user, with /data as a volume', () => {
    expect([...byStage.keys()]).toEqual(['build', 'runtime']);
    for (const stage of byStage.values()) expect(stage[0]!.args).toMatch(/^node:20-bookworm-slim\b/);
    expect(one('USER').map((i) => i.args)).toEqual(['node']);
    expect(one('VOLUME')[0]!.args).toContain('/data');
    expect(one('ENV').map((i) => i.args).join(' ')).toContain('TOLLGATE_DATA_DIR=/data');
    // Production dependencies only in the final image.
    expect(one('RUN').some((i) => /npm install\b.*--omit=dev/.test(i.args))).toBe(true);
  });

  it('starts node as PID 1 (exec-form CMD), so SIGTERM reaches it', () => {
    expect(JSON.parse(one('CMD')[0]!.args)).toEqual(['node', 'dist/cli.js', 'serve']);
    const hc = one('HEALTHCHECK')[0]!.args;
    expect(hc).toMatch(/CMD \["node", "-e", /);
    expect(hc).toContain('/healthz');
  });

  it('runs from a clean directory built by the runtime stage: serves a call, passes its HEALTHCHECK, drains on SIGTERM and exits 0', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-image-'));
    const app = join(dir, 'app');
    mkdirSync(app);
    // COPY: from the build stage means the compiled dist/ (npm test builds it first); else from the context.
    for (const c of one('COPY')) {
      const parts = c.args.split(/\s+/);
      const fromBuild = parts[0]!.startsWith('--from=');
      const [src, dest] = (fromBuild ? parts.slice(1) : parts).map((p) => p.replace(/^\/app\//, '')) as [string, string];
      if (src.startsWith('package')) {
        for (const f of parts.slice(0, -1)) cpSync(join(ROOT, f), join(app, f));
        continue;
      }
      cpSync(join(ROOT, src), join(app, dest), { recursive: true });
    }
    // RUN: the npm install part verbatim; the rest is image housekeeping (cache cleanup, /data ownership).
    for (const r of one('RUN')) {
      for (const cmd of r.args.split('&&').map((s) => s.trim())) {
        if (cmd.startsWith('npm install')) execSync(cmd, { cwd: app, stdio: 'pipe', timeout: 240_000 });
        else expect(cmd).toMatch(/^(rm -rf \/root\/\.npm \/tmp\/\*|mkdir -p \/data|chown node:node \/data)$/);
      }
    }
    const installed = execFileSync('npm', ['ls', '--omit=dev', '--depth=0', '--json'], { cwd: app, encoding: 'utf8' });
    const deps = Object.keys(JSON.parse(installed).dependencies ?? {});
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(deps.sort()).toEqual(Object.keys(pkg.dependencies).sort());
    for (const dev of Object.keys(pkg.devDependencies)) expect(existsSync(join(app, 'node_modules', dev)), dev).toBe(false);

    const mock = await startMockUpstream({ completionTokens: 5 });
    const data = join(dir, 'data');
    // Mounted config, as `-v tollgate.yaml:/app/tollgate.yaml` does; dataDir comes from the image's env.
    writeFileSync(join(app, 'tollgate.yaml'), stringify({
      listen: { host: '127.0.0.1', port: 0 },
      dataDir: '${TOLLGATE_DATA_DIR}',
      shards: 1,
      adminToken: 'image-admin-token',
      providers: providers(mock.url),
      customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 10, unit: 'USD', period: 'month' }] }],
    }));
    const env: Record<string, string> = { PATH: process.env.PATH!, HOME: dir };
    for (const e of one('ENV')) for (const m of e.args.matchAll(/(\w+)=(\S+)/g)) env[m[1]!] = m[2]!;
    env.TOLLGATE_DATA_DIR = data;
    const [cmd, ...args] = JSON.parse(one('CMD')[0]!.args) as string[];
    const proc = spawn(cmd!, args, { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => proc.once('exit', r));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no start:\n${out}`)), 20_000);
        proc.stderr!.on('data', () => {
          const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
          if (m) {
            clearTimeout(t);
            resolve(Number(m[1]));
          }
        });
        proc.once('exit', (c) => reject(new Error(`exited ${c}:\n${out}`)));
      });
      // The addon the build stage compiled is in the image and loads.
      if (existsSync(join(ROOT, 'native/build/Release/tollgate_native.node'))) expect(out).toContain('scanned by the native addon');
      const r = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'from the image' }] }),
      });
      expect(r.status).toBe(200);
      expect(await r.text()).toContain('[DONE]');

      // The HEALTHCHECK command, verbatim.
      const hc = JSON.parse(one('HEALTHCHECK')[0]!.args.replace(/^.*?CMD /, '')) as string[];
      const health = (p: number) => new Promise<number | null>((resolve) => {
        const h = spawn(hc[0]!, hc.slice(1), { env: { ...env, TOLLGATE_PORT: String(p) }, stdio: 'ignore' });
        h.once('exit', resolve);
      });
      expect(await health(port)).toBe(0);
      expect(await health(1)).toBe(1); // nothing listens there: the check fails

      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(existsSync(join(data, 'tollgate.lmdb'))).toBe(true);
    } finally {
      proc.kill('SIGKILL');
      await mock.close();
    }
  }, 300_000);
});
