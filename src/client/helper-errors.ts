import { TollgateRefusedError, TollgateUnavailableError } from './errors.js';

// The SDKs' `.stream()` helpers (ChatCompletionStream, ResponseStream,
// MessageStream) wrap any error that is not the SDK's own into a generic SDK
// error, keeping ours only as its `cause`. A refusal must reach the caller
// as itself — `catch (e) { if (e instanceof BudgetExceededError) ... }` has to
// work whichever call style was used — so the helper's error event is given
// back its cause. Patches only this helper instance's `_emit`, which both
// SDKs route every error through (listeners, finalX(), iteration).

const ours = (e: unknown) => e instanceof TollgateRefusedError || e instanceof TollgateUnavailableError;

export function surfaceTollgateErrors<H>(helper: H): H {
  const h = helper as any;
  if (typeof h?._emit !== 'function') return helper;
  const emit = h._emit;
  h._emit = function (this: unknown, event: string, ...args: unknown[]) {
    const cause = (args[0] as { cause?: unknown } | undefined)?.cause;
    if (event === 'error' && !ours(args[0]) && ours(cause)) args[0] = cause;
    return emit.call(this, event, ...args);
  };
  return helper;
}
