import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';

/**
 * This node's name in Redis. It must survive restarts: Redis counts each
 * node's spend under its name, as an absolute total from that node's ledger,
 * so a node that came back under a new name would be counted twice. Unless
 * configured, it is generated once and kept beside the ledger.
 */
export function nodeIdFor(dataDir: string, configured?: string): string {
  if (configured) return configured;
  const file = join(dataDir, 'node-id');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    mkdirSync(dataDir, { recursive: true });
    const host = hostname().replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 40) || 'node';
    const id = `${host}-${randomBytes(4).toString('hex')}`;
    try {
      writeFileSync(file, id + '\n', { flag: 'wx' });
      return id;
    } catch {
      return readFileSync(file, 'utf8').trim(); // another process wrote it first
    }
  }
}
