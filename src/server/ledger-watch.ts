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
}
