// Slots of the Float64Array the native scanner fills: the same order as
// `enum Slot` in native/src/json_scan.h (test/native/request-scan.test.ts
// checks the count the addon reports).

export const S = {
  STATUS: 0,
  FLAGS: 1,
  Q_VERIFIED: 2,
  Q_UNVERIFIED: 3,
  PRED_Q_VERIFIED: 4,
  PRED_Q_UNVERIFIED: 5,
  OBJ_OPEN: 6,
  MODEL_KIND: 7, MODEL_S: 8, MODEL_E: 9,
  STREAM_KIND: 10,
  CAP0_KIND: 11, // max_tokens: kind, value, start, end; then max_completion_tokens, max_output_tokens
  N_KIND: 23, N_VAL: 24,
  BEST_OF_KIND: 25, BEST_OF_VAL: 26,
  MESSAGES_KIND: 27, INPUT_KIND: 28,
  SO_KIND: 29, SO_S: 30, SO_E: 31, SO_KEYS: 32,
  IU_KIND: 33, IU_S: 34, IU_E: 35,
  PREV_KIND: 36, CONV_KIND: 37, PROMPT_KIND: 38, MCP_KIND: 39, MCP_NONEMPTY: 40,
  TOOL_TYPE_S: 41, TOOL_TYPE_E: 42,
  PRED_KIND: 43,
  ERROR_AT: 44,
  USAGE_KIND: 45, USAGE_S: 46, USAGE_E: 47,
  // An answer's usage counts (-1: absent), read only when USAGE_PLAIN is 1 (native/src/json_scan.h).
  USAGE_PLAIN: 48,
  U_PROMPT: 49, U_COMPLETION: 50, U_INPUT: 51, U_OUTPUT: 52, U_CACHE_READ: 53, U_CACHE_CREATION: 54,
  U_PROMPT_CACHED: 55, U_INPUT_CACHED: 56, U_CACHE_1H: 57,
  COUNT: 58,
} as const;

export const CAP_FIELDS = ['max_tokens', 'max_completion_tokens', 'max_output_tokens'] as const;
export type CapField = (typeof CAP_FIELDS)[number];

export const Status = { OK: 0, SYNTAX: 1, DUPLICATE: 2, TOO_DEEP: 3, NOT_OBJECT: 4 } as const;
export const Flag = { MEDIA: 1, CACHE_CONTROL: 2 } as const;
/** Kind of a JSON value; ABSENT: the key is not there. */
export const Kind = { ABSENT: 0, NULL: 1, FALSE: 2, TRUE: 3, NUMBER: 4, STRING: 5, ARRAY: 6, OBJECT: 7 } as const;
