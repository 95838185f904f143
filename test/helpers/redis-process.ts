import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describeNeeding, freePort } from './local-servers.js';

// A private redis-server per test file: its own free port, no persistence
// (--save "" --appendonly no), never the shared one on 6379. `stop` then
// `start` brings it back on the same port, empty, as after a crash.

export interface RedisProcess {
  port: number;
  url: string;
  readonly running: boolean;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** Starts again on the same port (after stop). */
  start(): Promise<void>;
  /** Stops, waits `downMs`, starts again. */
  restart(downMs: number): Promise<void>;
}

/** The redis-server binary: $REDIS_SERVER when set (null if it does not exist), else on PATH, else null. */
export function redisServerBinary(): string | null {
  const env = process.env.REDIS_SERVER;
  if (env) return existsSync(env) ? env : null;
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const found = which.status === 0 ? which.stdout.trim() : '';
  if (found) return found;
  return existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : null;
}

/** describe() for suites that need a real redis-server (local-servers.ts: under CI=true a missing one fails the suite). */
export function describeWithRedis(name: string, fn: () => void): void {
  describeNeeding(redisServerBinary() !== null, 'redis-server not found (install it: apt-get install redis-server, or set REDIS_SERVER=/path/to/redis-server)', name, fn);
}

export async function startRedis(): Promise<RedisProcess> {
  const bin = redisServerBinary();
  if (!bin) throw new Error('redis-server not found');
  const port = await freePort();
  let proc: ChildProcess | null = null;
  const killOnExit = () => proc?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const start = () => new Promise<void>((resolve, reject) => {
    const p = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start on ${port}:\n${out}`)), 10_000);
    const onData = (d: Buffer) => {
      out += d;
      if (/Ready to accept connections/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    p.stdout!.on('data', onData);
    p.stderr!.on('data', onData);
    p.once('exit', (code) => {
      clearTimeout(timer);
      if (proc === p) proc = null;
      reject(new Error(`redis-server exited with ${code}:\n${out}`));
    });
  });

  const stop = () => new Promise<void>((resolve) => {
    const p = proc;
    if (!p) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
  });

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return proc !== null;
    },
    stop,
    start,
    async restart(downMs: number) {
      await stop();
      await new Promise((r) => setTimeout(r, downMs));
      await start();
    },
  };
}

