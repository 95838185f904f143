import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

// The ledger's durability point: an append-only file of row groups, each
// written and fdatasync'ed (ledger.sync) before the calls whose rows it holds
// are answered. LMDB is written behind from it; on start, whatever the
// journal holds is replayed into LMDB (idempotently) before anything reads it.
//
// Files: <dataDir>/journal/<12-digit segment number>.journal. A frame:
//   u32 magic "TGJ1", u32 payload bytes, u32 CRC-32 of the payload, u32 rows, payload (row-codec batch)
// A torn or corrupt frame (power loss mid-write: its calls were never
// answered) ends the journal: recovery truncates the file there.

const MAGIC = 0x31_4a_47_54; // "TGJ1" little-endian
const HEADER = 16;

export interface JournalGroup {
  payload: Buffer;
  rows: number;
}

export class Journal {
  readonly #dir: string;
  #fd = -1;
  #segment = 0;
  #size = 0;
  /** Closed segments and the last group sequence each holds: deleted once LMDB has those groups durably. */
  #closed: { segment: number; lastSeq: number }[] = [];

  constructor(dataDir: string, private readonly sync: boolean, private readonly segmentBytes: number) {
    this.#dir = join(dataDir, 'journal');
    mkdirSync(this.#dir, { recursive: true });
  }

  /** Every group the journal holds, oldest first; a torn tail is cut off. Call before append. */
  recover(): JournalGroup[] {
    const groups: JournalGroup[] = [];
    const segments = this.#segments();
    for (const segment of segments) {
      const file = this.#file(segment);
      const data = readFileSync(file);
      let pos = 0;
      while (pos + HEADER <= data.length) {
        const len = data.readUInt32LE(pos + 4);
        if (data.readUInt32LE(pos) !== MAGIC || pos + HEADER + len > data.length) break;
        const payload = data.subarray(pos + HEADER, pos + HEADER + len);
        if (crc32(payload) !== data.readUInt32LE(pos + 8)) break;
        groups.push({ payload, rows: data.readUInt32LE(pos + 12) });
        pos += HEADER + len;
      }
      if (pos < data.length) {
        const fd = openSync(file, 'r+');
        try {
          ftruncateSync(fd, pos);
          fdatasyncSync(fd);
        } finally {
          closeSync(fd);
        }
      }
    }
    this.#segment = segments.length ? segments[segments.length - 1]! : 0;
    return groups;
  }

  /** Deletes every segment (their groups are in LMDB durably) and starts an empty one. */
  reset(): void {
    this.#closeFd();
    for (const s of this.#segments()) unlinkSync(this.#file(s));
    this.#closed = [];
    this.#open(this.#segment + 1);
  }

  /**
   * Appends one group and makes it durable (fdatasync when `sync`). On a
   * failed write the segment is cut back to its last whole group and the
   * error is thrown: the group is not in the journal.
   */
  append(seq: number, parts: readonly Buffer[], rows: number): void {
    if (this.#fd < 0) this.#open(this.#segment + 1);
    let len = 0;
    for (const p of parts) len += p.length;
    const header = Buffer.allocUnsafe(HEADER);
    header.writeUInt32LE(MAGIC, 0);
    header.writeUInt32LE(len, 4);
    let crc = 0;
    for (const p of parts) crc = crc32(p, crc);
    header.writeUInt32LE(crc, 8);
    header.writeUInt32LE(rows, 12);
    try {
      const want = HEADER + len;
      let done = writevSync(this.#fd, [header, ...parts], this.#size);
      // A short write (rare, large groups): finish it from where it stopped.
      if (done < want) {
        const all = Buffer.concat([header, ...parts]);
        while (done < want) done += writevSync(this.#fd, [all.subarray(done)], this.#size + done);
      }
      if (this.sync) fdatasyncSync(this.#fd);
    } catch (err) {
      try {
        ftruncateSync(this.#fd, this.#size);
      } catch { /* the frame's CRC still rejects a partial write at recovery */ }
      throw err;
    }
    this.#size += HEADER + len;
    if (this.#size >= this.segmentBytes) {
      this.#closed.push({ segment: this.#segment, lastSeq: seq });
      this.#closeFd();
    }
  }

  /** Deletes closed segments whose every group is at or before `appliedSeq` (call once LMDB has them durably). */
  release(appliedSeq: number): void {
    while (this.#closed.length && this.#closed[0]!.lastSeq <= appliedSeq) unlinkSync(this.#file(this.#closed.shift()!.segment));
  }

  /** Bytes in the segment being written. */
  get size(): number {
    return this.#size;
  }

  close(): void {
    this.#closeFd();
  }

  #open(segment: number): void {
    this.#segment = segment;
    this.#fd = openSync(this.#file(segment), 'w');
    this.#size = 0;
    // The new file's name must survive power loss too: sync the directory.
    if (this.sync) {
      const dir = openSync(this.#dir, 'r');
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
    }
  }

  #closeFd(): void {
    if (this.#fd < 0) return;
    closeSync(this.#fd);
    this.#fd = -1;
  }

  #segments(): number[] {
    return readdirSync(this.#dir).filter((f) => /^\d{12}\.journal$/.test(f)).map((f) => Number(f.slice(0, 12))).sort((a, b) => a - b);
  }

  #file(segment: number): string {
    return join(this.#dir, `${String(segment).padStart(12, '0')}.journal`);
  }
}

