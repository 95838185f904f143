import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

// CPU time a process used so far, all its threads (utime + stime of
// /proc/<pid>/stat), in ms. Linux only; null elsewhere (the bench then
// prints no CPU column).

const TICK_MS = (() => {
  try {
    return 1000 / Number(execSync('getconf CLK_TCK').toString().trim() || 100);
  } catch {
    return 10;
  }
})();

export function cpuMs(pid) {
  let stat;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS; // fields 14 and 15 of the whole line
}

/**
 * Waits until the process is quiet (under 5% of one core over 100 ms), at
 * most `maxMs`. A load ends with its connections aborted mid-call: what that
 * sets off (drains of abandoned streams, which count their text on the
 * tokenizer pool and start it the first time: ~0.5 s of CPU per shard) is the
 * warm-up's work, not the measured calls'.
 */
export async function settle(pid, maxMs = 3000) {
  const until = performance.now() + maxMs;
  let last = cpuMs(pid);
  while (last !== null && performance.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    const now = cpuMs(pid);
    if (now === null || now - last < 5) return;
    last = now;
  }
}
