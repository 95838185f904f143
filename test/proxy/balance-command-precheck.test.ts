import { describe, expect, it } from 'vitest';
import { lastUserText, mayHoldCommand } from '../../src/proxy/synthetic-answer.js';

// A call's body is parsed for the balance command only when its raw bytes may
// hold it; every body whose last user text is the command must pass the
// check, however the client's JSON encoder escaped it.

const body = (content: unknown) => ({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content }] });
const raw = (o: unknown, encode = JSON.stringify) => Buffer.from(encode(o));
/** Python's json.dumps(ensure_ascii=True) style: every non-ASCII character as \uXXXX, and "/" as "\/" like some PHP encoders. */
const asciiOnly = (o: unknown) => JSON.stringify(o).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
const slashEscaped = (o: unknown) => JSON.stringify(o).replace(/\//g, '\\/');

describe('the balance command pre-check on raw bytes', () => {
  for (const command of ['/balance', 'solde €', 'say "hi"\\now', '\tsaldo\n']) {
    it(`never misses "${JSON.stringify(command)}", whatever the encoding`, () => {
      for (const encode of [JSON.stringify, asciiOnly, slashEscaped]) {
        for (const content of [command, ` ${command} `, [{ type: 'text', text: command }]]) {
          const b = body(content);
          const bytes = raw(b, encode);
          expect(lastUserText('chat', JSON.parse(bytes.toString()))).toBe(command.trim());
          if (lastUserText('chat', JSON.parse(bytes.toString())) === command) expect(mayHoldCommand(bytes, command)).toBe(true);
        }
      }
    });
  }

  it('a body that cannot hold the command skips the parse', () => {
    expect(mayHoldCommand(raw(body('what is my balance?')), '/balance')).toBe(false);
    expect(mayHoldCommand(raw(body('x'.repeat(100_000))), '/balance')).toBe(false);
    // Any \u escape or escaped slash could spell it: parsed to be sure.
    expect(mayHoldCommand(raw(body('caf\u00e9'), asciiOnly), '/balance')).toBe(true);
    expect(mayHoldCommand(raw(body('a/b'), slashEscaped), '/balance')).toBe(true);
  });
});
