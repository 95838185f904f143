import type { EndpointId, Protocol } from '../call.js';

// Which upstream endpoint serves a client endpoint on a provider of a given
// protocol. Chat completions and Anthropic messages translate into each
// other; the Responses and embeddings endpoints have no Anthropic
// counterpart, so only OpenAI providers serve them.

export function upstreamEndpointFor(client: EndpointId, provider: Protocol): EndpointId | undefined {
  if (provider === 'openai') {
    if (client === 'messages') return 'chat';
    return client;
  }
  if (client === 'messages') return 'messages';
  if (client === 'chat') return 'messages';
  return undefined;
}
