import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tollgate } from '../helpers/tollgate-process.js';
import { ONE_EVENT, readRunaway, runawayEnding, runawayEvent, startRunawayProxy } from '../helpers/runaway-stream.js';

// A runaway answer from an upstream that sends its events in bursts: 25 SSE
// events per HTTP chunk (one socket write each), 2,000 words in all, against
// a 500-token budget and no max_tokens. The relay passes over the events of
// a chunk that cannot bring the output near the hold without looking at each
// (stream-watch.ts skip(), with the hold's room); this attacks that step: the
// client must get no text past the event whose output passed what the budget
// could hold, and the spend may pass the limit by at most what arrived in the
// same upstream read (one burst), the bound stream-hold.ts documents.

const LIMIT = 500;
const BURST = 25;
const WORDS = 2000;

let upstream: Server;
let upstreamUrl: string;
let tg: Tollgate;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      let i = 0;
      let closed = false;
      res.on('close', () => (closed = true));
      const burst = () => {
        if (closed) return;
        if (i >= WORDS) {
          res.end(runawayEnding('chatcmpl-burst'));
          return;
        }
        let out = '';
        for (let k = 0; k < BURST && i < WORDS; k++) out += runawayEvent('chatcmpl-burst', i++);
        res.write(out);
        setTimeout(burst, 10);
      };
      burst();
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  tg = await startRunawayProxy(upstreamUrl, 'bursty', 'tg-bursty-key-1', LIMIT);
});

afterAll(async () => {
  await tg?.stop();
  await new Promise((resolve) => upstream?.close(resolve));
});

describe('a runaway stream whose upstream sends its events in bursts', () => {
  it('relays no text past the event that passed the budget, and overshoots by at most one burst', async () => {
    const { relayed, finish, ids } = await readRunaway(tg, 'tg-bursty-key-1');
    expect(finish).toBe('length');
    // The ending we write carries the upstream's id (read from events the watch passed over).
    expect([...ids]).toEqual(['chatcmpl-burst']);
    const [row] = (await tg.admin('/admin/usage?customer=bursty&limit=10')).rows;
    expect(row.reason).toMatch(/^budget_cut/);
    // What the client got passed what the budget could hold by at most the one event that crossed it.
    expect(row.prompt_tokens + relayed).toBeLessThanOrEqual(LIMIT + ONE_EVENT);
    expect(relayed).toBeGreaterThan(LIMIT / 2);
    // Billed: all that arrived in the read that crossed it (one burst), never more.
    const used = (await tg.admin('/admin/customers/bursty')).budgets[0].used;
    expect(used).toBeLessThanOrEqual(LIMIT + BURST * ONE_EVENT);
    expect(used).toBeGreaterThan(LIMIT * 0.9);
    expect(row.completion_tokens).toBeGreaterThanOrEqual(relayed);
  });
});
