import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Exchange } from '../http/exchange.js';

// The dashboard: static files from dashboard/ (plain HTML, JS, CSS; no build
// step) and uPlot from node_modules, read once at start and served from
// memory at /dashboard. Its data comes from the admin API with the admin
// token the login form keeps in sessionStorage and sends as a Bearer header,
// so no credential is ever in a URL, a cookie or a log. Every response
// carries a strict CSP (no inline script, same-origin only) and friends.

const ROOT = fileURLToPath(new URL('../../dashboard/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
  'cache-control': 'no-store',
};

interface Asset { type: string; body: Buffer }

function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(ROOT)) {
    const type = TYPES[extname(name)];
    if (type) assets.set(`/dashboard/${name}`, { type, body: readFileSync(join(ROOT, name)) });
  }
  const require = createRequire(import.meta.url);
  const uplotDir = join(require.resolve('uplot/package.json'), '..', 'dist');
  assets.set('/dashboard/vendor/uplot.js', { type: TYPES['.js']!, body: readFileSync(join(uplotDir, 'uPlot.iife.min.js')) });
  assets.set('/dashboard/vendor/uplot.css', { type: TYPES['.css']!, body: readFileSync(join(uplotDir, 'uPlot.min.css')) });
  const index = assets.get('/dashboard/index.html');
  if (index) assets.set('/dashboard', index).set('/dashboard/', index);
  return assets;
}

export function mountDashboard(app: TemplatedApp, exchange: (res: HttpResponse) => Exchange, log: (msg: string) => void = () => {}): void {
  let assets = new Map<string, Asset>();
  try {
    assets = loadAssets();
  } catch (err) {
    // A build without dashboard/ (or uplot) still serves calls; the page answers 404.
    log(`dashboard unavailable: ${(err as Error).message}`);
  }
  const serve = (res: HttpResponse, url: string) => {
    const ex = exchange(res);
    const a = assets.get(url);
    if (!a) {
      ex.send(404, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' }, 'not found');
      return;
    }
    ex.send(200, { ...SECURITY_HEADERS, 'content-type': a.type }, a.body);
  };
  app.get('/dashboard', (res, req) => serve(res, req.getUrl()));
  app.get('/dashboard/*', (res, req) => serve(res, req.getUrl()));
}
