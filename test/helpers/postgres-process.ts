import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { freePort } from './local-servers.js';

// A private PostgreSQL per test file, like redis-process.ts: Debian's
// binaries (/usr/lib/postgresql/<version>/bin), a fresh cluster in a temp
// directory (trust auth, fsync off), listening on 127.0.0.1 on a free port
// with its unix socket in that directory. initdb refuses to run as root, so
// under root the directory belongs to the `postgres` user and initdb and
// pg_ctl run as that user (runuser). `stop` then `start` brings the same
// database back on the same port, as after an outage.

export interface PostgresProcess {
  port: number;
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  url: string;
  readonly running: boolean;
  /** Fast shutdown (clients are disconnected), waits for exit. */
  stop(): Promise<void>;
  /** Starts again on the same port with the same data (after stop). */
  start(): Promise<void>;
  /** Stops and removes the cluster's directory. */
  destroy(): Promise<void>;
}

/** The directory of Debian's PostgreSQL server binaries: $PG_BIN when set, else the newest /usr/lib/postgresql/N/bin with initdb. */
export function postgresBinDir(): string | null {
  const env = process.env.PG_BIN;
  if (env) return existsSync(join(env, 'initdb')) ? env : null;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0]!, 'bin') : null;
}

/** describe() for suites that need a real PostgreSQL; under CI=true a missing server FAILS the suite instead of skipping it. */
export function describeWithPostgres(name: string, fn: () => void): void {
  if (postgresBinDir()) {
    describe(name, fn);
    return;
  }
  const why = 'PostgreSQL server binaries not found (install them: apt-get install postgresql, or set PG_BIN=/usr/lib/postgresql/N/bin)';
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs PostgreSQL to run', () => {
        throw new Error(`${why}; CI requires these tests to run`);
      });
    });
  } else {
    console.warn(`skipping "${name}": ${why}`);
    describe.skip(`${name} [skipped: ${why}]`, fn);
  }
}

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Runs a PostgreSQL binary, as the `postgres` user when we are root. */
function run(bin: string, args: string[]): Promise<string> {
  const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${bin} ${args.join(' ')} exited with ${code}:\n${out}`))));
  });
}

export async function startPostgres(): Promise<PostgresProcess> {
  const binDir = postgresBinDir();
  if (!binDir) throw new Error('PostgreSQL binaries not found');
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-pg-'));
  if (asRoot) {
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const port = await freePort();
  await run(join(binDir, 'initdb'), ['-D', data, '--auth=trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync']);
  let running = false;
  const killOnExit = () => {
    if (running) spawnSync(asRoot ? 'runuser' : join(binDir, 'pg_ctl'), asRoot ? ['-u', 'postgres', '--', join(binDir, 'pg_ctl'), 'stop', '-D', data, '-m', 'immediate'] : ['stop', '-D', data, '-m', 'immediate']);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100`;
  const start = async () => {
    await run(join(binDir, 'pg_ctl'), ['start', '-D', data, '-w', '-t', '30', '-l', join(dir, 'log'), '-o', options]);
    running = true;
  };
  const stop = async () => {
    if (!running) return;
    await run(join(binDir, 'pg_ctl'), ['stop', '-D', data, '-w', '-m', 'fast']);
    running = false;
  };
  await start();
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    get running() {
      return running;
    },
    stop,
    start,
    async destroy() {
      await stop();
      process.off('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
