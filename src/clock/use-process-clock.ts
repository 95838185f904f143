import { installProcessClock } from './process-clock.js';

// Imported first by every entry point that keeps time (the CLI's main
// thread, each shard worker), so the clock is shifted before any other
// module is evaluated. See process-clock.ts: TOLLGATE_CLOCK_START is for
// tests and demos only.

try {
  installProcessClock();
} catch (err) {
  process.stderr.write(`tollgate: ${(err as Error).message}\n`);
  process.exit(2);
}
