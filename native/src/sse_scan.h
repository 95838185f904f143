// The byte-level front of a streamed answer's watch (src/protocols/stream-watch.ts)
// in one pass: a Buffer of whole SSE events (SseScanner.push: LF line ends,
// each event ending with a blank line) is split into its events, and each is
// marked with what the JavaScript scan would find in it, with no per-event
// call across the boundary. The rules, the trigger lists included, mirror
// stream-watch.ts exactly (test/protocols/stream-watch.test.ts compares both).
#pragma once
#include <cstddef>
#include <cstdint>

namespace tg {

/** Which endpoint's triggers apply (stream-watch.ts TRIGGERS). */
enum SseEndpoint { SSE_CHAT = 0, SSE_RESPONSES = 1, SSE_MESSAGES = 2 };

/**
 * Per event, five int32 slots: end (exclusive, after its blank line), flags,
 * model value start, model value end, and a bound on the UTF-8 bytes of the
 * text StreamTracker would take from it (SSE_TEXT: see textBound in sse_scan.cc).
 */
enum SseSlot { SSE_END = 0, SSE_FLAGS = 1, SSE_MODEL_S = 2, SSE_MODEL_E = 3, SSE_TEXT = 4, SSE_SLOTS = 5 };

enum SseFlag {
  /**
   * A trigger (the terminal marker, an endpoint's event names, a chat usage that is not null or whose value is on
   * another line) starts in the event, or a JSON object key in it is spelled with escapes (what it names is unseen
   * by the byte searches), or (responses, messages) it holds a backslash and its type may come from its data
   * (no event: line naming one; "message\u005fstop" is message_stop to the parser).
   */
  SSE_HIT = 1,
  /** The event's first "model" key has a plain string value, at [MODEL_S, MODEL_E). */
  SSE_MODEL = 2,
  /**
   * ... or a string value that is escaped or not closed within the event, or on another line, or the event has a
   * second "model" (the last is kept), or a key is spelled with escapes (it may name the model): the parser must read it.
   */
  SSE_MODEL_ESCAPED = 4,
};

/**
 * Scans the events of p[from, n) (from: the start of an event). Fills up to
 * `max` events into out (SSE_SLOTS each) and returns how many; fewer than the
 * events there when `max` ran out (scan again from the last end). An event
 * with no blank line (never given by SseScanner) ends the scan.
 */
int scanSse(const uint8_t* p, size_t n, size_t from, int endpoint, int32_t* out, int max);

}  // namespace tg
