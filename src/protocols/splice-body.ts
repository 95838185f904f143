import type { BodyLayout, Span } from './body-layout.js';
import { outputCapFields, type ParsedCall } from './call.js';

// The upstream body as the client's bytes with only the edited values
// replaced: the physical model, a clamped output cap, include_usage for an
// OpenAI chat stream. It parses to the object upstreamBody's JSON path
// builds (test/native/request-scan.test.ts). No edit: the client's bytes.

interface Edit { at: Span; text: string }

export function splicedBody(call: ParsedCall, layout: BodyLayout, model: string, maxOutputTokens: number | undefined): Buffer {
  const { raw, members, open } = layout;
  // The four edits, each decided once here.
  const newModel = model !== call.model;
  const newCap = maxOutputTokens !== undefined && maxOutputTokens !== call.maxOutputTokens;
  const includeUsage = call.endpoint === 'chat' && call.stream;
  // A byte-order mark (the UTF-8 decoder skipped it) is not JSON (RFC 8259 §8.1): not forwarded.
  const bom = raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf;
  // Most calls need no edit: their bytes go as they came, with no list of edits made first.
  if (!newModel && !newCap && !includeUsage && !bom) return raw;
  const edits: Edit[] = [];
  const insert = (at: number, text: string) => edits.push({ at: [at, at], text });
  if (newModel) edits.push({ at: members.get('model')!, text: JSON.stringify(model) });
  if (newCap) {
    const fields = outputCapFields(call.endpoint);
    const isNull = (s: Span) => raw[s[0]] === 0x6e; // n(ull)
    const present = fields.filter((f) => members.has(f) && !isNull(members.get(f)!));
    // Every cap the client sent is lowered (else the other one could still run to its own value).
    for (const f of present.length ? present : [fields[0]!]) {
      const at = members.get(f);
      if (at) edits.push({ at, text: String(maxOutputTokens) });
      else insert(open + 1, `${JSON.stringify(f)}:${maxOutputTokens},`);
    }
  }
  if (includeUsage) {
    const so = members.get('stream_options');
    const inner = layout.streamOptions;
    if (!so) insert(open + 1, '"stream_options":{"include_usage":true},');
    else if (!inner) edits.push({ at: so, text: '{"include_usage":true}' }); // null
    else {
      const iu = inner.members.get('include_usage');
      if (!iu) insert(so[0] + 1, inner.count ? '"include_usage":true,' : '"include_usage":true');
      else if (raw.toString('latin1', iu[0], iu[1]) !== 'true') edits.push({ at: iu, text: 'true' });
    }
  }
  if (bom) edits.push({ at: [0, 3], text: '' });
  if (!edits.length) return raw;
  edits.sort((a, b) => a.at[0] - b.at[0]);
  const parts: Buffer[] = [];
  let from = 0;
  for (const e of edits) {
    parts.push(raw.subarray(from, e.at[0]), Buffer.from(e.text));
    from = e.at[1];
  }
  parts.push(raw.subarray(from));
  return Buffer.concat(parts);
}
