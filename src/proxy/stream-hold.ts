import { extendHolds } from '../budget/decide.js';
import type { Reservation } from '../budget/reservations.js';
import type { GrowableHold } from './call-estimate.js';
import type { ShardContext } from './shard-context.js';
import { MAX_TEXT_CHARS } from '../protocols/stream-tracker.js';

// Keeps a streamed answer's output hold ahead of what it has generated, for
// calls held less than the upstream may produce (a forecast, or what the
// budget had left). After each event the output so far is bounded from above
// — tokens counted so far plus the UTF-8 bytes of the text since (a token is
// at least one byte). When that bound nears the hold, the hold grows on it
// while the budget can give a whole step (extendHolds: half the hold, on
// every budget at once), with no count: a pool task per count (and its copy
// of the text) cost an uncapped stream more than the rest of its relay, and
// the bound overstates tokens only a few times over (a step the stream may
// not need is held until it settles, as any unused hold is). Only when a
// whole step no longer fits is the new text counted with the tokenizer, and
// the hold grows on the count (by the step, else by the most that still
// fits), so where a stream is stopped is decided on the count, as before.
// Once the output has passed a hold that cannot grow,
// the relay ends the stream cleanly at the budget. The output billed then
// exceeds what was held by at most what arrived in the same upstream read as
// the event that crossed it (a tokenizer's count of text split at event
// edges only counts high).
//
// In cluster mode a hold that cannot grow on this node's lease asks for more
// once per hold size, as admission does; the lease is still the limit.
//
// A reservation that already expired (its holds released by the TTL sweep)
// is never grown: its extra hold would never be given back.

const MIN_STEP = 64;

export class StreamHold {
  #counted = 0;
  #countedChars = 0;
  /** Chars of the text seen, and UTF-8 bytes of it not yet counted. */
  #seenChars = 0;
  #pendingBytes = 0;
  #askedAt = -1;
  /** keepUpBounded: the text bound when the text was last counted. */
  #boundAtCount = 0;

  constructor(
    private readonly ctx: ShardContext,
    private readonly reservation: Reservation,
    private readonly growable: GrowableHold,
    /** Output tokens held now, all choices. */
    private held: number,
    private readonly countTokens: (text: string) => Promise<number>,
  ) {}

  /**
   * Set once the client has gone (the relay drains the stream to its usage):
   * the hold then grows on counts only, as it did before it grew on the bound,
   * because a drain that ends without its usage is billed at least the hold.
   */
  countOnly = false;

  get heldTokens(): number {
    return this.held;
  }

  /** The output counted has reached the most the call can produce: an abandoned stream's drain need read no further. */
  get atCeiling(): boolean {
    return this.held >= this.growable.ceiling && this.#counted >= this.held;
  }

  /**
   * Called after each upstream chunk with the generated text kept so far
   * (`complete` false once it stopped being kept; `bytes` received then
   * bound the output). False when the output has passed a hold that cannot
   * grow: the stream must end now.
   */
  keepUp(text: string, complete: boolean, bytes: number): boolean | Promise<boolean> {
    if (text.length > this.#seenChars) {
      this.#pendingBytes += Buffer.byteLength(text.slice(this.#seenChars));
      this.#seenChars = text.length;
    }
    const upper = complete ? this.#counted + this.#pendingBytes : bytes;
    // Most events end here, without a promise: the relay awaits only when a count is due.
    return this.#countDue(upper) ? this.#recount(text, complete, bytes) : true;
  }

  /**
   * keepUp for a relay that does not decode the text as it goes (a native
   * StreamWatch): `textBound` bounds the UTF-8 bytes of all the text so far
   * from above (StreamWatch.textBytes); the text itself is read from `src`
   * only when a count is due.
   */
  keepUpBounded(src: { readonly text: string; readonly textComplete: boolean }, textBound: number, bytes: number): boolean | Promise<boolean> {
    return this.#countDue(this.#upperBounded(textBound, bytes)) ? this.#recount(src.text, src.textComplete, bytes, textBound) : true;
  }

  /**
   * Whether the output, bounded by `upper`, must be counted now. Near the hold
   * it is grown on the bound while whole steps fit; the last part of a budget
   * is handed out on counts only. At the ceiling nothing can grow and the
   * upstream cannot go past it: a count only tells a drain where to stop, and
   * is due once the bound reaches the hold (a count per event there cost a
   * pool task per event for the rest of a long answer).
   */
  #countDue(upper: number): boolean {
    if (upper < this.held - this.#lowWater()) return false;
    while (!this.countOnly && this.held < this.growable.ceiling && this.#grow(true)) if (upper < this.held - this.#lowWater()) return false;
    if (this.held >= this.growable.ceiling) return this.countOnly && upper >= this.held && this.#counted < this.held;
    return true;
  }

  /**
   * The text bytes keepUpBounded would still answer true for without a look:
   * a relay may pass over events whose text bounds add up to less than this.
   */
  room(textBound: number, bytes: number): number {
    if (this.held >= this.growable.ceiling) return this.countOnly ? this.held - this.#upperBounded(textBound, bytes) : Infinity;
    return this.held - this.#lowWater() - this.#upperBounded(textBound, bytes);
  }

  /** The output bound from the text bound: text of fewer bytes than the tracker keeps chars is all kept (chars ≤ bytes); else all bytes received. */
  #upperBounded(textBound: number, bytes: number): number {
    return textBound < MAX_TEXT_CHARS ? this.#counted + textBound - this.#boundAtCount : bytes;
  }

  /** `textBound`: keepUpBounded's bound on the text being counted (becomes #boundAtCount). */
  async #recount(text: string, complete: boolean, bytes: number, textBound = 0): Promise<boolean> {
    if (complete) {
      if (text.length > this.#countedChars) this.#counted += await this.countTokens(text.slice(this.#countedChars));
      this.#countedChars = text.length;
      this.#pendingBytes = 0;
      this.#boundAtCount = textBound;
    } else {
      this.#counted = Math.max(this.#counted, bytes);
    }
    while (this.#counted >= this.held - this.#lowWater() && this.held < this.growable.ceiling) {
      if (this.#grow()) continue;
      if (!(await this.#moreLease())) break;
    }
    return this.#counted <= this.held || this.held >= this.growable.ceiling;
  }

  /** Grow early, while a good part of the hold is still unused, so a fast stream rarely waits on the tokenizer at the edge. */
  #lowWater(): number {
    return Math.floor(this.#step() / 4);
  }

  #step(): number {
    return Math.max(MIN_STEP, Math.ceil(this.held / 2));
  }

  /**
   * Cluster mode: this node's lease may be what ran short, not the budget.
   * Asks Redis for more once per hold size (never per event), as admission does.
   */
  async #moreLease(): Promise<boolean> {
    const ask = this.ctx.onBudgetShortfall;
    if (!ask || this.#askedAt === this.held || this.reservation.state !== 'held') return false;
    this.#askedAt = this.held;
    const refs = this.reservation.holds.map((h) => h.ref);
    return (await ask(refs, this.growable.amountsFor(this.#step()))) === 'retry';
  }

  /** Grows the hold by a step (`whole`: that step or nothing; else the most of it that fits). */
  #grow(whole = false): boolean {
    if (this.reservation.state !== 'held') return false;
    const now = Date.now();
    for (let k = Math.min(this.#step(), this.growable.ceiling - this.held); k >= 1; k = whole ? 0 : Math.floor(k / 2)) {
      if (extendHolds(this.ctx.table, this.reservation.holds, this.growable.amountsFor(k), this.ctx.shard, now, this.ctx.clock)) {
        this.held += k;
        return true;
      }
    }
    return false;
  }
}
