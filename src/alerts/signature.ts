import { createHmac, timingSafeEqual } from 'node:crypto';

// The one signature scheme of Tollgate's webhooks, both ways: the alerts we
// send and the signed top-ups we accept (POST /v1/wallet/credits) carry
// `x-tollgate-signature: sha256=<hex HMAC-SHA256 of the raw body>`.

export const SIGNATURE_HEADER = 'x-tollgate-signature';

export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Whether `header` is the signature of `body` under `secret`; compared in constant time. */
export function verifySignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(signBody(secret, body));
  const got = Buffer.from(header.trim());
  return got.length === expected.length && timingSafeEqual(got, expected);
}
