import { ERRORS } from '../http/errors.js';
import { ENDPOINTS, type EndpointId, type Protocol } from '../protocols/call.js';
import type { JsonSchema } from './openapi-schemas.js';

// Building blocks of the OpenAPI paths: JSON bodies, error responses (from
// the error registry: every type an HTTP status can carry), parameters.

export type Operation = Record<string, unknown>;
export type PathItem = Partial<Record<'get' | 'post' | 'put' | 'patch' | 'delete', Operation>>;

export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

export const json = (description: string, schema: JsonSchema) => ({ description, content: { 'application/json': { schema } } });

/** One response per status, naming the error types of that status (errors.ts). */
export function errors(protocol: Protocol, statuses: number[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const status of statuses) {
    const types = Object.entries(ERRORS).filter(([, s]) => s.status === status).map(([t]) => t);
    out[String(status)] = json(types.length ? types.join(', ') : 'error', ref(protocol === 'anthropic' ? 'AnthropicError' : 'Error'));
  }
  return out;
}

export const query = (name: string, description: string, schema: JsonSchema = { type: 'string' }, required = false) =>
  ({ name, in: 'query', required, description, schema });

export const pathParam = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });

const header = (name: string, description: string, schema: JsonSchema = { type: 'string' }) => ({ name, in: 'header', required: false, description, schema });

const SCOPE = { type: 'string', pattern: '^[A-Za-z0-9._:@-]{1,128}$' };
export const CALLER_HEADERS = [
  header('x-tollgate-customer', 'With an app key: the customer the call is for.', SCOPE),
  header('x-tollgate-agent', 'A sub-budget scope (agent, department, session).', SCOPE),
  header('x-tollgate-tags', '`k=v,k=v` (at most 16), recorded on the usage row and in reports.'),
];

/** A client key, as each SDK sends it. */
export const CLIENT_SECURITY = [{ clientBearer: [] }, { clientApiKey: [] }];
export const ADMIN_SECURITY = [{ adminBearer: [] }];

// Proxy bodies are parsed by hand on the hot path (protocols/call.ts): these
// are the fields Tollgate reads and checks; everything else goes to the
// provider as sent, so the provider's own schema applies (externalDocs).
const MAX_TOKENS = { type: 'integer', minimum: 1, maximum: 10_000_000 };
const BODY_FIELDS: Record<EndpointId | 'count_tokens', { required: string[]; properties: Record<string, JsonSchema>; docs: string }> = {
  chat: {
    required: ['model', 'messages'],
    properties: {
      messages: { type: 'array' },
      stream: { type: 'boolean', default: false },
      stream_options: { type: 'object', properties: { include_usage: { type: 'boolean' } } },
      max_tokens: MAX_TOKENS,
      max_completion_tokens: { ...MAX_TOKENS, description: 'Takes precedence over max_tokens for the reservation.' },
    },
    docs: 'https://platform.openai.com/docs/api-reference/chat/create',
  },
  responses: {
    required: ['model'],
    properties: { input: {}, stream: { type: 'boolean', default: false }, max_output_tokens: MAX_TOKENS },
    docs: 'https://platform.openai.com/docs/api-reference/responses/create',
  },
  embeddings: {
    required: ['model', 'input'],
    properties: { input: {}, stream: { const: false, description: 'Embeddings cannot be streamed.' } },
    docs: 'https://platform.openai.com/docs/api-reference/embeddings/create',
  },
  messages: {
    required: ['model', 'messages', 'max_tokens'],
    properties: { messages: { type: 'array' }, stream: { type: 'boolean', default: false }, max_tokens: MAX_TOKENS },
    docs: 'https://docs.anthropic.com/en/api/messages',
  },
  images: {
    required: ['model', 'prompt'],
    properties: { prompt: { type: 'string', minLength: 1 }, n: { type: 'integer', minimum: 1, default: 1 }, size: { type: 'string', default: '1024x1024' }, quality: { type: 'string' } },
    docs: 'https://platform.openai.com/docs/api-reference/images/create',
  },
  speech: {
    required: ['model', 'input'],
    properties: { input: { type: 'string', minLength: 1, description: 'Billed per character (Unicode code point).' }, voice: { type: 'string' } },
    docs: 'https://platform.openai.com/docs/api-reference/audio/createSpeech',
  },
  transcriptions: {
    required: ['model', 'file'],
    properties: { file: { type: 'string', contentEncoding: 'binary', description: 'WAV, MP3, FLAC, OGG or M4A/MP4: billed per second of audio, measured from the file.' }, response_format: { type: 'string' } },
    docs: 'https://platform.openai.com/docs/api-reference/audio/createTranscription',
  },
  translations: {
    required: ['model', 'file'],
    properties: { file: { type: 'string', contentEncoding: 'binary', description: 'As for transcriptions.' }, response_format: { type: 'string' } },
    docs: 'https://platform.openai.com/docs/api-reference/audio/createTranslation',
  },
  count_tokens: {
    required: ['model'],
    properties: { messages: { type: 'array' } },
    docs: 'https://docs.anthropic.com/en/api/messages-count-tokens',
  },
};

export function proxyBody(endpoint: EndpointId | 'count_tokens'): JsonSchema {
  const f = BODY_FIELDS[endpoint];
  return {
    type: 'object',
    required: f.required,
    additionalProperties: true,
    properties: { model: { type: 'string', minLength: 1, maxLength: 256, description: 'A route name, a provider model id, or provider/model.' }, ...f.properties },
    externalDocs: { description: 'The provider\'s request schema (every other field is forwarded as sent)', url: f.docs },
  };
}

const PROXY_STATUSES = [...new Set(Object.values(ERRORS).map((e) => e.status as number))].filter((s) => s >= 400).sort();

export function proxyPaths(): Record<string, PathItem> {
  const paths: Record<string, PathItem> = {};
  for (const [id, e] of Object.entries(ENDPOINTS) as [EndpointId, (typeof ENDPOINTS)[EndpointId]][]) {
    const streams = id === 'chat' || id === 'responses' || id === 'messages';
    paths[e.path] = {
      post: {
        operationId: `proxy_${id}`,
        tags: ['proxy'],
        summary: `${e.protocol === 'anthropic' ? 'Anthropic' : 'OpenAI'} ${id} call, forwarded after its estimated cost is reserved on every budget in scope`,
        security: CLIENT_SECURITY,
        parameters: [
          ...CALLER_HEADERS,
          header('idempotency-key', 'A call repeated with the same key within idempotencyWindow is not forwarded or charged again.', { type: 'string', maxLength: 255 }),
          ...(e.protocol === 'anthropic' ? [header('anthropic-version', 'Forwarded to the provider.'), header('anthropic-beta', 'Forwarded to the provider.')] : []),
        ],
        // Uploads are multipart forms, forwarded untouched.
        requestBody: { required: true, content: { [id === 'transcriptions' || id === 'translations' ? 'multipart/form-data' : 'application/json']: { schema: proxyBody(id) } } },
        responses: {
          '200': {
            description: 'The provider\'s answer, as the provider sent it (a stream when `stream: true`).',
            content: {
              'application/json': { schema: { type: 'object', additionalProperties: true } },
              ...(streams ? { 'text/event-stream': { schema: { type: 'string' } } } : {}),
            },
          },
          ...errors(e.protocol, PROXY_STATUSES),
        },
      },
    };
  }
  paths['/v1/messages/count_tokens'] = {
    post: {
      operationId: 'proxy_count_tokens',
      tags: ['proxy'],
      summary: 'Anthropic token count, forwarded to an Anthropic provider; no reservation, no usage row',
      security: CLIENT_SECURITY,
      parameters: [...CALLER_HEADERS, header('anthropic-version', 'Forwarded to the provider.')],
      requestBody: { required: true, content: { 'application/json': { schema: proxyBody('count_tokens') } } },
      responses: { '200': json('The provider\'s count.', { type: 'object', properties: { input_tokens: { type: 'integer' } }, additionalProperties: true }), ...errors('anthropic', [400, 401, 403, 408, 413, 429, 502, 503, 504]) },
    },
  };
  const model = { type: 'object', additionalProperties: true, properties: { id: { type: 'string' }, tollgate_price: { type: 'object', properties: { input: { type: 'number' }, output: { type: 'number' }, markup: { type: 'number' } } } } };
  paths['/v1/models'] = {
    get: {
      operationId: 'list_models',
      tags: ['proxy'],
      summary: 'Models this key may call, with what this customer pays per 1M tokens (OpenAI list shape; Anthropic\'s with anthropic-version)',
      security: CLIENT_SECURITY,
      parameters: CALLER_HEADERS,
      responses: { '200': json('The model list.', { type: 'object', required: ['data'], properties: { data: { type: 'array', items: model } }, additionalProperties: true }), ...errors('openai', [400, 401, 403, 503]) },
    },
  };
  paths['/v1/models/{id}'] = {
    get: {
      operationId: 'get_model',
      tags: ['proxy'],
      summary: 'One model of /v1/models',
      security: CLIENT_SECURITY,
      parameters: [pathParam('id', 'The model id.'), ...CALLER_HEADERS],
      responses: { '200': json('The model.', model), ...errors('openai', [400, 401, 403, 404, 503]) },
    },
  };
  return paths;
}
