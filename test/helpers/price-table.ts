import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './temp-dir.js';

/** The price table Tollgate ships. */
export const SHIPPED_PRICES = fileURLToPath(new URL('../../pricing/models.json', import.meta.url));

/** The shipped price table as data, to edit and write over a copy (a running proxy reloads it). */
export const shippedPrices = (): any => JSON.parse(readFileSync(SHIPPED_PRICES, 'utf8'));

/** A copy of the shipped price table in a fresh directory, for a test that edits it while the proxy runs. */
export function priceTableCopy(prefix: string): string {
  const path = join(tempDir(prefix), 'models.json');
  copyFileSync(SHIPPED_PRICES, path);
  return path;
}
