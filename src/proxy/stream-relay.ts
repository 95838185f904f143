import type { ParsedCall } from '../protocols/call.js';
import { eventEnd, SseScanner } from '../protocols/sse.js';
import { streamErrorEvent } from '../protocols/stream-error.js';
import { StreamTracker } from '../protocols/stream-tracker.js';
import { StreamWatch } from '../protocols/stream-watch.js';
import { StreamHold } from './stream-hold.js';
import type { UsageRecord } from '../store/usage-record.js';
import type { CallRun } from './call-run.js';
import type { Answer } from './upstream-attempts.js';
import type { Relayed } from './billed-usage.js';
import { describeError } from './upstream-request.js';

// A streamed answer, relayed with backpressure as it arrives: one client
// write per upstream read (all the chunks that arrived together), its whole
// events' bytes as they came. The event
// that ends the answer (and anything after it) is held back until the usage
// row is committed, so a client that saw the end of its answer is in the
// ledger. A stream that ends early (client gone, upstream cut, no terminal
// event) aborts the upstream request and is billed for what was generated
// (counted, at most the bytes received; never nothing). A stream held less
// than it may produce (a forecast, or what the budget had left) grows its
// hold as it goes (stream-hold.ts); when the budget cannot hold more it is
// ended there with the protocol's own "cap reached" ending, billed for what
// was generated, the row flagged `budget_cut`. That choice is not an
// upstream fault: no health mark, no error event.
//
// A client that hangs up mid-stream does not stop the upstream: the relay
// keeps reading it (discarding the bytes) to its terminal event, so the
// provider's final usage is billed, hidden reasoning included: a reasoning
// model bills thousands of completion tokens before its first visible word,
// and no count of the relayed text can see them. The drain is bounded by the
// call's total timeout and by its output hold (the hold keeps growing, and a
// budget that cannot hold more ends the drain). A drain that ends before the
// usage arrives bills at least the output hold, the output reserved for the
// call; so does one whose output reached the most the call can produce (a
// runaway upstream is not read past it). The cost of the rule: the provider finishes the answer and the
// customer pays for all of it, as the provider charges.

export async function relayStream(c: CallRun, call: ParsedCall, answer: Answer, row: UsageRecord): Promise<void> {
  const { ctx, ex } = c;
  const { target, up } = answer;
  // The tracker reads the upstream's protocol (usage, model, terminal event); a translator rewrites each event for the client.
  const translator = answer.translation?.stream(call, Math.floor(Date.now() / 1000));
  const wantsUsage = translator ? true : call.wantsStreamUsage;
  const hold = c.growableHold && c.reservation
    ? new StreamHold(ctx, c.reservation, c.growableHold, c.outputHold, async (text) => (await ctx.tokens.count(target.model, [text])).counts[0]!)
    : undefined;
  // Bytes, not strings: unless a translator needs every event read, only the events that matter are parsed (stream-watch.ts).
  // A growing hold needs the text's size as it goes: the native watch bounds it from the bytes (without the addon, every event is read).
  const watch = !translator && (!hold || StreamWatch.boundsText) && StreamWatch.covers(answer.upstreamEndpoint) ? new StreamWatch(answer.upstreamEndpoint, wantsUsage) : undefined;
  const tracker = watch?.tracker ?? new StreamTracker(answer.upstreamEndpoint, wantsUsage);
  const scanner = new SseScanner();
  // The status and headers go out with the first bytes of the answer (one socket write, not two).
  ex.begin(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-tollgate-request-id': c.requestId,
  }, true);
  const held: (Buffer | string)[] = [];
  let terminated = false;
  let cutReason: string | null = null;
  let cutDetail = '';
  let bytes = 0;
  let budgetCut = false;
  let draining = false;
  // Each upstream read's events go out in one write. Without a growing hold, all that has arrived is taken at once,
  // as one Buffer. A growing hold checks the output, and may cut the stream, at the end of each upstream chunk
  // (its overshoot is bounded by one chunk's events): it takes all that has arrived too, but chunk by chunk, and
  // scans their events together (one search for all of them, not one per chunk), stopping at a chunk's edge.
  const batched = !hold;
  // What the relay takes from the chunks of one upstream read waits here and goes out in one write, as a batch's does
  // (not past an await on the tokenizer).
  const pending: (Buffer | string)[] = [];
  /** Where each chunk of the read's events ends in them (chunk by chunk: a growing hold). */
  const edges: number[] = [];
  try {
    // The first chunk was read by the attempt loop (a stream is accepted only once it has started).
    const first = answer.first ?? null;
    let read: Buffer[] | null = first && [first];
    if (first && up.arrived?.()) {
      if (batched) {
        const all = up.next(true, first);
        const joined = all instanceof Promise ? await all : all;
        read = joined && [joined];
      } else {
        const more = up.chunks();
        read = [first, ...((more instanceof Promise ? await more : more) ?? [])];
      }
    }
    // Awaited only when the upstream has not sent more yet: a suspension of the relay per read otherwise.
    reads: while (read) {
      const events = read.length === 1 ? scanner.push(read[0]!) : scanner.pushAll(read, edges);
      // Chunk by chunk, the text is kept as each is reached (a stop at a chunk's edge counts none after it).
      const byChunk = read.length > 1;
      watch?.scan(events, byChunk ? 0 : events.length);
      // What goes to the client: runs of the events' bytes as they came (translated text when translating), into
      // `pending`. A run goes on across the read's chunks: taken at its end, where an event breaks it, or before a wait.
      let run = 0; // start of the run of forwarded events not yet taken into `pending`
      for (let c = 0, from = 0; c < read.length; c++) {
        bytes += read[c]!.length;
        const to = byChunk ? edges[c]! : events.length;
        if (byChunk) watch?.keep(events, to);
        for (let s = from; s < to; ) {
          // The events that only need forwarding (the watch found them), passed over in one step: they stay in the
          // run, or are held after the terminal event, or are not relayed while draining, as each would be.
          // A growing hold is asked about the first event whose text could bring the output near it (room: skip()).
          const next = watch && !budgetCut ? watch.skip(events, s, hold && !terminated ? hold.room(watch.textBytes, bytes) : Infinity, to) : s;
          if (next > s) {
            if (held.length || draining) {
              if (s > run) pending.push(events.subarray(run, s));
              if (!draining) held.push(events.subarray(s, next));
              run = next;
            }
            s = next;
            continue;
          }
          const e = watch ? watch.end(events, s) : eventEnd(events, s);
          const raw = watch ? undefined : events.toString('utf8', s, e);
          const v = watch ? watch.inspect(events, s, e) : tracker.inspect(raw!);
          // Past the budget cut, the rest of what arrived in the chunk is counted (the provider generated it) but not relayed.
          if (!budgetCut) {
            if (v.terminal) terminated = true;
            if (translator) {
              const ev = draining ? '' : translator.push(raw!);
              if (ev) (held.length || v.terminal ? held : pending).push(ev);
            } else if (held.length || v.terminal || !v.forward || draining) {
              // This event breaks the run: it is held (the end, and all after it), dropped, or nothing is relayed.
              if (s > run) pending.push(events.subarray(run, s));
              if (!draining && v.forward) held.push(events.subarray(s, e));
              run = e;
            }
            if (hold && !terminated) {
              const ok = watch ? hold.keepUpBounded(watch, watch.textBytes, bytes) : hold.keepUp(tracker.text, tracker.textComplete, bytes);
              if (ok instanceof Promise) {
                // What is relayed so far goes out before the wait on the tokenizer.
                if (!translator && s > run) pending.push(events.subarray(run, s));
                run = Math.max(run, s);
                if (pending.length) await flush(ex, pending);
              }
              if (!(ok instanceof Promise ? await ok : ok)) {
                budgetCut = true;
                if (!translator && e > run) pending.push(events.subarray(run, e));
                run = to;
              }
            }
          }
          s = e;
        }
        // More has arrived (the rest of this read, or another): a growing hold's chunks go out together.
        if (!(hold && !budgetCut && (c < read.length - 1 || up.arrived?.()))) {
          if (!translator && run < to) pending.push(run === 0 && to === events.length ? events : events.subarray(run, to));
          run = to;
          if (pending.length) {
            const writable = flush(ex, pending);
            if (writable) await writable;
          }
        }
        // A drain ends at the terminal event, or once the output counted reaches the call's ceiling (billed then).
        // The chunks after this one were taken, but not reached: not counted, as if never read.
        if (budgetCut || (ex.aborted && (terminated || hold?.atCeiling))) break reads;
        if (ex.aborted) {
          draining = true;
          if (hold) hold.countOnly = true;
          pending.length = 0; // nothing more is written
        }
        from = to;
      }
      // The rest of the run, when more had arrived after the read's last chunk (it goes out with the next read's).
      if (!translator && run < events.length) pending.push(run ? events.subarray(run) : events);
      const more = batched ? up.next(true) : up.chunks();
      const got = more instanceof Promise ? await more : more;
      read = got && (Array.isArray(got) ? got : [got]);
    }
  } catch (err) {
    if (!ex.aborted) {
      cutReason = `upstream_stream_cut: ${describeError(err)}`;
      cutDetail = (err as Error)?.message || describeError(err);
    }
  }
  // Relayed before the stream failed: the client gets it ahead of the error event.
  if (pending.length) void flush(ex, pending);
  // Whatever ended the relay early, the upstream request must end too (else it holds its pool connection forever).
  if (ex.aborted || cutReason || budgetCut) up.abort(new Error(ex.aborted ? 'client disconnected' : budgetCut ? 'budget reached' : 'stream abandoned'));
  if (budgetCut && !ex.aborted) cutReason = null;
  if (!terminated && !cutReason && !ex.aborted && !budgetCut) cutReason = 'upstream_stream_ended_without_terminal_event';
  if (cutReason) {
    ctx.routes.health.failedLate(target, Date.now(), cutReason);
    ctx.metrics.recordUpstreamError(target.id, 'stream_cut');
    // A failed stream (cut, timed out, oversized event): tell the client in its SDK's error shape, after the usage row is committed.
    if (cutDetail) held.push(streamErrorEvent(call.endpoint, `the upstream stream failed part-way (${cutDetail}); what was generated is charged`));
  }

  // Interrupted (or silent) stream: what was generated is counted ourselves, bounded by the bytes received;
  // an abandoned stream whose drain did not reach the usage bills at least its output hold (unseen reasoning).
  const unseen = ex.aborted && !terminated ? (hold?.heldTokens ?? c.outputHold) : 0;
  const relayed = new StreamedAnswer(watch ?? tracker, bytes, unseen);
  // Billed at once when the provider's usage is taken as it is (nearly every stream): no await, no turn of the event loop.
  const billed = c.bill(row, call, target, tracker.model, tracker.usage, relayed, terminated);
  if (typeof billed !== 'number') await billed;
  if (ex.aborted) {
    row.status = 499;
    // Billed at least the output hold when the usage never came: the row's usage_source is then `estimate`.
    row.reason = 'client_disconnected';
  } else {
    row.status = 200;
    if (budgetCut) ctx.metrics.prom.budgetCuts.inc();
    if (budgetCut) cutReason = `budget_cut: the output passed the ${hold!.heldTokens} tokens the budget could hold`;
    if (cutReason) row.reason = [row.reason, cutReason].filter(Boolean).join('; ').slice(0, 500);
  }
  await ctx.ledger.append(row);
  c.count(row.status, 'allowed');
  // Cut at the budget: the client gets the end its SDK knows for an answer that reached its cap, after the row is committed.
  if (budgetCut && !ex.aborted) {
    for (const raw of (watch?.everyEvent ?? tracker).lengthEnding({ promptTokens: row.prompt_tokens, completionTokens: row.completion_tokens })) held.push(translator ? translator.push(raw) : raw);
  }
  ex.end(held.length ? joined(held) : undefined);
}

/**
 * What a stream relayed: its text is read only if the usage must be counted
 * ourselves (the watch extracts it then). A class, not an object literal with
 * getters: V8 defines a literal's accessors through the runtime, one call per
 * getter per stream (~0.9% of a loaded process's CPU in a perf profile).
 */
class StreamedAnswer implements Relayed {
  readonly atLeast: number | undefined;

  constructor(private readonly texts: { readonly text: string; readonly textComplete: boolean }, readonly bytes: number, unseen: number) {
    this.atLeast = unseen || undefined;
  }

  get text(): string {
    return this.texts.text;
  }

  get textComplete(): boolean {
    return this.texts.textComplete;
  }
}

/** Writes what is pending in one write (nothing once the client has gone); resolves when the socket can take more. */
function flush(ex: CallRun['ex'], pending: (Buffer | string)[]): Promise<void> | undefined {
  const wait = ex.aborted ? undefined : ex.write(joined(pending));
  pending.length = 0;
  return wait;
}

/** One Buffer of what goes out in one write (bytes relayed as they came, text we wrote). */
function joined(parts: (Buffer | string)[]): Buffer | string {
  if (parts.length === 1) return parts[0]!; // most often the held terminal event: no copy
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
}
