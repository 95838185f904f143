// Loads pricing/models.json into a PriceTable. The only pricing module that touches the file system.

import { readFileSync, watchFile, unwatchFile, type Stats } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PriceTable, type PriceTableData } from './price-table.js';

/**
 * pricing/models.json at the package root. This file compiles to dist/pricing/load-price-table.js
 * and runs from src/pricing/load-price-table.ts under vitest: both are two levels below the root.
 */
export const DEFAULT_PRICE_TABLE_URL = new URL('../../pricing/models.json', import.meta.url);

export function loadPriceTable(path?: string): PriceTable {
  const file = path ?? fileURLToPath(DEFAULT_PRICE_TABLE_URL);
  let data: PriceTableData;
  try {
    data = JSON.parse(readFileSync(file, 'utf8')) as PriceTableData;
  } catch (err) {
    throw new Error(`cannot load price table ${file}: ${(err as Error).message}`);
  }
  return new PriceTable(data);
}

/**
 * Reloads the table when the file changes (after `npm run pricing:update`),
 * without a restart. A file that fails to parse is reported and the table in
 * use stays. Polling (not inotify) so editors' rename-on-save is caught too.
 */
export function watchPriceTable(onTable: (t: PriceTable) => void, onError: (e: Error) => void, path?: string, intervalMs = 2000): () => void {
  const file = path ?? fileURLToPath(DEFAULT_PRICE_TABLE_URL);
  const listener = (cur: Stats, prev: Stats) => {
    if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size) return;
    try {
      onTable(loadPriceTable(file));
    } catch (err) {
      onError(err as Error);
    }
  };
  watchFile(file, { interval: intervalMs, persistent: false }, listener);
  return () => unwatchFile(file, listener);
}
