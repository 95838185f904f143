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
//
// Pre-zeroed tail (ledger.sync): a segment is kept filled with zeros, written
// and synced, ahead of the write position, and groups overwrite those zeros
// in place. An fdatasync after an append that grows the file must also
// commit the new size and block allocation through the filesystem's journal
// (ext4: a journal commit, a second device flush); after an overwrite of
// blocks already allocated and durable it is a pure data flush. Measured on
// this machine's disk (bench/journal-append.mjs, 4 KB groups, the disk shared):
// p50 270–330 µs wall and ~115 µs kernel CPU per append + fdatasync into a
// growing file, 110–200 µs and ~60 µs into the zeros. So the segment's end is moved ahead in
// steps of PREZERO_BYTES, by the append that would cross it: its zeros go out
// in the same fdatasync as that group (one growing append per step, as
// costly as every append was before, plus writing the step). Recovery reads
// an all-zero header as the end of the segment, like a torn frame: nothing
// was ever acknowledged past it (a group is written at the write position
// only after the previous group's fdatasync returned).

const MAGIC = 0x31_4a_47_54; // "TGJ1" little-endian
const HEADER = 16;
/**
 * Zeros written ahead of the write position at a time (ledger.sync). 1 MiB:
 * measured here, a 1 MiB zero write plus fdatasync takes ~2 ms (4 MiB: 5–16
 * ms, 64 KiB: 0.4–1.3 ms), paid by one group in every ~250 at 4 KiB a group
 * (~13 rows), against ~0.2 ms saved on each of the others; and a stop or
 * rotation leaves at most 1 MiB of zeros in a segment until it is deleted.
 */
export const PREZERO_BYTES = 1 << 20;
const ZEROS = Buffer.alloc(64 * 1024);

export interface JournalGroup {
  payload: Buffer;
  rows: number;
}

export class Journal {
  readonly #dir: string;
  #fd = -1;
  #segment = 0;
  #size = 0;
  /** End of what the segment holds, frames then zeros: an append ending below it overwrites blocks allocated and synced (by the group that wrote them), its fdatasync a data flush only. */
  #zeroedTo = 0;
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
      // The segment ends at the first header that is not a whole frame's: zeros (its
      // pre-zeroed tail, or the tail of a frame torn by a power loss), or a torn frame.
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
    const want = HEADER + len;
    try {
      if (this.sync && this.#size + want > this.#zeroedTo) this.#zeroAhead(this.#size + want);
      let done = writevSync(this.#fd, [header, ...parts], this.#size);
      // A short write (rare, large groups): finish it from where it stopped.
      if (done < want) {
        const all = Buffer.concat([header, ...parts]);
        while (done < want) done += writevSync(this.#fd, [all.subarray(done)], this.#size + done);
      }
      if (this.sync) fdatasyncSync(this.#fd);
    } catch (err) {
      // Cut back to the last whole group (its zeros ahead too: the next append writes them again).
      this.#zeroedTo = this.#size;
      try {
        ftruncateSync(this.#fd, this.#size);
      } catch { /* the frame's CRC still rejects a partial write at recovery */ }
      throw err;
    }
    this.#size += want;
    if (this.#size > this.#zeroedTo) this.#zeroedTo = this.#size;
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

  /**
   * Writes zeros from the end of what is zeroed to PREZERO_BYTES past `need`
   * (the end of the frame about to be written), no further than the segment's
   * size unless the frame itself goes further. The caller's fdatasync makes
   * them durable with its group. A disk without room for the step (ENOSPC)
   * is not an error here: the group is then written as a growing append, as
   * before pre-zeroing, and is held (append throws) only if its own bytes do
   * not fit.
   */
  #zeroAhead(need: number): void {
    const to = Math.max(need, Math.min(need + PREZERO_BYTES, this.segmentBytes));
    let at = Math.max(this.#zeroedTo, this.#size);
    try {
      while (at < to) {
        // One writev of the same 64 KiB of zeros, as many times as the step needs.
        const n = Math.ceil((to - at) / ZEROS.length);
        const iov = Array.from({ length: n }, (_, i) => (i < n - 1 ? ZEROS : ZEROS.subarray(0, to - at - (n - 1) * ZEROS.length)));
        at += writevSync(this.#fd, iov, at);
      }
    } catch {
      // Out of room (a short write, then ENOSPC) or another failure: the frame's own write and sync
      // below decide whether the group is taken. What was written is zeros all the same.
    } finally {
      this.#zeroedTo = at;
    }
  }

  #open(segment: number): void {
    this.#segment = segment;
    this.#fd = openSync(this.#file(segment), 'w');
    this.#size = 0;
    this.#zeroedTo = 0;
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

