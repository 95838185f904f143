import type { TemplatedApp } from 'uWebSockets.js';
import type { Config } from '../config/schema.js';
import { adminTokens } from './admin-auth.js';
import type { Guard } from './admin-guard.js';

// GET /admin/whoami: the name and role of the admin token presented, so a
// client (the dashboard) can hide the writes a `read` token would be refused
// (403 admin_read_only) instead of offering them. The guard has already
// matched the token; its name is the audit actor.

export function mountWhoami(app: TemplatedApp, deps: { guard: Guard; config: () => Config }): void {
  app.get('/admin/whoami', (res, req) => {
    const ex = deps.guard(res, req);
    if (!ex) return;
    const token = adminTokens(deps.config()).find((t) => t.name === ex.actor);
    ex.json(200, { name: ex.actor, role: token?.role ?? 'admin' });
  });
}
