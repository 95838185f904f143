// Exact port of src/protocols/estimate/text-tokens.ts (textQuarterTokens):
// the same walk over UTF-16 code units, the same word list and bigrams
// (handed over from JavaScript at load time, so there is one source of them).
// Computes the bound for both word lengths at once (MAX_WORD for OpenAI's
// tokenizers, MAX_WORD_UNVERIFIED for the others).
//
// It reads a JSON string's raw content (the bytes between the quotes: UTF-8
// and escapes, already validated by the scanner) and walks the code units
// JSON.parse would make of it without making them: an escape is decoded in
// place, a UTF-8 sequence counts by its length (2 bytes: one unit below
// U+0800; 3: one unit at or above it; 4: a surrogate pair).
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

/**
 * Adds to q the quarter tokens of the string whose JSON content (valid UTF-8,
 * valid escapes, no quote or control byte: what the scanner accepted) is s[0, n).
 */
void jsonTextQuarters(const uint8_t* s, size_t n, Quarters& q);

}  // namespace tg
