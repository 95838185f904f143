// Type-checked by types.test.ts (never run): an app using tollgate/client
// through the package name, as a user would.
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { wrap, BudgetExceededError, TollgateUnavailableError, type Status } from 'tollgate/client';

export async function app(): Promise<string> {
  const openai = wrap(new OpenAI({ apiKey: 'x' }), { url: 'http://127.0.0.1:1', key: 'k', agent: 'a', tags: { team: 'x' }, failMode: 'open' });
  const claude = wrap(new Anthropic({ apiKey: 'x' }), { url: 'http://127.0.0.1:1', key: 'k' });
  try {
    const c = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    const m = await claude.messages.create({ model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    const status: Status = await openai.getStatus();
    const waiting: number = await claude.flushReports();
    return `${c.choices[0]?.message.content}${m.content.length}${status.budgets[0]?.remaining}${waiting}`;
  } catch (err) {
    if (err instanceof BudgetExceededError) return String(err.scope) + err.code;
    if (err instanceof TollgateUnavailableError) return err.message;
    throw err;
  }
}
