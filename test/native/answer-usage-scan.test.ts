import { describe, expect, it } from 'vitest';
import { OUT } from '../../src/native/native-addon.js';
import { S } from '../../src/native/scan-slots.js';
import { readJsonAnswerJs, readJsonAnswerNative } from '../../src/protocols/json-answer.js';
import type { TokenEndpoint } from '../../src/protocols/read-request.js';
import { addon, PATHS } from './scan-both.js';

// The scanner reads an answer's usage counts itself when they are plain
// integers (no JSON.parse of the usage object); anything else it leaves to
// JSON.parse. Either way the usage is the JavaScript path's: the property
// test in scan-fuzz.test.ts compares them on random answers, these name the
// cases and check which way each goes.

const answer = (usage: string) => Buffer.from(`{"id":"x","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}],"usage":${usage}}`);

const OPENAI = '{"prompt_tokens":41,"completion_tokens":19,"total_tokens":60,"prompt_tokens_details":{"cached_tokens":7,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}';
const RESPONSES = '{"input_tokens":30,"input_tokens_details":{"cached_tokens":4},"output_tokens":12,"total_tokens":42}';
const ANTHROPIC = '{"input_tokens":5,"cache_read_input_tokens":100,"cache_creation_input_tokens":20,"cache_creation":{"ephemeral_1h_input_tokens":8},"output_tokens":9}';

const CASES: [string, TokenEndpoint, string, boolean][] = [
  ['an OpenAI chat usage with details', 'chat', OPENAI, true],
  ['a Responses usage', 'responses', RESPONSES, true],
  ['an Anthropic usage with a 1-hour cache write', 'messages', ANTHROPIC, true],
  ['an embeddings usage (no completion)', 'embeddings', '{"prompt_tokens":8,"total_tokens":8}', true],
  ['an empty usage', 'chat', '{}', true],
  ['the last of two usage objects', 'chat', `${OPENAI},"usage":{"prompt_tokens":3,"completion_tokens":2}`, true],
  ['a count written 41.0', 'chat', '{"prompt_tokens":41.0,"completion_tokens":19}', false],
  ['a count written 4.1e1', 'chat', '{"prompt_tokens":4.1e1,"completion_tokens":19}', false],
  ['a negative count', 'chat', '{"prompt_tokens":-1,"completion_tokens":19}', false],
  ['a count as a string', 'chat', '{"prompt_tokens":"41","completion_tokens":19}', false],
  ['a null count', 'chat', '{"prompt_tokens":null,"completion_tokens":19}', false],
  ['a count past any real call', 'chat', '{"prompt_tokens":1000000000000,"completion_tokens":19}', true],
  ['a count of 16 digits', 'chat', '{"prompt_tokens":1000000000000000,"completion_tokens":19}', false],
  ['a count named twice (JSON.parse keeps the last)', 'chat', '{"prompt_tokens":41,"completion_tokens":19,"prompt_tokens":5}', false],
  ['a count under an escaped key', 'chat', '{"prompt\\u005ftokens":41,"completion_tokens":19}', false],
  ['details that are not an object', 'chat', '{"prompt_tokens":41,"completion_tokens":19,"prompt_tokens_details":null}', false],
  ['details named twice', 'responses', '{"input_tokens":3,"output_tokens":1,"input_tokens_details":{"cached_tokens":1},"input_tokens_details":{}}', false],
  ['a cached count in details of another name', 'chat', '{"prompt_tokens":41,"completion_tokens":19,"completion_tokens_details":{"cached_tokens":"x"}}', true],
  ['usage that is not an object', 'chat', 'null', false],
];

describe.runIf(PATHS.includes('native'))('an answer\'s usage counts read by the scanner', () => {
  it.each(CASES)('%s: the JavaScript path\'s usage', (_name, endpoint, usage, plain) => {
    const raw = answer(usage);
    const native = readJsonAnswerNative(endpoint, raw, addon!);
    expect(OUT[S.USAGE_PLAIN]).toBe(plain ? 1 : 0);
    expect(native.reported).toEqual(readJsonAnswerJs(endpoint, raw).reported);
  });

  it('reads the counts of each protocol into their slots, -1 where absent', () => {
    addon!.scanAnswer(answer(ANTHROPIC));
    expect([S.U_INPUT, S.U_OUTPUT, S.U_CACHE_READ, S.U_CACHE_CREATION, S.U_CACHE_1H, S.U_PROMPT, S.U_PROMPT_CACHED].map((s) => OUT[s])).toEqual([5, 9, 100, 20, 8, -1, -1]);
    addon!.scanAnswer(answer(OPENAI));
    expect([S.U_PROMPT, S.U_COMPLETION, S.U_PROMPT_CACHED, S.U_INPUT, S.U_INPUT_CACHED].map((s) => OUT[s])).toEqual([41, 19, 7, -1, -1]);
  });
});
