import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

// What tests that start real servers of their own (redis-server, haproxy,
// nginx) need: where the Debian binary is, and a port nobody listens on.

/** The path of a system binary on PATH or in /usr/sbin (Debian puts daemons there), or null. */
export function findBinary(name: string): string | null {
  const w = spawnSync('sh', ['-c', `command -v ${name} || ls /usr/sbin/${name}`], { encoding: 'utf8' });
  return w.status === 0 ? w.stdout.trim().split('\n')[0]! : null;
}

/** A free TCP port on 127.0.0.1 (the kernel picks it; released before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}
