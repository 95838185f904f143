import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { tempDir } from './temp-dir.js';

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
   * The proxy's clock as this test sees it: the clockStart instant plus the
   * real time since launch (never behind the proxy's own reading), or the
   * real time when no clockStart was given.
   */
  now(): number;
  admin<T = any>(path: string): Promise<T>;
  adminText(path: string): Promise<string>;
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
  return launch(configFile, dataDir, withClock(opts.env, opts.clockStart));
}

/** `env` plus TOLLGATE_CLOCK_START when a start instant is given. */
export function withClock(env: Record<string, string> = {}, clockStart?: number | string): Record<string, string> {
  if (clockStart === undefined) return env;
  return { ...env, TOLLGATE_CLOCK_START: typeof clockStart === 'number' ? new Date(clockStart).toISOString() : clockStart };
}

/** Starts again on an existing config and data directory (restart after a crash). */
export function launch(configFile: string, dataDir: string, env: Record<string, string> = {}): Promise<Tollgate> {
  const clockStart = env.TOLLGATE_CLOCK_START ?? process.env.TOLLGATE_CLOCK_START;
  const offset = clockStart ? Date.parse(clockStart) - Date.now() : 0;
  const proc = spawn(process.execPath, [CLI, 'serve', '--config', configFile], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tollgate did not start within 20 s:\n${out}`)), 20_000);
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
