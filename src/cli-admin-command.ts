import { readFileSync } from 'node:fs';
import { ConfigError } from './config/load-config.js';
import { AdminApiError, AdminTargetError, adminRequest, resolveAdminTarget, type AdminTarget } from './cli-admin-client.js';

// The frame every control-plane command (`customers`, `keys`, `credits`)
// runs in: one argument parser, the shared --url/--token/--config/--json
// options, JSON or a readable table on stdout, and one mapping of failures to
// exit codes: 2 for a bad invocation (with the usage), 1 for the API's
// refusal (its status, code and message, as the API said them) or an
// unreachable node.

export class UsageError extends Error {}

export interface ParsedArgs {
  positional: string[];
  values: Map<string, string>;
  lists: Map<string, string[]>;
  switches: Set<string>;
}

export interface ArgSpec {
  /** Options that take one value (--name V or --name=V). */
  values?: readonly string[];
  /** Options that take a value and may repeat. */
  lists?: readonly string[];
  /** Options without a value. */
  switches?: readonly string[];
}

const COMMON_VALUES = ['--url', '--token', '--config'];
const COMMON_SWITCHES = ['--json'];

export function parseArgs(args: readonly string[], spec: ArgSpec): ParsedArgs {
  const values = new Set([...COMMON_VALUES, ...(spec.values ?? [])]);
  const lists = new Set(spec.lists ?? []);
  const switches = new Set([...COMMON_SWITCHES, ...(spec.switches ?? [])]);
  const out: ParsedArgs = { positional: [], values: new Map(), lists: new Map(), switches: new Set() };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--') || a === '--') {
      if (a !== '--') out.positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (switches.has(name) && eq < 0) {
      out.switches.add(name);
      continue;
    }
    if (!values.has(name) && !lists.has(name)) throw new UsageError(`unknown option ${name}`);
    const v = eq > 0 ? a.slice(eq + 1) : args[++i];
    if (v === undefined) throw new UsageError(`${name} needs a value`);
    if (lists.has(name)) out.lists.set(name, [...(out.lists.get(name) ?? []), v]);
    else out.values.set(name, v);
  }
  return out;
}

/** The n-th positional argument, required. */
export function positional(p: ParsedArgs, n: number, what: string): string {
  const v = p.positional[n];
  if (v === undefined || v === '') throw new UsageError(`${what} is required`);
  return v;
}

/** `--data`: a JSON object given inline, as @FILE, or as - (stdin). */
export function dataOption(p: ParsedArgs): Record<string, unknown> {
  const raw = p.values.get('--data');
  if (raw === undefined) return {};
  const text = raw === '-' ? readFileSync(0, 'utf8') : raw.startsWith('@') ? readFileSync(raw.slice(1), 'utf8') : raw;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--data: not JSON (${(err as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError('--data: a JSON object is expected');
  return v as Record<string, unknown>;
}

export interface CommandIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

export const processIo: CommandIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  env: process.env,
};

export interface Call {
  args: ParsedArgs;
  /** One admin API request against the resolved node. */
  request: <T = any>(method: string, path: string, body?: unknown) => Promise<T>;
  /** Prints the answer: as JSON with --json, else as `text` renders it. */
  print: (json: unknown, text: () => string) => void;
  io: CommandIo;
}

export type Subcommand = { spec: ArgSpec; run: (call: Call) => Promise<void> };

/** Runs `sub` of a command group; resolves with the exit code. */
export async function runGroup(group: string, usage: string, subs: Record<string, Subcommand>, argv: readonly string[], io: CommandIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help') {
    (name ? io.out : io.err)(`${usage}\n`);
    return name ? 0 : 2;
  }
  const sub = Object.hasOwn(subs, name) ? subs[name] : undefined;
  try {
    if (!sub) throw new UsageError(`unknown sub-command "${name}"`);
    const args = parseArgs(rest, sub.spec);
    let target: AdminTarget | undefined;
    const call: Call = {
      args,
      io,
      request: (method, path, body) => {
        target ??= resolveAdminTarget({ url: args.values.get('--url'), token: args.values.get('--token'), config: args.values.get('--config') }, io.env);
        return adminRequest(target, method, path, body);
      },
      print: (json, text) => io.out(args.switches.has('--json') ? `${JSON.stringify(json, null, 2)}\n` : `${text()}\n`),
    };
    await sub.run(call);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`tollgate ${group}: ${e.message}\n${usage}\n`);
      return 2;
    }
    if (e instanceof AdminApiError) {
      io.err(`tollgate ${group} ${name}: ${e.status} ${e.code}: ${e.message}\n`);
      return 1;
    }
    if (e instanceof AdminTargetError || e instanceof ConfigError) {
      io.err(`tollgate ${group}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

export const CONNECTION_OPTIONS = `connection: --url http://HOST:PORT (default: the config's listen address)
            --token TOKEN (default: TOLLGATE_ADMIN_TOKEN, else the config's adminToken)
            --config FILE (default ./tollgate.yaml, else the bundled example)
output:     a readable table; --json prints the API's answer as JSON`;

/** A cell: empty for absent values, numbers and strings as they are, anything else as JSON. */
export const cell = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
