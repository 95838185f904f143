import { describe, it } from 'vitest';
import { postgresBinDir, startPostgres as start } from '../../bench/postgres-server.mjs';

// A private PostgreSQL per test file (bench/postgres-server.mjs: Debian's
// binaries, initdb and pg_ctl as the `postgres` user under root, trust auth
// on 127.0.0.1, a free port, its socket and data in a temp directory).

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

export const startPostgres = start as () => Promise<PostgresProcess>;

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
