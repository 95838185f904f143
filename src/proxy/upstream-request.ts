import type { ProviderConfig } from '../config/schema.js';
import type { EndpointId } from '../protocols/call.js';
import { ENDPOINTS } from '../protocols/call.js';

// What goes to the provider: its own key (never the client's) and only the
// client headers the protocol needs.

export interface ClientProtocolHeaders {
  anthropicVersion: string;
  anthropicBeta: string;
  accept: string;
}

export function upstreamPath(provider: ProviderConfig, basePath: string, endpoint: EndpointId): string {
  const path = ENDPOINTS[endpoint].path;
  // OpenAI base URLs include /v1 (as the OpenAI SDK takes them); Anthropic's do not.
  return provider.type === 'openai' ? basePath + path.slice(3) : basePath + path;
}

export function upstreamHeaders(provider: ProviderConfig, client: ClientProtocolHeaders, bodyLength: number, contentType = 'application/json'): Record<string, string> {
  return { 'content-length': String(bodyLength), ...callHeaders(provider, client, contentType) };
}

/**
 * The headers of a dispatched call whose body is a Buffer: no content-length,
 * which undici takes from the Buffer itself and writes in the same place (an
 * explicit one is only parsed back and checked). The same for every call of a
 * provider that sends no protocol header of its own, so that object is made
 * once per provider (undici only reads it).
 */
export function dispatchHeaders(provider: ProviderConfig, client: ClientProtocolHeaders, contentType?: string): Record<string, string> {
  const accept = client.accept;
  if (contentType !== undefined || (accept && accept !== 'application/json') || client.anthropicVersion || client.anthropicBeta) return callHeaders(provider, client, contentType);
  let h = plain.get(provider);
  if (!h) {
    h = Object.freeze(callHeaders(provider, client)) as Record<string, string>;
    plain.set(provider, h);
  }
  return h;
}

const plain = new WeakMap<ProviderConfig, Record<string, string>>();

function callHeaders(provider: ProviderConfig, client: ClientProtocolHeaders, contentType = 'application/json'): Record<string, string> {
  const h: Record<string, string> = {
    'content-type': contentType,
    'user-agent': 'tollgate',
    accept: client.accept || 'application/json',
  };
  if (provider.type === 'anthropic') {
    h['anthropic-version'] = client.anthropicVersion || '2023-06-01';
    if (client.anthropicBeta) h['anthropic-beta'] = client.anthropicBeta;
    if (provider.apiKey) h['x-api-key'] = provider.apiKey;
  } else if (provider.apiKey) {
    h.authorization = `Bearer ${provider.apiKey}`;
  }
  for (const k in provider.headers) h[k.toLowerCase()] = provider.headers[k]!;
  return h;
}

export function describeError(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string } };
  // Our own codes carry a message worth reading (limits, timeouts); system codes speak for themselves.
  if (e?.code?.startsWith('TG_') && e.message) return `${e.code}: ${e.message}`;
  return e?.code ?? e?.cause?.code ?? e?.message ?? String(err);
}
