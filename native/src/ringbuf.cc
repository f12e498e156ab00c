#include "ringbuf.h"
#include <bpf/libbpf.h>
#include "common.h"
#include "object.h"

namespace tendril {

void RingBuffer::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function fn = DefineClass(env, "RingBuffer",
                                  {InstanceMethod("close", &RingBuffer::Close), InstanceMethod("drain", &RingBuffer::Drain)});
  exports.Set("RingBuffer", fn);
}

// new RingBuffer(bpfObject, mapName, (record: Buffer) => void)
RingBuffer::RingBuffer(const Napi::CallbackInfo &info) : Napi::ObjectWrap<RingBuffer>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsString() || !info[2].IsFunction())
    ThrowUsage(env, "RingBuffer(bpfObject, mapName, callback)");
  BpfObject *obj = Napi::ObjectWrap<BpfObject>::Unwrap(info[0].As<Napi::Object>());
  bpf_map *m = obj->MapByName(env, info[1]);
  if (bpf_map__type(m) != BPF_MAP_TYPE_RINGBUF) ThrowUsage(env, "map is not a ring buffer");
  owner_ = Napi::Persistent(info[0].As<Napi::Object>());
  callback_ = Napi::Persistent(info[2].As<Napi::Function>());
  rb_ = ring_buffer__new(bpf_map__fd(m), &RingBuffer::OnSample, this, nullptr);
  int err = (int)libbpf_get_error(rb_);
  if (err) {
    rb_ = nullptr;
    ThrowErrno(env, "TND_NATIVE_CALL", "ring_buffer__new", err);
  }
  async_ = new Napi::AsyncContext(env, "tendril:ringbuf");
  uv_loop_t *loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  poll_ = new uv_poll_t;
  uv_poll_init(loop, poll_, ring_buffer__epoll_fd(rb_));
  poll_->data = this;
  uv_poll_start(poll_, UV_READABLE, &RingBuffer::OnPoll);
}

RingBuffer::~RingBuffer() { Stop(); }

int RingBuffer::OnSample(void *ctx, void *data, size_t size) {
  RingBuffer *self = static_cast<RingBuffer *>(ctx);
  Napi::Env env = self->env_;
  self->count_++;
  Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::Copy(env, static_cast<uint8_t *>(data), size);
  try {
    self->callback_.MakeCallback(env.Global(), {buf}, *self->async_);
  } catch (const Napi::Error &e) {
    napi_fatal_exception(env, e.Value());
    return -1;
  }
  return 0;
}

void RingBuffer::OnPoll(uv_poll_t *handle, int status, int events) {
  RingBuffer *self = static_cast<RingBuffer *>(handle->data);
  if (!self || !self->rb_) return;
  Napi::HandleScope scope(self->env_);
  ring_buffer__consume(self->rb_);
}

// drain(): consumes what is ready now (synchronously); returns records delivered so far.
Napi::Value RingBuffer::Drain(const Napi::CallbackInfo &info) {
  if (rb_) ring_buffer__consume(rb_);
  return Napi::Number::New(info.Env(), (double)count_);
}

void RingBuffer::Stop() {
  if (poll_) {
    uv_poll_stop(poll_);
    poll_->data = rb_;  // freed together after libuv is done with the handle
    uv_close(reinterpret_cast<uv_handle_t *>(poll_), [](uv_handle_t *h) {
      ring_buffer *rb = static_cast<ring_buffer *>(h->data);
      if (rb) ring_buffer__free(rb);
      delete reinterpret_cast<uv_poll_t *>(h);
    });
    poll_ = nullptr;
    rb_ = nullptr;
  } else if (rb_) {
    ring_buffer__free(rb_);
    rb_ = nullptr;
  }
  if (async_) {
    delete async_;
    async_ = nullptr;
  }
  if (!callback_.IsEmpty()) callback_.Reset();
  if (!owner_.IsEmpty()) owner_.Reset();
}

Napi::Value RingBuffer::Close(const Napi::CallbackInfo &info) {
  Stop();
  return info.Env().Undefined();
}

}  // namespace tendril
