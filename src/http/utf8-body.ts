// Request bodies must be UTF-8 (RFC 8259). Buffer#toString would replace bad
// bytes with U+FFFD and forward a silently altered prompt; a fatal decoder
// turns them into a 400 that says so.

const strict = new TextDecoder('utf-8', { fatal: true });

export class InvalidUtf8 extends Error {
  readonly code = 'TG_INVALID_UTF8';
  constructor() {
    super('request body is not valid UTF-8');
  }
}

export function utf8Text(bytes: Uint8Array): string {
  try {
    return strict.decode(bytes);
  } catch {
    throw new InvalidUtf8();
  }
}
