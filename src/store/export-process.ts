import { once } from 'node:events';
import { csvChunks, type ExportSpec } from './row-export.js';

// Child-process entry of a CSV export (spawned by the server for
// /admin/usage and /admin/reports/usage with format=csv): reads the ledger
// beside the running server (LMDB allows readers in other processes) and
// writes CSV to stdout, waiting on the pipe, so the shard only relays bytes
// and neither its event loop nor the server's memory carries the scan.
// The spec comes as one JSON argument.

const spec = JSON.parse(process.argv[2] ?? '{}') as ExportSpec;

async function main(): Promise<void> {
  for await (const chunk of csvChunks(spec)) {
    if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
  }
}

main().then(
  () => process.stdout.end(),
  (err) => {
    process.stderr.write(`export failed: ${(err as Error)?.stack ?? err}\n`);
    process.exit(1);
  },
);
