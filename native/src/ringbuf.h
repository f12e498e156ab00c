// RingBuffer: consumes a BPF ring buffer on the Node event loop without blocking it: libuv polls
// the ring's epoll fd and each readiness drains the ring, calling the JS callback per record.
#pragma once
#include <napi.h>
#include <uv.h>

struct ring_buffer;

namespace tendril {

class RingBuffer : public Napi::ObjectWrap<RingBuffer> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  explicit RingBuffer(const Napi::CallbackInfo &info);
  ~RingBuffer() override;

 private:
  static int OnSample(void *ctx, void *data, size_t size);
  static void OnPoll(uv_poll_t *handle, int status, int events);
  Napi::Value Close(const Napi::CallbackInfo &info);
  Napi::Value Drain(const Napi::CallbackInfo &info);
  void Stop();

  Napi::Env env_;
  ring_buffer *rb_ = nullptr;
  uv_poll_t *poll_ = nullptr;
  Napi::FunctionReference callback_;
  Napi::ObjectReference owner_;  // keeps the BpfObject (and its map fd) alive
  Napi::AsyncContext *async_ = nullptr;
  uint64_t count_ = 0;
};

}  // namespace tendril
