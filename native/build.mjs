// Builds the native addon (npm install runs this as the package's install
// script; `npm run build:native` by hand). node-gyp comes with npm; the Node
// headers come from npm's nodedir (npm_config_nodedir) or node-gyp's cache.
// A failed build is not a failed install: Tollgate then runs on its
// JavaScript path and says so loudly at startup.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const strict = process.argv.includes('--strict');

function nodeGyp() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  const candidates = [join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js')];
  try {
    candidates.unshift(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {}
  return candidates.find((c) => existsSync(c));
}

const gyp = nodeGyp();
let ok = false;
let why = 'node-gyp was not found (it ships with npm)';
if (gyp) {
  const r = spawnSync(process.execPath, [gyp, 'rebuild', '--jobs', '2'], { cwd: here, stdio: 'inherit' });
  ok = r.status === 0;
  why = r.error ? r.error.message : `node-gyp exited with ${r.status}`;
}
if (ok) {
  process.stderr.write('tollgate: native addon built (native/build/Release/tollgate_native.node)\n');
} else {
  process.stderr.write(`\n*** tollgate: WARNING: the native addon did not build (${why}); Tollgate will run on its JavaScript path. ***\n\n`);
  if (strict) process.exit(1);
}
