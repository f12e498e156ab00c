// Shared helpers of the addon: errno -> JS error with a stable `code` the TS facade maps onto
// TND_NATIVE_CALL / TND_BPF_LOAD / TND_BPF_ATTACH, and the libbpf log capture.
#pragma once
#include <napi.h>
#include <cerrno>
#include <cstring>
#include <string>

namespace tendril {

// Throws an Error with .code (TND_*), .errno and .syscall (the libbpf call) set.
[[noreturn]] inline void ThrowErrno(Napi::Env env, const char *code, const std::string &what, int err,
                                    const std::string &log = "") {
  if (err < 0) err = -err;
  Napi::Error e = Napi::Error::New(env, what + ": " + std::strerror(err) + " (errno " + std::to_string(err) + ")");
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("call", Napi::String::New(env, what));
  if (!log.empty()) e.Set("log", Napi::String::New(env, log));
  throw e;
}

[[noreturn]] inline void ThrowUsage(Napi::Env env, const std::string &what) {
  Napi::TypeError e = Napi::TypeError::New(env, what);
  e.Set("code", Napi::String::New(env, "TND_NATIVE_CALL"));
  throw e;
}

// libbpf log capture (used around open/load so the verifier log can be attached to the error).
void LogCaptureBegin();
std::string LogCaptureEnd();

}  // namespace tendril
