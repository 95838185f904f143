#include "sse_scan.h"

#include <cstring>
#include <string_view>

namespace tg {

namespace {

using sv = std::string_view;

// stream-watch.ts: ALWAYS and TRIGGERS (keep in step).
constexpr sv kAlways[] = {"[DONE]"};
constexpr sv kResponses[] = {"response.completed", "response.incomplete", "response.failed", "response.created"};
constexpr sv kMessages[] = {"message_start", "message_delta", "message_stop"};
constexpr sv kUsageKey = "\"usage\"";
constexpr sv kModelKey = "\"model\"";

/**
 * First occurrence of `needle` (2 bytes or more) in p[from, to), or `to`.
 * memchr on its second byte, then a compare: glibc's memmem sets up tables
 * on every call, slower here than the search itself; and the second byte
 * skips the quotes JSON is full of ("usage" is found by its u).
 */
size_t find(const uint8_t* p, size_t from, size_t to, sv needle) {
  const size_t k = needle.size();
  if (to < from + k) return to;
  const uint8_t second = static_cast<uint8_t>(needle[1]);
  const uint8_t* q = p + from + 1;
  const uint8_t* last = p + to - k + 1;  // the second byte of the last place the needle fits
  while (q <= last) {
    q = static_cast<const uint8_t*>(std::memchr(q, second, static_cast<size_t>(last - q) + 1));
    if (!q) return to;
    if (q[-1] == static_cast<uint8_t>(needle[0]) && std::memcmp(q + 1, needle.data() + 2, k - 2) == 0) return static_cast<size_t>(q - 1 - p);
    q++;
  }
  return to;
}

bool contains(const uint8_t* p, size_t from, size_t to, sv needle) {
  return find(p, from, to, needle) < to;
}

/** valueAt: a line end came before the colon or the value. */
constexpr size_t kLineEnd = SIZE_MAX - 1;

/**
 * stream-watch.ts valueAt: past blanks, a colon and blanks; n when it ran
 * out, SIZE_MAX when no colon, kLineEnd when a line ends first (the colon or
 * the value may start the next data line: the parse joins the lines, so
 * what follows is not read from the bytes).
 */
size_t valueAt(const uint8_t* p, size_t n, size_t i) {
  auto blank = [&](size_t k) { return k < n && (p[k] == ' ' || p[k] == '\t'); };
  while (blank(i)) i++;
  if (i < n && p[i] == '\n') return kLineEnd;
  if (i >= n || p[i] != ':') return SIZE_MAX;
  i++;
  while (blank(i)) i++;
  if (i < n && p[i] == '\n') return kLineEnd;
  return i;
}

/** A chat event whose "usage" is not null (an object: the usage chunk), or may not be (its value on another line). */
bool usageHit(const uint8_t* p, size_t n, size_t s, size_t e) {
  for (size_t i = find(p, s, e, kUsageKey); i < e; i = find(p, i + 1, e, kUsageKey)) {
    const size_t v = valueAt(p, n, i + kUsageKey.size());
    if (v == SIZE_MAX) continue;
    if (v == kLineEnd || !(v + 4 <= n && std::memcmp(p + v, "null", 4) == 0)) return true;
  }
  return false;
}

// The keys whose string values StreamTracker adds to the generated text
// (#chat: delta.content, tool_calls' function.arguments; #responses: delta;
// #messages: delta.text, partial_json, thinking), searched anywhere in the
// event: a key of the same name elsewhere only adds to the bound.
constexpr sv kChatText[] = {"\"content\"", "\"arguments\""};
constexpr sv kResponsesText[] = {"\"delta\""};
constexpr sv kMessagesText[] = {"\"text\"", "\"partial_json\"", "\"thinking\""};

/** The index of the closing quote of the JSON string opened at q (escapes skipped), or e when it is not closed before e. */
size_t stringEnd(const uint8_t* p, size_t q, size_t e) {
  for (size_t i = q + 1; i < e; i++) {
    if (p[i] == '\\') i++;
    else if (p[i] == '"') return i;
  }
  return e;
}

/**
 * An upper bound on the UTF-8 bytes of the text the event p[s, e) adds
 * (a stream's growing hold reads it, stream-hold.ts): the raw bytes of the
 * text keys' string values (an escape is never shorter than what it decodes
 * to). Where a key could be missed by its bytes, the event's own size: a
 * key spelled with \u escapes, or data split over several lines (a value may
 * then start on the next line, after its "data:").
 */
int32_t textBound(const uint8_t* p, size_t n, size_t s, size_t e, int endpoint) {
  int lines = (e - s >= 5 && std::memcmp(p + s, "data:", 5) == 0) ? 1 : 0;
  for (size_t i = find(p, s, e, "\ndata:"); i < e && lines < 2; i = find(p, i + 1, e, "\ndata:")) lines++;
  if (lines > 1 || contains(p, s, e, "\\u")) return static_cast<int32_t>(e - s);
  const sv* keys = kChatText;
  size_t count = 2;
  if (endpoint == SSE_RESPONSES) keys = kResponsesText, count = 1;
  if (endpoint == SSE_MESSAGES) keys = kMessagesText, count = 3;
  size_t sum = 0;
  for (size_t k = 0; k < count; k++) {
    for (size_t i = find(p, s, e, keys[k]); i < e; i = find(p, i + 1, e, keys[k])) {
      const size_t v = valueAt(p, n, i + keys[k].size());
      if (v == SIZE_MAX || v >= e || p[v] != '"') continue;
      sum += stringEnd(p, v, e) - (v + 1);
    }
  }
  return static_cast<int32_t>(sum);
}

/**
 * Whether p[q, e) (just past a string's closing quote) makes that string a
 * key: a colon after blanks, or the end of the line (a data line may end
 * between a key and its colon, the colon starting the next one: the parse
 * joins the lines; a value at a line's end is only parsed for nothing).
 */
bool keyFollows(const uint8_t* p, size_t q, size_t e) {
  while (q < e && (p[q] == ' ' || p[q] == '\t')) q++;
  return q < e && (p[q] == ':' || p[q] == '\n');
}

/**
 * An event p[s, e) with a JSON object key spelled with escapes
 * ({"us\u0061ge":…} is "usage" to JSON.parse): the byte searches for
 * "usage", "model" and the rest cannot see what it names, so the parser
 * reads it. Escapes in values (a text delta's \n, \", \u00e9) do not count:
 * only a string holding a backslash and followed by a colon. Walked line by
 * line (no JSON string holds a raw line feed), so a quote in another field's
 * line (event:, id:) cannot shift the walk off the strings of a data line.
 * Only called for an event holding a backslash (most hold none: one memchr says so).
 */
bool escapedKey(const uint8_t* p, size_t s, size_t e) {
  for (size_t i = s; i < e; i++) {
    if (p[i] != '"') continue;
    bool escaped = false;
    size_t q = i + 1;
    for (; q < e && p[q] != '"' && p[q] != '\n'; q++) {
      if (p[q] != '\\') continue;
      escaped = true;
      if (q + 1 < e && p[q + 1] != '\n') q++;  // the escaped byte (as stringEnd skips it); never a line's end
    }
    if (q >= e) return false;
    if (p[q] == '"' && escaped && keyFollows(p, q + 1, e)) return true;
    i = q;  // the closing quote, or the line feed that shows the quote opened no JSON string
  }
  return false;
}

/**
 * Responses and messages: whether StreamTracker may take the event's type
 * from its data's "type" (event || j.type), which escapes may spell
 * ("message\u005fstop") out of the trigger search's sight: no event: line,
 * a blank one, or several (the last counts: not worth finding). One event:
 * line naming a type is plain bytes, which the trigger search sees.
 */
bool typeFromData(const uint8_t* p, size_t s, size_t e) {
  bool named = false;
  for (size_t i = s, seen = 0; i < e; i++) {
    const void* nl = std::memchr(p + i, '\n', e - i);
    const size_t end = nl ? static_cast<size_t>(static_cast<const uint8_t*>(nl) - p) : e;
    if (end - i >= 6 && std::memcmp(p + i, "event:", 6) == 0) {
      if (seen++) return true;
      for (size_t k = i + 6; k < end && !named; k++) named = p[k] > ' ' && p[k] < 0x7f;  // not blank to trim() (other bytes may be: taken as blank)
    }
    i = end;
  }
  return !named;
}

}  // namespace

int scanSse(const uint8_t* p, size_t n, size_t from, int endpoint, int32_t* out, int max) {
  int count = 0;
  size_t s = from;
  while (s < n && count < max) {
    const size_t blank = find(p, s, n, "\n\n");
    if (blank >= n) break;
    const size_t e = blank + 2;
    int flags = 0;
    bool hit = false;
    for (sv t : kAlways) hit = hit || contains(p, s, e, t);
    if (!hit && endpoint == SSE_RESPONSES) for (sv t : kResponses) hit = hit || contains(p, s, e, t);
    if (!hit && endpoint == SSE_MESSAGES) for (sv t : kMessages) hit = hit || contains(p, s, e, t);
    if (!hit && endpoint == SSE_CHAT) hit = usageHit(p, n, s, e);
    const bool slash = std::memchr(p + s, '\\', e - s) != nullptr;
    if (!hit && slash && endpoint != SSE_CHAT) hit = typeFromData(p, s, e);
    // A key spelled with escapes may be a "usage" or a "model" (a second one, the one JSON.parse keeps): parsed,
    // and the model it names is not known by its bytes (the next event naming a model is parsed too).
    const bool keyEscaped = slash && escapedKey(p, s, e);
    if (hit || keyEscaped) flags |= SSE_HIT;
    if (keyEscaped) flags |= SSE_MODEL_ESCAPED;
    int32_t ms = -1, me = -1;
    const size_t m = keyEscaped ? e : find(p, s, e, kModelKey);
    if (m < e) {
      const size_t v = valueAt(p, n, m + kModelKey.size());
      // A second "model" (JSON.parse keeps the last), or a value on another line: the parser reads which.
      if (v == kLineEnd || find(p, m + 1, e, kModelKey) < e) {
        flags |= SSE_MODEL_ESCAPED;
      } else if (v != SIZE_MAX && v < e && p[v] == '"') {
        const void* q = std::memchr(p + v + 1, '"', n - (v + 1));
        const size_t to = q ? static_cast<size_t>(static_cast<const uint8_t*>(q) - p) : n;
        if (to >= e || std::memchr(p + v + 1, '\\', to - (v + 1))) {
          flags |= SSE_MODEL_ESCAPED;
        } else {
          flags |= SSE_MODEL;
          ms = static_cast<int32_t>(v + 1);
          me = static_cast<int32_t>(to);
        }
      }
    }
    int32_t* o = out + count * SSE_SLOTS;
    o[SSE_END] = static_cast<int32_t>(e);
    o[SSE_FLAGS] = flags;
    o[SSE_MODEL_S] = ms;
    o[SSE_MODEL_E] = me;
    o[SSE_TEXT] = textBound(p, n, s, e, endpoint);
    count++;
    s = e;
  }
  return count;
}

}  // namespace tg
