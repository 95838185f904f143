import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js'; // the validator's own JSON Schema engine
import { startTollgate, type Tollgate } from '../helpers/tollgate-process.js';
import { ERRORS } from '../../src/http/errors.js';
import { ENDPOINTS, isMediaEndpoint, parseCall, type EndpointId } from '../../src/protocols/call.js';
import { parseMediaCall } from '../../src/protocols/media/media-call.js';
import { wavSilence } from '../helpers/audio-files.js';
import { parseAuthorize, parseEvent, parseRelease } from '../../src/monitoring/usage-bodies.js';

// GET /admin/openapi.json, from the real process: a valid OpenAPI 3.1
// document that names every route the server mounts (read from the source,
// so a new route without documentation fails here), every query parameter
// the admin parsers read, and request schemas the validators agree with.

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function sources(dir = SRC): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** `METHOD /path` of every route registered with app.get/post/... in src/, with uWS `:param` as OpenAPI `{param}`. */
function mountedRoutes(): string[] {
  const files = sources().map((f) => readFileSync(f, 'utf8'));
  const constants = new Map<string, string>();
  for (const text of files) for (const m of text.matchAll(/const ([A-Z_]+) = '(\/[^']*)'/g)) constants.set(m[1]!, m[2]!);
  const routes: string[] = [];
  const unresolved: string[] = [];
  for (const text of files) {
    for (const m of text.matchAll(/app\.(get|post|put|patch|del|delete|any)\(\s*([^,]+),/g)) {
      const method = m[1] === 'del' ? 'DELETE' : m[1]!.toUpperCase();
      const arg = m[2]!.trim();
      let paths: string[];
      if (/^'[^']*'$/.test(arg)) paths = [arg.slice(1, -1)];
      else if (arg === 'ENDPOINTS[endpoint].path') paths = Object.values(ENDPOINTS).map((e) => e.path);
      else if (constants.has(arg)) paths = [constants.get(arg)!];
      else if (arg === 'path' && /const route = /.test(text)) paths = [...text.matchAll(/route\(([A-Z_]+),/g)].map((r) => constants.get(r[1]!) ?? `unresolved ${r[1]}`);
      else paths = [`unresolved ${arg}`];
      for (const p of paths) {
        if (p.startsWith('unresolved')) unresolved.push(p);
        else if (!p.endsWith('/*')) routes.push(`${method} ${p.replace(/:([A-Za-z_]+)/g, '{$1}')}`); // catch-alls (404, static assets) are no API
      }
    }
  }
  expect(unresolved, 'route paths this test cannot read; teach mountedRoutes() the new form').toEqual([]);
  return routes;
}

let tg: Tollgate;
let doc: any;

beforeAll(async () => {
  tg = await startTollgate({}, { shards: 1 });
  doc = await tg.admin('/admin/openapi.json');
});

afterAll(async () => {
  await tg?.stop();
});

describe('GET /admin/openapi.json', () => {
  it('answers only with the admin token', async () => {
    const r = await fetch(`${tg.url}/admin/openapi.json`);
    expect(r.status).toBe(401);
    const ok = await fetch(`${tg.url}/admin/openapi.json`, { headers: { authorization: 'Bearer test-admin-token-123' } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('application/json');
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('has schemas that are valid JSON Schema 2020-12 (the 3.1 dialect) and a parameter for every path template', () => {
    const ajv = new Ajv2020({ strict: false });
    const schemas: [string, unknown][] = Object.entries(doc.components.schemas).map(([n, s]) => [`components.${n}`, s]);
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        const where = `${method.toUpperCase()} ${path}`;
        for (const p of op.parameters ?? []) schemas.push([`${where} ${p.name}`, p.schema]);
        for (const [type, c] of Object.entries<any>(op.requestBody?.content ?? {})) schemas.push([`${where} body ${type}`, c.schema]);
        for (const [status, r] of Object.entries<any>(op.responses)) for (const [type, c] of Object.entries<any>(r.content ?? {})) schemas.push([`${where} ${status} ${type}`, c.schema]);
        const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
        expect((op.parameters ?? []).filter((p: any) => p.in === 'path').map((p: any) => p.name).sort(), where).toEqual(templated);
      }
    }
    expect(schemas.length).toBeGreaterThan(100);
    const invalid = schemas.flatMap(([w, s]) => (ajv.validateSchema(s as object) ? [] : [`${w}: ${ajv.errorsText(ajv.errors)}`]));
    expect(invalid).toEqual([]);
  });

  it('documents every route the server mounts', () => {
    const routes = mountedRoutes();
    expect(routes.length).toBeGreaterThan(25);
    const documented = new Set(Object.entries(doc.paths).flatMap(([p, item]) => Object.keys(item as object).map((m) => `${m.toUpperCase()} ${p}`)));
    expect(routes.filter((r) => !documented.has(r))).toEqual([]);
    // and nothing it does not mount
    expect([...documented].filter((r) => !routes.includes(r))).toEqual([]);
  });

  it('documents every query parameter the admin parsers read', () => {
    const read = new Set<string>();
    for (const f of sources(join(SRC, 'admin'))) for (const m of readFileSync(f, 'utf8').matchAll(/\b(?:qs|q)\.get\('([a-zA-Z_]+)'\)/g)) read.add(m[1]!);
    for (const m of readFileSync(join(SRC, 'admin/customer-list.ts'), 'utf8').matchAll(/int\('([a-z]+)'/g)) read.add(m[1]!);
    expect(read.size).toBeGreaterThan(10);
    const documented = new Set(Object.entries(doc.paths).filter(([p]) => p.startsWith('/admin/'))
      .flatMap(([, item]) => Object.values(item as Record<string, any>).flatMap((op) => (op.parameters ?? []).filter((x: any) => x.in === 'query').map((x: any) => x.name))));
    expect([...read].filter((n) => !documented.has(n))).toEqual([]);
  });

  it('gives errors one schema whose types are the error registry', () => {
    expect(doc.components.schemas.ErrorType.enum).toEqual(Object.keys(ERRORS));
    const body = doc.paths['/v1/chat/completions'].post;
    expect(body.responses['402'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
    expect(body.responses['402'].description).toContain('budget_exceeded');
    expect(doc.paths['/v1/messages'].post.responses['402'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/AnthropicError' });
  });

  it('declares the client key, x-api-key and admin token schemes', () => {
    expect(Object.keys(doc.components.securitySchemes)).toEqual(expect.arrayContaining(['clientBearer', 'clientApiKey', 'adminBearer']));
    expect(doc.paths['/v1/messages'].post.security).toEqual([{ clientBearer: [] }, { clientApiKey: [] }]);
    expect(doc.paths['/admin/usage'].get.security).toEqual([{ adminBearer: [] }]);
  });
});

/** The smallest body the schema describes: its required fields with a plausible value each. */
function minimal(schema: any): Record<string, unknown> {
  const value = (name: string, s: any): unknown => {
    if (name === 'reservation_id') return 'rsv_0_01ARZ3NDEKTSV4RRFFQ69G5FAV';
    if (s.type === 'integer') return Math.max(1, s.minimum ?? 1);
    if (s.type === 'array') return [{ role: 'user', content: 'hi' }];
    if (s.type === 'boolean') return false;
    return 'x';
  };
  return Object.fromEntries(schema.required.map((n: string) => [n, value(n, schema.properties[n] ?? {})]));
}

describe('request schemas in the document', () => {
  const monitoring: [string, string, (raw: Buffer) => unknown][] = [
    ['/v1/usage/authorize', 'AuthorizeRequest', parseAuthorize],
    ['/v1/usage/events', 'UsageEventRequest', parseEvent],
    ['/v1/usage/release', 'ReleaseRequest', parseRelease],
  ];
  for (const [path, name, parse] of monitoring) {
    it(`${path}: the validator accepts the documented required fields and refuses a body missing any of them`, () => {
      expect(doc.paths[path].post.requestBody.content['application/json'].schema).toEqual({ $ref: `#/components/schemas/${name}` });
      const schema = doc.components.schemas[name];
      const body = minimal(schema);
      expect(typeof parse(Buffer.from(JSON.stringify(body))), JSON.stringify(body)).toBe('object');
      for (const field of schema.required) {
        const { [field]: _, ...rest } = body;
        expect(parse(Buffer.from(JSON.stringify(rest)))).toMatch(new RegExp(`^${field}: required`));
      }
    });
  }

  for (const id of Object.keys(ENDPOINTS) as EndpointId[]) {
    const upload = id === 'transcriptions' || id === 'translations';
    it(`${ENDPOINTS[id].path}: its parser accepts the documented required fields and refuses a body missing any of them`, () => {
      const schema = doc.paths[ENDPOINTS[id].path].post.requestBody.content[upload ? 'multipart/form-data' : 'application/json'].schema;
      expect(schema.additionalProperties).toBe(true);
      expect(schema.externalDocs.url).toMatch(/^https:\/\//);
      const body = minimal(schema);
      if (upload) body.file = wavSilence(1);
      const parse = (b: Record<string, unknown>) => {
        if (!isMediaEndpoint(id)) return parseCall(id, b);
        if (!upload) return parseMediaCall(id, Buffer.from(JSON.stringify(b)), 'application/json', () => b);
        const form = multipartForm(b);
        return parseMediaCall(id, form.body, form.contentType, () => undefined);
      };
      expect(parse(body).model).toBe('x');
      for (const field of schema.required) {
        const { [field]: _, ...rest } = body;
        expect(() => parse(rest), field).toThrow(new RegExp(field));
      }
    });
  }
});

/** A multipart/form-data body of string fields and Buffer files, as an SDK uploads it. */
function multipartForm(fields: Record<string, unknown>): { body: Buffer; contentType: string } {
  const boundary = '----tollgate-openapi-test';
  const parts: Buffer[] = [];
  for (const [name, v] of Object.entries(fields)) {
    const file = Buffer.isBuffer(v);
    parts.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${name}"${file ? '; filename="a.wav"\r\ncontent-type: audio/wav' : ''}\r\n\r\n`));
    parts.push(file ? v : Buffer.from(String(v)));
    parts.push(Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}
