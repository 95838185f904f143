import { userInfo } from 'node:os';
import { ConfigError } from './config/load-config.js';
import { AdminApiError, AdminTargetError, adminRequest, resolveAdminTarget, type AdminTarget } from './cli-admin-client.js';

// `tollgate rerate`: asks the running proxy to re-rate a period (POST /admin/rerate). It goes
// through the server, not the data dir, so the rows are priced with the table the server has
// loaded, the customers' resale terms of its config, and the live budget counters of the
// current period move with the rows. Needs the admin token (--token, TOLLGATE_ADMIN_TOKEN or
// config adminToken) and the server's address (--url or config listen): cli-admin-client.ts.

export const RERATE_USAGE = `usage:
  tollgate rerate --from DATE|ISO --to DATE|ISO --reason TEXT [--customer ID] [--model M] [--actor NAME]
                  [--config FILE] [--url http://HOST:PORT] [--token ADMIN_TOKEN]
  Prices the usage rows in [from, to) again with the current price table (each at the price in
  force at its own time) and writes one adjustments-log entry per row whose cost or billed amount
  changes; a second run with the same table changes nothing.`;

class UsageError extends Error {}

interface Flags { from?: string; to?: string; reason?: string; customer?: string; model?: string; actor?: string; config?: string; url?: string; token?: string }

function parseFlags(args: string[]): Flags {
  const f: Flags = {};
  const names: Record<string, keyof Flags> = {
    '--from': 'from', '--to': 'to', '--reason': 'reason', '--customer': 'customer', '--model': 'model',
    '--actor': 'actor', '--config': 'config', '-c': 'config', '--url': 'url', '--token': 'token',
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
  let target: AdminTarget;
  try {
    target = resolveAdminTarget(f);
  } catch (err) {
    if (!(err instanceof ConfigError) && !(err instanceof AdminTargetError)) throw err;
    process.stderr.write(`tollgate rerate: ${err.message}\n`);
    return 1;
  }
  let actor = 'cli';
  try { actor = `cli:${userInfo().username}`; } catch { /* no passwd entry: plain "cli" */ }
  const body = {
    from: f.from, to: f.to, reason: f.reason, actor: f.actor ?? actor,
    ...(f.customer ? { customer: f.customer } : {}), ...(f.model ? { model: f.model } : {}),
  };
  try {
    const answer = await adminRequest(target, 'POST', '/admin/rerate', body);
    process.stdout.write(`${JSON.stringify(answer)}\n`);
    return 0;
  } catch (err) {
    if (err instanceof AdminApiError) process.stderr.write(`tollgate rerate: ${err.status} ${err.code}: ${err.message}\n`);
    else if (err instanceof AdminTargetError) process.stderr.write(`tollgate rerate: ${err.message}; re-rating runs in the server\n`);
    else throw err;
    return 1;
  }
}
