import type { TemplatedApp } from 'uWebSockets.js';
import type { Guard } from './admin-guard.js';
import { openApiDocument } from './openapi-document.js';

// GET /admin/openapi.json behind the admin guard. Built on first request and
// kept: it depends only on the code, not on the config or the traffic.

let body: string | undefined;

export function mountOpenApi(app: TemplatedApp, deps: { guard: Guard }): void {
  app.get('/admin/openapi.json', (res, req) => {
    const ex = deps.guard(res, req);
    if (!ex) return;
    body ??= JSON.stringify(openApiDocument());
    ex.send(200, { 'content-type': 'application/json' }, body);
  });
}
