import { setFlagsFromString } from 'node:v8';

// How far a thread's heap may grow past what its last full GC kept before
// the next full GC starts. V8 sizes that step from its measure of GC cost,
// which counts only the pause on the JavaScript thread: concurrent marking on
// its helper threads looks free. Under load a shard then ran a full GC about
// once a second while keeping ~23 MB, each marking the whole heap on a helper
// thread, on the same 2 cores the shards serve from. Measured with
// --trace-gc-nvp over 8 s of streamed chats at 1,200 req/s, two runs each:
// V8's own sizing 8 and 14 full GCs (incremental steps on the shard threads
// 98 and 174 ms, background GC work 763 and 1,079 ms); 100%, 7 and 7 (87, 91;
// 695, 586); 300%, 3 and 3 (41, 41; 281, 340). 300%: the heap may reach 4×
// what the last full GC kept, the most V8's own heuristic ever allows; a few
// tens of MB more per thread here. A shard holding a large control plane
// (hundreds of MB of customers and keys, all live) pays 4× its live heap:
// NODE_OPTIONS=--heap-growing-percent=0 gives V8's own sizing back (README,
// "Run in production"). `tollgate serve` sets it for the whole process (V8
// flags are per process, read by each thread's heap as it starts), before
// the shards start; an application that embeds startServer owns its process
// and its flags. A flag given on the command line or in NODE_OPTIONS wins.

const FLAG = '--heap-growing-percent';
export const HEAP_GROWING_PERCENT = 300;

export function tuneHeapGrowth(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  const given = (s: string) => s.replaceAll('_', '-').includes(FLAG);
  if (execArgv.some(given) || given(nodeOptions)) return false;
  setFlagsFromString(`${FLAG}=${HEAP_GROWING_PERCENT}`);
  return true;
}
