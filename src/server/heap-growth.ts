import { setFlagsFromString } from 'node:v8';

// How far a thread's heap may grow past what its last full GC kept before
// the next full GC starts. V8 sizes that step from its measure of GC cost,
// which counts only the pause on the JavaScript thread: concurrent marking on
// its helper threads looks free. Under load a shard then ran a full GC about
// once a second while keeping ~23 MB, each marking the whole heap on a helper
// thread, on the same 2 cores the shards serve from (measured with
// --trace-gc: 16 full GCs in 8 s of streamed chats at 1500 req/s; 6 with
// 100%, 4 with 300%). A fixed 100%: the heap may reach twice what the last
// full GC kept (V8's heuristic itself allows up to 4×), a few tens of MB per
// thread here; 300% saved little more, and a shard holding a large control
// plane (hundreds of MB of customers and keys) would have paid 4× for it. `tollgate serve` sets it for the whole process (V8 flags are
// per process, read by each thread's heap as it starts), before the shards
// start; an application that embeds startServer owns its process and its
// flags. A flag given on the command line or in NODE_OPTIONS wins.

const FLAG = '--heap-growing-percent';
export const HEAP_GROWING_PERCENT = 100;

export function tuneHeapGrowth(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  const given = (s: string) => s.replaceAll('_', '-').includes(FLAG);
  if (execArgv.some(given) || given(nodeOptions)) return false;
  setFlagsFromString(`${FLAG}=${HEAP_GROWING_PERCENT}`);
  return true;
}
