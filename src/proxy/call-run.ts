import type { Exchange } from '../http/exchange.js';
import type { CallUsage, ParsedCall, Protocol } from '../protocols/call.js';
import type { Target } from '../routing/route-table.js';
import type { UsageRecord } from '../store/usage-record.js';
import type { ShardContext } from './shard-context.js';

/** What the relays need of the call they finish (implemented by ModelCall). */
export interface CallRun {
  readonly ctx: ShardContext;
  readonly ex: Exchange;
  readonly requestId: string;
  /** The client's protocol (error shapes). */
  readonly protocol: Protocol;
  /** Records what the client got: metrics and the call's log line. */
  count(status: number, decision: string): void;
  /** Prices the answer, settles the hold and fills the row; returns the cost in nano-USD. */
  settle(row: UsageRecord, target: Target, answeredModel: string | undefined, usage: CallUsage): number;
  /** Counts prompt and generated text ourselves when the provider reported no usage. */
  countUsage(call: ParsedCall, model: string, generated: string): Promise<CallUsage>;
}
