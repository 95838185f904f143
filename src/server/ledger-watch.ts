import { statfs } from 'node:fs/promises';
import type { LedgerHealth } from '../store/ledger-health.js';

// The supervisor's eye on the ledger's disk. Admission stops *before* a
// commit can fail when free space drops under ledger.minFreeBytes (the
// shards read the shared flag on every call), and whenever any thread holds
// rows whose commit failed (the ledger sets its own cell). Both clear by
// themselves: the free space comes back, or a retried commit succeeds.

export interface LedgerState {
  accepting: boolean;
  diskLow: boolean;
  heldRows: number;
  freeBytes: number | null;
}

export class LedgerWatch {
  #timer: NodeJS.Timeout | undefined;
  #accepting = true;
  #freeBytes: number | null = null;

  constructor(
    private readonly dataDir: string,
    private readonly minFreeBytes: number,
    private readonly health: LedgerHealth,
    private readonly onChange: (s: LedgerState) => void,
  ) {}

  start(everyMs = 1_000): void {
    this.#timer = setInterval(() => void this.tick(), everyMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  get state(): LedgerState {
    return { accepting: this.health.accepting, diskLow: this.health.diskLow, heldRows: this.health.heldRows, freeBytes: this.#freeBytes };
  }

  async tick(): Promise<void> {
    try {
      const s = await statfs(this.dataDir);
      this.#freeBytes = s.bavail * s.bsize;
      this.health.setDiskLow(this.#freeBytes < this.minFreeBytes);
    } catch {
      // Cannot tell (directory gone, unsupported): leave it to the commits themselves.
      this.#freeBytes = null;
      this.health.setDiskLow(false);
    }
    const state = this.state;
    if (state.accepting !== this.#accepting) {
      this.#accepting = state.accepting;
      this.onChange(state);
    }
  }

  /** Prometheus lines for /metrics (the supervisor appends them to the merged registry text). */
  metricsText(): string {
    const s = this.state;
    return [
      '# HELP tollgate_ledger_healthy 1 while the usage ledger can record calls; 0 while calls are refused (disk below ledger.minFreeBytes, or rows held after a failed commit).',
      '# TYPE tollgate_ledger_healthy gauge',
      `tollgate_ledger_healthy ${s.accepting ? 1 : 0}`,
      '# HELP tollgate_ledger_held_rows Usage rows held in memory because their commit failed; written when the disk accepts them.',
      '# TYPE tollgate_ledger_held_rows gauge',
      `tollgate_ledger_held_rows ${s.heldRows}`,
      '# HELP tollgate_ledger_free_bytes Free bytes on the data directory\'s filesystem (for the process user).',
      '# TYPE tollgate_ledger_free_bytes gauge',
      `tollgate_ledger_free_bytes ${s.freeBytes ?? 'NaN'}`,
      '',
    ].join('\n');
  }
}
