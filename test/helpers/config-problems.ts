import { ConfigError, parseConfig } from '../../src/config/load-config.js';

/** The problems a config is refused with (every one, `path: problem`); throws if it loads. */
export function configProblems(raw: unknown, env: Record<string, string> = {}): string[] {
  try {
    parseConfig(raw, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('loaded without error');
}
