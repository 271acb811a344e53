// Fibers for the CUDA kernel interpreter: each GPU thread of a block is a fiber on the block's
// worker thread. On x86-64 a hand-written switch saves only the callee-saved registers, rsp, MXCSR
// and the x87 control word (tens of ns); elsewhere, or when asked (KILN_SIM_FIBERS=ucontext, for
// testing the fallback), ucontext's swapcontext does it (a syscall per switch: far slower).
// Under AddressSanitizer every switch is announced with __sanitizer_{start,finish}_switch_fiber so
// ASan knows which stack is live and reports out-of-bounds accesses with the kernel's frames.
#pragma once

#include <ucontext.h>

#include <cstddef>

namespace kiln::cuda_sim {

enum class FiberBackend { kAsm, kUcontext };

// The backend new launches use: kAsm on x86-64 unless KILN_SIM_FIBERS=ucontext or SetFiberBackend
// chose otherwise; always kUcontext on other architectures.
FiberBackend ActiveFiberBackend();
void SetFiberBackend(FiberBackend backend);
bool AsmFibersAvailable();

// A stack with a PROT_NONE guard page below it (a runaway kernel recursion faults at once).
struct FiberStack {
  char* base = nullptr;  // lowest usable byte
  size_t size = 0;
};
FiberStack AllocateFiberStack(size_t size);
void FreeFiberStack(FiberStack s);

// One execution context: the scheduler's own (main) or a fiber's.
struct Fiber {
  void* sp = nullptr;  // saved stack pointer (asm backend)
  ucontext_t uc;       // ucontext backend
  FiberStack stack;
  void* fake_stack = nullptr;  // ASan's fake-stack handle while switched out
};

// Prepares `f` (whose stack is set) to run entry(arg) on its first SwitchTo. entry must never
// return: it ends by switching away for good.
void InitFiber(Fiber* f, FiberBackend backend, void (*entry)(void*), void* arg);

// Saves the current context into `from` and resumes `to`. `to_bottom`/`to_size` are the stack
// bounds of `to` for ASan (the scheduler's: null/0 is fine after the first switch recorded it).
// `exiting` says `from` will never be resumed (ASan frees its fake stack).
void SwitchFiber(Fiber* from, Fiber* to, FiberBackend backend, const void* to_bottom,
                 size_t to_size, bool exiting);

// Called first thing on a fiber's stack (and after every switch back into a fiber or the
// scheduler): completes ASan's switch; returns the bounds of the stack switched away from.
void FinishSwitch(Fiber* self, const void** from_bottom, size_t* from_size);

// Unpoisons a stack's ASan shadow (a fiber abandoned mid-kernel leaves its frames poisoned).
void UnpoisonStack(const FiberStack& s);

}  // namespace kiln::cuda_sim
