#include "text_tokens.h"

#include <cstring>

#if defined(__SSE2__) && !defined(TG_SCALAR)
#include <emmintrin.h>
#define TG_SSE2 1
#endif

// The chain's loop in its own frame (not inlined into the walk: its values stay
// in registers), and on x86-64 Linux also built for x86-64-v3 (AVX2, BMI: VEX
// forms without register copies, shifts without CL), taken when the CPU has it.
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__)
#define TG_CLONES __attribute__((noinline, target_clones("arch=x86-64-v3", "default")))
#else
#define TG_CLONES __attribute__((noinline))
#endif

// How it is fast (docs/architecture.md, "Native request scanner"): the walk's
// state is one struct of plain values (no byte stores into it, which would
// alias the rest); a letter that continues a word costs one table load
// (pairCost); with SSE2, a word in raw
// bytes is taken whole: its lowercase letters found 16 bytes at once, its
// letters' costs either read from its word-table entry (a listed word) or
// summed without a branch per letter; and prose after it (" word", " Word,",
// " 123;") goes by 64-byte windows (Walk::chain): the tokens' bounds are found
// for the whole window at once, so the words' lookups overlap instead of each
// waiting for the word before it to end. TG_SCALAR builds the byte-at-a-time
// walk only; both must give the same quarters for every input (test/native fuzz).

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
// at most MAX_WORD letters), one 32-byte slot (half a cache line: one line
// read per lookup) per word, holding what pricing the word needs, so a listed
// word's letter cost needs no look at its letters. Empty slot: lo == 0.
struct alignas(32) Entry {
  uint64_t lo, hi;
  uint32_t forms;        // 1 "word", 2 " word", 4 "Word", 8 " Word"
  uint8_t halfPairs[2];  // [upper first]: how many of the pairs 1..len-1 cost HALF
  // [upper first]: -1 when the word is not listed after a space (" word", " Word"),
  // else what it costs there by the letter rules past its one token when it is
  // longer than MAX_WORD_UNVERIFIED (else 0).
  int8_t spaced[2];
};
std::vector<Entry> table;
const Entry* slots = nullptr;  // table.data()
uint32_t slotMask = 0;
uint32_t tableShift = 64;

/** The word table's place: the globals above, or a copy in locals (the chain's loop keeps it in registers). */
struct WordTable {
  const Entry* slots;
  uint32_t mask;
  uint32_t shift;
};

inline uint32_t slotOf(uint64_t lo, uint64_t hi, uint32_t shift) {
  return static_cast<uint32_t>(((lo + (hi << 1)) * 0x9e3779b97f4a7c15ull) >> shift);
}

/** The entry of the listed word packed in lo, hi; nullptr when it is not listed. */
inline const Entry* findIn(const WordTable& t, uint64_t lo, uint64_t hi) {
  for (uint32_t s = slotOf(lo, hi, t.shift);; s = (s + 1) & t.mask) {
    const Entry& e = t.slots[s];
    if (e.lo == lo && e.hi == hi) return &e;
    if (!e.lo) return nullptr;
  }
}

inline const Entry* findWord(uint64_t lo, uint64_t hi) { return findIn(WordTable{slots, slotMask, tableShift}, lo, hi); }

/** The bit of a form in Entry::forms: after a space or not, capitalised or not. */
inline uint32_t formBit(bool afterSpace, bool upper) { return 1u << ((afterSpace ? 1 : 0) + (upper ? 2 : 0)); }

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

#ifdef TG_SSE2
/** The word table's key of the len (1..16) letters at the start of v: lowercased, zero-padded to 16 bytes. */
inline void wordKey(__m128i v, unsigned len, uint64_t& lo, uint64_t& hi) {
  const __m128i prefix = _mm_loadu_si128(reinterpret_cast<const __m128i*>(PREFIX_MASK + 16 - len));
  const __m128i letters = _mm_and_si128(_mm_or_si128(v, _mm_set1_epi8(0x20)), prefix);
  lo = static_cast<uint64_t>(_mm_cvtsi128_si64(letters));
  hi = static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_srli_si128(letters, 8)));
}
#endif

// Class of the previous character (text-tokens.ts).
enum Prev { NONE = 0, LETTER, SPACE, WS, PUNCT, DIGIT, WIDE };  // a numeric run goes on after prev >= DIGIT

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
  // Where the digit ending at prev falls in its group of three of 0-9 (0-2); after a non-ASCII
  // character (text-tokens.ts, "Digits"): -3, so the two digits after it (-2, -1: maybe in its group)
  // and the next (0, a group's start) cost a token each. A digit's step is as cheap as without it.
  int digits = 0;
  // The letter run in progress: its lowercase letters (the first MAX_WORD; garbage past that is never read).
  uint32_t runLen = 0;
  int64_t runCost = 0;
  bool runWordShape = false;
  uint32_t runForm = 0;         // formBit of the run's form
  uint64_t run0 = 0, run1 = 0;  // letters 0-7 and 8-15 (no byte stores: they would alias the rest of the walk)

  /** The run ends before a character that is not a letter continuing it; `wordMayEnd`: an ASCII one, not a capital. */
  void endRun(bool wordMayEnd) {
    if (runWordShape && runLen <= static_cast<uint32_t>(MAX_WORD) && wordMayEnd) {
      const Entry* e = findWord(run0, run1);
      if (e && (e->forms & runForm)) {
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
    runForm = formBit(prevCode == 32, upper);
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
        // A token at a group's start, and in a group that may hold a non-ASCII number character.
        digits = prev >= DIGIT ? (digits == 2 ? 0 : digits + 1) : 0;
        if (digits <= 0) q += Q;
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

  /**
   * A non-ASCII character costing `cost` (one token per UTF-8 byte), raw or spelled as \uXXXX. It may
   * be a number character: two digits before it in an unfinished group, priced as one token, cost one
   * more (they may share its group), and it starts a group of its own (text-tokens.ts, "Digits").
   */
  void wide(int64_t cost) {
    if (runLen) endRun(false);
    if ((prev == SPACE || prev == WS) && spaces > 1) q += HALF;
    if (prev == DIGIT && digits == 1) q += Q;
    digits = -3;
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
   * as ascii(' ') and startRun would (by chain() while a window and a word
   * past it are left in the string). Otherwise the run stays open for the
   * walk, exactly as if its letters had come one by one. Returns the index
   * after the last letter taken (or the space where chain() stopped).
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
      uint64_t lo, hi;
      wordKey(v, len, lo, hi);
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
      if (e && (e->forms & runForm)) {
        sum += Q;
        if (len > static_cast<unsigned>(MAX_WORD_UNVERIFIED)) {
          extra += cost + static_cast<int64_t>(len - 1) * Q - e->halfPairs[upper] * (Q - HALF) - Q;
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
      if (j + CHAIN_AHEAD <= n) return chain(s, j, n, sum, extra);
      // " word": the space (a whitespace run of one after a letter: +Q) and the letter after it
      // (startRun after one space: -Q, the " word" form, the space's cost carried by the run).
      i = j + 1;
      upper = s[i] < 'a';
      spaces = 1;
      runWordShape = true;
      runForm = formBit(true, upper);
      cost = Q + 1;
    }
  }

  // Bytes the chain reads from the space that opens its window: the window, then a word's 16 bytes from its last byte.
  static constexpr size_t CHAIN_AHEAD = 64 + 16;

  /**
   * A chain of tokens from the space at s[j], each a space then a word, a
   * number or one punctuation character, the word or number maybe followed by
   * one punctuation character (" word", " Word", " word,", " 12345;", " -"),
   * from after a word that ended at s[j] (no run in progress), with the walk's
   * sums in `sum` and `extra`. The tokens come from 64-byte windows: a
   * window's spaces and punctuation, and its first byte that no such chain
   * has, are found at once, so each token is found from the spaces around it
   * (not from where the token before it ended: the words' lookups do not wait
   * on each other) and needs no look at its bytes to know its shape. Each is
   * priced as the walk would price it (a word of 1..15 letters as words()
   * does). At the first space that no such token follows, the walk goes on as
   * after the token before it (whatever that was, a space after it costs Q
   * and starts a whitespace run of one). Returns that index.
   */
  TG_CLONES size_t chain(const uint8_t* s, size_t j, size_t n, int64_t sum, int64_t extra) {
    const WordTable table{slots, slotMask, tableShift};
    while (j + CHAIN_AHEAD <= n) {
      uint64_t spaceAt, punct, stop;
      const bool plain = windowMasks(s + j, spaceAt, punct, stop);
      // The spaces that end a token of the window: those after s[j], before its first stop.
      uint64_t ends = (spaceAt & ~1ull) & (stop ? (stop & -stop) - 1 : ~0ull);
      const uint8_t* const window = s + j;
      const uint8_t* space = window;  // the space before the token
      if (plain) windowTokens<true>(table, window, ends, punct, space, sum, extra);
      else windowTokens<false>(table, window, ends, punct, space, sum, extra);
      j = static_cast<size_t>(space - s);
      // Go on in the next window only when this one ended inside a token it could not see the end of.
      if (ends || stop || space == window) break;
    }
    // The walk goes on at the space s[j] as after the token that ends before it.
    prevCode = s[j - 1];
    spaces = 1;
    runLen = 0;
    q = sum;
    unverifiedExtra = extra;
    return j;
  }

  /**
   * The chain's tokens of one window that end at `ends` (the spaces after them), from the space at
   * `space`; leaves `space` at the space after the last one priced, and in `ends` those after a token
   * that is none of the chain's. PLAIN: the window has no digit and no punctuation, so every token is
   * a word (or nothing, between two spaces), which saves the loop two tests per word.
   */
  template <bool PLAIN>
  __attribute__((always_inline)) static void windowTokens(const WordTable& table, const uint8_t* window, uint64_t& ends, uint64_t punct,
                                                          const uint8_t*& space, int64_t& sum, int64_t& extra) {
    while (ends) {
      const uint64_t end = ends & -ends;
      ends ^= end;
      const uint8_t* const next = window + static_cast<uint32_t>(__builtin_ctzll(end));  // the space after it
      const size_t trailing = PLAIN ? 0 : (punct & (end >> 1)) != 0;  // a punctuation character before that space
      const uint8_t* const t = space + 1;
      const size_t len = static_cast<size_t>(next - t) - trailing;  // the word's or the number's
      if (__builtin_expect(len - 1 < 15 && (PLAIN || t[0] > '9'), 1)) {
        priceSpacedWord(table, t, len, sum, extra);  // a word (a number or punctuation starts at most at '9')
      } else {
        const int64_t cost = PLAIN ? -1 : otherToken(t, len, trailing);
        if (cost < 0) {
          ends |= end;  // (not empty: this token was not priced)
          return;
        }
        sum += cost;
      }
      sum += static_cast<int64_t>(trailing) * Q;
      space = next;
    }
  }

  /** Prices the word of len (1..15) letters at w (a letter, then lowercase ones) after one space and before one. */
  static void priceSpacedWord(const WordTable& table, const uint8_t* w, size_t len, int64_t& sum, int64_t& extra) {
    const bool upper = w[0] < 'a';
    uint64_t lo, hi;
    wordKey(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w)), static_cast<unsigned>(len), lo, hi);
    const Entry* e = findIn(table, lo, hi);
    if (e && e->spaced[upper] >= 0) {
      sum += Q;
      extra += e->spaced[upper];
      return;
    }
    sum += unlistedSpacedCost(w, static_cast<unsigned>(len));
  }

  /**
   * The price of a chain's token that is not a word (the space before it included, the punctuation
   * character after it not): a number of len digits, or a lone punctuation character; -1 for anything
   * else (two spaces, or a run of letters that may be longer than MAX_WORD).
   */
  static __attribute__((noinline)) int64_t otherToken(const uint8_t* t, size_t len, size_t trailing) {
    // A number here is followed by a space, or by one punctuation character and a space (a non-ASCII
    // byte or a backslash is a stop of windowMasks): never by a possible number character in its
    // groups, so its groups of three are all of 0-9 (text-tokens.ts, "Digits").
    if (t[0] >= '0' && t[0] <= '9') return Q + static_cast<int64_t>((len + 2) / 3) * Q;  // the space, then groups of three digits
    return len || !trailing ? -1 : Q;
  }

  // Out of the chain's loop: its many loads would take the loop's registers.
  static __attribute__((noinline)) int64_t unlistedSpacedCost(const uint8_t* w, unsigned len) { return Q + 1 + pairsCost(w, len); }

  /**
   * For s[0, 64) (s[0] a space): its spaces; its punctuation characters (ASCII, printable, not a letter, a
   * digit or a backslash) followed by a space; its first byte of none of the chain's tokens: neither a
   * lowercase letter, a digit, a space, a capital after a space nor such punctuation, or a letter after a
   * digit, or a digit after a letter. Returns whether it has no digit and no punctuation.
   */
  static bool windowMasks(const uint8_t* s, uint64_t& spaceAt, uint64_t& punct, uint64_t& stop) {
    uint64_t space = 0, lower = 0, upper = 0, digit = 0, printable = 0;
    const auto bits = [](__m128i m, int k) { return static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(m))) << (16 * k); };
    const auto in = [](__m128i v, char first, int count) {  // first <= v < first + count, as bytes
      return _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8(static_cast<char>(-128 - first))), _mm_set1_epi8(static_cast<char>(-128 + count)));
    };
    for (int k = 0; k < 4; k++) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 16 * k));
      space |= bits(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')), k);
      lower |= bits(in(v, 'a', 26), k);
      upper |= bits(in(v, 'A', 26), k);
      digit |= bits(in(v, '0', 10), k);
      printable |= bits(_mm_andnot_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')), _mm_cmpgt_epi8(v, _mm_set1_epi8(' '))), k);
    }
    const uint64_t letter = lower | upper;
    spaceAt = space;
    punct = printable & ~(letter | digit) & (space >> 1);
    stop = ~(space | lower | digit | (upper & (space << 1)) | punct) | (letter & (digit << 1)) | (digit & (letter << 1));
    return !(digit | punct);
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
  table.assign(size, Entry{});
  tableShift = 64 - bits;
  for (size_t i = 0; i < words.size(); i++) {
    const std::string& w = words[i];
    if (w.empty() || w.size() > static_cast<size_t>(MAX_WORD)) continue;  // runs longer than MAX_WORD are not looked up
    bool lowercase = true;
    for (char ch : w) lowercase = lowercase && ch >= 'a' && ch <= 'z';
    if (!lowercase) continue;  // never matched: a run's letters are looked up lowercased
    uint8_t b[16] = {};
    std::memcpy(b, w.data(), w.size());
    Entry e{};
    std::memcpy(&e.lo, b, 8);
    std::memcpy(&e.hi, b + 8, 8);
    e.forms = forms[i] & 15;
    int rest = 0;
    for (size_t k = 2; k < w.size(); k++) rest += half(w[k - 1], w[k]);
    const int first = w.size() > 1 && half(w[0], w[1]);
    for (int upper = 0; upper < 2; upper++) {
      const int halfPairs = rest + (upper ? 0 : first);  // after a capital, pair 1 never costs HALF
      e.halfPairs[upper] = static_cast<uint8_t>(halfPairs);
      // As Walk prices a " word": Q + 1 for its first letter, then its pairs.
      const int64_t letterRules = Q + 1 + static_cast<int64_t>(w.size() - 1) * Q - halfPairs * (Q - HALF);
      const bool listed = e.forms & formBit(true, upper);
      e.spaced[upper] = static_cast<int8_t>(!listed ? -1 : w.size() > static_cast<size_t>(MAX_WORD_UNVERIFIED) ? letterRules - Q : 0);
    }
    uint32_t s = slotOf(e.lo, e.hi, tableShift);
    bool seen = false;  // a repeated word keeps its first forms, as the JavaScript table's probe finds that one first
    for (; table[s].lo; s = (s + 1) & (size - 1)) {
      if (table[s].lo == e.lo && table[s].hi == e.hi) { seen = true; break; }
    }
    if (!seen) table[s] = e;
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
