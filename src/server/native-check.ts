import uws from 'uWebSockets.js';

/**
 * The uWS package silently falls back to a slow pure-JS server when its
 * native binary does not match this Node build. Only the native binding
 * exports the compressor constants; their absence means the fallback.
 */
export function uwsIsNative(): boolean {
  return 'SHARED_COMPRESSOR' in (uws as object);
}
