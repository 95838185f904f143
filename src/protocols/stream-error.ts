import type { ErrorType } from '../http/errors.js';
import type { EndpointId } from './call.js';

// The SSE event that tells a streaming client its answer failed part-way
// (upstream cut, timeout, oversized event), in the shape each SDK raises as
// an error: OpenAI chat `data: {"error":...}`, Responses `event: error`,
// Anthropic `event: error` with `{"type":"error","error":...}`.

export function streamErrorEvent(endpoint: EndpointId, message: string): string {
  switch (endpoint) {
    case 'messages':
      return `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'api_error' satisfies ErrorType, message } })}\n\n`;
    case 'responses':
      return `event: error\ndata: ${JSON.stringify({ type: 'error', code: 'upstream_error' satisfies ErrorType, message, param: null })}\n\n`;
    default:
      return `data: ${JSON.stringify({ error: { type: 'upstream_error' satisfies ErrorType, code: 'upstream_error', message } })}\n\n`;
  }
}
