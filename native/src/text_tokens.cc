#include "text_tokens.h"

namespace tg {
namespace {

uint8_t bigram[26 * 26];
// Open addressing: FNV-1a of the lowercase word -> index + 1.
std::vector<uint32_t> slots;
std::vector<std::string> words;
std::vector<uint32_t> forms;
uint32_t slotMask = 0;

inline uint32_t fnv(uint32_t h, uint32_t c) { return (h ^ c) * 0x01000193u; }

/** The form mask of the listed word equal to the lowercase letters w[0, len); 0 when not listed. */
uint32_t wordForms(const char* w, size_t len, uint32_t h) {
  for (uint32_t s = h & slotMask; slots[s]; s = (s + 1) & slotMask) {
    const std::string& word = words[slots[s] - 1];
    if (word.size() == len && word.compare(0, len, w, len) == 0) return forms[slots[s] - 1];
  }
  return 0;
}

enum Prev { NONE = 0, LETTER, DIGIT, SPACE, WS, PUNCT, WIDE };

template <typename C>
void quarters(const C* s, size_t n, Quarters& out) {
  int64_t q = 0;
  int64_t unverifiedExtra = 0;  // what listed words of 7..16 letters cost by the letter rules
  int prev = NONE;
  uint32_t prevCode = 0;
  int64_t spaces = 0, digits = 0;
  size_t runLen = 0;
  int64_t runCost = 0;
  uint32_t runHash = 0, runForm = 0;
  bool runWordShape = false;
  char run[MAX_WORD];
  for (size_t i = 0; i <= n; i++) {
    const uint32_t c = i < n ? static_cast<uint32_t>(s[i]) : 0;
    const bool lower = c >= 97 && c <= 122;
    const bool upper = c >= 65 && c <= 90;
    if (runLen && !(lower || (upper && prevCode < 97))) {
      if (runWordShape && runLen <= static_cast<size_t>(MAX_WORD) && !upper && c < 128 && (wordForms(run, runLen, runHash) & runForm)) {
        q += Q;
        if (runLen > static_cast<size_t>(MAX_WORD_UNVERIFIED)) unverifiedExtra += runCost - Q;
      } else {
        q += runCost;
      }
      runLen = 0;
    }
    if (i == n) break;
    if ((prev == SPACE || prev == WS) && spaces > 1 && !(lower || upper) && !(c == 32 || (c >= 9 && c <= 13))) q += HALF;
    if (lower || upper) {
      if (!runLen) {
        runLen = 1;
        run[0] = static_cast<char>(c | 32);
        runHash = fnv(0x811c9dc5u, c | 32);
        runWordShape = prev == NONE || prev == DIGIT || prevCode == 32 || prevCode == 10 || prevCode == 13;
        runForm = (prevCode == 32 ? 2u : 1u) << (upper ? 2 : 0);
        const bool runAfterSpace = prev == SPACE && spaces == 1;
        if (runAfterSpace) q -= Q;
        runCost = runAfterSpace ? Q + 1 : Q;
      } else {
        if (runLen < static_cast<size_t>(MAX_WORD)) run[runLen] = static_cast<char>(c | 32);
        runLen++;
        runHash = fnv(runHash, c | 32);
        if (upper) runWordShape = false;
        const uint32_t p = prevCode | 32, l = c | 32;
        runCost += (c == prevCode || (prevCode >= 97 && bigram[(p - 97) * 26 + l - 97])) ? HALF : Q;
      }
      prev = LETTER;
    } else if (c >= 48 && c <= 57) {
      digits = prev == DIGIT ? digits + 1 : 0;
      if (digits % 3 == 0) q += Q;
      prev = DIGIT;
    } else if (c == 32 || (c >= 9 && c <= 13)) {
      if (prev == SPACE || prev == WS) {
        spaces++;
        q += (c == prevCode && (c == 32 || c == 10 || c == 9)) ? HALF : Q;
      } else {
        spaces = 1;
        q += Q;
      }
      prev = c == 32 ? SPACE : WS;
    } else if (c < 128) {
      q += (prev == PUNCT && c == prevCode && c > 32) ? HALF : Q;
      prev = PUNCT;
    } else {
      if (c < 0x800) q += 2 * Q;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (static_cast<uint32_t>(s[i + 1]) & 0xfc00) == 0xdc00) {
        q += 4 * Q;
        i++;
      } else q += 3 * Q;
      prev = WIDE;
    }
    prevCode = c;
  }
  out.verified += q;
  out.unverified += q + unverifiedExtra;
}

}  // namespace

void loadWordTable(const std::vector<std::string>& w, const std::vector<uint32_t>& f, const uint8_t* bg) {
  words = w;
  forms = f;
  for (int i = 0; i < 26 * 26; i++) bigram[i] = bg[i];
  uint32_t size = 1;
  while (size < words.size() * 2) size *= 2;
  slots.assign(size, 0);
  slotMask = size - 1;
  for (uint32_t i = 0; i < words.size(); i++) {
    uint32_t h = 0x811c9dc5u;
    for (unsigned char ch : words[i]) h = fnv(h, ch);
    uint32_t s = h & slotMask;
    while (slots[s]) s = (s + 1) & slotMask;
    slots[s] = i + 1;
  }
}

bool wordTableLoaded() { return !slots.empty(); }

void textQuarters(const uint8_t* s, size_t n, Quarters& q) { quarters(s, n, q); }
void textQuarters(const char16_t* s, size_t n, Quarters& q) { quarters(s, n, q); }

}  // namespace tg
