// Input the provider adds to a prompt from what it stores or fetches, which
// the request body does not show: a stored conversation
// (`previous_response_id`, `conversation`), a stored prompt template
// (`prompt: { id }`), tool definitions fetched from MCP servers, and the
// results of server-side search and fetch tools. The provider bills all of
// it as input; the body's own text bounds none of it. Such a call reserves
// the model's whole context window as its prompt (the most input one model
// call can read): see model-call.ts.

/** Server-side tools whose results are put in the prompt. */
const FETCHING_TOOL = /^(mcp|file_search|web_search|web_fetch)/;

/** The field that makes the provider add input the body does not hold, if any. */
export function storedContext(body: Record<string, unknown>): string | undefined {
  if (body.previous_response_id != null) return 'previous_response_id';
  if (body.conversation != null) return 'conversation';
  if (body.prompt && typeof body.prompt === 'object' && !Array.isArray(body.prompt)) return 'prompt';
  if (Array.isArray(body.mcp_servers) && body.mcp_servers.length) return 'mcp_servers';
  if (Array.isArray(body.tools)) {
    for (const t of body.tools) {
      const type = t && typeof t === 'object' ? (t as { type?: unknown }).type : undefined;
      if (typeof type === 'string' && FETCHING_TOOL.test(type)) return `tools[].type ${type}`;
    }
  }
  return undefined;
}
