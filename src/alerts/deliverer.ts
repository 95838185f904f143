import type { Config } from '../config/schema.js';
import type { Delivery, Outbox } from './outbox.js';
import type { AlertEvent } from './alert-event.js';
import { sendWebhook } from './channels/webhook.js';
import { sendSlack } from './channels/slack.js';
import { sendEmail } from './channels/email.js';

/** send: this node delivers it; skip: another node did; later: another node is delivering it (or Redis is away). */
export type GateVerdict = 'send' | 'skip' | 'later';

/**
 * Cluster mode: who delivers an outbox entry that every node may hold
 * (src/cluster/alert-claims.ts). Asked before each send; told after.
 */
export interface DeliveryGate {
  claim(deliveryId: string): Promise<GateVerdict>;
  delivered(deliveryId: string): Promise<void>;
}

/** How soon an entry another node is delivering is looked at again. */
const GATE_RETRY_MS = 1_000;

/**
 * Drains the outbox in the background: each delivery is retried with
 * exponential backoff until its channel accepts it. Never on a call's path.
 */
export class Deliverer {
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  readonly #channels: Map<string, Config['alerts']['channels'][number]>;
  delivered = 0;
  failures = 0;
  /** Entries another node delivered (cluster mode). */
  skipped = 0;
  /**
   * Alerts about the disk the outbox lives on (ledger_unavailable): they
   * cannot wait for an outbox write that would fail for the same reason, so
   * they are retried from memory. Lost if the process dies first; the error
   * log line is written either way.
   */
  #inMemory: Delivery[] = [];

  constructor(private readonly config: Config, private readonly outbox: Outbox, private readonly log: (m: string) => void, private readonly gate?: DeliveryGate) {
    this.#channels = new Map(config.alerts.channels.map((c) => [c.name, c]));
  }

  start(intervalMs = 250): void {
    this.#timer = setInterval(() => void this.tick(), intervalMs);
    this.#timer.unref();
  }

  /** Delivers without touching the outbox (see #inMemory); retried with the same backoff, at most 100 kept. */
  sendFromMemory(event: AlertEvent, channels: string[], now = Date.now()): void {
    for (const channel of channels) this.#inMemory.push({ id: `${event.id}|${channel}`, channel, event, attempts: 0, nextAt: now });
    if (this.#inMemory.length > 100) this.#inMemory.splice(0, this.#inMemory.length - 100);
    void this.tick(now);
  }

  async tick(now = Date.now()): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const memory = this.#inMemory.filter((d) => d.nextAt <= now);
      let outboxDue: Delivery[] = [];
      try {
        outboxDue = this.outbox.due(now);
      } catch (err) {
        this.log(`alert outbox unreadable: ${(err as Error).message}`);
      }
      await Promise.all([...memory.map((d) => this.#deliverFromMemory(d)), ...outboxDue.map((d) => this.#deliver(d).catch((err) => this.log(`alert ${d.id}: ${(err as Error).message}`)))]);
    } finally {
      this.#busy = false;
    }
  }

  async #deliver(d: Delivery): Promise<void> {
    const ch = this.#channels.get(d.channel);
    if (!ch) {
      // The channel was removed from the config: nothing can deliver it.
      this.log(`alert ${d.id}: channel "${d.channel}" no longer configured; dropped`);
      await this.outbox.delivered(d.id);
      return;
    }
    if (this.gate) {
      const g = await this.gate.claim(d.id);
      if (g === 'skip') {
        this.skipped++;
        await this.outbox.delivered(d.id);
        return;
      }
      if (g === 'later') {
        await this.outbox.retryLater({ ...d, attempts: d.attempts - 1 }, Date.now() + GATE_RETRY_MS, 'another node is delivering it, or Redis is unreachable (cluster)');
        return;
      }
    }
    try {
      await this.#send(ch, d.event);
      // The cluster hears it first: an entry removed here but not marked there would be sent again elsewhere.
      await this.gate?.delivered(d.id);
      await this.outbox.delivered(d.id);
      this.delivered++;
    } catch (err) {
      this.failures++;
      const backoff = Math.min(this.config.alerts.maxBackoff, 1000 * 2 ** Math.min(d.attempts, 20));
      await this.outbox.retryLater(d, Date.now() + backoff, (err as Error).message);
    }
  }

  async #deliverFromMemory(d: Delivery): Promise<void> {
    const ch = this.#channels.get(d.channel);
    try {
      if (ch) await this.#send(ch, d.event);
      this.#inMemory = this.#inMemory.filter((x) => x !== d);
      if (ch) this.delivered++;
    } catch {
      this.failures++;
      d.attempts++;
      d.nextAt = Date.now() + Math.min(this.config.alerts.maxBackoff, 1000 * 2 ** Math.min(d.attempts, 20));
    }
  }

  #send(ch: Config['alerts']['channels'][number], event: AlertEvent): Promise<unknown> {
    if (ch.type === 'webhook') return sendWebhook(ch.url, ch.secret, event);
    if (ch.type === 'slack') return sendSlack(ch.url, event);
    return sendEmail(ch.smtp, ch.from, ch.to, event);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.tick();
  }
}
