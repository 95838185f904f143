import type { TemplatedApp } from 'uWebSockets.js';
import { errorBody } from '../http/errors.js';
import type { DriftReport } from '../store/budget-drift.js';
import type { Guard } from './admin-guard.js';

// GET /admin/budgets/drift: every live budget counter against the ledger's
// sum for its scope and period (src/store/budget-drift.ts); lists the ones
// that differ (`?all=true`: every one). POST /admin/budgets/drift/repair:
// the same check, setting each drifted counter to the ledger's sum. A POST,
// not a query flag on the GET, so no cache, crawler or retried GET repairs.

export interface BudgetDriftDeps {
  guard: Guard;
  /** Runs in the supervisor, which owns the slots (one check at a time). */
  check: (repair: boolean, all: boolean) => Promise<DriftReport>;
}

export function mountBudgetDrift(app: TemplatedApp, deps: BudgetDriftDeps): void {
  const route = (repair: boolean) => (res: Parameters<Guard>[0], req: Parameters<Guard>[1]) => {
    const all = req.getQuery('all') === 'true';
    const ex = deps.guard(res, req);
    if (!ex) return;
    deps.check(repair, all).then(
      (report) => ex.json(200, report),
      (err) => ex.json(503, errorBody('openai', 'overloaded_error', `budget drift check unavailable: ${(err as Error).message}`)),
    );
  };
  app.get('/admin/budgets/drift', route(false));
  app.post('/admin/budgets/drift/repair', route(true));
}
