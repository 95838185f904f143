// Headers on every admin API and /metrics answer: nothing there is meant to
// be framed, sniffed into another type, cached by a shared cache, or leak
// its URL (which may carry a customer id) in a Referer.

export const ADMIN_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'cross-origin-resource-policy': 'same-origin',
  'strict-transport-security': 'max-age=31536000',
});
