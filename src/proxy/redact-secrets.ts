// Provider keys never reach a client: an upstream error body that quotes the
// key it was sent (some vendors echo it, masked or not) has every exact
// occurrence replaced before it is passed on.

const MIN_SECRET = 8; // shorter "secrets" would blank out ordinary words

export function redactSecrets(body: Buffer | string, secrets: readonly string[]): Buffer | string {
  const live = secrets.filter((s) => s.length >= MIN_SECRET);
  if (!live.length) return body;
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (!live.some((s) => text.includes(s))) return body;
  let out = text;
  for (const s of live) out = out.split(s).join('[redacted]');
  return out;
}
