#!/usr/bin/env node
import './clock/use-process-clock.js'; // first: shifts Date when TOLLGATE_CLOCK_START is set (tests, demos)
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfigFile } from './config/load-config.js';
import { hashKey } from './identity/key-hash.js';
import type { Config } from './config/schema.js';
import { CLOCK_START_ENV, processClockOffset } from './clock/process-clock.js';

const USAGE = `usage:
  tollgate serve [--config FILE] [--port N] [--host H] [--shards N] [--data-dir DIR]
  tollgate keys hash KEY        print the sha256:... form of a client key for keyHashes
  tollgate customers list|get|create|update|disable|enable|delete ...   customers of a running node (tollgate customers help)
  tollgate keys list|create|revoke ...   a customer's API keys on a running node (tollgate keys help)
  tollgate credits add|show ...   top up and read a customer's prepaid wallet (tollgate credits help)
  tollgate check --config FILE  validate a config file and exit
  tollgate report daily|monthly|customers|export ...   billing reports and CSV export (tollgate report help)
  tollgate ledger replay [--config FILE] LOGFILE   re-enter the ledger_unwritten_row lines a full disk left in a log (- for stdin)
  tollgate rerate --from T --to T --reason TEXT [--customer ID] [--model M]   re-rate a period after a price correction (asks the running proxy)

environment:
  TOLLGATE_CLOCK_START=ISO-TIME  for tests and demos only: the clock reads this instant at start
                                 and advances in real time (usage rows, budget periods, reports)`;

const BUNDLED = fileURLToPath(new URL('../config/tollgate.example.yaml', import.meta.url));

interface Flags { config?: string; port?: number; host?: string; shards?: number; dataDir?: string }

function parseFlags(args: string[]): Flags {
  const f: Flags = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const [name, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined) fail(`${name} needs a value`);
      return v!;
    };
    const int = (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) fail(`${name}: expected a whole number, got "${v}"`);
      return n;
    };
    switch (name) {
      case '--config': case '-c': f.config = value(); break;
      case '--port': case '-p': f.port = int(value()); break;
      case '--host': f.host = value(); break;
      case '--shards': f.shards = int(value()); break;
      case '--data-dir': f.dataDir = value(); break;
      default: fail(`unknown option ${a}\n${USAGE}`);
    }
  }
  return f;
}

function fail(msg: string): never {
  process.stderr.write(`tollgate: ${msg}\n`);
  process.exit(2);
}

function loadWithFlags(f: Flags): { config: Config; file: string } {
  const file = f.config ?? (existsSync('tollgate.yaml') ? 'tollgate.yaml' : BUNDLED);
  let config: Config;
  try {
    config = loadConfigFile(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tollgate: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  // CLI flags override the file; the result stays frozen.
  const merged = structuredClone(config) as Config;
  if (f.port !== undefined) merged.listen.port = f.port;
  if (f.host !== undefined) merged.listen.host = f.host;
  if (f.shards !== undefined) merged.shards = f.shards;
  if (f.dataDir !== undefined) merged.dataDir = f.dataDir;
  return { config: Object.freeze(merged), file };
}

async function serve(args: string[]) {
  const { config, file } = loadWithFlags(parseFlags(args));
  // Loaded here, not at the top: the admin sub-commands (customers, keys, credits) start fast without the server.
  const { uwsIsNative } = await import('./server/native-check.js');
  const { startServer } = await import('./server/supervisor.js');
  const { nativeStatusLine } = await import('./native/native-addon.js');
  const { tuneHeapGrowth } = await import('./server/heap-growth.js');
  tuneHeapGrowth(); // before any shard's heap exists
  if (!uwsIsNative()) {
    process.stderr.write(
      '\n*** tollgate: WARNING: the native uWebSockets.js binary did not load for this Node build ' +
      `(${process.version}, ABI ${process.versions.modules}); serving with the slow pure-JS fallback. Use Node 20. ***\n\n`,
    );
  }
  // Which path scans request bodies: the native addon, or (loudly) the JavaScript fallback.
  process.stderr.write(`${nativeStatusLine()}\n`);
  if (processClockOffset() !== 0) {
    process.stderr.write(`tollgate: ${CLOCK_START_ENV} is set: the clock reads ${new Date().toISOString()} (for tests and demos, never production)\n`);
  }
  const server = await startServer(config, undefined, { configFile: file }).catch((err: Error) => fail(err.message));
  const host = config.listen.host === '0.0.0.0' ? '127.0.0.1' : config.listen.host;
  process.stderr.write(`tollgate listening on http://${host}:${server.port} (${server.shards} shards, config ${file}, data ${config.dataDir})\n`);
  let stopping = false;
  const shutdown = (sig: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`tollgate: ${sig}: draining in-flight calls (up to ${config.shutdownGrace} ms)\n`);
    server.stop().then(
      () => {
        process.stderr.write('tollgate: stopped cleanly\n');
        process.exit(0);
      },
      (err) => {
        process.stderr.write(`tollgate: error while stopping: ${err}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** Sub-commands in their own modules, loaded only when asked for; each resolves with the exit code. */
const MODULE_COMMANDS: Record<string, () => Promise<(args: string[]) => Promise<number>>> = {
  report: async () => (await import('./cli-report.js')).runReport,
  rerate: async () => (await import('./cli-rerate.js')).runRerate,
  customers: async () => (await import('./cli-customers.js')).runCustomers,
  credits: async () => (await import('./cli-credits.js')).runCredits,
  keys: async () => (await import('./cli-keys.js')).runKeys, // `keys hash` is answered before
};

async function main() {
  const [cmd = 'serve', ...rest] = process.argv.slice(2);
  if (cmd === 'keys' && rest[0] === 'hash') {
    if (!rest[1]) return fail(USAGE);
    process.stdout.write(`sha256:${hashKey(rest[1])}\n`);
    return;
  }
  if (Object.hasOwn(MODULE_COMMANDS, cmd)) {
    const run = await MODULE_COMMANDS[cmd]!();
    process.exitCode = await run(rest);
    return;
  }
  switch (cmd) {
    case 'serve':
      return serve(rest);
    case 'check': {
      const { file } = loadWithFlags(parseFlags(rest));
      process.stdout.write(`${file}: ok\n`);
      return;
    }
    case 'ledger': {
      const file = rest[rest.length - 1];
      if (rest[0] !== 'replay' || !file || rest.length < 2 || (file.startsWith('-') && file !== '-')) return fail(USAGE);
      const { config } = loadWithFlags(parseFlags(rest.slice(1, -1)));
      const { readFileSync } = await import('node:fs');
      const { Ledger } = await import('./store/ledger.js');
      const { replayUnwrittenRows } = await import('./store/ledger-replay.js');
      const { budgetTimeZones } = await import('./budget/scope-budgets.js');
      const ledger = new Ledger(config.dataDir, config.timezone, config.ledger.sync, config.reports, { zones: budgetTimeZones(config) });
      const r = await replayUnwrittenRows(ledger, readFileSync(file === '-' ? 0 : file, 'utf8').split('\n'));
      await ledger.close();
      process.stdout.write(`replayed ${r.replayed} rows into ${config.dataDir}; ${r.present} already in the ledger; ${r.invalid} unreadable\n`);
      process.exitCode = r.invalid ? 1 : 0;
      return;
    }
    case '--help': case '-h': case 'help':
      process.stdout.write(USAGE + '\n');
      return;
    default:
      if (cmd.startsWith('-')) return serve([cmd, ...rest]);
      return fail(`unknown command "${cmd}"\n${USAGE}`);
  }
}

void main();
