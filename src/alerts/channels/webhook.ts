import { request } from 'undici';
import type { AlertEvent } from '../alert-event.js';
import { SIGNATURE_HEADER, signBody } from '../signature.js';

/** POSTs the event as JSON, signed with HMAC-SHA256 of the raw body when the channel has a secret. */
export async function sendWebhook(url: string, secret: string | undefined, event: AlertEvent): Promise<void> {
  const body = JSON.stringify(event);
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'tollgate-alerts', 'x-tollgate-event-id': event.id };
  if (secret) headers[SIGNATURE_HEADER] = signBody(secret, body);
  const r = await request(url, { method: 'POST', headers, body, headersTimeout: 10_000, bodyTimeout: 10_000 });
  await r.body.dump();
  if (r.statusCode >= 300) throw new Error(`webhook answered HTTP ${r.statusCode}`);
}
