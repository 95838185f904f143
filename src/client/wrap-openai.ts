import { chatCompletions, embeddings, responses, type Endpoint } from './endpoints.js';
import { meteredCall, type Invoke } from './metered-call.js';
import { overlay } from './overlay.js';
import { surfaceTollgateErrors } from './helper-errors.js';
import type { TollgateApi } from './tollgate-api.js';

// An OpenAI client whose model calls go through Tollgate first:
// chat.completions.create, responses.create, embeddings.create, and the
// helpers built on them (chat.completions.stream / parse, responses.stream /
// parse), which reach the metered create through the overlaid `_client`.

export function wrapOpenAI<T extends object>(client: T, api: TollgateApi, controls: object, rewrap: (c: T) => T): T {
  let self: any;
  const metered = (resource: any, ep: Endpoint) =>
    overlay(resource, {
      _client: () => self,
      create: () => ((body: Record<string, any>, options: unknown) => meteredCall(api, ep, ((b, o) => resource.create(b, o)) as Invoke, body, options)),
      ...(typeof resource.stream === 'function' ? { stream: (proxy: any) => (body: unknown, options: unknown) => surfaceTollgateErrors(resource.stream.call(proxy, body, options)) } : {}),
    }, 'proxy');
  const c = client as any;
  self = overlay(client, {
    chat: () => overlay(c.chat, { _client: () => self, completions: () => metered(c.chat.completions, chatCompletions) }, 'proxy'),
    responses: () => metered(c.responses, responses),
    embeddings: () => metered(c.embeddings, embeddings),
    withOptions: () => (opts: unknown) => rewrap(c.withOptions(opts)),
    ...controlsOf(controls),
  }, 'target');
  return self;
}

export function controlsOf(controls: object): Record<string, () => unknown> {
  return Object.fromEntries(Object.entries(controls).map(([k, v]) => [k, () => v]));
}
