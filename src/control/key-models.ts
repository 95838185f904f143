import type { Caller } from '../identity/key-directory.js';
import { globMatch } from '../routing/route-table.js';

/** An issued key's `models` allow-list (globs): why `model` is refused, or null when the key may call it. */
export function modelBarred(caller: Pick<Caller, 'models' | 'keyId'>, model: string): string | null {
  if (!caller.models || caller.models.some((g) => globMatch(g, model))) return null;
  return `the key ${caller.keyId} may not call model "${model.slice(0, 200)}"; it may call: ${caller.models.join(', ')}`;
}
