// One block of a launch in the interpreter: its GPU threads are fibers run round-robin (in linear
// thread order, or reversed), each until it waits at __syncthreads, a warp operation or its end.
// A round in which no fiber can run while some have not finished is a deadlock: the error names
// the kernel, the block, the waiting call's source line and what the missing threads do instead.
#include <algorithm>
#include <cstring>
#include <sstream>

#include "base/check.h"
#include "cuda/interp/block.h"

#include "cuda/interp/sanitizer.h"
#if KILN_SIM_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace kiln::cuda_sim::detail {

thread_local Thread* tls_thread = nullptr;
thread_local BlockInfo* tls_block = nullptr;

namespace {

#if KILN_SIM_ASAN
constexpr size_t kStackBytes = 512 << 10;
void Poison(void* p, size_t n) { __asan_poison_memory_region(p, n); }
void Unpoison(void* p, size_t n) { __asan_unpoison_memory_region(p, n); }
constexpr bool kAsan = true;
#else
constexpr size_t kStackBytes = 128 << 10;
void Poison(void*, size_t) {}
void Unpoison(void*, size_t) {}
constexpr bool kAsan = false;
#endif

const char* Base(const char* file) {
  if (file == nullptr) return "?";
  const char* s = std::strrchr(file, '/');
  return s ? s + 1 : file;
}

std::string Where(Site s) {
  std::ostringstream os;
  os << Base(s.file) << ":" << s.line;
  return os.str();
}

const char* KindName(WarpOpKind k) {
  switch (k) {
    case WarpOpKind::kSyncWarp: return "__syncwarp";
    case WarpOpKind::kShfl: return "__shfl_sync";
    case WarpOpKind::kShflUp: return "__shfl_up_sync";
    case WarpOpKind::kShflDown: return "__shfl_down_sync";
    case WarpOpKind::kShflXor: return "__shfl_xor_sync";
    case WarpOpKind::kBallot: return "__ballot_sync (or __any_sync / __all_sync)";
  }
  return "?";
}

std::string ThreadName(const SimThread& st) {
  std::ostringstream os;
  os << "thread (" << st.t.tid.x << "," << st.t.tid.y << "," << st.t.tid.z << ") [warp "
     << st.t.warp << " lane " << st.t.lane << "]";
  return os.str();
}

std::string Hex(unsigned m) {
  std::ostringstream os;
  os << "0x" << std::hex << m;
  return os.str();
}

// What a thread that should have joined a barrier or warp operation does instead.
std::string Doing(const SimThread& st) {
  switch (st.state) {
    case State::kDone: return "has exited";
    case State::kAtBarrier: return "waits at __syncthreads (" + Where(st.site) + ")";
    case State::kAtWarpOp:
      return std::string("waits at ") + KindName(st.kind) + " (" + Where(st.site) + ", mask " +
             Hex(st.mask) + ")";
    case State::kRunnable: return "is runnable";
  }
  return "?";
}

bool SameSite(Site a, Site b) {
  return a.line == b.line &&
         (a.file == b.file || (a.file && b.file && std::strcmp(a.file, b.file) == 0));
}

SimThread* Me(const char* what) {
  KILN_CHECK(tls_thread != nullptr) << "cuda-sim: " << what << " called outside a kernel launch";
  return reinterpret_cast<SimThread*>(tls_thread);  // Thread is SimThread's first member
}

// Back to the scheduler until this thread is runnable again.
void Park(SimThread* st) {
  Block* b = st->t.block;
  SwitchFiber(&st->fiber, &b->main, b->backend, b->main_bottom, b->main_size, false);
  FinishSwitch(&st->fiber, nullptr, nullptr);
}

[[noreturn]] void Exit(SimThread* st) {
  Block* b = st->t.block;
  SwitchFiber(&st->fiber, &b->main, b->backend, b->main_bottom, b->main_size, true);
  __builtin_trap();  // never resumed
}

void FiberEntry(void* arg) {
  auto* st = static_cast<SimThread*>(arg);
  Block* b = st->t.block;
  FinishSwitch(&st->fiber, &b->main_bottom, &b->main_size);
  b->body(b->closure);
  st->state = State::kDone;
  ++b->done;
  Exit(st);
}

std::string DeadlockMessage(const Block& b) {
  std::ostringstream os;
  os << "deadlock: ";
  const SimThread* at_barrier = nullptr;
  for (const SimThread& st : b.threads) {
    if (st.state == State::kAtBarrier) {
      at_barrier = &st;
      break;
    }
  }
  if (at_barrier != nullptr) {
    os << "__syncthreads (" << Where(at_barrier->site) << ") reached by " << b.at_barrier << " of "
       << b.nthreads << " threads";
    int shown = 0;
    for (const SimThread& st : b.threads) {
      if (st.state == State::kAtBarrier || shown == 3) continue;
      os << "; " << ThreadName(st) << " " << Doing(st);
      ++shown;
    }
    return os.str();
  }
  for (const SimThread& st : b.threads) {
    if (st.state != State::kAtWarpOp) continue;
    const SimThread* warp = &b.threads[st.t.warp * 32];
    os << ThreadName(st) << " waits at " << KindName(st.kind) << " (" << Where(st.site)
       << ", mask " << Hex(st.mask) << ") for lanes that never arrive:";
    int shown = 0;
    for (unsigned l = 0; l < 32 && shown < 3; ++l) {
      if (!(st.mask >> l & 1u)) continue;
      const SimThread& o = warp[l];
      if (o.state == State::kAtWarpOp && o.kind == st.kind && o.mask == st.mask) continue;
      os << " lane " << l << " " << Doing(o) << ";";
      ++shown;
    }
    return os.str();
  }
  os << "no thread can run";
  return os.str();
}

void ResetArena(Block* b) {
  // Everything the previous block touched goes back to red-zone bytes (and ASan poison).
  const size_t n = std::min(kArenaBytes, b->dirty);
  Unpoison(b->arena, n);
  std::memset(b->arena, kRedZoneByte, n);
  Poison(b->arena, n);
  b->used = 0;
  b->dirty = 0;
  b->slots.clear();
}

void* Carve(Block* b, const void* site, size_t bytes, size_t align, const char* name) {
  align = std::max<size_t>(align, 16);
  const size_t offset = (b->used + kRedZone + align - 1) / align * align;
  if (offset + bytes > kMaxSharedBytes + 64 * kRedZone || offset + bytes + kRedZone > kArenaBytes) {
    return nullptr;
  }
  b->used = offset + bytes;
  b->dirty = std::max(b->dirty, b->used + kRedZone);
  b->slots.push_back({site, offset, bytes, name});
  Unpoison(b->arena + offset, bytes);
  std::memset(b->arena + offset, kPoisonByte, bytes);
  return b->arena + offset;
}

// The byte-level red-zone check of builds without ASan (with ASan the write itself was fatal).
std::string CheckRedZones(const Block& b) {
  if (kAsan) return {};
  size_t start = 0;
  for (size_t i = 0; i <= b.slots.size(); ++i) {
    const size_t end = i < b.slots.size() ? b.slots[i].offset : b.used + kRedZone;
    for (size_t p = start; p < end; ++p) {
      if (b.arena[p] == kRedZoneByte) continue;
      std::ostringstream os;
      if (i > 0) {
        const SharedSlot& s = b.slots[i - 1];
        os << "out-of-bounds shared-memory write: " << (p - s.offset - s.bytes)
           << " bytes past the end of '" << s.name << "' (" << s.bytes << " bytes)";
      } else {
        os << "out-of-bounds shared-memory write: " << (b.slots.empty() ? 0 : end - p)
           << " bytes before the first shared array";
      }
      return os.str();
    }
    if (i < b.slots.size()) start = b.slots[i].offset + b.slots[i].bytes;
  }
  return {};
}

}  // namespace

Block::Block() {
  arena = static_cast<unsigned char*>(::operator new(kArenaBytes));
  std::memset(arena, kRedZoneByte, kArenaBytes);
  Poison(arena, kArenaBytes);
}

Block::~Block() {
  Unpoison(arena, kArenaBytes);
  ::operator delete(arena);
  for (FiberStack& s : stacks) FreeFiberStack(s);
}

void SyncThreads(Site site) {
  SimThread* st = Me("__syncthreads");
  Block* b = st->t.block;
  st->state = State::kAtBarrier;
  st->site = site;
  if (++b->at_barrier == b->nthreads) {
    for (SimThread& o : b->threads) {
      if (!SameSite(o.site, site)) {
        b->error = "divergent __syncthreads: " + ThreadName(o) + " waits at " + Where(o.site) +
                   ", others at " + Where(site);
        Exit(st);
      }
    }
    for (SimThread& o : b->threads) o.state = State::kRunnable;
    b->at_barrier = 0;
  }
  Park(st);
}

uint64_t WarpOp(WarpOpKind kind, unsigned mask, uint64_t value, int src, Site site) {
  SimThread* st = Me(KindName(kind));
  Block* b = st->t.block;
  const unsigned lane = st->t.lane;
  SimThread* warp = &b->threads[st->t.warp * 32];
  const unsigned lanes = std::min(32u, b->nthreads - st->t.warp * 32);
  const unsigned exist = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1;
  // Records the error; the caller then calls Exit(st) in a statement of its own, so that no
  // temporary std::string is alive on this fiber's stack when it is abandoned (it would leak).
  auto fail = [&](const std::string& what) {
    b->error = std::string(KindName(kind)) + " (" + Where(site) + ") in " + ThreadName(*st) +
               ": " + what;
  };
  if (!(mask >> lane & 1u)) fail("mask " + Hex(mask) + " does not include the calling lane");
  if (mask & ~exist) fail("mask " + Hex(mask) + " names lanes this warp does not have");
  if (!b->error.empty()) Exit(st);
  st->state = State::kAtWarpOp;
  st->kind = kind;
  st->mask = mask;
  st->value = value;
  st->src = src;
  st->site = site;
  bool complete = true;
  for (unsigned l = 0; l < 32; ++l) {
    if (!(mask >> l & 1u)) continue;
    SimThread& o = warp[l];
    if (o.state != State::kAtWarpOp) {
      complete = false;
      continue;
    }
    const bool same = o.kind == kind && o.mask == mask &&
                      (kind == WarpOpKind::kSyncWarp || SameSite(o.site, site));
    if (!same) {
      fail("divergent warp operation: lane " + std::to_string(l) + " " + Doing(o));
      Exit(st);
    }
  }
  if (complete) {
    unsigned ballot = 0;
    for (unsigned l = 0; l < 32; ++l) {
      if ((mask >> l & 1u) && warp[l].value != 0) ballot |= 1u << l;
    }
    for (unsigned l = 0; l < 32; ++l) {
      if (!(mask >> l & 1u)) continue;
      SimThread& o = warp[l];
      if (kind == WarpOpKind::kBallot) {
        o.result = ballot;
      } else if (kind != WarpOpKind::kSyncWarp) {
        const int s = o.src < 0 ? static_cast<int>(l) : o.src;
        if (!(mask >> s & 1u)) {
          fail("lane " + std::to_string(l) + " reads lane " + std::to_string(s) +
               ", which is not in mask " + Hex(mask));
          Exit(st);
        }
        o.result = warp[s].value;
      }
      o.state = State::kRunnable;
    }
  }
  Park(st);
  return st->result;
}

void* SharedAlloc(const void* site, size_t bytes, size_t align, const char* name) {
  SimThread* st = Me("a __shared__ declaration");
  Block* b = st->t.block;
  for (const SharedSlot& s : b->slots) {
    if (s.site == site) return b->arena + s.offset;
  }
  void* p = Carve(b, site, bytes, align, name);
  if (p == nullptr) {
    b->error = std::string("shared array '") + name + "' (" + std::to_string(bytes) +
               " bytes) does not fit: the block's shared memory exceeds " +
               std::to_string(kMaxSharedBytes) + " bytes";
    Exit(st);
  }
  return p;
}

void* DynamicShared() { return Me("dynamic shared memory")->t.block->dynamic; }

void DeviceFail(const char* what, Site site) {
  SimThread* st = Me(what);
  st->t.block->error = std::string(what) + " (" + Where(site) + ") in " + ThreadName(*st);
  Exit(st);
}

void RunBlock(Block* b, const LaunchSpec& spec, uint64_t linear, void (*body)(const void*),
              const void* closure, bool reverse) {
  const dim3 g = spec.grid, d = spec.block;
  b->spec = &spec;
  b->info.bid = {static_cast<unsigned>(linear % g.x), static_cast<unsigned>(linear / g.x % g.y),
                 static_cast<unsigned>(linear / (static_cast<uint64_t>(g.x) * g.y))};
  b->info.bdim = d;
  b->info.gdim = g;
  b->backend = ActiveFiberBackend();
  b->body = body;
  b->closure = closure;
  b->nthreads = d.x * d.y * d.z;
  b->at_barrier = 0;
  b->done = 0;
  b->error.clear();
  ResetArena(b);
  b->dynamic = Carve(b, nullptr, spec.smem, 16, "dynamic shared memory");
  KILN_CHECK(b->dynamic != nullptr) << "cuda-sim: kernel '" << spec.kernel << "' asks for "
                                    << spec.smem << " bytes of dynamic shared memory, more than "
                                    << kMaxSharedBytes;
  if (b->threads.size() < b->nthreads) b->threads.resize(b->nthreads);
  while (b->stacks.size() < b->nthreads) b->stacks.push_back(AllocateFiberStack(kStackBytes));
  b->threads.resize(b->nthreads);
  for (unsigned i = 0; i < b->nthreads; ++i) {
    SimThread& st = b->threads[i];
    st = SimThread();
    st.t.tid = {i % d.x, i / d.x % d.y, i / (d.x * d.y)};
    st.t.linear = i;
    st.t.lane = i % 32;
    st.t.warp = i / 32;
    st.t.block = b;
    st.fiber.stack = b->stacks[i];
    InitFiber(&st.fiber, b->backend, FiberEntry, &st);
  }
  tls_block = &b->info;
  auto prefix = [&] {
    std::ostringstream os;
    os << "cuda-sim: kernel '" << spec.kernel << "' (launched at " << Base(spec.file) << ":"
       << spec.line << "), block (" << b->info.bid.x << "," << b->info.bid.y << ","
       << b->info.bid.z << "): ";
    return os.str();
  };
  auto abandon = [&] {
    // Fibers parked mid-kernel never return: their stack frames' ASan poison must go.
    for (unsigned i = 0; i < b->nthreads; ++i) UnpoisonStack(b->stacks[i]);
    tls_thread = nullptr;
    tls_block = nullptr;
  };
  while (b->done < b->nthreads) {
    bool ran = false;
    for (unsigned k = 0; k < b->nthreads; ++k) {
      SimThread& st = b->threads[reverse ? b->nthreads - 1 - k : k];
      if (st.state != State::kRunnable) continue;
      ran = true;
      tls_thread = &st.t;
      SwitchFiber(&b->main, &st.fiber, b->backend, st.fiber.stack.base, st.fiber.stack.size,
                  false);
      FinishSwitch(&b->main, nullptr, nullptr);
      if (!b->error.empty()) {
        abandon();
        throw Error(prefix() + b->error);
      }
    }
    if (!ran) {
      std::string msg = DeadlockMessage(*b);
      abandon();
      throw Error(prefix() + msg);
    }
  }
  tls_thread = nullptr;
  tls_block = nullptr;
  // Only the frames' tops need clearing for the next block: the entry frame never returned.
  if (kAsan) {
    for (unsigned i = 0; i < b->nthreads; ++i) {
      const FiberStack& s = b->stacks[i];
      const size_t top = std::min<size_t>(s.size, 16 << 10);
      Unpoison(s.base + s.size - top, top);
    }
  }
  std::string rz = CheckRedZones(*b);
  if (!rz.empty()) throw Error(prefix() + rz);
}

}  // namespace kiln::cuda_sim::detail
