import type { EndpointId } from '../protocols/call.js';

/** Generated text of a complete answer, for counting when the provider reported no usage. */
export function answerText(endpoint: EndpointId, j: any): string {
  if (!j || typeof j !== 'object') return '';
  const parts: string[] = [];
  if (endpoint === 'chat') {
    for (const c of j.choices ?? []) {
      if (typeof c?.message?.content === 'string') parts.push(c.message.content);
      for (const t of c?.message?.tool_calls ?? []) if (typeof t?.function?.arguments === 'string') parts.push(t.function.arguments);
    }
  } else if (endpoint === 'messages') {
    for (const b of j.content ?? []) {
      if (typeof b?.text === 'string') parts.push(b.text);
      else if (b?.input) parts.push(JSON.stringify(b.input));
    }
  } else if (endpoint === 'responses') {
    for (const o of j.output ?? []) for (const c of o?.content ?? []) if (typeof c?.text === 'string') parts.push(c.text);
  }
  return parts.join('');
}
