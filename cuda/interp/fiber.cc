// Fiber context switches for the kernel interpreter (see fiber.h). The x86-64 switch follows the
// System V ABI: rbx, rbp, r12-r15 and rsp are callee-saved, as are MXCSR's control bits and the
// x87 control word; everything else is caller-saved, so a switch that looks like a function call
// need not save it.
#include "cuda/interp/fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "base/check.h"

#include "cuda/interp/sanitizer.h"
#if KILN_SIM_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if defined(__x86_64__)
extern "C" void kiln_cuda_sim_switch(void** save_sp, void* new_sp);
extern "C" void kiln_cuda_sim_trampoline();
// Saved frame, from the saved rsp up: 8 bytes padding, MXCSR (4), x87 CW (2 + 2 padding),
// r15, r14, r13, r12, rbx, rbp, return address.
asm(R"(
  .text
  .globl kiln_cuda_sim_switch
  .type kiln_cuda_sim_switch,@function
  .p2align 4
kiln_cuda_sim_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $16, %rsp
  stmxcsr 8(%rsp)
  fnstcw 12(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr 8(%rsp)
  fldcw 12(%rsp)
  addq $16, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size kiln_cuda_sim_switch, .-kiln_cuda_sim_switch

  .globl kiln_cuda_sim_trampoline
  .type kiln_cuda_sim_trampoline,@function
  .p2align 4
kiln_cuda_sim_trampoline:
  movq %r12, %rdi
  callq *%r13
  ud2
  .size kiln_cuda_sim_trampoline, .-kiln_cuda_sim_trampoline
)");
#endif

namespace kiln::cuda_sim {
namespace {

FiberBackend DefaultBackend() {
  if (!AsmFibersAvailable()) return FiberBackend::kUcontext;
  const char* env = std::getenv("KILN_SIM_FIBERS");
  if (env != nullptr && std::strcmp(env, "ucontext") == 0) return FiberBackend::kUcontext;
  return FiberBackend::kAsm;
}

std::atomic<int> g_backend{-1};

// makecontext passes int arguments only: the entry and its argument travel as two halves each.
struct UcStart {
  void (*entry)(void*);
  void* arg;
};
void UcontextEntry(unsigned hi, unsigned lo) {
  auto* start = reinterpret_cast<UcStart*>((static_cast<uintptr_t>(hi) << 32) | lo);
  start->entry(start->arg);
  std::abort();  // entry never returns
}

}  // namespace

bool AsmFibersAvailable() {
#if defined(__x86_64__)
  return true;
#else
  return false;
#endif
}

FiberBackend ActiveFiberBackend() {
  int b = g_backend.load(std::memory_order_relaxed);
  if (b < 0) {
    b = static_cast<int>(DefaultBackend());
    g_backend.store(b, std::memory_order_relaxed);
  }
  return static_cast<FiberBackend>(b);
}

void SetFiberBackend(FiberBackend backend) {
  KILN_CHECK(backend == FiberBackend::kUcontext || AsmFibersAvailable())
      << "cuda-sim: the assembly fiber switch exists only on x86-64";
  g_backend.store(static_cast<int>(backend), std::memory_order_relaxed);
}

FiberStack AllocateFiberStack(size_t size) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size = (size + page - 1) / page * page;
  void* p = mmap(nullptr, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  KILN_CHECK(p != MAP_FAILED) << "cuda-sim: cannot map a fiber stack of " << size << " bytes";
  KILN_CHECK(mprotect(p, page, PROT_NONE) == 0) << "cuda-sim: cannot protect a stack guard page";
  return {static_cast<char*>(p) + page, size};
}

void FreeFiberStack(FiberStack s) {
  if (s.base == nullptr) return;
  UnpoisonStack(s);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  munmap(s.base - page, s.size + page);
}

void UnpoisonStack(const FiberStack& s) {
#if KILN_SIM_ASAN
  if (s.base != nullptr) __asan_unpoison_memory_region(s.base, s.size);
#else
  (void)s;
#endif
}

void InitFiber(Fiber* f, FiberBackend backend, void (*entry)(void*), void* arg) {
  KILN_DCHECK(f->stack.base != nullptr);
  if (backend == FiberBackend::kUcontext) {
    // The start record lives at the stack's top, below where makecontext's frame goes.
    char* top = f->stack.base + f->stack.size;
    auto* start = reinterpret_cast<UcStart*>(top - 64);
    start->entry = entry;
    start->arg = arg;
    KILN_CHECK(getcontext(&f->uc) == 0) << "cuda-sim: getcontext failed";
    f->uc.uc_stack.ss_sp = f->stack.base;
    f->uc.uc_stack.ss_size = f->stack.size - 128;
    f->uc.uc_link = nullptr;
    const uintptr_t p = reinterpret_cast<uintptr_t>(start);
    makecontext(&f->uc, reinterpret_cast<void (*)()>(UcontextEntry), 2,
                static_cast<unsigned>(p >> 32), static_cast<unsigned>(p & 0xffffffffu));
    return;
  }
#if defined(__x86_64__)
  // A frame as kiln_cuda_sim_switch leaves it, whose "return" enters the trampoline with a
  // 16-byte aligned rsp; the trampoline calls entry(arg) (r13, r12).
  uintptr_t top = reinterpret_cast<uintptr_t>(f->stack.base + f->stack.size) & ~uintptr_t{15};
  auto* sp = reinterpret_cast<uint64_t*>(top - 88);
  uint32_t mxcsr;
  uint16_t fpucw;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fpucw));
  sp[0] = 0;
  sp[1] = mxcsr | (static_cast<uint64_t>(fpucw) << 32);
  sp[2] = 0;                                     // r15
  sp[3] = 0;                                     // r14
  sp[4] = reinterpret_cast<uint64_t>(entry);     // r13
  sp[5] = reinterpret_cast<uint64_t>(arg);       // r12
  sp[6] = 0;                                     // rbx
  sp[7] = 0;                                     // rbp: ends frame-pointer unwinding
  sp[8] = reinterpret_cast<uint64_t>(&kiln_cuda_sim_trampoline);
  f->sp = sp;
#else
  (void)entry;
  (void)arg;
  KILN_CHECK(false) << "cuda-sim: the assembly fiber switch exists only on x86-64";
#endif
}

void SwitchFiber(Fiber* from, Fiber* to, FiberBackend backend, const void* to_bottom,
                 size_t to_size, bool exiting) {
#if KILN_SIM_ASAN
  __sanitizer_start_switch_fiber(exiting ? nullptr : &from->fake_stack, to_bottom, to_size);
#else
  (void)to_bottom;
  (void)to_size;
  (void)exiting;
#endif
  if (backend == FiberBackend::kUcontext) {
    swapcontext(&from->uc, &to->uc);
  } else {
#if defined(__x86_64__)
    kiln_cuda_sim_switch(&from->sp, to->sp);
#endif
  }
}

void FinishSwitch(Fiber* self, const void** from_bottom, size_t* from_size) {
#if KILN_SIM_ASAN
  __sanitizer_finish_switch_fiber(self->fake_stack, from_bottom, from_size);
#else
  (void)self;
  if (from_bottom != nullptr) *from_bottom = nullptr;
  if (from_size != nullptr) *from_size = 0;
#endif
}

}  // namespace kiln::cuda_sim
