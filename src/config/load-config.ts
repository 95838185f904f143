import { readFileSync } from 'node:fs';
import type { ZodIssue } from 'zod';
import { parse as parseYaml } from 'yaml';
import { configSchema, type Config } from './schema.js';
import { substituteEnv, type SubstitutionProblem } from './env-substitution.js';
import { checkReferences } from './check-references.js';

export class ConfigError extends Error {
  readonly code = 'TG_CONFIG_INVALID';
  constructor(readonly file: string, readonly problems: string[]) {
    super(`invalid config ${file}:\n  ${problems.join('\n  ')}`);
  }
}

/** Reads, substitutes, validates and freezes a config file. Throws ConfigError listing every problem. */
export function loadConfigFile(file: string, env: Record<string, string | undefined> = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read file: ${(err as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(file, [`not valid YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
  return parseConfig(raw ?? {}, env, file);
}

export function parseConfig(raw: unknown, env: Record<string, string | undefined> = process.env, file = '<config>'): Config {
  const envProblems: SubstitutionProblem[] = [];
  const substituted = substituteEnv(raw, env, envProblems);
  const problems = envProblems.map((p) => `${p.path}: environment variable ${p.variable} is not set (use \${${p.variable}:-default} for a default)`);
  const result = configSchema.safeParse(substituted);
  if (!result.success) {
    problems.push(...describeIssues(result.error.issues, substituted));
    throw new ConfigError(file, problems);
  }
  // One global zone for the rest of the code: `timeZone` (as customers and plans spell it) wins over `timezone`.
  if (result.data.timeZone !== undefined) result.data.timezone = result.data.timeZone;
  problems.push(...checkReferences(result.data));
  if (problems.length) throw new ConfigError(file, problems);
  return deepFreeze(result.data);
}

/** Zod issues as `path: problem (got value)` lines, the paths prefixed with `prefix` (the config and the admin API share this). */
export function describeIssues(issues: readonly ZodIssue[], input: unknown, prefix: (string | number)[] = []): string[] {
  const problems: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) problems.push(`${formatPath([...prefix, ...issue.path, k])}: unknown field (check its spelling and docs/interface.md)`);
      continue;
    }
    const path = formatPath([...prefix, ...issue.path]);
    const got = describe(valueAt(input, issue.path));
    problems.push(`${path || '(root)'}: ${issue.message}${got ? ` (got ${got})` : ''}`);
  }
  return problems;
}

function formatPath(path: (string | number)[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${p}` : p;
  return s;
}

function valueAt(root: unknown, path: (string | number)[]): unknown {
  let v: unknown = root;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[p];
  }
  return v;
}

function describe(v: unknown): string {
  if (v === undefined) return '';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
