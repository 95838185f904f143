import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfigFile } from './config/load-config.js';

// `tollgate rerate`: asks the running proxy to re-rate a period (POST /admin/rerate). It goes
// through the server, not the data dir, so the rows are priced with the table the server has
// loaded, the customers' resale terms of its config, and the live budget counters of the
// current period move with the rows. Needs the admin token (config adminToken or
// TOLLGATE_ADMIN_TOKEN) and the server's address (config listen, or --url).

export const RERATE_USAGE = `usage:
  tollgate rerate --from DATE|ISO --to DATE|ISO --reason TEXT [--customer ID] [--model M] [--actor NAME]
                  [--config FILE] [--url http://HOST:PORT]
  Prices the usage rows in [from, to) again with the current price table (each at the price in
  force at its own time) and writes one adjustments-log entry per row whose cost or billed amount
  changes; a second run with the same table changes nothing.`;

const BUNDLED = fileURLToPath(new URL('../config/tollgate.example.yaml', import.meta.url));

class UsageError extends Error {}

interface Flags { from?: string; to?: string; reason?: string; customer?: string; model?: string; actor?: string; config?: string; url?: string }

function parseFlags(args: string[]): Flags {
  const f: Flags = {};
  const names: Record<string, keyof Flags> = {
    '--from': 'from', '--to': 'to', '--reason': 'reason', '--customer': 'customer', '--model': 'model',
    '--actor': 'actor', '--config': 'config', '-c': 'config', '--url': 'url',
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    const key = names[name];
    if (!key) throw new UsageError(`unknown option ${a}`);
    const v = eq > 0 ? a.slice(eq + 1) : args[++i];
    if (v === undefined) throw new UsageError(`${name} needs a value`);
    f[key] = v;
  }
  for (const r of ['from', 'to', 'reason'] as const) if (!f[r]) throw new UsageError(`--${r} is required`);
  return f;
}

export async function runRerate(args: string[]): Promise<number> {
  let f: Flags;
  try {
    f = parseFlags(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`tollgate rerate: ${err.message}\n${RERATE_USAGE}\n`);
    return 2;
  }
  const file = f.config ?? (existsSync('tollgate.yaml') ? 'tollgate.yaml' : BUNDLED);
  let token = process.env.TOLLGATE_ADMIN_TOKEN;
  let url = f.url;
  try {
    const config = loadConfigFile(file);
    token ??= config.adminToken;
    const host = config.listen.host === '0.0.0.0' || config.listen.host === '::' ? '127.0.0.1' : config.listen.host;
    url ??= `http://${host.includes(':') ? `[${host}]` : host}:${config.listen.port}`;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`tollgate rerate: ${err.message}\n`);
    return 1;
  }
  if (!token) {
    process.stderr.write('tollgate rerate: no admin token: set adminToken in the config or TOLLGATE_ADMIN_TOKEN\n');
    return 1;
  }
  let actor = 'cli';
  try { actor = `cli:${userInfo().username}`; } catch { /* no passwd entry: plain "cli" */ }
  const body = {
    from: f.from, to: f.to, reason: f.reason, actor: f.actor ?? actor,
    ...(f.customer ? { customer: f.customer } : {}), ...(f.model ? { model: f.model } : {}),
  };
  let res: Response;
  try {
    res = await fetch(new URL('/admin/rerate', url), { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  } catch (err) {
    process.stderr.write(`tollgate rerate: cannot reach the proxy at ${url} (${(err as Error).message}); re-rating runs in the server, start it or pass --url\n`);
    return 1;
  }
  const text = await res.text();
  if (!res.ok) {
    process.stderr.write(`tollgate rerate: ${res.status}: ${text}\n`);
    return 1;
  }
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  return 0;
}
