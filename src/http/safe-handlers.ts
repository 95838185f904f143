import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { newRequestId } from '../proxy/request-id.js';
import { errorBody } from './errors.js';

// uWebSockets.js aborts the whole process (C++ terminate) when a route
// handler throws: one malformed URL reaching a stray decodeURIComponent would
// take every shard down. Every handler registered on the app goes through
// this guard, which logs the fault and answers 500 instead.

const METHODS = ['get', 'post', 'put', 'del', 'patch', 'options', 'head', 'any', 'connect', 'trace'] as const;

const BODY = JSON.stringify(errorBody('openai', 'internal_error', 'internal error in the proxy'));

export function guardHandlers(app: TemplatedApp, onError: (err: unknown, method: string, url: string) => void): TemplatedApp {
  for (const m of METHODS) {
    const register = app[m] as (pattern: string, handler: (res: HttpResponse, req: HttpRequest) => void) => TemplatedApp;
    (app as unknown as Record<string, unknown>)[m] = (pattern: string, handler: (res: HttpResponse, req: HttpRequest) => void) =>
      register.call(app, pattern, (res, req) => {
        try {
          handler(res, req);
        } catch (err) {
          onError(err, ...describe(req));
          answer500(res);
        }
      });
  }
  return app;
}

/** Method and URL for the log line, read only when a handler threw (still inside uWS's callback, so `req` is valid). */
function describe(req: HttpRequest): [string, string] {
  try {
    return [req.getMethod(), req.getUrl().slice(0, 200)];
  } catch {
    return ['', ''];
  }
}

function answer500(res: HttpResponse): void {
  try {
    res.cork(() => {
      res.writeStatus('500 Internal Server Error');
      res.writeHeader('content-type', 'application/json');
      res.writeHeader('x-tollgate-request-id', newRequestId());
      res.end(BODY, true);
    });
  } catch {
    // Already answered (or aborted) before the throw: uWS refuses a second answer.
  }
}
