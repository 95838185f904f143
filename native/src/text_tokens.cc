#include "text_tokens.h"

#include <cstring>

#if defined(__SSE2__) && !defined(TG_SCALAR)
#include <emmintrin.h>
#define TG_SSE2 1
#endif

// How it is fast (docs/architecture.md, "Native request scanner"): the walk's
// state is one struct of plain values (no byte stores into it, which would
// alias the rest); a letter that continues a word costs one table load
// (pairCost); with SSE2, a word in raw
// bytes is taken whole: its lowercase letters found 16 bytes at once, its
// letters' costs either read from its word-table entry (a listed word) or
// summed without a branch per letter. TG_SCALAR builds the byte-at-a-time walk
// only; both must give the same quarters for every input (test/native fuzz).

namespace tg {
namespace {

// Cost of a letter that continues a run, by the letter before it and itself
// (both A-Z or a-z, indexed from 'A'): HALF for a repeat or a common bigram
// after a lowercase letter, else Q.
constexpr int LETTERS = 'z' - 'A' + 1;  // 58: 'A'..'z'
uint8_t pairCost[LETTERS * LETTERS];

// The same as one bit (HALF or not) for two raw bytes, indexed by their low 6
// bits (pairIndex): 'A'..'Z' and 'a'..'z' are distinct there, and any other
// byte reads some entry (the fast path masks the pairs past a word out).
uint8_t pairHalf[0x4000];
inline uint32_t pairIndex(const uint8_t* s) {
  uint16_t two;
  std::memcpy(&two, s, 2);
  return two & 0x3f3f;
}
constexpr struct PopTable {
  uint8_t n[256];
  constexpr PopTable() : n() {
    for (int i = 0; i < 256; i++) {
      int c = 0;
      for (int b = i; b; b >>= 1) c += b & 1;
      n[i] = static_cast<uint8_t>(c);
    }
  }
} POP;

// The word list: open addressing on the lowercase word packed into 16
// zero-padded bytes (lo: letters 0-7, hi: letters 8-15; every listed word has
// at most MAX_WORD letters), one 16-byte entry per slot, compared as two 64-bit
// words. Letters are below 0x80, so the top bits of the bytes hold the rest:
//   lo bytes 0-3: the form mask (1 "word", 2 " word", 4 "Word", 8 " Word");
//   lo bytes 4-7: how many of the pairs 2..len-1 cost HALF (0-14);
//   hi byte 0:    whether pair 1 costs HALF when the word starts lowercase
//                 (after a capital it never does).
// so a listed word's letter cost needs no look at its letters. Empty slot: lo == 0.
struct Entry { uint64_t lo, hi; };
std::vector<Entry> table;
const Entry* slots = nullptr;  // table.data()
uint32_t slotMask = 0;
uint32_t tableShift = 64;
constexpr uint64_t TOP_BITS = 0x8080808080808080ull;
constexpr uint64_t KEY_BITS = ~TOP_BITS;

inline uint32_t slotOf(uint64_t lo, uint64_t hi) {
  return static_cast<uint32_t>(((lo ^ (hi * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull) >> tableShift);
}

/** The entry of the listed word packed in lo, hi; nullptr when it is not listed. */
inline const Entry* findWord(uint64_t lo, uint64_t hi) {
  for (uint32_t s = slotOf(lo, hi);; s = (s + 1) & slotMask) {
    const Entry& e = slots[s];
    if (!e.lo) return nullptr;
    if ((e.lo & KEY_BITS) == lo && (e.hi & KEY_BITS) == hi) return &e;
  }
}

/** The bit of `form` (its index: 0 "word", 1 " word", 2 "Word", 3 " Word") in an entry's lo. */
inline uint64_t formBit(uint32_t index) { return 0x80ull << (8 * index); }

/** Pairs 1..len-1 of a listed word that cost HALF. */
inline int64_t listedHalfPairs(const Entry& e, bool upperFirst) {
  const int64_t rest = static_cast<int64_t>(((((e.lo >> 39) & 0x01010101u) * 0x01020408u) >> 24) & 0xf);
  return rest + (upperFirst ? 0 : static_cast<int64_t>((e.hi >> 7) & 1));
}

// Character classes of ASCII.
enum Cls : uint8_t { K_LOWER, K_UPPER, K_DIGIT, K_SPACE, K_WS, K_PUNCT };
constexpr struct ClassTable {
  uint8_t k[128];
  constexpr ClassTable() : k() {
    for (int c = 0; c < 128; c++) {
      k[c] = c >= 'a' && c <= 'z' ? K_LOWER : c >= 'A' && c <= 'Z' ? K_UPPER : c >= '0' && c <= '9' ? K_DIGIT
           : c == ' ' ? K_SPACE : c >= 9 && c <= 13 ? K_WS : K_PUNCT;
    }
  }
} CLS;

inline bool isLetter(uint8_t c) { return static_cast<uint8_t>((c | 32) - 'a') < 26; }

// Bytes after a word's letters that surely end its run and let it be a listed word: ASCII, neither
// a letter (a capital may continue the run or start one) nor an escape (which may be a letter).
constexpr struct EndsRun {
  bool at[256];
  constexpr EndsRun() : at() {
    for (int c = 0; c < 128; c++) at[c] = c != '\\' && !((c | 32) >= 'a' && (c | 32) <= 'z');
  }
} ENDS_RUN_TABLE;
#define ENDS_RUN ENDS_RUN_TABLE.at

// 16 0xff bytes then 16 zero bytes: loaded from PREFIX_MASK + 16 - len, the mask of a word's first len bytes.
alignas(32) constexpr uint8_t PREFIX_MASK[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

// Class of the previous character (text-tokens.ts).
enum Prev { NONE = 0, LETTER, DIGIT, SPACE, WS, PUNCT, WIDE };

constexpr uint32_t WIDE_CODE = 0xffff;  // prevCode after a non-ASCII unit: the walk only asks whether it is ASCII

inline int hex(uint8_t c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }
inline uint32_t hex4(const uint8_t* s) { return (hex(s[0]) << 12) | (hex(s[1]) << 8) | (hex(s[2]) << 4) | hex(s[3]); }

/** The walk of textQuarterTokens, one code unit at a time (ASCII ones by value, others by their UTF-8 cost). */
struct Walk {
  int64_t q = 0;
  int64_t unverifiedExtra = 0;  // what listed words of 7..16 letters cost by the letter rules
  int prev = NONE;
  uint32_t prevCode = 0;
  int64_t spaces = 0;
  int digits = 0;  // length of the digit run ending at prev, mod 3
  // The letter run in progress: its lowercase letters (the first MAX_WORD; garbage past that is never read).
  uint32_t runLen = 0;
  int64_t runCost = 0;
  bool runWordShape = false;
  uint64_t runForm = 0;         // formBit of the run's form
  uint64_t run0 = 0, run1 = 0;  // letters 0-7 and 8-15 (no byte stores: they would alias the rest of the walk)

  /** The run ends before a character that is not a letter continuing it; `wordMayEnd`: an ASCII one, not a capital. */
  void endRun(bool wordMayEnd) {
    if (runWordShape && runLen <= static_cast<uint32_t>(MAX_WORD) && wordMayEnd) {
      const Entry* e = findWord(run0, run1);
      if (e && (e->lo & runForm)) {
        q += Q;
        if (runLen > static_cast<uint32_t>(MAX_WORD_UNVERIFIED)) unverifiedExtra += runCost - Q;
        runLen = 0;
        return;
      }
    }
    q += runCost;
    runLen = 0;
  }

  void putLetter(uint32_t c) {
    const uint32_t at = runLen & 15;  // past MAX_WORD letters the run is never looked up
    const uint64_t b = static_cast<uint64_t>(c | 32) << (8 * (at & 7));
    if (at < 8) run0 |= b;
    else run1 |= b;
  }

  /** A letter continuing the run (a lowercase one, or an uppercase one after an uppercase one). */
  void continueRun(uint32_t c, bool upper) {
    putLetter(c);
    runLen++;
    if (upper) runWordShape = false;
    runCost += pairCost[(prevCode - 'A') * LETTERS + (c - 'A')];
    prevCode = c;
  }

  /** A letter starting a run (no run in progress). */
  void startRun(uint32_t c, bool upper) {
    run0 = c | 32;
    run1 = 0;
    runLen = 1;
    runWordShape = prev == NONE || prev == DIGIT || prevCode == 32 || prevCode == 10 || prevCode == 13;
    runForm = formBit((prevCode == 32 ? 1u : 0u) + (upper ? 2u : 0u));
    // After one space (paid for as the start of " word") the letter continues that pretoken.
    const bool runAfterSpace = prev == SPACE && spaces == 1;
    if (runAfterSpace) q -= Q;
    runCost = runAfterSpace ? Q + 1 : Q;
    prev = LETTER;
    prevCode = c;
  }

  void ascii(uint32_t c) {
    const uint8_t k = CLS.k[c];
    if (runLen) {
      if (k == K_LOWER || (k == K_UPPER && prevCode < 97)) { continueRun(c, k == K_UPPER); return; }
      endRun(k != K_UPPER);
    }
    // Before anything but a letter, the last space of a longer run is a token of its own.
    if ((prev == SPACE || prev == WS) && spaces > 1 && k >= K_DIGIT && k != K_SPACE && k != K_WS) q += HALF;
    switch (k) {
      case K_LOWER:
      case K_UPPER:
        startRun(c, k == K_UPPER);
        return;
      case K_DIGIT:
        digits = prev == DIGIT ? (digits == 2 ? 0 : digits + 1) : 0;
        if (digits == 0) q += Q;
        prev = DIGIT;
        break;
      case K_SPACE:
      case K_WS:
        if (prev == SPACE || prev == WS) {
          spaces++;
          q += (c == prevCode && (c == 32 || c == 10 || c == 9)) ? HALF : Q;
        } else {
          spaces = 1;
          q += Q;
        }
        prev = c == 32 ? SPACE : WS;
        break;
      default:
        q += (prev == PUNCT && c == prevCode && c > 32) ? HALF : Q;  // control characters do not merge
        prev = PUNCT;
    }
    prevCode = c;
  }

  /** A non-ASCII character costing `cost` (one token per UTF-8 byte). */
  void wide(int64_t cost) {
    if (runLen) endRun(false);
    if ((prev == SPACE || prev == WS) && spaces > 1) q += HALF;
    q += cost;
    prev = WIDE;
    prevCode = WIDE_CODE;
  }

  /** The escape at s[i] ('\\'); returns its length. */
  size_t escape(const uint8_t* s, size_t i, size_t n) {
    const uint8_t e = s[i + 1];
    switch (e) {
      case 'b': ascii(8); return 2;
      case 'f': ascii(12); return 2;
      case 'n': ascii(10); return 2;
      case 'r': ascii(13); return 2;
      case 't': ascii(9); return 2;
      case 'u': break;
      default: ascii(e); return 2;  // '"', '\\', '/'
    }
    const uint32_t u = hex4(s + i + 2);
    if (u < 0x80) ascii(u);
    else if (u < 0x800) wide(2 * Q);
    else if (u >= 0xd800 && u <= 0xdbff && i + 12 <= n && s[i + 6] == '\\' && s[i + 7] == 'u' && (hex4(s + i + 8) & 0xfc00) == 0xdc00) {
      wide(4 * Q);  // a surrogate pair spelled as two escapes
      return 12;
    } else {
      wide(3 * Q);  // any other unit of the BMP; a lone surrogate becomes U+FFFD (3 bytes)
    }
    return 6;
  }

#ifdef TG_SSE2
  /**
   * Words in raw bytes from s[i] (a letter, no run in progress, s[i, i+16) in
   * the string): the letter, then the lowercase letters after it, taken at
   * once. When an ASCII byte that is neither a letter nor an escape follows
   * (the run surely ends there, and a listed word may end there), the word is
   * priced here, and when that byte is a space followed by another word, that
   * word is taken the same way, with the space's effect on the walk applied
   * as ascii(' ') and startRun would. Otherwise the run stays open for the
   * walk, exactly as if its letters had come one by one. Returns the index
   * after the last letter taken.
   */
  size_t words(const uint8_t* s, size_t i, size_t n) {
    bool upper = s[i] < 'a';
    startRun(s[i], upper);
    // The sums in locals for the loop (members would be spilled and reloaded per word).
    int64_t sum = q, extra = unverifiedExtra, cost = runCost;
    for (;;) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
      // 'a'..'z' become -128..-103 as int8, so one signed compare finds them.
      const __m128i shifted = _mm_add_epi8(v, _mm_set1_epi8(static_cast<char>(128 - 'a')));
      const unsigned lower = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmplt_epi8(shifted, _mm_set1_epi8(-128 + 26))));
      const unsigned len = static_cast<unsigned>(__builtin_ctz((~lower & 0xfffe) | 0x10000));  // 1..16 letters
      // The letters, lowercased, zero-padded to 16 bytes: the word table's key.
      const __m128i prefix = _mm_loadu_si128(reinterpret_cast<const __m128i*>(PREFIX_MASK + 16 - len));
      const __m128i letters = _mm_and_si128(_mm_or_si128(v, _mm_set1_epi8(0x20)), prefix);
      const uint64_t lo = static_cast<uint64_t>(_mm_cvtsi128_si64(letters));
      const uint64_t hi = static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_srli_si128(letters, 8)));
      const size_t j = i + len;
      const uint8_t next = len < 16 ? s[j] : 0;  // (s[i + 16] may be past the string)
      if (len == 16 || !ENDS_RUN[next]) {
        run0 = lo;
        run1 = hi;
        runLen = len;
        prevCode = s[j - 1];
        runCost = cost + pairsCost(s + i, len);
        q = sum;
        unverifiedExtra = extra;
        return j;
      }
      const Entry* e = runWordShape ? findWord(lo, hi) : nullptr;
      if (e && (e->lo & runForm)) {
        sum += Q;
        if (len > static_cast<unsigned>(MAX_WORD_UNVERIFIED)) {
          extra += cost + static_cast<int64_t>(len - 1) * Q - listedHalfPairs(*e, upper) * (Q - HALF) - Q;
        }
      } else {
        sum += cost + pairsCost(s + i, len);
      }
      runLen = 0;
      if (next != ' ' || j + 17 > n || !isLetter(s[j + 1])) {
        prevCode = s[j - 1];
        runCost = cost;
        q = sum;
        unverifiedExtra = extra;
        return j;
      }
      // " word": the space (a whitespace run of one after a letter: +Q) and the letter after it
      // (startRun after one space: -Q, the " word" form, the space's cost carried by the run).
      i = j + 1;
      upper = s[i] < 'a';
      spaces = 1;
      runWordShape = true;
      runForm = formBit(1 + (upper ? 2 : 0));
      cost = Q + 1;
    }
  }

  /** The cost of pairs 1..len-1 of the letters s[0, len) (s[0, 16) readable), without a branch per letter. */
  static int64_t pairsCost(const uint8_t* s, unsigned len) {
    uint32_t half = 0;
    for (unsigned k = 1; k < 8; k++) half |= static_cast<uint32_t>(pairHalf[pairIndex(s + k - 1)]) << k;
    if (len > 8) {
      for (unsigned k = 8; k < 16; k++) half |= static_cast<uint32_t>(pairHalf[pairIndex(s + k - 1)]) << k;
    }
    half &= (1u << len) - 2;
    return static_cast<int64_t>(len - 1) * Q - static_cast<int64_t>(POP.n[half & 0xff] + POP.n[half >> 8]) * (Q - HALF);
  }
#endif
};

}  // namespace

void loadWordTable(const std::vector<std::string>& words, const std::vector<uint32_t>& forms, const uint8_t* bg) {
  auto half = [&](int p, int c) {  // p, c: letters; the walk's rule for c continuing a run after p
    return p == c || (p >= 'a' && bg[(p - 'a') * 26 + ((c | 32) - 'a')]);
  };
  for (int p = 0; p < LETTERS; p++) {
    for (int c = 0; c < LETTERS; c++) {
      const int pc = p + 'A', cc = c + 'A';
      const bool letters = (pc <= 'Z' || pc >= 'a') && (cc <= 'Z' || cc >= 'a');
      const bool h = letters && half(pc, cc);
      pairCost[p * LETTERS + c] = static_cast<uint8_t>(h ? HALF : Q);
      if (letters) pairHalf[(pc & 0x3f) | (cc & 0x3f) << 8] = h;
    }
  }
  uint32_t size = 1, bits = 0;
  while (size < words.size() * 2) size *= 2, bits++;
  table.assign(size, Entry{0, 0});
  tableShift = 64 - bits;
  for (size_t i = 0; i < words.size(); i++) {
    const std::string& w = words[i];
    if (w.empty() || w.size() > static_cast<size_t>(MAX_WORD)) continue;  // runs longer than MAX_WORD are not looked up
    bool lowercase = true;
    for (char ch : w) lowercase = lowercase && ch >= 'a' && ch <= 'z';
    if (!lowercase) continue;  // never matched: a run's letters are looked up lowercased
    uint8_t b[16] = {};
    std::memcpy(b, w.data(), w.size());
    uint64_t lo, hi;
    std::memcpy(&lo, b, 8);
    std::memcpy(&hi, b + 8, 8);
    uint64_t rest = 0;
    for (size_t k = 2; k < w.size(); k++) rest += half(w[k - 1], w[k]);
    const uint64_t first = w.size() > 1 && half(w[0], w[1]);
    uint64_t top = 0;
    for (int f = 0; f < 4; f++) if (forms[i] >> f & 1) top |= formBit(f);
    for (int r = 0; r < 4; r++) if (rest >> r & 1) top |= formBit(4 + r);
    uint32_t s = slotOf(lo, hi);
    bool seen = false;  // a repeated word keeps its first forms, as the JavaScript table's probe finds that one first
    for (; table[s].lo; s = (s + 1) & (size - 1)) {
      if ((table[s].lo & KEY_BITS) == lo && (table[s].hi & KEY_BITS) == hi) { seen = true; break; }
    }
    if (!seen) table[s] = Entry{lo | top, hi | (first << 7)};
  }
  slots = table.data();
  slotMask = size - 1;
}

bool wordTableLoaded() { return !table.empty(); }

void jsonTextQuarters(const uint8_t* s, size_t n, Quarters& out) {
  Walk w;
  size_t i = 0;
  while (i < n) {
    const uint8_t b = s[i];
    if (b < 0x80 && b != '\\') {
#ifdef TG_SSE2
      if (!w.runLen && i + 16 <= n && isLetter(b)) {
        i = w.words(s, i, n);
        if (w.runLen != 16) continue;  // else the word may go on past the 16 bytes taken
      } else
#endif
      {
        w.ascii(b);
        i++;
        if (!w.runLen) continue;
      }
      // A lowercase run goes on: no class switch, no branch but the loop's.
      while (i < n && static_cast<uint8_t>(s[i] - 'a') < 26) {
        w.continueRun(s[i], false);
        i++;
      }
      continue;
    }
    if (b == '\\') {
      i += w.escape(s, i, n);
      continue;
    }
    // A UTF-8 sequence (validated): its length is its cost in tokens.
    const size_t len = b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
    w.wide(static_cast<int64_t>(len) * Q);
    i += len;
  }
  if (w.runLen) w.endRun(true);
  out.verified += w.q;
  out.unverified += w.q + w.unverifiedExtra;
}

}  // namespace tg
