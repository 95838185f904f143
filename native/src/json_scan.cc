#include "json_scan.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <unordered_set>

#if defined(__SSE2__) && !defined(TG_SCALAR)
#include <emmintrin.h>
#define TG_SSE2 1
#endif

#include "text_tokens.h"

namespace tg {
namespace {

// prompt-estimate.ts: quarter tokens per object (chat-template overhead), the depth limit.
constexpr int64_t OBJECT_OVERHEAD = 4 * Q;
constexpr size_t MAX_DEPTH = 64;
// Frames with more keys than this check duplicates in a hash set instead of a linear scan.
constexpr uint32_t LINEAR_KEYS = 24;

// Known top-level keys.
enum TopKey {
  T_OTHER = 0, T_MODEL, T_STREAM, T_MAX_TOKENS, T_MAX_COMPLETION_TOKENS, T_MAX_OUTPUT_TOKENS, T_N, T_BEST_OF,
  T_MESSAGES, T_INPUT, T_PROMPT, T_STREAM_OPTIONS, T_PREVIOUS_RESPONSE_ID, T_CONVERSATION, T_MCP_SERVERS,
  T_TOOLS, T_PREDICTION, T_USAGE,
};
struct Named { const char* name; TopKey key; };
const Named TOP_KEYS[] = {
  {"model", T_MODEL}, {"stream", T_STREAM}, {"max_tokens", T_MAX_TOKENS},
  {"max_completion_tokens", T_MAX_COMPLETION_TOKENS}, {"max_output_tokens", T_MAX_OUTPUT_TOKENS},
  {"n", T_N}, {"best_of", T_BEST_OF}, {"messages", T_MESSAGES}, {"input", T_INPUT}, {"prompt", T_PROMPT},
  {"stream_options", T_STREAM_OPTIONS}, {"previous_response_id", T_PREVIOUS_RESPONSE_ID},
  {"conversation", T_CONVERSATION}, {"mcp_servers", T_MCP_SERVERS}, {"tools", T_TOOLS},
  {"prediction", T_PREDICTION}, {"usage", T_USAGE},
};

// Keys that matter below the top level.
enum NestedKey { N_OTHER = 0, N_TYPE, N_INCLUDE_USAGE };

// What a container is, for the fields and the estimate's special cases; in answers, the top-level
// "usage" object and its detail objects.
enum Ctx : uint8_t { C_NONE = 0, C_TOP, C_STREAM_OPTIONS, C_TOOLS, C_TOOL, C_TOKEN_IDS, C_TOKEN_IDS_INNER, C_USAGE, C_USAGE_DETAIL };

// Keys of an answer's usage object that src/protocols/usage-from-body.ts reads (every protocol's):
// a count goes to its slot; a detail object holds one count. Frame::key holds the index in USAGE_KEYS + 1.
struct UsageKey { const char* name; Ctx in; int parent; int slot; };
constexpr int U_PROMPT_DETAILS = 7, U_INPUT_DETAILS = 8, U_CACHE_CREATION = 9;  // indexes + 1 of the detail objects below
const UsageKey USAGE_KEYS[] = {
  {"prompt_tokens", C_USAGE, 0, S_U_PROMPT},
  {"completion_tokens", C_USAGE, 0, S_U_COMPLETION},
  {"input_tokens", C_USAGE, 0, S_U_INPUT},
  {"output_tokens", C_USAGE, 0, S_U_OUTPUT},
  {"cache_read_input_tokens", C_USAGE, 0, S_U_CACHE_READ},
  {"cache_creation_input_tokens", C_USAGE, 0, S_U_CACHE_CREATION},
  {"prompt_tokens_details", C_USAGE, 0, -1},
  {"input_tokens_details", C_USAGE, 0, -1},
  {"cache_creation", C_USAGE, 0, -1},
  {"cached_tokens", C_USAGE_DETAIL, U_PROMPT_DETAILS, S_U_PROMPT_CACHED},
  {"cached_tokens", C_USAGE_DETAIL, U_INPUT_DETAILS, S_U_INPUT_CACHED},
  {"ephemeral_1h_input_tokens", C_USAGE_DETAIL, U_CACHE_CREATION, S_U_CACHE_1H},
};
constexpr int USAGE_KEY_COUNT = sizeof USAGE_KEYS / sizeof USAGE_KEYS[0];

const char* const MEDIA_TYPES[] = {"image_url", "input_image", "image", "input_audio", "file", "input_file", "document"};
const char* const FETCHING_TOOLS[] = {"mcp", "file_search", "web_search", "web_fetch"};

std::vector<std::u16string> controlKeys;

bool equalsAscii(const char16_t* s, size_t n, const char* lit) {
  size_t i = 0;
  for (; i < n; i++) {
    if (!lit[i] || s[i] != static_cast<unsigned char>(lit[i])) return false;
  }
  return lit[i] == 0;
}

bool startsWithAscii(const char16_t* s, size_t n, const char* lit) {
  size_t i = 0;
  for (; lit[i]; i++) {
    if (i >= n || s[i] != static_cast<unsigned char>(lit[i])) return false;
  }
  return true;
}

inline bool isWs(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
inline int hexVal(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/**
 * The first index at or after i (below n) of a byte that ends a run of plain
 * string content: '"', '\\', a control byte (< 0x20) or a non-ASCII one
 * (>= 0x80); n when there is none. Everything else needs no look inside a
 * string (nor in the estimate's validation), so 16 bytes are skipped at once:
 * one signed compare catches both control and non-ASCII bytes (they are the
 * bytes below 0x20 read as int8), two equality compares the quote and the
 * backslash. TG_SCALAR (or a target without SSE2) takes the byte loop, which
 * must stop at exactly the same place.
 */
inline size_t skipPlain(const uint8_t* p, size_t i, size_t n) {
#ifdef TG_SSE2
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
  while (i + 16 <= n) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)), _mm_cmplt_epi8(v, space));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(stop));
    if (mask) return i + static_cast<size_t>(__builtin_ctz(mask));
    i += 16;
  }
#endif
  while (i < n) {
    const uint8_t c = p[i];
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) return i;
    i++;
  }
  return n;
}

/** Length of String(v) in JavaScript (Number::toString), for the estimate's digits of a number. */
size_t jsNumberLength(double v) {
  if (v == 0) return 1;
  if (std::isinf(v)) return v < 0 ? 9 : 8;
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, std::fabs(v), std::chars_format::scientific);
  int k = 0;
  const char* e = buf;
  for (; e < r.ptr && *e != 'e'; e++) if (*e >= '0' && *e <= '9') k++;
  const int exp = std::atoi(std::string(static_cast<const char*>(e + 1), static_cast<const char*>(r.ptr)).c_str());
  const int n = exp + 1;
  size_t len;
  if (k <= n && n <= 21) len = n;
  else if (0 < n && n <= 21) len = k + 1;
  else if (-6 < n && n <= 0) len = 2 - n + k;
  else {
    const int x = std::abs(n - 1);
    len = (k == 1 ? 1 : k + 1) + 2 + (x >= 100 ? 3 : x >= 10 ? 2 : 1);
  }
  return len + (v < 0 ? 1 : 0);
}

struct Frame {
  bool object;
  Ctx ctx;
  uint32_t keysFrom;  // first of this frame's entries in Scanner::keys
  uint32_t nkeys;
  size_t openAt;
  int key;            // TopKey in the body object, NestedKey below it: the key of the value being read
  std::unique_ptr<std::unordered_set<std::u16string>> big;
};

struct KeyEntry { uint32_t off, len, hash; };

class Scanner {
 public:
  Scanner(const uint8_t* p, size_t n, double* out, bool request) : p_(p), n_(n), out_(out), request_(request) {}

  int run(std::u16string& model) {
    for (int s = 0; s < S_COUNT; s++) out_[s] = 0;
    out_[S_TOOL_TYPE_S] = out_[S_TOOL_TYPE_E] = -1;
    clearUsage();
    model_ = &model;
    int st = parse();
    if (st == ST_OK && tooDeep_ && !(flags_ & F_MEDIA)) st = ST_TOO_DEEP;
    out_[S_STATUS] = st;
    out_[S_FLAGS] = flags_;
    out_[S_Q_VERIFIED] = static_cast<double>(total_.verified);
    out_[S_Q_UNVERIFIED] = static_cast<double>(total_.unverified);
    out_[S_PRED_Q_VERIFIED] = static_cast<double>(pred_.verified);
    out_[S_PRED_Q_UNVERIFIED] = static_cast<double>(pred_.unverified);
    if (st != ST_OK) out_[S_ERROR_AT] = static_cast<double>(i_);
    out_[S_USAGE_PLAIN] = usagePlain_ ? 1 : 0;
    return st;
  }

 private:
  const uint8_t* p_;
  size_t n_;
  double* out_;
  bool request_;
  size_t i_ = 0;
  std::vector<Frame> stack_;
  size_t depth_ = 0;  // frames in use (stack_ keeps its capacity)
  std::vector<KeyEntry> keys_;
  std::u16string arena_;
  std::u16string units_;  // the current string's code units
  std::u16string* model_ = nullptr;
  int flags_ = 0;
  bool tooDeep_ = false;
  Quarters total_, pred_;
  // The top-level value being read.
  bool walked_ = false, inPrediction_ = false;
  int topKey_ = T_OTHER;
  size_t topStart_ = 0;
  // A stream_options member being read.
  size_t memberStart_ = 0;
  // The usage object being read (answers): its counts are plain so far; which of USAGE_KEYS it has had.
  bool usagePlain_ = false;
  uint32_t usageSeen_ = 0;

  void ws() { while (i_ < n_ && isWs(p_[i_])) i_++; }

  /** A top-level "usage" object begins (the last one counts, as JSON.parse keeps the last). */
  void clearUsage() {
    for (int s = S_U_PROMPT; s <= S_U_CACHE_1H; s++) out_[s] = -1;
    usageSeen_ = 0;
    usagePlain_ = false;
  }

  /** Index + 1 in USAGE_KEYS of the plain key p[from, to) of frame f (a usage or detail object); 0 when it is none of them. */
  int usageKeyOf(const Frame& f, size_t from, size_t to) const {
    const int parent = f.ctx == C_USAGE_DETAIL ? stack_[depth_ - 2].key : 0;
    for (int k = 0; k < USAGE_KEY_COUNT; k++) {
      const UsageKey& u = USAGE_KEYS[k];
      if (u.in == f.ctx && u.parent == parent && std::strlen(u.name) == to - from && std::memcmp(p_ + from, u.name, to - from) == 0) return k + 1;
    }
    return 0;
  }

  void charge(int64_t q) {
    if (!walked_) return;
    total_.add(q);
    if (inPrediction_) pred_.add(q);
  }
  void charge(const Quarters& q) {
    if (!walked_) return;
    total_.add(q);
    if (inPrediction_) pred_.add(q);
  }

  Frame& push(bool object, Ctx ctx) {
    if (depth_ == stack_.size()) stack_.emplace_back();
    Frame& f = stack_[depth_++];
    f.object = object;
    f.ctx = ctx;
    f.keysFrom = static_cast<uint32_t>(keys_.size());
    f.nkeys = 0;
    f.openAt = i_;
    f.key = 0;
    f.big.reset();
    return f;
  }

  void pop() {
    Frame& f = stack_[--depth_];
    if (f.object && request_) {
      if (f.keysFrom < keys_.size()) arena_.resize(keys_[f.keysFrom].off);
      keys_.resize(f.keysFrom);
      f.big.reset();
    }
  }

  /**
   * Reads a string whose opening quote is at i_; leaves i_ after the closing
   * quote. `units` (when asked) receives its UTF-16 code units. False when it
   * is not a valid JSON string.
   */
  bool string(bool wantUnits, size_t& from, size_t& to, bool& plain) {
    size_t i = ++i_;
    from = i;
    plain = true;
    while (true) {
      i = skipPlain(p_, i, n_);
      if (i >= n_) { i_ = i; return false; }
      const uint8_t c = p_[i];
      if (c == '"') break;
      if (c == '\\') {
        plain = false;
        if (i + 1 >= n_) { i_ = i; return false; }
        const uint8_t e = p_[i + 1];
        if (e == 'u') {
          if (i + 5 >= n_ || hexVal(p_[i + 2]) < 0 || hexVal(p_[i + 3]) < 0 || hexVal(p_[i + 4]) < 0 || hexVal(p_[i + 5]) < 0) { i_ = i; return false; }
          i += 6;
        } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
          i += 2;
        } else { i_ = i; return false; }
        continue;
      }
      if (c < 0x20) { i_ = i; return false; }
      // c >= 0x80 (skipPlain stops at nothing else)
      plain = false;
      if (!request_) { i++; continue; }  // answers: bytes as Buffer#toString reads them (bad ones become U+FFFD)
      // Strict UTF-8 (RFC 3629), as the fatal TextDecoder.
      size_t len;
      uint8_t lo = 0x80, hi = 0xbf;
      if (c >= 0xc2 && c <= 0xdf) len = 2;
      else if (c >= 0xe0 && c <= 0xef) { len = 3; if (c == 0xe0) lo = 0xa0; if (c == 0xed) hi = 0x9f; }
      else if (c >= 0xf0 && c <= 0xf4) { len = 4; if (c == 0xf0) lo = 0x90; if (c == 0xf4) hi = 0x8f; }
      else { i_ = i; return false; }
      if (i + len > n_) { i_ = i; return false; }
      if (p_[i + 1] < lo || p_[i + 1] > hi) { i_ = i; return false; }
      for (size_t k = 2; k < len; k++) if (p_[i + k] < 0x80 || p_[i + k] > 0xbf) { i_ = i; return false; }
      i += len;
    }
    to = i;
    i_ = i + 1;
    if (wantUnits) decode(from, to, plain);
    return true;
  }

  /** The UTF-16 code units of the (valid) string content p[from, to). */
  void decode(size_t from, size_t to, bool plain) {
    units_.clear();
    if (plain) {
      units_.assign(p_ + from, p_ + to);
      return;
    }
    for (size_t k = from; k < to;) {
      const uint8_t c = p_[k];
      if (c == '\\') {
        const uint8_t e = p_[k + 1];
        char16_t u;
        switch (e) {
          case 'b': u = 8; break;
          case 'f': u = 12; break;
          case 'n': u = 10; break;
          case 'r': u = 13; break;
          case 't': u = 9; break;
          case 'u':
            u = static_cast<char16_t>((hexVal(p_[k + 2]) << 12) | (hexVal(p_[k + 3]) << 8) | (hexVal(p_[k + 4]) << 4) | hexVal(p_[k + 5]));
            k += 4;
            break;
          default: u = e;
        }
        units_.push_back(u);
        k += 2;
      } else if (c < 0x80) {
        units_.push_back(c);
        k++;
      } else {
        uint32_t cp;
        size_t len;
        if (c < 0xe0) { cp = c & 0x1f; len = 2; }
        else if (c < 0xf0) { cp = c & 0x0f; len = 3; }
        else { cp = c & 0x07; len = 4; }
        for (size_t j = 1; j < len; j++) cp = (cp << 6) | (p_[k + j] & 0x3f);
        if (cp >= 0x10000) {
          cp -= 0x10000;
          units_.push_back(static_cast<char16_t>(0xd800 + (cp >> 10)));
          units_.push_back(static_cast<char16_t>(0xdc00 + (cp & 0x3ff)));
        } else {
          units_.push_back(static_cast<char16_t>(cp));
        }
        k += len;
      }
    }
  }

  /** The estimate of the (valid) string content p[from, to), read from the bytes as they are. */
  void chargeText(size_t from, size_t to) {
    Quarters q;
    jsonTextQuarters(p_ + from, to - from, q);
    charge(q);
  }

  /** A number at i_: validates it, leaves i_ after it, returns its literal's extent. */
  bool number(size_t& from) {
    size_t i = from = i_;
    if (p_[i] == '-') i++;
    if (i >= n_) { i_ = i; return false; }
    if (p_[i] == '0') i++;
    else if (p_[i] >= '1' && p_[i] <= '9') { while (i < n_ && p_[i] >= '0' && p_[i] <= '9') i++; }
    else { i_ = i; return false; }
    if (i < n_ && p_[i] == '.') {
      i++;
      if (i >= n_ || p_[i] < '0' || p_[i] > '9') { i_ = i; return false; }
      while (i < n_ && p_[i] >= '0' && p_[i] <= '9') i++;
    }
    if (i < n_ && (p_[i] == 'e' || p_[i] == 'E')) {
      i++;
      if (i < n_ && (p_[i] == '+' || p_[i] == '-')) i++;
      if (i >= n_ || p_[i] < '0' || p_[i] > '9') { i_ = i; return false; }
      while (i < n_ && p_[i] >= '0' && p_[i] <= '9') i++;
    }
    i_ = i;
    return true;
  }

  double numberValue(size_t from, size_t to) const {
    std::string lit(reinterpret_cast<const char*>(p_ + from), to - from);
    return std::strtod(lit.c_str(), nullptr);
  }

  /** Characters of String(Number(literal)). */
  size_t numberLength(size_t from, size_t to) const {
    // A plain integer of at most 15 digits prints as written.
    size_t k = from;
    if (p_[k] == '-') k++;
    bool plainInt = p_[k] != '0' && to - k <= 15;
    for (size_t j = k; plainInt && j < to; j++) plainInt = p_[j] >= '0' && p_[j] <= '9';
    if (plainInt) return to - from;
    return jsNumberLength(numberValue(from, to));
  }

  bool literal(const char* word) {
    const size_t len = std::strlen(word);
    if (i_ + len > n_ || std::memcmp(p_ + i_, word, len) != 0) return false;
    i_ += len;
    return true;
  }

  /** Adds a key to the object on top; false when the object already has it. */
  bool addKey(Frame& f) {
    uint32_t h = 0x811c9dc5u;
    for (char16_t u : units_) h = (h ^ u) * 0x01000193u;
    f.nkeys++;
    if (f.big) return f.big->insert(units_).second;
    for (uint32_t k = f.keysFrom; k < keys_.size(); k++) {
      const KeyEntry& e = keys_[k];
      if (e.hash == h && e.len == units_.size() && arena_.compare(e.off, e.len, units_) == 0) return false;
    }
    keys_.push_back({static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(units_.size()), h});
    arena_ += units_;
    if (f.nkeys > LINEAR_KEYS) {
      f.big = std::make_unique<std::unordered_set<std::u16string>>();
      for (uint32_t k = f.keysFrom; k < keys_.size(); k++) f.big->insert(arena_.substr(keys_[k].off, keys_[k].len));
    }
    return true;
  }

  int topKeyOf() const {
    for (const Named& k : TOP_KEYS) if (equalsAscii(units_.data(), units_.size(), k.name)) return k.key;
    return T_OTHER;
  }

  bool isControl() const {
    for (const auto& k : controlKeys) if (k == units_) return true;
    return false;
  }

  // The kind and offsets of a top-level value that Tollgate reads.
  void recordTop(int kind, size_t end, double value = 0) {
    const double s = static_cast<double>(topStart_), e = static_cast<double>(end);
    switch (topKey_) {
      case T_MODEL: out_[S_MODEL_KIND] = kind; out_[S_MODEL_S] = s; out_[S_MODEL_E] = e; break;
      case T_STREAM: out_[S_STREAM_KIND] = kind; break;
      case T_MAX_TOKENS: out_[S_CAP0_KIND] = kind; out_[S_CAP0_VAL] = value; out_[S_CAP0_S] = s; out_[S_CAP0_E] = e; break;
      case T_MAX_COMPLETION_TOKENS: out_[S_CAP1_KIND] = kind; out_[S_CAP1_VAL] = value; out_[S_CAP1_S] = s; out_[S_CAP1_E] = e; break;
      case T_MAX_OUTPUT_TOKENS: out_[S_CAP2_KIND] = kind; out_[S_CAP2_VAL] = value; out_[S_CAP2_S] = s; out_[S_CAP2_E] = e; break;
      case T_N: out_[S_N_KIND] = kind; out_[S_N_VAL] = value; break;
      case T_BEST_OF: out_[S_BEST_OF_KIND] = kind; out_[S_BEST_OF_VAL] = value; break;
      case T_MESSAGES: out_[S_MESSAGES_KIND] = kind; break;
      case T_INPUT: out_[S_INPUT_KIND] = kind; break;
      case T_PROMPT: out_[S_PROMPT_KIND] = kind; break;
      case T_STREAM_OPTIONS: out_[S_SO_KIND] = kind; out_[S_SO_S] = s; out_[S_SO_E] = e; break;
      case T_PREVIOUS_RESPONSE_ID: out_[S_PREV_KIND] = kind; break;
      case T_CONVERSATION: out_[S_CONV_KIND] = kind; break;
      case T_MCP_SERVERS: out_[S_MCP_KIND] = kind; break;
      case T_PREDICTION: out_[S_PRED_KIND] = kind; break;
      case T_USAGE: out_[S_USAGE_KIND] = kind; out_[S_USAGE_S] = s; out_[S_USAGE_E] = e; break;
      default: break;
    }
  }

  /** A value ended at i_ (its container, if any, is already popped). */
  void valueEnded(int kind, double value = 0) {
    if (depth_ == 1 && stack_[0].object) recordTop(kind, i_, value);
    else if (depth_ == 2 && stack_[1].ctx == C_STREAM_OPTIONS && stack_[1].key == N_INCLUDE_USAGE) {
      out_[S_IU_KIND] = kind;
      out_[S_IU_S] = static_cast<double>(memberStart_);
      out_[S_IU_E] = static_cast<double>(i_);
    }
  }

  /** True when the array at i_ (its '[') holds token ids: its first element is a number, or an array whose first is. */
  bool tokenIdsAhead() const {
    size_t k = i_ + 1;
    while (k < n_ && isWs(p_[k])) k++;
    if (k < n_ && p_[k] == '[') {
      k++;
      while (k < n_ && isWs(p_[k])) k++;
    }
    return k < n_ && (p_[k] == '-' || (p_[k] >= '0' && p_[k] <= '9'));
  }

  /** After the opening bracket of the container just pushed: true (and closed) when it is empty. */
  bool emptyContainer(uint8_t close, int kind) {
    i_++;
    ws();
    if (i_ >= n_ || p_[i_] != close) return false;
    i_++;
    pop();
    valueEnded(kind);
    return true;
  }

  int parse() {
    if (request_ && n_ >= 3 && p_[0] == 0xef && p_[1] == 0xbb && p_[2] == 0xbf) i_ = 3;  // TextDecoder drops a BOM
    ws();
    if (request_ && (i_ >= n_ || p_[i_] != '{')) return ST_NOT_OBJECT;
    out_[S_OBJ_OPEN] = static_cast<double>(i_);
    // States: a value is expected, a key is expected, a value just ended.
    enum { VALUE, KEY, AFTER } state = VALUE;
    while (true) {
      if (state == VALUE) {
        ws();
        if (i_ >= n_) return ST_SYNTAX;
        Frame* parent = depth_ ? &stack_[depth_ - 1] : nullptr;
        if (depth_ == 1 && parent->object) {
          topStart_ = i_;
        } else if (depth_ == 2 && parent->ctx == C_STREAM_OPTIONS) {
          memberStart_ = i_;
        }
        const Ctx pctx = parent ? parent->ctx : C_NONE;
        // A count of the usage object must be a plain integer, a detail an object; anything else is left to JSON.parse.
        int usageSlot = -1;
        if ((pctx == C_USAGE || pctx == C_USAGE_DETAIL) && parent->key) {
          usageSlot = USAGE_KEYS[parent->key - 1].slot;
          if (usageSlot >= 0 ? !(p_[i_] >= '0' && p_[i_] <= '9') : p_[i_] != '{') usagePlain_ = false;
        }
        // This node's depth in the estimate's walk (the body's values are at 0).
        if (walked_ && depth_ >= 1 && depth_ - 1 > MAX_DEPTH) tooDeep_ = true;
        const uint8_t c = p_[i_];
        if (c == '{') {
          Ctx ctx = C_NONE;
          if (!depth_) ctx = C_TOP;
          else if (depth_ == 1 && topKey_ == T_STREAM_OPTIONS && request_) ctx = C_STREAM_OPTIONS;
          else if (depth_ == 1 && topKey_ == T_USAGE && !request_) { ctx = C_USAGE; clearUsage(); usagePlain_ = true; }
          else if (pctx == C_USAGE && parent->key && usageSlot < 0) ctx = C_USAGE_DETAIL;
          else if (pctx == C_TOOLS) ctx = C_TOOL;
          charge(depth_ ? OBJECT_OVERHEAD : 0);
          push(true, ctx);
          state = emptyContainer('}', K_OBJECT) ? AFTER : KEY;
          continue;
        }
        if (c == '[') {
          Ctx ctx = C_NONE;
          int64_t q = Q;
          if (depth_ == 1 && (topKey_ == T_INPUT || topKey_ == T_PROMPT) && tokenIdsAhead()) { ctx = C_TOKEN_IDS; q = 0; }
          else if (pctx == C_TOKEN_IDS) { ctx = C_TOKEN_IDS_INNER; q = 0; }
          else if (depth_ == 1 && topKey_ == T_TOOLS) ctx = C_TOOLS;
          charge(q);
          const bool top = depth_ == 1;
          push(false, ctx);
          const bool empty = emptyContainer(']', K_ARRAY);
          if (top && topKey_ == T_MCP_SERVERS && !empty) out_[S_MCP_NONEMPTY] = 1;
          state = empty ? AFTER : VALUE;
          continue;
        }
        if (c == '"') {
          const bool modelValue = request_ && depth_ == 1 && topKey_ == T_MODEL;
          const bool typeValue = request_ && parent && parent->object && parent->key == N_TYPE && depth_ >= 2;
          size_t from, to;
          bool plain;
          if (!string(false, from, to, plain)) return ST_SYNTAX;
          if (modelValue || typeValue) decode(from, to, plain);
          if (walked_) { chargeText(from, to); charge(Q); }
          if (modelValue) *model_ = units_;
          if (typeValue) {
            for (const char* m : MEDIA_TYPES) if (equalsAscii(units_.data(), units_.size(), m)) flags_ |= F_MEDIA;
            if (parent->ctx == C_TOOL && out_[S_TOOL_TYPE_S] < 0) {
              for (const char* t : FETCHING_TOOLS) {
                if (startsWithAscii(units_.data(), units_.size(), t)) {
                  out_[S_TOOL_TYPE_S] = static_cast<double>(from - 1);
                  out_[S_TOOL_TYPE_E] = static_cast<double>(i_);
                }
              }
            }
          }
          valueEnded(K_STRING);
          state = AFTER;
          continue;
        }
        if (c == '-' || (c >= '0' && c <= '9')) {
          size_t from;
          if (!number(from)) return ST_SYNTAX;
          if (pctx == C_TOKEN_IDS || pctx == C_TOKEN_IDS_INNER) charge(Q);
          else if (walked_) charge(static_cast<int64_t>(std::max<size_t>(1, numberLength(from, i_))) * Q + Q);
          double value = 0;
          if (request_ && depth_ == 1) {
            switch (topKey_) {
              case T_MAX_TOKENS: case T_MAX_COMPLETION_TOKENS: case T_MAX_OUTPUT_TOKENS: case T_N: case T_BEST_OF:
                value = numberValue(from, i_);
                break;
              default: break;
            }
          }
          if (usageSlot >= 0) {
            // Digits only, and few enough to be exact: the number JSON.parse reads, an integer.
            bool digits = i_ - from <= 15;
            for (size_t k = from; digits && k < i_; k++) digits = p_[k] >= '0' && p_[k] <= '9';
            if (digits) out_[usageSlot] = numberValue(from, i_);
            else usagePlain_ = false;
          }
          valueEnded(K_NUMBER, value);
          state = AFTER;
          continue;
        }
        int kind;
        if (literal("true")) kind = K_TRUE;
        else if (literal("false")) kind = K_FALSE;
        else if (literal("null")) kind = K_NULL;
        else return ST_SYNTAX;
        charge(Q);
        valueEnded(kind);
        state = AFTER;
        continue;
      }

      if (state == KEY) {
        ws();
        if (i_ >= n_ || p_[i_] != '"') return ST_SYNTAX;
        Frame& f = stack_[depth_ - 1];
        size_t from, to;
        bool plain;
        if (!string(request_, from, to, plain)) return ST_SYNTAX;
        if (request_) {
          if (!addKey(f)) { i_ = from - 1; return ST_DUPLICATE; }
          if (depth_ == 1) {
            topKey_ = topKeyOf();
            walked_ = !isControl();
            inPrediction_ = topKey_ == T_PREDICTION;
            if (topKey_ == T_USAGE) topKey_ = T_OTHER;
            f.key = topKey_;
          } else {
            f.key = equalsAscii(units_.data(), units_.size(), "type") ? N_TYPE
                  : equalsAscii(units_.data(), units_.size(), "include_usage") ? N_INCLUDE_USAGE : N_OTHER;
            if (equalsAscii(units_.data(), units_.size(), "cache_control")) flags_ |= F_CACHE_CONTROL;
            if (f.ctx == C_STREAM_OPTIONS) out_[S_SO_KEYS] = f.nkeys;
          }
          // A key below the top level is input (the walk charges keys; the body's own keys are not).
          if (walked_ && depth_ > 1) { chargeText(from, to); charge(Q); }
        } else if (f.ctx == C_USAGE || f.ctx == C_USAGE_DETAIL) {
          // A key spelled with an escape may still name a count, and one named twice keeps its last value: JSON.parse reads those.
          f.key = plain ? usageKeyOf(f, from, to) : 0;
          if (!plain) usagePlain_ = false;
          if (f.key) {
            const uint32_t bit = 1u << f.key;
            if (usageSeen_ & bit) usagePlain_ = false;
            usageSeen_ |= bit;
          }
        } else if (depth_ == 1) {
          // Answers: only the top-level "model" and "usage" (the last of each, as JSON.parse keeps).
          size_t len = to - from;
          topKey_ = len == 5 && plain && std::memcmp(p_ + from, "model", 5) == 0 ? T_MODEL
                  : len == 5 && plain && std::memcmp(p_ + from, "usage", 5) == 0 ? T_USAGE : T_OTHER;
          bool ascii = true;
          for (size_t k = from; k < to && ascii; k++) ascii = p_[k] < 0x80;
          if (!plain && ascii) {
            decode(from, to, plain);
            topKey_ = topKeyOf();
            if (topKey_ != T_MODEL && topKey_ != T_USAGE) topKey_ = T_OTHER;
          }
        }
        ws();
        if (i_ >= n_ || p_[i_] != ':') return ST_SYNTAX;
        i_++;
        state = VALUE;
        continue;
      }

      // AFTER a value
      if (!depth_) {
        ws();
        return i_ == n_ ? ST_OK : ST_SYNTAX;
      }
      ws();
      if (i_ >= n_) return ST_SYNTAX;
      Frame& f = stack_[depth_ - 1];
      const uint8_t c = p_[i_];
      if (c == ',') {
        i_++;
        state = f.object ? KEY : VALUE;
        continue;
      }
      if (c == (f.object ? '}' : ']')) {
        const bool object = f.object;
        if (depth_ == 1) { walked_ = false; inPrediction_ = false; }
        i_++;
        pop();
        if (depth_ == 0) { state = AFTER; continue; }
        valueEnded(object ? K_OBJECT : K_ARRAY);
        state = AFTER;
        continue;
      }
      return ST_SYNTAX;
    }
  }
};

}  // namespace

void loadControlKeys(const std::vector<std::string>& keys) {
  controlKeys.clear();
  for (const auto& k : keys) controlKeys.emplace_back(k.begin(), k.end());
}

int scanRequest(const uint8_t* p, size_t n, double* out, std::u16string& model) {
  Scanner s(p, n, out, true);
  return s.run(model);
}

int scanAnswer(const uint8_t* p, size_t n, double* out) {
  std::u16string unused;
  Scanner s(p, n, out, false);
  return s.run(unused);
}

}  // namespace tg
