import { spawnSync } from 'node:child_process';
import { describe, it } from 'vitest';
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

/**
 * describe() for suites that need a real server binary (`found`). Without
 * one: under CI=true the suite FAILS with a test saying what is missing
 * (`why`); elsewhere it is skipped, with the reason in its name.
 */
export function describeNeeding(found: boolean, why: string, name: string, fn: () => void): void {
  if (found) {
    describe(name, fn);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it(`needs ${why.split(' not found')[0]} to run`, () => {
        throw new Error(`${why}; CI requires these tests to run`);
      });
    });
  } else {
    console.warn(`skipping "${name}": ${why}`);
    describe.skip(`${name} [skipped: ${why}]`, fn);
  }
}
