// The floor of what a Node proxy can do: uWebSockets.js in front, undici to
// the upstream, nothing else (no auth, no budget, no ledger). Tollgate's
// throughput is reported as a fraction of this, measured in the same run.
// Whole answers are read whole; an SSE answer is relayed chunk by chunk.
//
//   node bench/passthrough.mjs --port 9200 --upstream http://127.0.0.1:9100 --threads 2
import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';
import { parseArgs } from 'node:util';
import uws from 'uWebSockets.js';
import { Pool } from 'undici';

if (isMainThread) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '9200' }, upstream: { type: 'string', default: 'http://127.0.0.1:9100' }, threads: { type: 'string', default: '2' } } });
  const n = Number(values.threads);
  let ready = 0;
  for (let i = 0; i < n; i++) {
    const w = new Worker(new URL(import.meta.url), { workerData: { port: Number(values.port), upstream: values.upstream } });
    w.on('message', () => {
      if (++ready === n) console.log(`passthrough listening on http://127.0.0.1:${values.port} (${n} threads)`);
    });
  }
} else {
  const pool = new Pool(workerData.upstream, { connections: 256, pipelining: 1 });
  const app = uws.App();
  app.any('/*', (res, req) => {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    const path = req.getUrl();
    const method = req.getMethod().toUpperCase();
    const headers = { 'content-type': req.getHeader('content-type') || 'application/json', authorization: req.getHeader('authorization') };
    const chunks = [];
    res.onData((ab, last) => {
      chunks.push(Buffer.from(new Uint8Array(ab).slice()));
      if (!last) return;
      const body = Buffer.concat(chunks);
      pool.request({ path, method, headers, body: method === 'GET' ? undefined : body }).then(async (r) => {
        const type = String(r.headers['content-type'] ?? 'application/json');
        if (!type.includes('text/event-stream')) {
          const buf = Buffer.from(await r.body.arrayBuffer());
          if (aborted) return;
          res.cork(() => {
            res.writeStatus(String(r.statusCode));
            res.writeHeader('content-type', type);
            res.end(buf);
          });
          return;
        }
        // A stream is relayed chunk by chunk, as it arrives (no backpressure: the bench's clients read everything).
        if (!aborted) res.cork(() => res.writeStatus(String(r.statusCode)).writeHeader('content-type', type));
        for await (const chunk of r.body) if (!aborted) res.cork(() => res.write(chunk));
        if (!aborted) res.cork(() => res.end());
      }, () => {
        if (!aborted) res.cork(() => res.writeStatus('502').end());
      }).catch(() => {
        if (!aborted) res.close();
      });
    });
  });
  app.listen('127.0.0.1', workerData.port, (s) => {
    if (!s) throw new Error(`passthrough cannot listen on ${workerData.port}`);
    parentPort.postMessage('ready');
  });
}
