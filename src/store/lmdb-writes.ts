// Every asynchronous LMDB write transaction of this thread goes through here,
// so a blocking read knows when it must not block.
//
// lmdb-js runs a transaction(callback)'s callback on the thread that asked for
// it, once its write thread holds the environment's write lock. If that JS
// thread is blocked meanwhile (Atomics.wait in the ledger's read-your-writes
// wait, ledger-progress.ts), the lock stays held for a callback that cannot
// run, and the ledger writer, which needs the lock to catch up, waits behind
// it: nothing moves until the read's wait times out. Under load this stalled
// every first call of a new customer for seconds (issue 13, 100k customers).

interface Transactional {
  transaction<T>(fn: () => T): Promise<T>;
}

let inFlight = 0;

/** `db.transaction(fn)`, counted while it is pending on this thread. */
export function writeTransaction<T>(db: Transactional, fn: () => T): Promise<T> {
  inFlight++;
  let p: Promise<T>;
  try {
    p = db.transaction(fn);
  } catch (err) {
    inFlight--;
    throw err;
  }
  return p.finally(() => {
    inFlight--;
  });
}

/** Async write transactions this thread has asked for that have not finished: while any is, the thread must not block on the writer. */
export const writesInFlight = (): number => inFlight;
