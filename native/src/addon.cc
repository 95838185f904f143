// Node-API glue: load(tables, out) once per thread (each shard is a worker
// thread with its own `out`), then scanRequest(buffer) and scanAnswer(buffer[, from, to])
// fill that thread's Float64Array (slots: json_scan.h); scanSse(buffer, from,
// endpoint, out) fills the Int32Array it is given (slots: sse_scan.h).
#include <napi.h>

#include <mutex>

#include "json_scan.h"
#include "sse_scan.h"
#include "text_tokens.h"

namespace {

// Per thread (Node-API instance data): its result array and model buffer.
struct Instance {
  double* out = nullptr;
  Napi::Reference<Napi::Float64Array> ref;
  std::u16string model;
};

// The word list and control keys are the same for every thread: loaded once.
std::once_flag tablesLoaded;

std::vector<std::string> strings(const Napi::Array& a) {
  std::vector<std::string> v;
  for (uint32_t i = 0; i < a.Length(); i++) v.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  return v;
}

/** load(words: string[], forms: number[], bigrams: Uint8Array, control: string[], out: Float64Array) */
Napi::Value Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsArray() || !info[1].IsArray() || !info[2].IsTypedArray() || !info[3].IsArray() || !info[4].IsTypedArray()) {
    Napi::TypeError::New(env, "load(words, forms, bigrams, control, out)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto formsArr = info[1].As<Napi::Array>();
  std::vector<uint32_t> forms;
  for (uint32_t i = 0; i < formsArr.Length(); i++) forms.push_back(formsArr.Get(i).As<Napi::Number>().Uint32Value());
  auto bigrams = info[2].As<Napi::Uint8Array>();
  auto o = info[4].As<Napi::Float64Array>();
  if (bigrams.ElementLength() != 26 * 26 || o.ElementLength() < tg::S_COUNT) {
    Napi::RangeError::New(env, "bigrams must hold 676 entries and out at least S_COUNT").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const auto words = strings(info[0].As<Napi::Array>());
  const auto control = strings(info[3].As<Napi::Array>());
  std::call_once(tablesLoaded, [&] {
    tg::loadWordTable(words, forms, bigrams.Data());
    tg::loadControlKeys(control);
  });
  auto* inst = env.GetInstanceData<Instance>();
  if (!inst) {
    inst = new Instance();
    env.SetInstanceData(inst);
  }
  inst->ref = Napi::Persistent(o);
  inst->out = o.Data();
  return Napi::Number::New(env, tg::S_COUNT);
}

Instance* bytesOf(const Napi::CallbackInfo& info, const uint8_t*& p, size_t& n) {
  auto* inst = info.Env().GetInstanceData<Instance>();
  if (!inst || info.Length() < 1 || !info[0].IsTypedArray()) {
    Napi::TypeError::New(info.Env(), inst ? "expected a Buffer" : "load() first").ThrowAsJavaScriptException();
    return nullptr;
  }
  auto a = info[0].As<Napi::Uint8Array>();
  p = a.Data();
  n = a.ByteLength();
  return inst;
}

/** scanRequest(body: Buffer): the model string (when it is one), else undefined; the rest in out. */
Napi::Value ScanRequest(const Napi::CallbackInfo& info) {
  const uint8_t* p;
  size_t n;
  Instance* inst = bytesOf(info, p, n);
  if (!inst) return info.Env().Undefined();
  inst->model.clear();
  const int st = tg::scanRequest(p, n, inst->out, inst->model);
  if (st != tg::ST_OK || inst->out[tg::S_MODEL_KIND] != static_cast<double>(tg::K_STRING)) return info.Env().Undefined();
  return Napi::String::New(info.Env(), inst->model.data(), inst->model.size());
}

/** scanAnswer(body: Buffer, from?, to?): status; offsets in out (from body[from], the start when not given). */
Napi::Value ScanAnswer(const Napi::CallbackInfo& info) {
  const uint8_t* p;
  size_t n;
  Instance* inst = bytesOf(info, p, n);
  if (!inst) return info.Env().Undefined();
  if (info.Length() >= 3) {
    // A part of the buffer (one SSE event's data): no Buffer made for it.
    const bool numbers = info[1].IsNumber() && info[2].IsNumber();
    const int64_t from = numbers ? info[1].As<Napi::Number>().Int64Value() : -1;
    const int64_t to = numbers ? info[2].As<Napi::Number>().Int64Value() : -1;
    if (from < 0 || to < from || static_cast<size_t>(to) > n) {
      Napi::RangeError::New(info.Env(), "scanAnswer: from and to must lie within the buffer").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    p += from;
    n = static_cast<size_t>(to - from);
  }
  return Napi::Number::New(info.Env(), tg::scanAnswer(p, n, inst->out));
}

/** scanSse(events: Buffer, from: number, endpoint: number, out: Int32Array): events described in out. */
Napi::Value ScanSse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsTypedArray()) {
    Napi::TypeError::New(env, "scanSse(events, from, endpoint, out)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto a = info[0].As<Napi::Uint8Array>();
  auto o = info[3].As<Napi::Int32Array>();
  const int64_t from = info[1].As<Napi::Number>().Int64Value();
  if (o.TypedArrayType() != napi_int32_array || from < 0 || static_cast<size_t>(from) > a.ByteLength()) {
    Napi::RangeError::New(env, "scanSse: out must be an Int32Array and from within the buffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const int max = static_cast<int>(o.ElementLength() / tg::SSE_SLOTS);
  return Napi::Number::New(env, tg::scanSse(a.Data(), a.ByteLength(), static_cast<size_t>(from), info[2].As<Napi::Number>().Int32Value(), o.Data(), max));
}

// The interface's version: bumped with every change to what these functions take
// or return, or to what their results mean, and checked against ADDON_VERSION (src/native/native-addon.ts) at
// load, so an addon built from older sources is refused loudly instead of
// being called with arguments it ignores (a stale build once passed every test
// by falling back in silence).
constexpr int INTERFACE_VERSION = 6;

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("version", Napi::Number::New(env, INTERFACE_VERSION));
  exports.Set("scanSse", Napi::Function::New(env, ScanSse));
  exports.Set("load", Napi::Function::New(env, Load));
  exports.Set("scanRequest", Napi::Function::New(env, ScanRequest));
  exports.Set("scanAnswer", Napi::Function::New(env, ScanAnswer));
  return exports;
}

}  // namespace

NODE_API_MODULE(tollgate_native, Init)
