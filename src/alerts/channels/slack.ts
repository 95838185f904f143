import { request } from 'undici';
import { alertText, type AlertEvent } from '../alert-event.js';

/** Slack incoming-webhook message format. */
export async function sendSlack(url: string, event: AlertEvent): Promise<void> {
  const r = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: alertText(event) }),
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  await r.body.dump();
  if (r.statusCode >= 300) throw new Error(`slack answered HTTP ${r.statusCode}`);
}
