import { createServer, type IncomingHttpHeaders } from 'node:http';
import { gunzipSync } from 'node:zlib';

// A local OTLP/HTTP metrics receiver (JSON encoding) on 127.0.0.1: records
// every POST /v1/metrics and answers 200 like a collector would.

export interface OtlpExport { headers: IncomingHttpHeaders; body: any }

export interface Point { attributes: Record<string, string>; value: number; count?: number; bucketCounts?: number[]; explicitBounds?: number[] }
export interface Metric { name: string; unit: string; kind: 'sum' | 'gauge' | 'histogram'; monotonic?: boolean; points: Point[] }

export async function startOtlpReceiver() {
  const exports: OtlpExport[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/metrics') {
        res.writeHead(404).end();
        return;
      }
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      exports.push({ headers: req.headers, body: JSON.parse(raw.toString('utf8')) });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    exports,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** The metrics of one export request, by name, with attributes and values flattened. */
export function metricsOf(body: any): Map<string, Metric> {
  const out = new Map<string, Metric>();
  for (const rm of body.resourceMetrics ?? []) for (const sm of rm.scopeMetrics ?? []) for (const m of sm.metrics ?? []) {
    const kind = m.sum ? 'sum' : m.gauge ? 'gauge' : m.histogram ? 'histogram' : undefined;
    if (!kind) continue;
    const data = m[kind];
    out.set(m.name, {
      name: m.name,
      unit: m.unit ?? '',
      kind,
      monotonic: data.isMonotonic,
      points: (data.dataPoints ?? []).map((p: any) => ({
        attributes: Object.fromEntries((p.attributes ?? []).map((a: any) => [a.key, a.value.stringValue])),
        value: Number(p.asDouble ?? p.asInt ?? p.sum ?? 0),
        count: p.count === undefined ? undefined : Number(p.count),
        bucketCounts: p.bucketCounts?.map(Number),
        explicitBounds: p.explicitBounds,
      })),
    });
  }
  return out;
}

export function resourceAttributes(body: any): Record<string, string> {
  const attrs = body.resourceMetrics?.[0]?.resource?.attributes ?? [];
  return Object.fromEntries(attrs.map((a: any) => [a.key, a.value.stringValue]));
}
