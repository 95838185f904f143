import { TollgateApi, type Status, type TollgateOptions } from './tollgate-api.js';
import { wrapAnthropic } from './wrap-anthropic.js';
import { wrapOpenAI } from './wrap-openai.js';

// tollgate/client: budgets for apps that call OpenAI or Anthropic directly.
// `wrap(new OpenAI(...), { url, key })` returns the same client, whose model
// calls ask Tollgate first and report what they used (docs/client.md).
// Imports nothing but web-standard globals: it runs inside users' apps.

export { BudgetExceededError, TollgateRefusedError, TollgateUnavailableError, type RefusalScope } from './errors.js';
export type { BudgetStatus, Status, TollgateOptions, UsageEvent } from './tollgate-api.js';

export interface TollgateControls {
  /** The budgets in scope of this key (and agent), with their live counters. */
  getStatus(): Promise<Status>;
  /**
   * Sends the usage reports that failed while Tollgate was unreachable (they
   * are also retried every 5 s in the background); resolves with how many
   * still wait. Call it before the app exits.
   */
  flushReports(): Promise<number>;
}

export type Wrapped<T> = T & TollgateControls;

export function wrap<T extends object>(client: T, options: TollgateOptions): Wrapped<T> {
  const api = new TollgateApi(options);
  const controls: TollgateControls = { getStatus: () => api.status(), flushReports: () => api.flushReports() };
  const again = (c: T) => wrap(c, options);
  const c = client as any;
  if (c?.chat?.completions && typeof c.chat.completions.create === 'function') return wrapOpenAI(client, api, controls, again) as Wrapped<T>;
  if (c?.messages && typeof c.messages.create === 'function') return wrapAnthropic(client, api, controls, again) as Wrapped<T>;
  throw new TypeError('tollgate/client: wrap() takes an OpenAI or Anthropic SDK client (new OpenAI(...) / new Anthropic(...))');
}
