import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { tempDir } from './temp-dir.js';
import { sleep } from './fixtures.js';

// Starts the real, built Tollgate (`node dist/cli.js serve`) as a child
// process on a free port with a config written to a temp directory.

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
export const ADMIN_TOKEN = 'test-admin-token-123';

export interface Tollgate {
  url: string;
  port: number;
  dataDir: string;
  configFile: string;
  proc: ChildProcess;
  logs(): string;
  /**
   * The proxy's clock as this test sees it: the instant the proxy printed as
   * its clock at start plus the real time since this process read that line
   * (a few ms behind the proxy, never ahead), or the real time when no
   * clockStart was given.
   */
  now(): number;
  admin<T = any>(path: string): Promise<T>;
  adminText(path: string): Promise<string>;
  /** The usage row of `requestId` (a customer's rows), waiting up to 5 s for its commit; throws if none comes. */
  usageRow(customer: string, requestId: string): Promise<any>;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
}

export interface StartOptions {
  dataDir?: string;
  shards?: number;
  env?: Record<string, string>;
  /**
   * The instant the proxy's clock reads when it starts (it then advances in
   * real time): TOLLGATE_CLOCK_START. Tests that depend on the calendar set it
   * so they pass on any day they run.
   */
  clockStart?: number | string;
}

/**
 * The instant integration tests with calendar budgets pretend it is (pass it
 * as clockStart): a Wednesday noon in mid-June, far from any day, week or
 * month boundary, so a test that spends and then reads its budget gets the
 * same period whatever day (or midnight) the suite runs across. In the future,
 * so Redis keys that expire at a period's end (cluster mode) stay alive.
 */
export const TEST_CLOCK = Date.parse('2031-06-18T12:00:00Z');

export async function startTollgate(config: Record<string, unknown>, opts: StartOptions = {}): Promise<Tollgate> {
  const dir = tempDir('tollgate-test-');
  const dataDir = opts.dataDir ?? join(dir, 'data');
  const configFile = join(dir, 'tollgate.yaml');
  writeFileSync(configFile, stringify({
    listen: { host: '127.0.0.1', port: 0 },
    shards: opts.shards ?? 2,
    adminToken: ADMIN_TOKEN,
    logLevel: 'warn',
    ...config,
    dataDir,
  }));
  if (opts.clockStart !== undefined) {
    const start = typeof opts.clockStart === 'number' ? opts.clockStart : Date.parse(opts.clockStart);
    writeFileSync(clockFile(configFile), JSON.stringify({ start, realAt: Date.now() }));
  }
  return launch(configFile, dataDir, opts.env);
}

/** Beside the config: the test clock a restart on the same config continues from. */
const clockFile = (configFile: string) => join(dirname(configFile), 'test-clock.json');

/**
 * Starts again on an existing config and data directory (restart after a
 * crash). A proxy first started with clockStart comes back on the same clock,
 * advanced by the real time since (not reset to its start).
 */
export function launch(configFile: string, dataDir: string, env: Record<string, string> = {}): Promise<Tollgate> {
  if (env.TOLLGATE_CLOCK_START === undefined && existsSync(clockFile(configFile))) {
    const c = JSON.parse(readFileSync(clockFile(configFile), 'utf8')) as { start: number; realAt: number };
    env = { ...env, TOLLGATE_CLOCK_START: new Date(c.start + (Date.now() - c.realAt)).toISOString() };
  }
  const proc = spawn(process.execPath, [CLI, 'serve', '--config', configFile], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  let offset = 0;
  const onClock = () => {
    const m = /the clock reads (\S+) /.exec(out);
    if (!m) return;
    offset = Date.parse(m[1]!) - Date.now();
    proc.stderr!.off('data', onClock);
  };
  proc.stderr!.on('data', onClock);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tollgate did not start within 45 s:\n${out}`)), 45_000); // a loaded two-core machine
    const onData = () => {
      const m = /tollgate listening on http:\/\/[^:]+:(\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      proc.stderr!.off('data', onData);
      const port = Number(m[1]);
      const url = `http://127.0.0.1:${port}`;
      const adminFetch = (path: string) => fetch(url + path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      resolve({
        url, port, dataDir, configFile, proc,
        logs: () => out,
        now: () => Date.now() + offset,
        admin: async (path) => {
          const r = await adminFetch(path);
          if (!r.ok) throw new Error(`admin ${path}: ${r.status} ${await r.text()}`);
          return r.json();
        },
        adminText: async (path) => (await adminFetch(path)).text(),
        usageRow: async (customer, requestId) => {
          for (let i = 0; i < 50; i++) {
            const r = await adminFetch(`/admin/usage?customer=${encodeURIComponent(customer)}&limit=100000`);
            const row = ((await r.json()) as { rows: { request_id: string }[] }).rows.find((x) => x.request_id === requestId);
            if (row) return row;
            await sleep(100);
          }
          throw new Error(`no usage row for ${requestId}`);
        },
        stop: async () => {
          proc.kill('SIGTERM');
          return exited;
        },
        kill9: async () => {
          proc.kill('SIGKILL');
          await exited;
        },
      });
    };
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tollgate exited with ${code} before listening:\n${out}`));
    });
  });
}
