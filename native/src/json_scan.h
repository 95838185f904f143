// One pass over a request body: strict RFC 8259 validation (UTF-8 included),
// duplicate keys refused at every depth, the top-level fields Tollgate reads,
// the byte offsets of the values an edit replaces, and the prompt estimate of
// src/protocols/estimate/prompt-estimate.ts for bodies without media parts.
// The result goes into a Float64Array shared with JavaScript; the slot numbers
// are mirrored in src/native/scan-slots.ts.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tg {

enum Slot {
  S_STATUS = 0,
  S_FLAGS,
  S_Q_VERIFIED,
  S_Q_UNVERIFIED,
  S_PRED_Q_VERIFIED,
  S_PRED_Q_UNVERIFIED,
  S_OBJ_OPEN,
  S_MODEL_KIND, S_MODEL_S, S_MODEL_E,
  S_STREAM_KIND,
  S_CAP0_KIND, S_CAP0_VAL, S_CAP0_S, S_CAP0_E,  // max_tokens
  S_CAP1_KIND, S_CAP1_VAL, S_CAP1_S, S_CAP1_E,  // max_completion_tokens
  S_CAP2_KIND, S_CAP2_VAL, S_CAP2_S, S_CAP2_E,  // max_output_tokens
  S_N_KIND, S_N_VAL,
  S_BEST_OF_KIND, S_BEST_OF_VAL,
  S_MESSAGES_KIND, S_INPUT_KIND,
  S_SO_KIND, S_SO_S, S_SO_E, S_SO_KEYS,
  S_IU_KIND, S_IU_S, S_IU_E,
  S_PREV_KIND, S_CONV_KIND, S_PROMPT_KIND, S_MCP_KIND, S_MCP_NONEMPTY,
  S_TOOL_TYPE_S, S_TOOL_TYPE_E,
  S_PRED_KIND,
  S_ERROR_AT,
  S_USAGE_KIND, S_USAGE_S, S_USAGE_E,
  // Answers: the token counts of the last top-level "usage" object, -1 where absent; S_USAGE_PLAIN is 1 when
  // every one present is a plain integer literal (digits only) under a plain key, seen once, and each detail
  // object is an object; else 0 and JavaScript parses the object (src/protocols/json-answer.ts).
  S_USAGE_PLAIN,
  S_U_PROMPT, S_U_COMPLETION, S_U_INPUT, S_U_OUTPUT, S_U_CACHE_READ, S_U_CACHE_CREATION,
  S_U_PROMPT_CACHED, S_U_INPUT_CACHED, S_U_CACHE_1H,
  S_COUNT
};

enum Status { ST_OK = 0, ST_SYNTAX = 1, ST_DUPLICATE = 2, ST_TOO_DEEP = 3, ST_NOT_OBJECT = 4 };
enum Flag { F_MEDIA = 1, F_CACHE_CONTROL = 2 };
enum Kind { K_ABSENT = 0, K_NULL, K_FALSE, K_TRUE, K_NUMBER, K_STRING, K_ARRAY, K_OBJECT };

/** Top-level keys that steer the call and are not prompt input (prompt-estimate.ts CONTROL). */
void loadControlKeys(const std::vector<std::string>& keys);

/**
 * Scans a request body. Returns the status; fills out[]. When the model is a
 * string, `model` holds its UTF-16 code units.
 */
int scanRequest(const uint8_t* p, size_t n, double* out, std::u16string& model);

/**
 * Scans a whole JSON answer (UTF-8 read leniently, as Buffer#toString does):
 * whether it is valid JSON, the offsets of the last top-level "model" and
 * "usage" values, and that usage object's token counts when they are plain.
 */
int scanAnswer(const uint8_t* p, size_t n, double* out);

}  // namespace tg
