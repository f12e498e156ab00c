// BpfObject: one opened+loaded BPF ELF object and every attachment made from it. Links are
// fds held by this process: close() (or process death) detaches them all.
#pragma once
#include <napi.h>
#include <string>
#include <vector>

struct bpf_object;
struct bpf_link;
struct bpf_map;

namespace tendril {

struct Attachment {
  enum Kind { LINK, LINK_FD, PROG_ATTACH } kind;
  bpf_link *link = nullptr;  // LINK
  int fd = -1;               // LINK_FD: raw link fd (tcx)
  int prog_fd = -1;          // PROG_ATTACH
  int target_fd = -1;        // PROG_ATTACH: map fd
  int attach_type = 0;       // PROG_ATTACH
  bool live = false;
};

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  explicit BpfObject(const Napi::CallbackInfo &info);
  ~BpfObject() override;
  bpf_map *MapByName(Napi::Env env, const Napi::Value &name);
  bpf_object *Obj() { return obj_; }

 private:
  Napi::Value Maps(const Napi::CallbackInfo &info);
  Napi::Value Programs(const Napi::CallbackInfo &info);
  Napi::Value Lookup(const Napi::CallbackInfo &info);
  Napi::Value Update(const Napi::CallbackInfo &info);
  Napi::Value Remove(const Napi::CallbackInfo &info);
  Napi::Value Keys(const Napi::CallbackInfo &info);
  Napi::Value AttachCgroup(const Napi::CallbackInfo &info);
  Napi::Value AttachTcx(const Napi::CallbackInfo &info);
  Napi::Value AttachSkMsg(const Napi::CallbackInfo &info);
  Napi::Value Detach(const Napi::CallbackInfo &info);
  Napi::Value TestRun(const Napi::CallbackInfo &info);
  Napi::Value LoadLog(const Napi::CallbackInfo &info);
  Napi::Value UnpinMaps(const Napi::CallbackInfo &info);
  Napi::Value Close(const Napi::CallbackInfo &info);
  void CloseAll();
  void DetachOne(Attachment &a);
  int ProgFd(Napi::Env env, const Napi::Value &name);
  void CheckOpen(Napi::Env env);

  bpf_object *obj_ = nullptr;
  std::string load_log_;  // libbpf's info/warn lines from open+load
  std::vector<Attachment> attachments_;
};

}  // namespace tendril
