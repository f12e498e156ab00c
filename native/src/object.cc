// BpfObject implementation: thin wrappers over libbpf; argument shapes are validated in
// native/index.ts before crossing, sizes are re-checked here (never trust the caller with memory).
#include "object.h"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common.h"

#ifndef BPF_TCX_INGRESS
#define TD_BPF_TCX_INGRESS 46  // not in the 6.1 uapi headers / libbpf 1.1
#define TD_BPF_TCX_EGRESS 47
#else
#define TD_BPF_TCX_INGRESS BPF_TCX_INGRESS
#define TD_BPF_TCX_EGRESS BPF_TCX_EGRESS
#endif

namespace tendril {

void BpfObject::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function fn = DefineClass(env, "BpfObject",
                                  {
                                      InstanceMethod("maps", &BpfObject::Maps),
                                      InstanceMethod("programs", &BpfObject::Programs),
                                      InstanceMethod("lookup", &BpfObject::Lookup),
                                      InstanceMethod("update", &BpfObject::Update),
                                      InstanceMethod("remove", &BpfObject::Remove),
                                      InstanceMethod("keys", &BpfObject::Keys),
                                      InstanceMethod("attachCgroup", &BpfObject::AttachCgroup),
                                      InstanceMethod("attachTcx", &BpfObject::AttachTcx),
                                      InstanceMethod("attachSkMsg", &BpfObject::AttachSkMsg),
                                      InstanceMethod("detach", &BpfObject::Detach),
                                      InstanceMethod("testRun", &BpfObject::TestRun),
                                      InstanceMethod("loadLog", &BpfObject::LoadLog),
                                      InstanceMethod("unpinMaps", &BpfObject::UnpinMaps),
                                      InstanceMethod("close", &BpfObject::Close),
                                  });
  exports.Set("BpfObject", fn);
}

// new BpfObject(path, pinRoot)
BpfObject::BpfObject(const Napi::CallbackInfo &info) : Napi::ObjectWrap<BpfObject>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) ThrowUsage(env, "BpfObject(path, pinRoot)");
  std::string path = info[0].As<Napi::String>();
  std::string pin_root = info[1].As<Napi::String>();
  LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_root.c_str());
  LogCaptureBegin();
  bpf_object *obj = bpf_object__open_file(path.c_str(), &opts);
  long err = libbpf_get_error(obj);
  if (err) {
    std::string log = LogCaptureEnd();
    ThrowErrno(env, "TND_BPF_LOAD", "bpf_object__open_file(" + path + ")", (int)err, log);
  }
  int lerr = bpf_object__load(obj);
  std::string log = LogCaptureEnd();
  if (lerr) {
    bpf_object__close(obj);
    ThrowErrno(env, "TND_BPF_LOAD", "bpf_object__load(" + path + ")", lerr, log);
  }
  obj_ = obj;
  load_log_ = log;
}

Napi::Value BpfObject::LoadLog(const Napi::CallbackInfo &info) { return Napi::String::New(info.Env(), load_log_); }

BpfObject::~BpfObject() { CloseAll(); }

void BpfObject::CheckOpen(Napi::Env env) {
  if (!obj_) ThrowUsage(env, "BpfObject is closed");
}

bpf_map *BpfObject::MapByName(Napi::Env env, const Napi::Value &name) {
  CheckOpen(env);
  if (!name.IsString()) ThrowUsage(env, "map name must be a string");
  std::string n = name.As<Napi::String>();
  bpf_map *m = bpf_object__find_map_by_name(obj_, n.c_str());
  if (!m) ThrowErrno(env, "TND_NATIVE_CALL", "bpf_object__find_map_by_name(" + n + ")", ENOENT);
  return m;
}

int BpfObject::ProgFd(Napi::Env env, const Napi::Value &name) {
  CheckOpen(env);
  if (!name.IsString()) ThrowUsage(env, "program name must be a string");
  std::string n = name.As<Napi::String>();
  bpf_program *p = bpf_object__find_program_by_name(obj_, n.c_str());
  if (!p) ThrowErrno(env, "TND_NATIVE_CALL", "bpf_object__find_program_by_name(" + n + ")", ENOENT);
  return bpf_program__fd(p);
}

Napi::Value BpfObject::Maps(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  Napi::Array arr = Napi::Array::New(env);
  uint32_t i = 0;
  bpf_map *m;
  bpf_object__for_each_map(m, obj_) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", bpf_map__name(m));
    o.Set("type", (double)bpf_map__type(m));
    o.Set("keySize", (double)bpf_map__key_size(m));
    o.Set("valueSize", (double)bpf_map__value_size(m));
    o.Set("maxEntries", (double)bpf_map__max_entries(m));
    const char *pin = bpf_map__pin_path(m);
    if (pin) o.Set("pinPath", pin);
    arr.Set(i++, o);
  }
  return arr;
}

Napi::Value BpfObject::Programs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  Napi::Array arr = Napi::Array::New(env);
  uint32_t i = 0;
  bpf_program *p;
  bpf_object__for_each_program(p, obj_) arr.Set(i++, bpf_program__name(p));
  return arr;
}

static void CheckBuf(Napi::Env env, const Napi::Value &v, size_t size, const char *what) {
  if (!v.IsBuffer()) ThrowUsage(env, std::string(what) + " must be a Buffer");
  size_t len = v.As<Napi::Buffer<uint8_t>>().Length();
  if (len != size)
    ThrowUsage(env, std::string(what) + " must be " + std::to_string(size) + " bytes, got " + std::to_string(len));
}

// lookup(map, key) -> Buffer | null
Napi::Value BpfObject::Lookup(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  bpf_map *m = MapByName(env, info[0]);
  CheckBuf(env, info[1], bpf_map__key_size(m), "key");
  auto key = info[1].As<Napi::Buffer<uint8_t>>();
  auto val = Napi::Buffer<uint8_t>::New(env, bpf_map__value_size(m));
  if (bpf_map_lookup_elem(bpf_map__fd(m), key.Data(), val.Data()) != 0) {
    if (errno == ENOENT) return env.Null();
    ThrowErrno(env, "TND_NATIVE_CALL", std::string("bpf_map_lookup_elem(") + bpf_map__name(m) + ")", errno);
  }
  return val;
}

// update(map, key, value, flags)
Napi::Value BpfObject::Update(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  bpf_map *m = MapByName(env, info[0]);
  CheckBuf(env, info[1], bpf_map__key_size(m), "key");
  CheckBuf(env, info[2], bpf_map__value_size(m), "value");
  uint64_t flags = info.Length() > 3 && info[3].IsNumber() ? (uint64_t)info[3].As<Napi::Number>().Int64Value() : 0;
  auto key = info[1].As<Napi::Buffer<uint8_t>>();
  auto val = info[2].As<Napi::Buffer<uint8_t>>();
  if (bpf_map_update_elem(bpf_map__fd(m), key.Data(), val.Data(), flags) != 0)
    ThrowErrno(env, "TND_NATIVE_CALL", std::string("bpf_map_update_elem(") + bpf_map__name(m) + ")", errno);
  return env.Undefined();
}

// remove(map, key) -> boolean (false when absent)
Napi::Value BpfObject::Remove(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  bpf_map *m = MapByName(env, info[0]);
  CheckBuf(env, info[1], bpf_map__key_size(m), "key");
  auto key = info[1].As<Napi::Buffer<uint8_t>>();
  if (bpf_map_delete_elem(bpf_map__fd(m), key.Data()) != 0) {
    if (errno == ENOENT) return Napi::Boolean::New(env, false);
    ThrowErrno(env, "TND_NATIVE_CALL", std::string("bpf_map_delete_elem(") + bpf_map__name(m) + ")", errno);
  }
  return Napi::Boolean::New(env, true);
}

// keys(map) -> Buffer[] (bounded by max_entries)
Napi::Value BpfObject::Keys(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  bpf_map *m = MapByName(env, info[0]);
  size_t ks = bpf_map__key_size(m);
  std::vector<uint8_t> cur(ks), next(ks);
  Napi::Array arr = Napi::Array::New(env);
  uint32_t n = 0, limit = bpf_map__max_entries(m);
  const void *prev = nullptr;
  while (n < limit && bpf_map_get_next_key(bpf_map__fd(m), prev, next.data()) == 0) {
    arr.Set(n++, Napi::Buffer<uint8_t>::Copy(env, next.data(), ks));
    cur.swap(next);
    prev = cur.data();
  }
  return arr;
}

int AddAttachment(std::vector<Attachment> &v, const Attachment &a) {
  v.push_back(a);
  return (int)v.size() - 1;
}

// attachCgroup(prog, cgroupDir) -> id. Refuses the root cgroup (inode 1).
Napi::Value BpfObject::AttachCgroup(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  if (!info[0].IsString() || !info[1].IsString()) ThrowUsage(env, "attachCgroup(prog, cgroupDir)");
  std::string pname = info[0].As<Napi::String>();
  std::string dir = info[1].As<Napi::String>();
  bpf_program *p = bpf_object__find_program_by_name(obj_, pname.c_str());
  if (!p) ThrowErrno(env, "TND_NATIVE_CALL", "bpf_object__find_program_by_name(" + pname + ")", ENOENT);
  int cg = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cg < 0) ThrowErrno(env, "TND_BPF_ATTACH", "open(" + dir + ")", errno);
  struct stat st;
  if (fstat(cg, &st) == 0 && st.st_ino == 1) {
    close(cg);
    ThrowUsage(env, "refusing to attach " + pname + " to the root cgroup " + dir);
  }
  bpf_link *l = bpf_program__attach_cgroup(p, cg);
  int err = (int)libbpf_get_error(l);
  close(cg);
  if (err) ThrowErrno(env, "TND_BPF_ATTACH", "bpf_program__attach_cgroup(" + pname + ", " + dir + ")", err);
  Attachment a{Attachment::LINK};
  a.link = l;
  a.live = true;
  return Napi::Number::New(env, AddAttachment(attachments_, a));
}

// attachTcx(prog, netnsPath, ifname, egress) -> id. Enters netnsPath on this thread only to
// resolve ifname and create the link, then returns to the original netns.
Napi::Value BpfObject::AttachTcx(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[1].IsString() || !info[2].IsString() || !info[3].IsBoolean())
    ThrowUsage(env, "attachTcx(prog, netnsPath, ifname, egress)");
  int prog_fd = ProgFd(env, info[0]);
  std::string ns = info[1].As<Napi::String>();
  std::string ifname = info[2].As<Napi::String>();
  bool egress = info[3].As<Napi::Boolean>();
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) ThrowErrno(env, "TND_BPF_ATTACH", "open(/proc/thread-self/ns/net)", errno);
  int target = open(ns.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int e = errno;
    close(self);
    ThrowErrno(env, "TND_BPF_ATTACH", "open(" + ns + ")", e);
  }
  if (setns(target, CLONE_NEWNET) != 0) {
    int e = errno;
    close(self);
    close(target);
    ThrowErrno(env, "TND_BPF_ATTACH", "setns(" + ns + ")", e);
  }
  int err = 0;
  std::string what;
  unsigned idx = if_nametoindex(ifname.c_str());
  int fd = -1;
  if (idx == 0) {
    err = errno;
    what = "if_nametoindex(" + ifname + ") in " + ns;
  } else {
    fd = bpf_link_create(prog_fd, (int)idx, (enum bpf_attach_type)(egress ? TD_BPF_TCX_EGRESS : TD_BPF_TCX_INGRESS), nullptr);
    if (fd < 0) {
      err = -fd;
      what = "bpf_link_create(tcx " + std::string(egress ? "egress" : "ingress") + ", " + ifname + ")";
    }
  }
  int back = setns(self, CLONE_NEWNET);
  close(self);
  close(target);
  if (back != 0) {
    // Cannot happen short of a kernel bug; continuing in the wrong netns would be worse.
    fprintf(stderr, "BUG: tendril addon could not return to its own netns\n");
    abort();
  }
  if (err) ThrowErrno(env, "TND_BPF_ATTACH", what, err);
  Attachment a{Attachment::LINK_FD};
  a.fd = fd;
  a.live = true;
  return Napi::Number::New(env, AddAttachment(attachments_, a));
}

// attachSkMsg(prog, sockhashMap) -> id (legacy prog_attach; libbpf 1.1 has no sockmap link; the
// attachment lives as long as the map, which is unpinned and owned by this object).
Napi::Value BpfObject::AttachSkMsg(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int prog_fd = ProgFd(env, info[0]);
  bpf_map *m = MapByName(env, info[1]);
  int map_fd = bpf_map__fd(m);
  if (bpf_prog_attach(prog_fd, map_fd, BPF_SK_MSG_VERDICT, 0) != 0)
    ThrowErrno(env, "TND_BPF_ATTACH", "bpf_prog_attach(sk_msg)", errno);
  Attachment a{Attachment::PROG_ATTACH};
  a.prog_fd = prog_fd;
  a.target_fd = map_fd;
  a.attach_type = BPF_SK_MSG_VERDICT;
  a.live = true;
  return Napi::Number::New(env, AddAttachment(attachments_, a));
}

void BpfObject::DetachOne(Attachment &a) {
  if (!a.live) return;
  a.live = false;
  switch (a.kind) {
    case Attachment::LINK:
      bpf_link__destroy(a.link);
      a.link = nullptr;
      break;
    case Attachment::LINK_FD:
      close(a.fd);
      a.fd = -1;
      break;
    case Attachment::PROG_ATTACH:
      bpf_prog_detach2(a.prog_fd, a.target_fd, (enum bpf_attach_type)a.attach_type);
      break;
  }
}

Napi::Value BpfObject::Detach(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) ThrowUsage(env, "detach(id)");
  int id = info[0].As<Napi::Number>().Int32Value();
  if (id < 0 || id >= (int)attachments_.size()) ThrowUsage(env, "detach: unknown attachment id");
  bool was = attachments_[id].live;
  DetachOne(attachments_[id]);
  return Napi::Boolean::New(env, was);
}

// testRun(prog, packet, repeat) -> { retval, durationNs, data } (BPF_PROG_TEST_RUN; no attach).
Napi::Value BpfObject::TestRun(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int prog_fd = ProgFd(env, info[0]);
  if (!info[1].IsBuffer()) ThrowUsage(env, "testRun(prog, packet: Buffer, repeat)");
  auto in = info[1].As<Napi::Buffer<uint8_t>>();
  int repeat = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : 1;
  std::vector<uint8_t> out(in.Length() + 256);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.Data(), .data_out = out.data(), .data_size_in = (__u32)in.Length(),
              .data_size_out = (__u32)out.size(), .repeat = repeat);
  if (bpf_prog_test_run_opts(prog_fd, &opts) != 0) ThrowErrno(env, "TND_NATIVE_CALL", "bpf_prog_test_run_opts", errno);
  Napi::Object r = Napi::Object::New(env);
  r.Set("retval", Napi::Number::New(env, opts.retval));
  r.Set("durationNs", Napi::Number::New(env, opts.duration));
  r.Set("data", Napi::Buffer<uint8_t>::Copy(env, out.data(), opts.data_size_out));
  return r;
}

// unpinMaps(): removes every pin this object made/used under its pin root.
Napi::Value BpfObject::UnpinMaps(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  bpf_map *m;
  bpf_object__for_each_map(m, obj_) {
    if (bpf_map__is_pinned(m)) bpf_map__unpin(m, nullptr);
  }
  return env.Undefined();
}

void BpfObject::CloseAll() {
  for (auto &a : attachments_) DetachOne(a);
  attachments_.clear();
  if (obj_) {
    bpf_object__close(obj_);
    obj_ = nullptr;
  }
}

Napi::Value BpfObject::Close(const Napi::CallbackInfo &info) {
  CloseAll();
  return info.Env().Undefined();
}

}  // namespace tendril
