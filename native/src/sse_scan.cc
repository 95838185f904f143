#include "sse_scan.h"

#include <cstring>
#include <span>
#include <string_view>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tg {

namespace {

using sv = std::string_view;

// How an event is read: its end is found first (a memchr per line: an event
// has few lines), then its bytes are walked once (16 at a time where SSE2 is
// there, as on every x86-64), and each needle the rules name (the triggers,
// "usage", "model", the text keys, "\ndata:", "\u") is checked where its
// first byte is. The rules are byte searches, not JSON
// (stream-watch.ts searches the same bytes with indexOf): a needle counts
// wherever it starts, inside a string value, overlapping another one
// ("model"model" holds two), so the walk tries each needle at every byte
// that can start it, and never skips over a match. A search per needle cost
// about ten passes over each event, each a run of short memchr calls: the
// needles' bytes ('c', 'a', 'u', 'm', '"') are everywhere in chunk JSON.

// stream-watch.ts: ALWAYS ([DONE]) and TRIGGERS (keep in step).
constexpr sv kChatTriggers[] = {"[DONE]"};
constexpr sv kResponsesTriggers[] = {"[DONE]", "response.completed", "response.incomplete", "response.failed", "response.created"};
constexpr sv kMessagesTriggers[] = {"[DONE]", "message_start", "message_delta", "message_stop"};

/** What a quoted key found in an event counts for. */
enum class Role {
  /** Chat: the usage chunk (OpenAI sends `"usage":null` in every chunk once include_usage is on: only an object matters). */
  Usage,
  /** The model the event names: its first "model", and whether there is a second one. */
  Model,
  /** Its string value is text StreamTracker adds to the generated text (textBound). */
  Text,
};

struct Key {
  sv name;  // with its quotes: every key begins with '"'
  Role role;
};

// The keys whose string values StreamTracker adds to the generated text
// (#chat: delta.content, tool_calls' function.arguments; #responses: delta;
// #messages: delta.text, partial_json, thinking), searched anywhere in the
// event: a key of the same name elsewhere only adds to the bound.
constexpr sv kModelKey = "\"model\"";
constexpr Key kChatKeys[] = {{"\"usage\"", Role::Usage}, {kModelKey, Role::Model}, {"\"content\"", Role::Text}, {"\"arguments\"", Role::Text}};
constexpr Key kResponsesKeys[] = {{kModelKey, Role::Model}, {"\"delta\"", Role::Text}};
constexpr Key kMessagesKeys[] = {{kModelKey, Role::Model}, {"\"text\"", Role::Text}, {"\"partial_json\"", Role::Text}, {"\"thinking\"", Role::Text}};
/** Another endpoint code (stream-watch.ts passes none): the [DONE] trigger, chat's text keys, no usage. */
constexpr Key kOtherKeys[] = {{kModelKey, Role::Model}, {"\"content\"", Role::Text}, {"\"arguments\"", Role::Text}};

// What a byte may start, per endpoint (Endpoint::starts).
constexpr uint8_t kQuote = 1;      // a key
constexpr uint8_t kLineFeed = 2;   // "\ndata:"
constexpr uint8_t kBackslash = 4;  // an escape: "\u"
constexpr uint8_t kTrigger = 8;    // a trigger

/** Up to four distinct bytes, the rest filled with the first (four compares cover them, with no loop). */
struct ByteSet {
  uint8_t bytes[4] = {};
  int count = 0;
  constexpr void add(char c) {
    for (int k = 0; k < count; k++) if (bytes[k] == static_cast<uint8_t>(c)) return;
    bytes[count++] = static_cast<uint8_t>(c);  // past 4: not a constant expression, the build fails
    for (int k = count; k < 4; k++) bytes[k] = bytes[0];
  }
};

/** An endpoint's needles, and which of them each byte may start (most bytes start none). */
struct Endpoint {
  std::span<const sv> triggers;
  std::span<const Key> keys;
  uint8_t starts[256];
  /** kQuote for a byte that follows a key's opening quote (the quote is then worth a look), else 0. */
  uint8_t keyLetters[256];
  /** The same as byte sets (Starts16 compares 16 bytes with each): the triggers' first bytes, the keys' letters. */
  ByteSet triggerFirst, keyFirst;
};

constexpr Endpoint endpointOf(std::span<const sv> triggers, std::span<const Key> keys) {
  Endpoint ep{triggers, keys, {}, {}, {}, {}};
  ep.starts[static_cast<uint8_t>('"')] |= kQuote;
  ep.starts[static_cast<uint8_t>('\n')] |= kLineFeed;
  ep.starts[static_cast<uint8_t>('\\')] |= kBackslash;
  for (sv t : triggers) {
    ep.starts[static_cast<uint8_t>(t[0])] |= kTrigger;
    ep.triggerFirst.add(t[0]);
  }
  for (const Key& k : keys) {
    ep.keyLetters[static_cast<uint8_t>(k.name[1])] = kQuote;
    ep.keyFirst.add(k.name[1]);
  }
  return ep;
}

constexpr Endpoint kChat = endpointOf(kChatTriggers, kChatKeys);
constexpr Endpoint kResponses = endpointOf(kResponsesTriggers, kResponsesKeys);
constexpr Endpoint kMessages = endpointOf(kMessagesTriggers, kMessagesKeys);
constexpr Endpoint kOther = endpointOf(kChatTriggers, kOtherKeys);

const Endpoint& endpointFor(int endpoint) {
  switch (endpoint) {
    case SSE_CHAT: return kChat;
    case SSE_RESPONSES: return kResponses;
    case SSE_MESSAGES: return kMessages;
    default: return kOther;
  }
}

/** p[i, e) starts with `needle`. */
bool at(const uint8_t* p, size_t i, size_t e, sv needle) {
  return i <= e && needle.size() <= e - i && std::memcmp(p + i, needle.data(), needle.size()) == 0;
}

/**
 * The end of the event that starts at s: just past the first blank line
 * ("\n\n") at or after s, or SIZE_MAX when there is none before n.
 */
size_t eventEnd(const uint8_t* p, size_t s, size_t n) {
  for (size_t i = s; i + 1 < n; i++) {
    const void* nl = std::memchr(p + i, '\n', n - 1 - i);
    if (!nl) break;
    i = static_cast<size_t>(static_cast<const uint8_t*>(nl) - p);
    if (p[i + 1] == '\n') return i + 2;
  }
  return SIZE_MAX;
}

/** valueAt: a line end came before the colon or the value. */
constexpr size_t kLineEnd = SIZE_MAX - 1;

/**
 * stream-watch.ts valueAt: past blanks, a colon and blanks; SIZE_MAX when no
 * colon, kLineEnd when a line ends first (the colon or the value may start
 * the next data line: the parse joins the lines, so what follows is not read
 * from the bytes). Within the event p[.., e): it ends with a line feed.
 */
size_t valueAt(const uint8_t* p, size_t e, size_t i) {
  auto blank = [&](size_t k) { return k < e && (p[k] == ' ' || p[k] == '\t'); };
  while (blank(i)) i++;
  if (i < e && p[i] == '\n') return kLineEnd;
  if (i >= e || p[i] != ':') return SIZE_MAX;
  i++;
  while (blank(i)) i++;
  if (i < e && p[i] == '\n') return kLineEnd;
  return i;
}

/** The index of the closing quote of the JSON string opened at q (escapes skipped), or e when it is not closed before e. */
size_t stringEnd(const uint8_t* p, size_t q, size_t e) {
  for (size_t i = q + 1; i < e; i++) {
    if (p[i] == '\\') i++;
    else if (p[i] == '"') return i;
  }
  return e;
}

/** What the walk found in an event: what the searches of each rule would have found. */
struct Found {
  /** A trigger starts in the event, or (chat) a "usage" whose value is not null, or may not be (on another line). */
  bool trigger = false;
  bool backslash = false;
  /** "\u": a key may be spelled with escapes, out of the text keys' sight. */
  bool unicodeEscape = false;
  /** Lines starting with "data:". */
  int dataLines = 0;
  /** Where the first "model" starts (SIZE_MAX: none), and whether another one follows. */
  size_t model = SIZE_MAX;
  bool secondModel = false;
  /** The raw bytes of the text keys' string values (textBound). */
  size_t text = 0;
};

/** The key among ep's that starts at the quote p[i] (before the blank line: p[i + 2] is the event's), if any, into f. */
void readKey(const uint8_t* p, size_t i, size_t e, const Endpoint& ep, Found& f) {
  for (const Key& k : ep.keys) {
    if (p[i + 1] != k.name[1] || p[i + 2] != k.name[2] || !at(p, i, e, k.name)) continue;  // most candidates fail on a byte
    if (k.role == Role::Model) {
      if (f.model == SIZE_MAX) f.model = i;
      else f.secondModel = true;
      continue;
    }
    const size_t v = valueAt(p, e, i + k.name.size());
    if (k.role == Role::Usage) {
      // No colon: not a key. On another line: not read from the bytes.
      if (v != SIZE_MAX && (v == kLineEnd || !at(p, v, e, "null"))) f.trigger = true;
    } else if (v < e && p[v] == '"') {  // a string value on this line (not SIZE_MAX, not kLineEnd)
      f.text += stringEnd(p, v, e) - (v + 1);
    }
  }
}

/**
 * What p[i] may start (Endpoint::starts; 0 for most bytes): a quote only
 * when the byte after it may begin a key. Most quotes in chunk JSON open or
 * close other strings, and a branch taken at every quote is mispredicted
 * about as often as not (it was most of the walk's time).
 */
uint8_t startsAt(const uint8_t* p, size_t i, const Endpoint& ep) {
  return ep.starts[p[i]] & (ep.keyLetters[p[i + 1]] | kLineFeed | kBackslash | kTrigger);
}

/** The needles that may start at p[i] (c: startsAt), into f. */
void visit(const uint8_t* p, size_t i, size_t e, uint8_t c, const Endpoint& ep, Found& f) {
  if (c & kQuote) {
    readKey(p, i, e, ep, f);
  } else if (c & kLineFeed) {
    if (at(p, i, e, "\ndata:")) f.dataLines++;
  } else if (c & kBackslash) {
    f.backslash = true;
    if (p[i + 1] == 'u') f.unicodeEscape = true;
  }
  if (c & kTrigger) {
    for (sv t : ep.triggers) f.trigger = f.trigger || at(p, i, e, t);
  }
}

#if defined(__SSE2__)
/**
 * startsAt's test on 16 bytes at once: a chunk's 200-odd bytes hold about
 * ten that may start a needle, so the walk visits only those. The bytes
 * compared with are broadcast once per walk.
 */
class Starts16 {
 public:
  explicit Starts16(const Endpoint& ep) {
    for (int k = 0; k < 4; k++) {
      key_[k] = _mm_set1_epi8(static_cast<char>(ep.keyFirst.bytes[k]));
      trigger_[k] = _mm_set1_epi8(static_cast<char>(ep.triggerFirst.bytes[k]));
    }
  }

  /** Bit k set when startsAt(p, i + k) is not 0, for k < 16 (reads p[i, i + 17)). */
  uint32_t at(const uint8_t* p, size_t i) const {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i next = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 1));
    const __m128i keyNext = any(next, key_);
    const __m128i quoteKey = _mm_and_si128(_mm_cmpeq_epi8(bytes, quote_), keyNext);
    const __m128i other = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(bytes, lineFeed_), _mm_cmpeq_epi8(bytes, backslash_)), any(bytes, trigger_));
    return static_cast<uint32_t>(_mm_movemask_epi8(_mm_or_si128(quoteKey, other)));
  }

 private:
  /** Each byte of v that equals one of the four. */
  static __m128i any(__m128i v, const __m128i (&of)[4]) {
    return _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, of[0]), _mm_cmpeq_epi8(v, of[1])), _mm_or_si128(_mm_cmpeq_epi8(v, of[2]), _mm_cmpeq_epi8(v, of[3])));
  }

  const __m128i quote_ = _mm_set1_epi8('"');
  const __m128i lineFeed_ = _mm_set1_epi8('\n');
  const __m128i backslash_ = _mm_set1_epi8('\\');
  __m128i key_[4], trigger_[4];
};
#endif

/**
 * One walk over the event p[s, e) (e just past its blank line). Only its
 * bytes before the blank line can start a needle (none holds "\n\n"), and
 * each of those is followed by a byte of the event: p[i + 1] is read freely.
 * The bytes are visited in order (the first "model" is the one read).
 */
Found walk(const uint8_t* p, size_t s, size_t e, const Endpoint& ep) {
  Found f;
  if (at(p, s, e, "data:")) f.dataLines = 1;
  const size_t blank = e - 2;
  size_t i = s;
#if defined(__SSE2__)
  // 16 bytes at a time while the 17th (read for the last one's next) is the blank line's first at most, then byte by byte.
  const Starts16 starts16(ep);
  for (; i + 16 <= blank; i += 16) {
    for (uint32_t m = starts16.at(p, i); m != 0; m &= m - 1) {
      const size_t k = i + static_cast<size_t>(__builtin_ctz(m));
      visit(p, k, e, startsAt(p, k, ep), ep, f);
    }
  }
#endif
  for (; i < blank; i++) {
    const uint8_t c = startsAt(p, i, ep);
    if (c != 0) visit(p, i, e, c, ep, f);
  }
  return f;
}

/**
 * An upper bound on the UTF-8 bytes of the text the event p[s, e) adds
 * (a stream's growing hold reads it, stream-hold.ts): the raw bytes of the
 * text keys' string values (an escape is never shorter than what it decodes
 * to). Where a key could be missed by its bytes, the event's own size: a
 * key spelled with \u escapes, or data split over several lines (a value may
 * then start on the next line, after its "data:").
 */
int32_t textBound(const Found& f, size_t s, size_t e) {
  if (f.dataLines > 1 || f.unicodeEscape) return static_cast<int32_t>(e - s);
  return static_cast<int32_t>(f.text);
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
 * Only called for an event holding a backslash (most hold none: the walk says so).
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

/** The event p[s, e)'s slots (sse_scan.h), from what the walk found. */
void describe(const uint8_t* p, size_t s, size_t e, int endpoint, const Found& f, int32_t* o) {
  bool hit = f.trigger;
  if (!hit && f.backslash && endpoint != SSE_CHAT) hit = typeFromData(p, s, e);
  // A key spelled with escapes may be a "usage" or a "model" (a second one, the one JSON.parse keeps): parsed,
  // and the model it names is not known by its bytes (the next event naming a model is parsed too).
  const bool keyEscaped = f.backslash && escapedKey(p, s, e);
  int flags = 0;
  if (hit || keyEscaped) flags |= SSE_HIT;
  if (keyEscaped) flags |= SSE_MODEL_ESCAPED;
  int32_t ms = -1, me = -1;
  if (!keyEscaped && f.model != SIZE_MAX) {
    const size_t v = valueAt(p, e, f.model + kModelKey.size());
    // A second "model" (JSON.parse keeps the last), or a value on another line: the parser reads which.
    if (v == kLineEnd || f.secondModel) {
      flags |= SSE_MODEL_ESCAPED;
    } else if (v < e && p[v] == '"') {
      const void* q = std::memchr(p + v + 1, '"', e - (v + 1));
      const size_t to = q ? static_cast<size_t>(static_cast<const uint8_t*>(q) - p) : e;
      if (to >= e || std::memchr(p + v + 1, '\\', to - (v + 1))) {
        flags |= SSE_MODEL_ESCAPED;
      } else {
        flags |= SSE_MODEL;
        ms = static_cast<int32_t>(v + 1);
        me = static_cast<int32_t>(to);
      }
    }
  }
  o[SSE_END] = static_cast<int32_t>(e);
  o[SSE_FLAGS] = flags;
  o[SSE_MODEL_S] = ms;
  o[SSE_MODEL_E] = me;
  o[SSE_TEXT] = textBound(f, s, e);
}

}  // namespace

int scanSse(const uint8_t* p, size_t n, size_t from, int endpoint, int32_t* out, int max) {
  const Endpoint& ep = endpointFor(endpoint);
  int count = 0;
  size_t s = from;
  while (s < n && count < max) {
    const size_t e = eventEnd(p, s, n);
    if (e == SIZE_MAX) break;
    describe(p, s, e, endpoint, walk(p, s, e, ep), out + count * SSE_SLOTS);
    count++;
    s = e;
  }
  return count;
}

}  // namespace tg
