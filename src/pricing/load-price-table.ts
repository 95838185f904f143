// Loads pricing/models.json into a PriceTable. The only pricing module that touches the file system.

import { readFileSync } from 'node:fs';
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
