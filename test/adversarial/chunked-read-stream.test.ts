import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tollgate } from '../helpers/tollgate-process.js';
import { ONE_EVENT, readRunaway, runawayEnding, runawayEvent, startRunawayProxy } from '../helpers/runaway-stream.js';

// A runaway answer whose HTTP chunks (one SSE event each) all arrive in the
// same socket reads: the upstream writes the whole answer, 2,000 chunks, in
// one write, against a 500-token budget and no max_tokens. The relay takes
// all that has arrived at once and scans it together, but a growing hold
// checks the output, and cuts, at the end of each upstream chunk; this
// attacks that: the spend may pass the limit by at most the chunk that
// crossed it (one event here), not by the hundreds of events read with it,
// and the client gets no text past that event.

const LIMIT = 500;
const WORDS = 2000;

let upstream: Server;
let tg: Tollgate;

const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;

/** The whole chunked answer, one HTTP chunk per event, for one socket write. */
function wholeAnswer(): string {
  let out = 'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n';
  for (let i = 0; i < WORDS; i++) out += chunk(runawayEvent('chatcmpl-reads', i));
  out += chunk(runawayEnding('chatcmpl-reads'));
  return `${out}0\r\n\r\n`;
}

/** Answers once the request's head and body (content-length) are in. */
function serve(socket: Socket): void {
  let got = Buffer.alloc(0);
  socket.on('error', () => {});
  socket.on('data', (d) => {
    got = Buffer.concat([got, d]);
    const head = got.indexOf('\r\n\r\n');
    if (head < 0) return;
    const length = Number(/content-length:\s*(\d+)/i.exec(got.subarray(0, head).toString('latin1'))?.[1] ?? 0);
    if (got.length < head + 4 + length) return;
    socket.removeAllListeners('data');
    socket.end(wholeAnswer());
  });
}

beforeAll(async () => {
  upstream = createServer(serve);
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  tg = await startRunawayProxy(url, 'reads', 'tg-reads-key-1', LIMIT);
});

afterAll(async () => {
  await tg?.stop();
  await new Promise((resolve) => upstream?.close(resolve));
});

describe('a runaway stream whose upstream chunks arrive hundreds to a read', () => {
  it('is cut at the edge of the chunk that passed the budget, and billed no chunk after it', async () => {
    const { relayed, finish } = await readRunaway(tg, 'tg-reads-key-1');
    expect(finish).toBe('length');
    const [row] = (await tg.admin('/admin/usage?customer=reads&limit=10')).rows;
    expect(row.reason).toMatch(/^budget_cut/);
    expect(row.prompt_tokens + relayed).toBeLessThanOrEqual(LIMIT + ONE_EVENT);
    expect(relayed).toBeGreaterThan(LIMIT / 2);
    // Billed through the chunk that crossed the budget: the events read with it, after it, are not billed.
    const used = (await tg.admin('/admin/customers/reads')).budgets[0].used;
    expect(used).toBeLessThanOrEqual(LIMIT + ONE_EVENT);
    expect(used).toBeGreaterThan(LIMIT * 0.8);
    expect(row.completion_tokens).toBeGreaterThanOrEqual(relayed);
  });
});
