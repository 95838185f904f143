import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Child processes a bench runs (mock, passthrough, Tollgate): started from the
// package root, ready when their output matches, stopped with SIGTERM.

const root = fileURLToPath(new URL('..', import.meta.url));

export function start(cmd, args, readyPattern, timeoutMs = 20_000) {
  const p = spawn(process.execPath, [cmd, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${cmd} did not start in ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const on = (d) => {
      out += d;
      if (readyPattern.test(out)) {
        clearTimeout(t);
        resolve(p);
      }
    };
    p.stdout.on('data', on);
    p.stderr.on('data', on);
    p.once('exit', (c) => reject(new Error(`${cmd} exited ${c}:\n${out}`)));
  });
}

export const stop = (p) => new Promise((r) => {
  p.removeAllListeners('exit');
  p.once('exit', r);
  p.kill('SIGTERM');
});
