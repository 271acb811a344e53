// The pre-packed weight cache (cpu/packed_weights.h).
#include "cpu/packed_weights.h"

#include <cstdlib>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>

#include "base/check.h"
#include "cpu/isa.h"
#include "tensor/storage.h"

namespace kiln::cpu {
namespace {

// (storage id, data pointer, ldb, trans_b, k, n)
using Key = std::tuple<uint64_t, const float*, int64_t, bool, int64_t, int64_t>;

struct Entry {
  PackedB packed;
  int64_t version = 0;
  int pins = 0;
  bool dead = false;  // the storage was freed while pinned: erase on the last release
  std::list<Key>::iterator lru;  // position in Cache::lru (front = most recent)
};

int64_t CapBytes() {
  static const int64_t cap = [] {
    const char* v = std::getenv("KILN_PACK_CACHE_MB");
    if (v == nullptr || *v == '\0') return int64_t{4096} << 20;
    char* end = nullptr;
    const long long mb = std::strtoll(v, &end, 10);
    KILN_CHECK(end != v && *end == '\0' && mb >= 0)
        << "KILN_PACK_CACHE_MB: expected a size in MiB (>= 0), got '" << v << "'";
    return static_cast<int64_t>(mb) << 20;
  }();
  return cap;
}

class Cache {
 public:
  static Cache& Get() {
    static Cache* cache = [] {
      SetStorageReleaseHook(&Cache::OnRelease);
      return new Cache();
    }();
    return *cache;
  }

  const PackedB* Acquire(const WeightHint& hint, const float* b, int64_t ldb, bool trans_b,
                         int64_t k, int64_t n) {
    if (!hint.reuse || k < 1 || n < 1) return nullptr;
    std::lock_guard<std::mutex> lock(mu_);
    const Key key{hint.storage_id, b, ldb, trans_b, k, n};
    auto it = entries_.find(key);
    if (it != entries_.end() && !it->second.dead && it->second.version == hint.version &&
        it->second.packed.isa() == ActiveIsa()) {
      Touch(it);
      ++it->second.pins;
      ++stats_.hits;
      return &it->second.packed;
    }
    if (it != entries_.end() && it->second.pins > 0) return nullptr;  // in use: no repack now
    if (it != entries_.end()) Erase(it);
    PackedB packed = PackB(b, ldb, trans_b, k, n);
    if (packed.bytes() > CapBytes()) return nullptr;
    EvictFor(packed.bytes());
    stats_.bytes += packed.bytes();
    ++stats_.packs;
    lru_.push_front(key);
    auto inserted = entries_.try_emplace(key).first;
    Entry& e = inserted->second;
    by_packed_[&e.packed] = inserted;
    e.packed = std::move(packed);
    e.version = hint.version;
    e.pins = 1;
    e.lru = lru_.begin();
    return &e.packed;
  }

  void Release(const PackedB* packed) {
    std::lock_guard<std::mutex> lock(mu_);
    auto found = by_packed_.find(packed);
    KILN_CHECK(found != by_packed_.end()) << "ReleasePackedB: unknown packed weight";
    auto it = found->second;
    KILN_CHECK(it->second.pins > 0) << "ReleasePackedB: the packed weight is not acquired";
    if (--it->second.pins == 0 && it->second.dead) Erase(it);
  }

  PackedWeightStats Stats() {
    std::lock_guard<std::mutex> lock(mu_);
    PackedWeightStats s = stats_;
    s.entries = static_cast<int64_t>(entries_.size());
    return s;
  }

  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      auto next = std::next(it);
      if (it->second.pins == 0) Erase(it);
      it = next;
    }
  }

 private:
  using Map = std::map<Key, Entry>;

  static void OnRelease(uint64_t id) {
    Cache& c = Get();
    std::lock_guard<std::mutex> lock(c.mu_);
    auto it = c.entries_.lower_bound(Key{id, nullptr, 0, false, 0, 0});
    while (it != c.entries_.end() && std::get<0>(it->first) == id) {
      auto next = std::next(it);
      if (it->second.pins == 0) {
        c.Erase(it);
      } else {
        it->second.dead = true;
      }
      it = next;
    }
  }

  void Touch(Map::iterator it) { lru_.splice(lru_.begin(), lru_, it->second.lru); }

  void Erase(Map::iterator it) {
    stats_.bytes -= it->second.packed.bytes();
    by_packed_.erase(&it->second.packed);
    lru_.erase(it->second.lru);
    entries_.erase(it);
  }

  // Least recently used unpinned entries go until `incoming` more bytes fit under the cap.
  void EvictFor(int64_t incoming) {
    auto pos = lru_.end();
    while (stats_.bytes + incoming > CapBytes() && pos != lru_.begin()) {
      --pos;
      auto it = entries_.find(*pos);
      if (it->second.pins > 0) continue;
      auto prev = pos;  // Erase invalidates pos: step from its successor
      ++prev;
      Erase(it);
      pos = prev;
    }
  }

  std::mutex mu_;
  Map entries_;
  // Release's lookup from the handed-out pointer (std::map nodes never move).
  std::unordered_map<const PackedB*, Map::iterator> by_packed_;
  std::list<Key> lru_;
  PackedWeightStats stats_;
};

}  // namespace

const PackedB* AcquirePackedB(const WeightHint& hint, const float* b, int64_t ldb, bool trans_b,
                              int64_t k, int64_t n) {
  return Cache::Get().Acquire(hint, b, ldb, trans_b, k, n);
}

void ReleasePackedB(const PackedB* packed) {
  if (packed != nullptr) Cache::Get().Release(packed);
}

PackedWeightStats GetPackedWeightStats() { return Cache::Get().Stats(); }

void ClearPackedWeights() { Cache::Get().Clear(); }

}  // namespace kiln::cpu
