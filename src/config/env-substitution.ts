// `${VAR}` and `${VAR:-default}` in string values. Substituted after YAML
// parsing, value by value, so a secret containing YAML syntax cannot change
// the document's structure.

const pattern = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export interface SubstitutionProblem { path: string; variable: string }

export function substituteEnv(
  value: unknown,
  env: Record<string, string | undefined>,
  problems: SubstitutionProblem[],
  path = '',
): unknown {
  if (typeof value === 'string') {
    return value.replace(pattern, (_m, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      problems.push({ path, variable: name });
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, problems, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v, env, problems, path ? `${path}.${k}` : k);
    return out;
  }
  return value;
}
