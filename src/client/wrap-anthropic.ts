import { anthropicMessages } from './endpoints.js';
import { meteredCall, type Invoke } from './metered-call.js';
import { overlay } from './overlay.js';
import { surfaceTollgateErrors } from './helper-errors.js';
import type { TollgateApi } from './tollgate-api.js';
import { controlsOf } from './wrap-openai.js';

// An Anthropic client whose messages.create goes through Tollgate first;
// messages.stream() calls `this.create(...).withResponse()`, so it is
// metered through the same create. messages.countTokens, batches and
// beta.* pass through unmetered.

export function wrapAnthropic<T extends object>(client: T, api: TollgateApi, controls: object, rewrap: (c: T) => T): T {
  let self: any;
  const c = client as any;
  self = overlay(client, {
    messages: () => overlay(c.messages, {
      _client: () => self,
      create: () => ((body: Record<string, any>, options: unknown) => meteredCall(api, anthropicMessages, ((b, o) => c.messages.create(b, o)) as Invoke, body, options)),
      stream: (proxy: any) => (body: unknown, options: unknown) => surfaceTollgateErrors(c.messages.stream.call(proxy, body, options)),
    }, 'proxy'),
    withOptions: () => (opts: unknown) => rewrap(c.withOptions(opts)),
    ...controlsOf(controls),
  }, 'target');
  return self;
}
