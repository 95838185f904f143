import type { Reservation } from '../budget/reservations.js';
import type { Exchange } from '../http/exchange.js';
import type { GrowableHold } from './call-estimate.js';
import type { ParsedCall, Protocol } from '../protocols/call.js';
import type { ReportedUsage } from '../protocols/usage-from-body.js';
import type { Target } from '../routing/route-table.js';
import type { UsageRecord } from '../store/usage-record.js';
import type { Relayed } from './billed-usage.js';
import type { ShardContext } from './shard-context.js';

/** What the relays need of the call they finish (implemented by ModelCall). */
export interface CallRun {
  readonly ctx: ShardContext;
  readonly ex: Exchange;
  readonly requestId: string;
  /** The client's protocol (error shapes). */
  readonly protocol: Protocol;
  /** The call's budget holds, once admitted. */
  readonly reservation: Reservation | undefined;
  /** Output tokens held (all choices), and how a stream may grow that hold when it is a forecast. */
  readonly outputHold: number;
  readonly growableHold: GrowableHold | undefined;
  /** Records what the client got: metrics and the call's log line. */
  count(status: number, decision: string): void;
  /**
   * Decides the usage to bill (the provider's when valid, else our own count:
   * billed-usage.ts), prices it on the model that answered, settles the hold
   * and fills the row; returns the cost in nano-USD.
   */
  bill(row: UsageRecord, call: ParsedCall, target: Target, answeredModel: string | undefined, reported: ReportedUsage | undefined, relayed: Relayed, complete: boolean): number | Promise<number>;
}
