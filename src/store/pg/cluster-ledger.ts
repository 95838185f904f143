import type { Config } from '../../config/schema.js';
import { nodeIdFor } from '../../cluster/node-id.js';
import type { Ledger } from '../ledger.js';
import { LedgerShipper } from './ledger-shipper.js';
import { PgLedger } from './pg-ledger.js';
import { ShipCursor } from './ship-cursor.js';

// The main thread's side of the cluster ledger: one shipper per node,
// reading the node's committed rows and writing them to PostgreSQL.

export interface ClusterShipping {
  shipper: LedgerShipper;
  /** Ships what it can within `drainMs`, then closes the connections and the cursor. */
  stop(drainMs: number): Promise<void>;
}

export function startShipping(config: Config, ledger: Ledger, log: (msg: string) => void): ClusterShipping | undefined {
  const url = config.ledger.postgres;
  if (!url) return undefined;
  const s = config.ledger.shipping;
  const say = (level: string, msg: string) => log(`${level}: ${msg}`);
  const db = new PgLedger({ url, timeZone: config.timezone, node: nodeIdFor(config.dataDir, config.cluster.nodeId), poolSize: 1, log: say });
  const cursor = new ShipCursor(config.dataDir);
  const shipper = new LedgerShipper(ledger, db, cursor, {
    batchRows: s.batchRows, intervalMs: s.interval, lookbackMs: s.lookback, sweepMs: s.sweep, maxBackoffMs: s.maxBackoff, log: say,
  });
  shipper.start();
  return {
    shipper,
    async stop(drainMs) {
      // Bounded: a batch stuck on an unresponsive database must not hold up shutdown (the cursor has not moved for it).
      const bound = new Promise<void>((r) => setTimeout(r, drainMs + 2_000).unref());
      await Promise.race([shipper.stop(drainMs).then(() => db.close()), bound]);
      await cursor.close();
    },
  };
}
