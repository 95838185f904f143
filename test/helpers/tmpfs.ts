import { execFileSync } from 'node:child_process';
import { tempDir } from './temp-dir.js';

// A small tmpfs for the disk-full tests (mounting one needs root). Where it
// cannot be mounted a test skips, loudly; under CI=true that is a failure,
// never a silent skip.

export interface Tmpfs {
  path: string;
  unmount(): void;
}

export function mountTmpfs(size: string, prefix: string): Tmpfs | undefined {
  const path = tempDir(prefix);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', path], { stdio: 'ignore' });
  } catch {
    if (process.env.CI === 'true') throw new Error(`the disk-full tests need root to mount a tmpfs (on ${path})`);
    return undefined;
  }
  return { path, unmount: () => execFileSync('umount', ['-l', path], { stdio: 'ignore' }) };
}
