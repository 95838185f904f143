import type { Config } from '../config/schema.js';
import type { Delivery, Outbox } from './outbox.js';
import { sendWebhook } from './channels/webhook.js';
import { sendSlack } from './channels/slack.js';
import { sendEmail } from './channels/email.js';

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

  constructor(private readonly config: Config, private readonly outbox: Outbox, private readonly log: (m: string) => void) {
    this.#channels = new Map(config.alerts.channels.map((c) => [c.name, c]));
  }

  start(intervalMs = 250): void {
    this.#timer = setInterval(() => void this.tick(), intervalMs);
    this.#timer.unref();
  }

  async tick(now = Date.now()): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      await Promise.all(this.outbox.due(now).map((d) => this.#deliver(d)));
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
    try {
      if (ch.type === 'webhook') await sendWebhook(ch.url, ch.secret, d.event);
      else if (ch.type === 'slack') await sendSlack(ch.url, d.event);
      else await sendEmail(ch.smtp, ch.from, ch.to, d.event);
      await this.outbox.delivered(d.id);
      this.delivered++;
    } catch (err) {
      this.failures++;
      const backoff = Math.min(this.config.alerts.maxBackoff, 1000 * 2 ** Math.min(d.attempts, 20));
      await this.outbox.retryLater(d, Date.now() + backoff, (err as Error).message);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.tick();
  }
}
