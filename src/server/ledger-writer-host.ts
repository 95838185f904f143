import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { Config } from '../config/schema.js';
import type { LedgerHealth } from '../store/ledger-health.js';
import type { LedgerProgress } from '../store/ledger-progress.js';
import type { MainToWriter, WriterToMain } from './messages.js';
import { ThreadRpc } from './thread-rpc.js';
import type { WriterData } from './ledger-writer-thread.js';

// The supervisor's handle on the ledger writer thread: starts it (the
// supervisor has replayed the journal already, so the thread's start overlaps
// the shards'), gives each shard its own port to it (batches wait in the port
// until the thread listens), and closes it last, after every shard has flushed.

export interface LedgerWriterHost {
  /** A port for one shard (transfer it to the shard). */
  connect(): MessagePort;
  /** Flushes, writes behind, empties the journal; returns rows it could not write (logged as ledger_unwritten_row). */
  close(): Promise<number>;
}

export function startLedgerWriter(config: Config, health: LedgerHealth, healthThread: number, progress: LedgerProgress, log: (msg: string) => void): LedgerWriterHost {
  const worker = new Worker(new URL('./ledger-writer-thread.js', import.meta.url), {
    workerData: { config, healthSab: health.sab, healthThread, progressSab: progress.sab } satisfies WriterData,
  });
  const rpc = new ThreadRpc<MainToWriter>((m) => worker.postMessage(m));
  let closing = false;
  const ready = new Promise<number>((resolve, reject) => {
    worker.on('message', (m: WriterToMain) => {
      if (m.t === 'writer-ready') resolve(m.replayed);
      else if (m.t === 'writer-closed') rpc.reply(m.id, m.unwritten);
      // Rows it gives up on are JSON lines `tollgate ledger replay` reads back (msg must be in the JSON).
      else if (m.t === 'writer-log') log(m.msg === 'ledger_unwritten_row' ? JSON.stringify({ level: m.level, msg: m.msg, ...m.fields }) : `${m.level}: ${m.msg}${m.fields ? ' ' + JSON.stringify(m.fields) : ''}`);
    });
    worker.on('error', (err) => {
      log(`error: the ledger writer thread crashed: ${err.stack ?? err}`);
      reject(err);
    });
    worker.on('exit', (code) => {
      if (closing) return;
      // Without its writer no call can be recorded; every acknowledged row is in the journal, which the next start replays.
      log(`error: the ledger writer thread exited (code ${code}); exiting so the process is restarted and replays the journal`);
      process.exit(70);
    });
  });
  ready.catch(() => {}); // a crash is logged above and ends the process
  return {
    connect() {
      const { port1, port2 } = new MessageChannel();
      worker.postMessage({ t: 'writer-connect', port: port1 } satisfies MainToWriter, [port1]);
      return port2;
    },
    async close() {
      await ready;
      closing = true;
      const unwritten = await rpc.request<number>((id) => ({ t: 'writer-close', id }), { timeoutMs: 30_000, what: 'the ledger writer (close)' });
      await worker.terminate();
      return unwritten;
    },
  };
}
