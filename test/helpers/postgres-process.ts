import { describeNeeding } from './local-servers.js';
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

/** describe() for suites that need a real PostgreSQL (local-servers.ts: under CI=true a missing one fails the suite). */
export function describeWithPostgres(name: string, fn: () => void): void {
  describeNeeding(postgresBinDir() !== null, 'PostgreSQL server binaries not found (install them: apt-get install postgresql, or set PG_BIN=/usr/lib/postgresql/N/bin)', name, fn);
}
