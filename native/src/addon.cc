// N-API entry: registers BpfObject and RingBuffer, and routes libbpf's print callback into a
// capture buffer (the verifier log ends up in the thrown error's `log` field).
#include <bpf/libbpf.h>
#include <cstdarg>
#include <cstdio>
#include "common.h"
#include "object.h"
#include "ringbuf.h"

namespace tendril {

static bool g_capturing = false;
static std::string g_log;

static int PrintFn(enum libbpf_print_level level, const char *fmt, va_list args) {
  if (!g_capturing || level == LIBBPF_DEBUG) return 0;
  char buf[4096];
  int n = vsnprintf(buf, sizeof(buf), fmt, args);
  if (n > 0 && g_log.size() < (1 << 20)) g_log.append(buf, n < (int)sizeof(buf) ? n : sizeof(buf) - 1);
  return 0;
}

void LogCaptureBegin() {
  g_log.clear();
  g_capturing = true;
}

std::string LogCaptureEnd() {
  g_capturing = false;
  std::string out;
  out.swap(g_log);
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  libbpf_set_print(PrintFn);
  libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
  BpfObject::Init(env, exports);
  RingBuffer::Init(env, exports);
  exports.Set("libbpfVersion", Napi::String::New(env, libbpf_version_string()));
  return exports;
}

}  // namespace tendril

static Napi::Object InitAll(Napi::Env env, Napi::Object exports) { return tendril::Init(env, exports); }

NODE_API_MODULE(tendril_bpf, InitAll)
