import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './bench-process.mjs';

// A private PostgreSQL for a test file or a bench: Debian's binaries
// (/usr/lib/postgresql/<version>/bin, or $PG_BIN), a fresh cluster in a temp
// directory (trust auth, fsync off), listening on 127.0.0.1 on a free port
// with its unix socket in that directory. initdb refuses to run as root, so
// under root the directory belongs to the `postgres` user and initdb and
// pg_ctl run as that user (runuser). `stop` then `start` brings the same
// database back on the same port, as after an outage.

/** The directory of the server binaries, or null. */
export function postgresBinDir() {
  const env = process.env.PG_BIN;
  if (env) return existsSync(join(env, 'initdb')) ? env : null;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0], 'bin') : null;
}

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Runs a server binary, as the `postgres` user when we are root. */
function run(bin, args) {
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

/** Starts one; `settings` are extra `-c name=value` server settings. */
export async function startPostgres(settings = {}) {
  const binDir = postgresBinDir();
  if (!binDir) throw new Error('PostgreSQL binaries not found (apt-get install postgresql, or set PG_BIN)');
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-pg-'));
  if (asRoot) {
    const id = (flag) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
    chownSync(dir, id('-u'), id('-g'));
  }
  const data = join(dir, 'data');
  const port = await freePort();
  const pgCtl = join(binDir, 'pg_ctl');
  await run(join(binDir, 'initdb'), ['-D', data, '--auth=trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync']);
  let running = false;
  const killOnExit = () => {
    if (running) spawnSync(asRoot ? 'runuser' : pgCtl, [...(asRoot ? ['-u', 'postgres', '--', pgCtl] : []), 'stop', '-D', data, '-m', 'immediate']);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);
  const all = { listen_addresses: '127.0.0.1', fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '100', ...settings };
  const options = [`-p ${port}`, `-k ${dir}`, ...Object.entries(all).map(([k, v]) => `-c ${k}=${v}`)].join(' ');
  const start = async () => {
    await run(pgCtl, ['start', '-D', data, '-w', '-t', '30', '-l', join(dir, 'log'), '-o', options]);
    running = true;
  };
  const stop = async () => {
    if (!running) return;
    await run(pgCtl, ['stop', '-D', data, '-w', '-m', 'fast']);
    running = false;
  };
  await start();
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dataDir: data,
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
