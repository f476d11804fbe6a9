#include "featurestore/schema.h"

#include <cstring>
#include <type_traits>

#include "absl/strings/str_cat.h"

namespace vrec::featurestore {
namespace {

class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) { out_->clear(); }
  template <typename T>
  void Put(T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    char buf[sizeof(T)];
    std::memcpy(buf, &value, sizeof(T));
    out_->append(buf, sizeof(T));
  }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      out_->push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_->push_back(static_cast<char>(v));
  }
  void Str(absl::string_view s) {
    Varint(s.size());
    out_->append(s.data(), s.size());
  }
  void Counters(const EngagementCounters& c) {
    Put(c.updated_ms);
    for (float v : c.day) Put(v);
    for (float v : c.week) Put(v);
    for (double v : c.total) Put(v);
  }

 private:
  std::string* out_;
};

class Reader {
 public:
  explicit Reader(absl::string_view in) : in_(in) {}
  template <typename T>
  bool Get(T* value) {
    if (in_.size() < sizeof(T)) return false;
    std::memcpy(value, in_.data(), sizeof(T));
    in_.remove_prefix(sizeof(T));
    return true;
  }
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return false;
      const uint8_t byte = static_cast<uint8_t>(in_[0]);
      in_.remove_prefix(1);
      *v |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }
  bool Str(std::string* s) {
    uint64_t n;
    if (!Varint(&n) || n > in_.size()) return false;
    s->assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool Count(uint64_t* n, size_t min_element_bytes) {
    return Varint(n) && *n <= in_.size() / std::max<size_t>(1, min_element_bytes);
  }
  bool Counters(EngagementCounters* c) {
    bool ok = Get(&c->updated_ms);
    for (float& v : c->day) ok = ok && Get(&v);
    for (float& v : c->week) ok = ok && Get(&v);
    for (double& v : c->total) ok = ok && Get(&v);
    return ok;
  }
  bool done() const { return in_.empty(); }

 private:
  absl::string_view in_;
};

absl::Status CheckVersion(Reader& r, absl::string_view what) {
  uint8_t version = 0;
  if (!r.Get(&version)) return absl::DataLossError(absl::StrCat("empty ", what, " value"));
  if (version != kFeatureSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(what, " value has feature schema version ",
                                                      version, "; this build reads ",
                                                      kFeatureSchemaVersion));
  }
  return absl::OkStatus();
}

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("corrupt ", what, " value"));
}

}  // namespace

void EncodeVideo(const VideoFeatures& v, std::string* out) {
  Writer w(out);
  w.Put(kFeatureSchemaVersion);
  w.Put(static_cast<uint8_t>(v.known));
  w.Str(v.category);
  w.Varint(v.tags.size());
  for (const std::string& t : v.tags) w.Str(t);
  w.Put(v.creator_id);
  w.Put(v.duration_ms);
  w.Str(v.language);
  w.Put(v.upload_ms);
  w.Counters(v.counters);
}

void EncodeUser(const UserFeatures& u, std::string* out) {
  Writer w(out);
  w.Put(kFeatureSchemaVersion);
  w.Put(static_cast<uint8_t>(u.known));
  w.Str(u.country);
  w.Str(u.language);
  w.Put(u.age_bucket);
  w.Put(u.signup_ms);
  w.Put(u.last_active_ms);
  w.Counters(u.counters);
  w.Put(u.affinity_ms);
  w.Varint(u.affinity.size());
  for (const CategoryAffinity& a : u.affinity) {
    w.Put(a.category);
    w.Put(a.week);
    w.Put(a.total);
  }
}

void EncodeHistory(const UserFeatures& user, std::string* out) {
  Writer w(out);
  w.Put(kFeatureSchemaVersion);
  w.Varint(user.history.size());
  for (const HistoryEntry& h : user.history) {
    w.Put(h.video_id);
    w.Put(h.time_ms);
    w.Put(h.watch_ratio);
    w.Put(h.signals);
  }
  w.Varint(user.earlier.size());
  for (const EarlierVideo& e : user.earlier) w.Varint(static_cast<uint64_t>(e.video) << 1 | (e.engaged ? 1 : 0));
}

absl::Status DecodeVideo(absl::string_view bytes, VideoFeatures* v) {
  Reader r(bytes);
  if (absl::Status s = CheckVersion(r, "video"); !s.ok()) return s;
  uint8_t known = 0;
  uint64_t tags = 0;
  bool ok = r.Get(&known) && r.Str(&v->category) && r.Count(&tags, 1);
  v->known = known != 0;
  v->tags.resize(ok ? tags : 0);
  for (std::string& t : v->tags) ok = ok && r.Str(&t);
  ok = ok && r.Get(&v->creator_id) && r.Get(&v->duration_ms) && r.Str(&v->language) &&
       r.Get(&v->upload_ms) && r.Counters(&v->counters) && r.done();
  return ok ? absl::OkStatus() : Corrupt("video");
}

absl::Status DecodeUser(absl::string_view bytes, UserFeatures* u) {
  Reader r(bytes);
  if (absl::Status s = CheckVersion(r, "user"); !s.ok()) return s;
  uint8_t known = 0;
  uint64_t n = 0;
  bool ok = r.Get(&known) && r.Str(&u->country) && r.Str(&u->language) && r.Get(&u->age_bucket) &&
            r.Get(&u->signup_ms) && r.Get(&u->last_active_ms) && r.Counters(&u->counters) &&
            r.Get(&u->affinity_ms) && r.Count(&n, 12);
  u->known = known != 0;
  u->affinity.resize(ok ? n : 0);
  for (CategoryAffinity& a : u->affinity) ok = ok && r.Get(&a.category) && r.Get(&a.week) && r.Get(&a.total);
  return ok && r.done() ? absl::OkStatus() : Corrupt("user");
}

absl::Status DecodeHistory(absl::string_view bytes, UserFeatures* user) {
  Reader r(bytes);
  if (absl::Status s = CheckVersion(r, "history"); !s.ok()) return s;
  uint64_t n = 0;
  bool ok = r.Count(&n, 17);
  user->history.resize(ok ? n : 0);
  for (HistoryEntry& h : user->history) {
    ok = ok && r.Get(&h.video_id) && r.Get(&h.time_ms) && r.Get(&h.watch_ratio) && r.Get(&h.signals);
  }
  ok = ok && r.Count(&n, 1);
  user->earlier.resize(ok ? n : 0);
  for (EarlierVideo& e : user->earlier) {
    uint64_t packed = 0;
    ok = ok && r.Varint(&packed) && (packed >> 1) <= UINT32_MAX;
    e.video = static_cast<VideoId>(packed >> 1);
    e.engaged = (packed & 1) != 0;
  }
  return ok && r.done() ? absl::OkStatus() : Corrupt("history");
}

}  // namespace vrec::featurestore
