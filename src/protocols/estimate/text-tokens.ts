import { SINGLE_TOKEN_WORDS } from './single-token-words.js';

// An upper bound on the tokens a provider's byte-level BPE tokenizer
// (o200k_base, cl100k_base) makes of a string, in one charCodeAt pass with
// no allocation. Anthropic's tokenizer is not public; its counts for the
// same text are within the same bounds in our measurements (the hard
// ceiling below holds for any byte-level BPE).
//
// Tokens are counted where one can *start*. The tokenizer first splits text
// into pretokens (letter words with one leading space, groups of at most
// three digits, punctuation runs, whitespace runs) and encodes each alone,
// so every such boundary costs a whole token here. Inside a run each
// character costs what the worst inputs we could build cost per character:
//   - a letter word that is one token in both vocabularies in its form
//     (lowercase or capitalised, after a space or not; ~34,000 words read
//     from the o200k vocabulary, verified against both tokenizers in a
//     test): 1 token, with its leading space;
//   - any other letter continuing a common English bigram: 1/2 token, else 1
//     (random letters reach ~0.55 tokens per letter, rare ones ~1);
//   - a repeat of the same punctuation, whitespace or letter: 1/2;
//   - other punctuation or whitespace: 1;
//   - non-ASCII: one token per UTF-8 byte, the hard ceiling of a
//     byte-level BPE (no token is shorter than a byte);
//   - ASCII digits: one token per group of three, except in a group that
//     may hold a non-ASCII number character, where each costs a token (see
//     "Digits" below).
// Counts are in quarter tokens to stay in integers. No class costs less
// than 1/2 token per character except dictionary words (verified exactly)
// and digits (exactly one token per group of three digits 0-9), so text crafted
// against these rules can beat the estimate by at most 2× on its letters
// and punctuation; none of our fuzzed or adversarial generators beats it at
// all (test/protocols/text-tokens.test.ts). On English prose it is ~2× the
// real count.

const Q = 4; // quarter tokens per token
const HALF = 2;

// Common English letter bigrams (lowercase), from standard English letter-pair frequencies.
const COMMON_BIGRAMS =
  'th he in er an re on at en nd ti es or te of ed is it al ar st to nt ng se ha as ou io le ve co me de hi ri ro ' +
  'ic ne ea ra ce li ch ll be ma si om ur ca el ta la ns di fo ho pe ec pr no ct us ac ot il tr ly nc et ut ss so ' +
  'rs un lo wa ge ie wh ee wi em ad ol rt po we na ul ni ts mo ow pa im mi ai sh ir su id os iv ia am fi ci vi pl ' +
  'ig tu ev ld ry mp fe bl ab gh ty op wo sa ay ex ke fr oo av ag if ap gr od bo sp rd do uc bu ei ov by rm ep tt';

const bigram = new Uint8Array(26 * 26);
for (const pair of COMMON_BIGRAMS.split(' ')) bigram[(pair.charCodeAt(0) - 97) * 26 + pair.charCodeAt(1) - 97] = 1;

// Open-addressing table of the single-token words: hash → index into WORDS (+1), checked char by char on a hit.
const WORDS: string[] = [];
const FORMS: number[] = [];
for (const [mask, list] of Object.entries(SINGLE_TOKEN_WORDS)) {
  for (const w of list.split(' ')) {
    WORDS.push(w);
    FORMS.push(Number(mask));
  }
}
let SLOTS = 1;
while (SLOTS < WORDS.length * 2) SLOTS *= 2;
const slots = new Uint32Array(SLOTS);
/** Longest listed word counted as one token: all of them for OpenAI's tokenizers (verified). */
export const MAX_WORD = 16;
/**
 * For tokenizers we cannot check (Anthropic's), only short listed words count as one token:
 * any vocabulary of tens of thousands of tokens has the common short words, not necessarily
 * the long ones. Longer words pay by the letter rules.
 */
export const MAX_WORD_UNVERIFIED = 6;
const wordHash = (h: number, c: number) => Math.imul(h ^ c, 0x01000193) >>> 0;
for (let w = 0; w < WORDS.length; w++) {
  const word = WORDS[w]!;
  let h = 0x811c9dc5;
  for (let i = 0; i < word.length; i++) h = wordHash(h, word.charCodeAt(i));
  let s = h & (SLOTS - 1);
  while (slots[s]) s = (s + 1) & (SLOTS - 1);
  slots[s] = w + 1;
}

/** The word list and bigram table, for the native scanner (native/src/text_tokens.cc), which counts the same way. */
export function wordTable(): { words: readonly string[]; forms: readonly number[]; bigrams: Uint8Array } {
  return { words: WORDS, forms: FORMS, bigrams: bigram };
}

/** True when s[start, start+len) is a listed word in `form` (1 "word", 2 " word", 4 "Word", 8 " Word"). */
function isWord(str: string, start: number, len: number, h: number, form: number): boolean {
  for (let s = h & (SLOTS - 1); slots[s]; s = (s + 1) & (SLOTS - 1)) {
    const w = slots[s]! - 1;
    const word = WORDS[w]!;
    if (word.length !== len) continue;
    let i = 0;
    while (i < len && (str.charCodeAt(start + i) | 32) === word.charCodeAt(i)) i++;
    if (i === len) return (FORMS[w]! & form) !== 0;
  }
  return false;
}

// Digits. Both tokenizers split numbers as \p{N}{1,3}: a maximal run of
// Unicode number characters (0-9, and "٠", "²", "½", "①", "𝟎", "𞥐", ...) is
// cut in groups of three from its start, and nothing else takes a number
// character (the letter and punctuation pretokens exclude \p{N}), so every
// ASCII digit lies in such a group. A group of 0-9 only is one token; in one
// that holds a non-ASCII number character the digits do not merge with that
// character's bytes: "\u{1E950}000" is 6 tokens ("𞥐00" 5, "0" 1), not 4 + 1.
// Such a group costs at most its bytes (the BPE ceiling): the character's,
// which it pays wherever it falls, and one token per ASCII digit.
// We keep no table of \p{N}: any non-ASCII character may be one (a superset
// can only raise the count). Counting a run's places across non-ASCII
// characters would not bound it either: one that is not \p{N} ends the real
// run, and the groups restart after it. So each stretch of ASCII digits is
// priced at the worst place its groups can fall:
//   - after a non-ASCII character, the first two digits cost a token each
//     (they may share its group) and groups of three start after them;
//   - before a non-ASCII character, the digits of an unfinished group of
//     three cost a token each (they may share its group): two that were
//     priced as one group cost one more;
//   - after anything ASCII (not \p{N}) the real groups start at the
//     stretch's first digit, as ours do, and before it they end at its last.
// Why that bounds the real count: the tokens of a stretch of L digits after
// a non-ASCII character, with h of them (0-2; 0 when that character is not
// \p{N}) in its group and groups of three from there, are at most
// h + ceil((L-h)/3) when ASCII follows, and h + floor((L-h)/3) + (L-h) mod 3
// when a non-ASCII character follows (the last partial group may hold it);
// both are largest at h = 2 (checked for each L mod 3), which is what we
// price; with L <= h all are in its group, and we price each. The estimate
// is the sum over stretches, as is the real count (a group of 0-9 lies in
// one stretch; a digit in a mixed group costs at most its own byte).
// The price on ordinary text is small: "€100" costs 2 tokens more than
// before, "年2024" 1 more, "2024年" the same, ASCII-only text nothing.

// Class of the previous character.
const NONE = 0, LETTER = 1, SPACE = 2, WS = 3, PUNCT = 4, DIGIT = 5, WIDE = 6; // a numeric run goes on after prev >= DIGIT

/** Upper bound of the tokens of `s`, in quarter tokens (add strings up, then divide by 4 rounding up). */
export function textQuarterTokens(s: string, maxWord = MAX_WORD): number {
  let q = 0;
  let prev = NONE;
  let prevCode = 0;
  let spaces = 0; // length of the whitespace run that ends at prev
  // Where the digit that ends at prev falls in its group of three of 0-9 (0-2); after a non-ASCII character
  // -3 ("Digits"), so the two digits after it (-2, -1: maybe in its group) and the next (0, a group's
  // start) cost a token each.
  let digits = 0;
  // The letter run in progress (a pretoken: [A-Z]?[a-z]+ or [A-Z]+).
  let runStart = -1, runLen = 0, runCost = 0, runHash = 0, runWordShape = false, runForm = 0;
  const n = s.length;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? s.charCodeAt(i) : 0;
    const lower = c >= 97 && c <= 122;
    const upper = c >= 65 && c <= 90;
    if (runLen && !(lower || (upper && (prevCode < 97)))) {
      // The run ends (a non-letter, or lowercase→uppercase, where o200k starts a new pretoken).
      // A listed word only when a non-letter follows: cl100k does not split camelCase ("OwOw" is one
      // pretoken there) and a non-ASCII letter continues the word in both.
      if (runWordShape && runLen <= maxWord && !upper && c < 128 && isWord(s, runStart, runLen, runHash, runForm)) q += Q;
      else q += runCost;
      runLen = 0;
    }
    if (i === n) break;
    // Before anything but a letter, the last space of a longer run is a token of its own.
    if ((prev === SPACE || prev === WS) && spaces > 1 && !(lower || upper) && !(c === 32 || (c >= 9 && c <= 13))) q += HALF;
    if (lower || upper) {
      if (!runLen) {
        runStart = i;
        runLen = 1;
        runHash = wordHash(0x811c9dc5, c | 32);
        // A listed word is one token alone or after a space; any other prefix (o200k glues one
        // punctuation or tab character to the word: "'definitions", "\tword") changes its split.
        runWordShape = prev === NONE || prev === DIGIT || prevCode === 32 || prevCode === 10 || prevCode === 13;
        runForm = (prevCode === 32 ? 2 : 1) << (upper ? 2 : 0);
        // After one space (paid for as the start of " word") the letter continues that pretoken.
        const runAfterSpace = prev === SPACE && spaces === 1;
        // The space's token start moves into the run: a listed word costs one token with its space.
        if (runAfterSpace) q -= Q;
        runCost = runAfterSpace ? Q + 1 : Q;
      } else {
        runLen++;
        runHash = wordHash(runHash, c | 32);
        if (upper) runWordShape = false; // only "word" and "Word" forms are listed
        const p = prevCode | 32, l = c | 32;
        // Bigram statistics hold between lowercase letters; a letter after a capital costs a token
        // ("WILe": W|IL|e; cl100k keeps "OwOwP" whole and splits it in five).
        runCost += c === prevCode || (prevCode >= 97 && bigram[(p - 97) * 26 + l - 97]) ? HALF : Q;
      }
      prev = LETTER;
    } else if (c >= 48 && c <= 57) {
      // Numbers are split in groups of at most three; a digit costs a token at a group's start,
      // and in a group that may hold a non-ASCII number character ("Digits").
      digits = prev >= DIGIT ? (digits === 2 ? 0 : digits + 1) : 0;
      if (digits <= 0) q += Q;
      prev = DIGIT;
    } else if (c === 32 || (c >= 9 && c <= 13)) {
      if (prev === SPACE || prev === WS) {
        spaces++;
        q += c === prevCode && (c === 32 || c === 10 || c === 9) ? HALF : Q;
      } else {
        spaces = 1;
        q += Q;
      }
      prev = c === 32 ? SPACE : WS;
    } else if (c < 128) {
      // punctuation and control characters
      q += prev === PUNCT && c === prevCode && c > 32 ? HALF : Q; // control characters do not merge
      prev = PUNCT;
    } else {
      // non-ASCII: UTF-8 bytes; a valid surrogate pair is 4 bytes, a lone surrogate becomes U+FFFD (3).
      // It may be a number character ("Digits"): two digits before it in an unfinished group of
      // three, priced as one token, may share its group (a token each); it starts a group of its own.
      if (prev === DIGIT && digits === 1) q += Q;
      digits = -3;
      if (c < 0x800) q += 2 * Q;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        q += 4 * Q;
        i++;
      } else q += 3 * Q;
      prev = WIDE;
    }
    prevCode = c;
  }
  return q;
}

/** Upper bound of the tokens of one string. */
export function textTokens(s: string, maxWord = MAX_WORD): number {
  return Math.ceil(textQuarterTokens(s, maxWord) / Q);
}
