// Exact port of src/protocols/estimate/text-tokens.ts (textQuarterTokens):
// the same walk over UTF-16 code units, the same word list and bigrams
// (handed over from JavaScript at load time, so there is one source of them).
// Computes the bound for both word lengths at once (MAX_WORD for OpenAI's
// tokenizers, MAX_WORD_UNVERIFIED for the others).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tg {

constexpr int64_t Q = 4;
constexpr int64_t HALF = 2;
constexpr int MAX_WORD = 16;
constexpr int MAX_WORD_UNVERIFIED = 6;

struct Quarters {
  int64_t verified = 0;    // maxWord = MAX_WORD
  int64_t unverified = 0;  // maxWord = MAX_WORD_UNVERIFIED
  void add(int64_t q) { verified += q; unverified += q; }
  void add(const Quarters& o) { verified += o.verified; unverified += o.unverified; }
};

/** Loads the word list (lowercase a-z words, form masks) and the 26x26 bigram table. */
void loadWordTable(const std::vector<std::string>& words, const std::vector<uint32_t>& forms, const uint8_t* bigrams);
bool wordTableLoaded();

/** Adds the quarter tokens of the string of code units s[0, n) to q. */
void textQuarters(const uint8_t* s, size_t n, Quarters& q);
void textQuarters(const char16_t* s, size_t n, Quarters& q);

}  // namespace tg
